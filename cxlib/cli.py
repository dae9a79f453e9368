"""The ``cx`` command.

Exit codes: 0 ok · 1 a notebook failed · 2 bad params · 3 bad data · 4 another run holds the
lock · 5 the run folder could not be written (disk full, read-only, …).
"""

from __future__ import annotations

import argparse
import atexit
import gc
import logging
import sys
import tempfile
from pathlib import Path

import pandas as pd

from cxlib.errors import EXIT_BAD_DATA, EXIT_OK, ContractError, CxError

EPILOG = ("exit codes: 0 ok, 1 a notebook failed, 2 bad params, 3 bad data, "
          "4 another run of the same params is in progress, 5 the run folder could not be "
          "written")


def _demo(args: argparse.Namespace) -> int:
    from cxlib.synth import write_demo

    out = write_demo(args.out, customers=args.customers, seed=args.seed)
    print(f"demo data ({args.customers} customers, seed {args.seed}) written to {out}")
    if args.export_shapes:
        from cxlib.demo_exports import export_shapes
        from cxlib.io import load_dataset

        commands = export_shapes(load_dataset(out), Path(args.export_shapes).resolve())
        print(f"the same world as a company's exports, in {args.export_shapes}; import with:\n"
              + "\n".join(commands))
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    from cxlib.io import check_folder, quarantine_summary

    data = check_folder(args.data_dir, timezone=args.timezone)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(data.quality.to_string(index=False))
        if len(data.quarantine):
            print("\nquarantined rows by rule:")
            print(quarantine_summary(data.quarantine).to_string(index=False))
            print("\nfirst quarantined rows:")
            print(data.quarantine.head(10).to_string(index=False))
    worst = float(data.quality["bad_share"].max())
    if worst > args.max_bad_share:
        print(f"\nbad share {worst:.2%} is above --max-bad-share {args.max_bad_share:.2%}",
              file=sys.stderr)
        return EXIT_BAD_DATA
    return EXIT_OK


def _cut_off(text: str) -> str:
    """Check a ``--as-of`` value on the command line: a timestamp with its zone."""
    from cxlib.config import parse_as_of

    try:
        return parse_as_of(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a cut-off with its time zone "
                                         "(e.g. 2026-07-01T00:00:00Z)") from None


def _time_zone(text: str) -> str:
    """Check a ``--timezone`` value: an IANA zone name."""
    from cxlib.config import known_time_zone

    try:
        return known_time_zone(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _setting(text: str) -> str:
    """Check a ``--spark-conf`` value: KEY=VALUE."""
    if "=" not in text or text.startswith("="):
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (e.g. spark.master=local[2])")
    return text


def _journeys(args: argparse.Namespace) -> int:
    from cxlib.config import load_spec
    from cxlib.engines import write_parquet
    from cxlib.io import check_folder
    from cxlib.journeys import build_journeys

    # journeys read the events alone: customers and survey answers are `cx validate`'s
    data = check_folder(args.data_dir, timezone=args.timezone, tables=("events",))
    if "events" not in data.tables:
        raise ContractError(str(args.data_dir), "-", None, "the folder holds survey answers "
                            "only: there are no events to build journeys from")
    as_of = args.as_of or data.latest_event()
    conf = dict(kv.split("=", 1) for kv in args.spark_conf)
    events = data.events_table() if args.engine == "duckdb" else data.dataset().events
    table = build_journeys(events, load_spec(args.spec), as_of, engine=args.engine,
                           spark_conf=conf)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_parquet(table, args.out)
    print(f"{len(table)} journeys (cut-off {as_of}) written to {args.out}; "
          f"status: {table['status'].value_counts().to_dict()}")
    checked = data.quality.set_index("table").loc["events"]
    if checked["rows_quarantined"]:
        print(f"{checked['rows_quarantined']} of {checked['rows_read']} events quarantined "
              f"({checked['duplicates_removed']} of them exact repeats of another row) and left "
              f"out: `cx validate {args.data_dir}` lists them with their rule")
    return EXIT_OK


def _satisfaction(args: argparse.Namespace) -> int:
    from cxlib.publishing import save_table
    from cxlib.satisfaction_report import satisfaction_tables
    from cxlib.workbench import build_workbench

    with tempfile.TemporaryDirectory(prefix="cx-satisfaction-") as build:
        # without --as-of, the build takes the last clean event from its own check of the data
        wb = build_workbench(args.data_dir, args.spec, args.as_of, build, timezone=args.timezone,
                             survey_duration=args.survey_duration, asked_by="cx satisfaction")
        tables = satisfaction_tables(wb, args.min_group_size, args.answer_days)
    for name, table in tables.items():
        save_table(table, args.out, name)
    as_of = wb.as_of.isoformat()
    print(f"{len(tables)} satisfaction tables (cut-off {as_of}, {len(wb.surveys)} answers) "
          f"written to {args.out}: {', '.join(tables)}")
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    from cxlib.importing import import_source

    counts = import_source(args.source, args.out, args.mapping, table=args.table,
                           append=args.append)
    print(f"imported {args.source} into {args.out}: " +
          ", ".join(f"{n} {name}" for name, n in counts.items()))
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from cxlib.runner import run

    result = run(args.params, Path(args.reports_dir) if args.reports_dir else None,
                 wait=args.wait, quiet=args.quiet, jobs=args.jobs)
    if result.published:
        if not args.quiet:
            print(f"run {result.run_id} published: {result.folder}")
        return result.exit_code
    if result.write_error:
        print(f"run {result.run_id} FAILED: {result.write_error}; the published run is "
              "unchanged", file=sys.stderr)
    else:
        print(f"run {result.run_id} FAILED, kept at {result.folder}; the published run is "
              "unchanged", file=sys.stderr)
    for nb in result.notebooks:
        if nb.status != "ok":
            print(f"  {nb.describe()}", file=sys.stderr)
    return result.exit_code


def _serve(args: argparse.Namespace) -> int:
    from cxlib.serving import serve

    return serve(channel=args.channel, port=args.port, reports_dir=args.reports_dir,
                 voila_args=args.voila_args, public_url=args.public_url,
                 predraw=not args.no_predraw)


def build_parser() -> argparse.ArgumentParser:
    """Return the ``cx`` argument parser."""
    parser = argparse.ArgumentParser(prog="cx", description="cxlab: the customer's time, "
                                     "measured from your own logs.", epilog=EPILOG)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="write the demo data set with planted truth")
    p.add_argument("--customers", type=int, default=20_000, help="customers in the world "
                   "(at least 50; default 20000)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", default="data/demo")
    p.add_argument("--export-shapes", metavar="DIR",
                   help="also write the world as a company's exports (a wide orders CSV in "
                   "local time, an XES log, a contacts CSV, a labelled survey CSV) with their "
                   "mapping files and import commands")
    p.set_defaults(func=_demo)

    p = sub.add_parser("validate", help="check a data folder against the data contract",
                       epilog=EPILOG)
    p.add_argument("data_dir")
    p.add_argument("--max-bad-share", type=float, default=0.02,
                   help="exit 3 when any table quarantines a larger share (default 0.02)")
    p.add_argument("--timezone", type=_time_zone,
                   help="time zone of timestamps without a UTC offset")
    p.set_defaults(func=_validate)

    p = sub.add_parser("import", help="map a CSV, Parquet or XES export to canonical tables")
    p.add_argument("source", help="the export: .csv, .parquet, .xes or .xes.gz")
    p.add_argument("--mapping", help="YAML mapping of columns and activities "
                   "(params/mappings/*.yaml); XES standard keys map without one")
    p.add_argument("--out", required=True, help="data folder to write")
    p.add_argument("--table", choices=["events", "surveys"], default="events",
                   help="what the export holds: events (default) or survey answers")
    p.add_argument("--append", action="store_true",
                   help="add these events to the folder's (one export per source system)")
    p.set_defaults(func=_import)

    p = sub.add_parser("journeys", help="build the journey table")
    p.add_argument("data_dir")
    p.add_argument("--spec", default="params/journeys/broadband.yaml")
    p.add_argument("--as-of", type=_cut_off,
                   help="cut-off with its zone, e.g. 2026-07-01T00:00:00Z (default: the latest "
                   "event in the data)")
    p.add_argument("--timezone", type=_time_zone,
                   help="time zone of timestamps without a UTC offset")
    p.add_argument("--engine", choices=["duckdb", "pyspark"], default="duckdb",
                   help="where the journey expressions run (default: embedded DuckDB)")
    p.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                   type=_setting,
                   help="a Spark setting, e.g. spark.master=spark://host:7077 (repeatable)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_journeys)

    p = sub.add_parser("satisfaction", help="satisfaction against time: every table as Parquet")
    p.add_argument("data_dir")
    p.add_argument("--spec", default="params/journeys/broadband.yaml")
    p.add_argument("--as-of", type=_cut_off,
                   help="cut-off with its zone (default: the latest event in the data)")
    p.add_argument("--timezone", type=_time_zone,
                   help="time zone of timestamps without a UTC offset")
    p.add_argument("--min-group-size", type=int, default=5,
                   help="groups smaller than this are suppressed (default 5)")
    p.add_argument("--answer-days", type=float, default=3.0,
                   help="how long after a journey ends its survey may still come (default 3)")
    p.add_argument("--survey-duration", default="",
                   help="the answers' own measured wait (a column), for survey answers alone")
    p.add_argument("--out", required=True, help="folder for the tables (one Parquet file each)")
    p.set_defaults(func=_satisfaction)

    p = sub.add_parser("run", help="execute the report notebooks and publish", epilog=EPILOG)
    p.add_argument("params")
    p.add_argument("--reports-dir", help="default: reports/ (or $CXLAB_REPORTS_DIR)")
    p.add_argument("--jobs", type=int, help="notebooks executed at once (default: the params "
                   "file's jobs, else one per core)")
    p.add_argument("--wait", action="store_true",
                   help="queue behind a running run of the same params instead of exiting 4")
    p.add_argument("--quiet", action="store_true", help="no progress bar; warnings and errors "
                   "only (for cron)")
    p.set_defaults(func=_run)

    p = sub.add_parser("serve", help="serve the manager dashboard (Voilà, code hidden, offline)")
    p.add_argument("--channel", default="latest", help="which published run to show: "
                   "reports/<channel> (default: latest)")
    p.add_argument("--port", type=int, default=8866)
    p.add_argument("--reports-dir", help="default: reports/ (or $CXLAB_REPORTS_DIR)")
    p.add_argument("--public-url", default="",
                   help="the address managers reach this server's root by, behind a proxy "
                   "(e.g. https://dashboards.example.com/cx/): each view's copyable link "
                   "starts with it")
    p.add_argument("--no-predraw", action="store_true",
                   help="do not draw each view with a filter or two changed ahead on spare "
                   "CPU (by default a manager's first filter changes are reads)")
    p.add_argument("voila_args", nargs="*", metavar="-- VOILA_OPTION",
                   help="further Voilà options after --, e.g. "
                   "-- --MappingKernelManager.cull_idle_timeout=120")
    p.set_defaults(func=_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``cx``; returns the exit code."""
    # at exit, the interpreter's last collection walks every object pandas, matplotlib and
    # scikit-learn made (≈ 0.7 s after a run); frozen, they are left to the operating system
    atexit.register(gc.freeze)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if getattr(args, "quiet", False):  # the console says only problems; a run's log, all
        for console in logging.getLogger().handlers:
            console.setLevel(logging.WARNING)
    try:
        return args.func(args)
    except CxError as exc:
        print(f"cx {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
