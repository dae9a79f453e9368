"""Benchmark the commands a user runs, whole process from the data folder, against peers.

    .venv/bin/python benchmarks/commands.py [--events 10000000] [--skip-pm4py]

Writes one event log the way a real export is ordered — by time, cases interleaved — into a
data folder (``events.parquet`` with empty ``surveys`` and ``customers``), then runs each
contender as its own process and measures its wall time and peak RSS (``/usr/bin/time``):

- ``cx journeys DIR --spec S --out F`` (a spec naming only the journey: throughput per case);
- ``cx validate DIR`` (the data contract alone);
- a raw DuckDB process running the same throughput query on the same file;
- a raw DuckDB process that also computes, per journey, what ``cx journeys`` does beyond the
  throughput: events, sources and the waits between consecutive events (the window every
  journey table needs) — a reference for the part that is not the data contract;
- PM4Py's recommended path from the same file: ``read_parquet``, ``format_dataframe``, case
  durations (a reference only; AGPL, never a cxlib dependency).

Each contender runs ``--repeat`` times (default 3), round by round so that the machine's drift
touches them alike; the median run of each is compared. Prints seconds, peak memory and each of
issue #10's targets, met or not. Figures, not tests.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2030-01-01T00:00:00Z"
GNU_TIME = "/usr/bin/time"


def _engine_benchmark():  # benchmarks/journeys.py writes the synthetic log
    spec = importlib.util.spec_from_file_location("engine_bench", ROOT / "benchmarks/journeys.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_folder(folder: Path, n_events: int) -> Path:
    """Write a data folder whose events are ordered by time, cases interleaved, as exports are."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = folder / "unsorted.parquet"
    _engine_benchmark().write_log(raw, n_events)
    table = pq.read_table(raw).drop_columns(["source_row"]).sort_by("ts")
    raw.unlink()
    pq.write_table(table, folder / "events.parquet")
    customers = pa.table({"customer_id": pa.compute.unique(table["customer_id"])})
    customers = customers.append_column("region", pa.array(["unknown"] * customers.num_rows))
    pq.write_table(customers, folder / "customers.parquet")
    surveys = pa.table({c: pa.array([], pa.string()) for c in
                        ("response_id", "customer_id", "journey_id", "ts", "csat", "nps", "ces",
                         "comment")})
    pq.write_table(surveys, folder / "surveys.parquet")
    return folder


DUCKDB = """
import duckdb
duckdb.sql("select journey_id, (epoch_us(max(ts)) - epoch_us(min(ts))) / 3.6e9 as hours "
           "from read_parquet('{path}') group by journey_id").df()
"""

# the same throughput query with what cx journeys also computes per journey: the waits
# between consecutive events (a window over every event), events and sources
DUCKDB_WAITS = """
import duckdb
duckdb.sql("select journey_id, min(customer_id), min(ts), max(ts), count(*), "
           "count(distinct source), max(gap), max(gap) filter (where ts = last) from ("
           "select *, (epoch_us(ts) - epoch_us(lag(ts) over w)) / 3.6e9 as gap, "
           "max(ts) over (w rows between unbounded preceding and unbounded following) as last "
           "from read_parquet('{path}', file_row_number = true) "
           "window w as (partition by journey_id order by ts, file_row_number)) "
           "group by journey_id").df()
"""

PM4PY = """
import pandas as pd, pm4py
from pm4py.statistics.traces.generic.pandas import case_statistics
log = pd.read_parquet('{path}')
log = pm4py.format_dataframe(log, case_id='journey_id', activity_key='activity',
                             timestamp_key='ts')
case_statistics.get_cases_description(log)
"""


def measure(command: list[str]) -> tuple[float, float]:
    """Run a command as its own process; return wall seconds and peak RSS in GiB."""
    done = subprocess.run([GNU_TIME, "-f", "%e %M", *command], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed: {done.stderr[-1500:]}")
    seconds, kib = done.stderr.strip().splitlines()[-1].split()
    return float(seconds), int(kib) / 2**20


def main() -> None:
    """Write the folder, run each contender once, print figures and targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--skip-pm4py", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each contender")
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_folder(Path(tmp) / "data", args.events)
        spec = Path(tmp) / "spec.yaml"
        spec.write_text("journey: bench\n")
        events = folder / "events.parquet"
        runs = {
            "cx journeys": [python, "-m", "cxlib.cli", "journeys", str(folder), "--spec",
                            str(spec), "--as-of", AS_OF, "--out", str(Path(tmp) / "j.parquet")],
            "cx validate": [python, "-m", "cxlib.cli", "validate", str(folder)],
            "raw DuckDB": [python, "-c", DUCKDB.format(path=events)],
            "raw DuckDB, waits": [python, "-c", DUCKDB_WAITS.format(path=events)],
        }
        if not args.skip_pm4py:
            runs["PM4Py full path"] = [python, "-c", PM4PY.format(path=events)]
        rounds = [{name: measure(command) for name, command in runs.items()}
                  for _ in range(args.repeat)]
    figures = {name: sorted(r[name] for r in rounds)[len(rounds) // 2] for name in runs}
    print(f"{args.events:,} events, by time with cases interleaved; one process each, "
          f"median of {args.repeat} rounds\n")
    print(f"{'':18} {'seconds':>8} {'peak GiB':>9}   every round's seconds")
    for name, (seconds, gib) in figures.items():
        every = " · ".join(f"{r[name][0]:.2f}" for r in rounds)
        print(f"{name:18} {seconds:8.2f} {gib:9.2f}   {every}")
    duck = figures["raw DuckDB"][0]
    print()
    for name in ("cx journeys", "cx validate"):
        seconds, gib = figures[name]
        ratio = seconds / duck
        print(f"{name}: {ratio:.1f}x raw DuckDB (target <= 3x: "
              f"{'met' if ratio <= 3 else 'NOT met'}); peak {gib:.2f} GiB (target <= 2 GB: "
              f"{'met' if gib * 2**30 <= 2e9 else 'NOT met'})")
    waits = figures["cx journeys"][0] / figures["raw DuckDB, waits"][0]
    print(f"cx journeys: {waits:.1f}x a raw DuckDB process that also computes the waits "
          "(no target: the contract's work is what remains)")
    if "PM4Py full path" in figures:
        speedup = figures["PM4Py full path"][0] / figures["cx journeys"][0]
        print(f"cx journeys vs PM4Py: {speedup:.2f}x faster (target >= 3x: "
              f"{'met' if speedup >= 3 else 'NOT met'}); memory "
              f"{figures['cx journeys'][1]:.2f} vs {figures['PM4Py full path'][1]:.2f} GiB")


if __name__ == "__main__":
    main()
