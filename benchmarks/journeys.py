"""Benchmark the journey engine against its peers, same input, same run.

    .venv/bin/python benchmarks/journeys.py [--events 1000000 10000000] [--skip-pm4py]

For each size it writes one event log (Parquet) and times the three core process metrics —
throughput per case, mean wait per activity, directly-follows with mean time — computed by:

- cxlib (the Ibis journey expressions on DuckDB: ``journey_expr``, ``activity_waits``,
  ``bottlenecks``),
- hand-written DuckDB SQL, in two forms (hours through an interval, and from integer
  microseconds, the fastest found),
- pandas,
- PM4Py's DataFrame API (a reference only; AGPL, never a cxlib dependency).

Each figure is the median of ``REPEATS`` runs; each contender runs in a fresh process, so its
peak RSS is its own. It also times reading a real XES log with cxlib's streaming reader and with
PM4Py's. Prints seconds, ratios, peak memory and whether each of issue #3's targets is met.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ACTIVITIES = np.array(["order_placed", "order_confirmed", "backoffice_received",
                       "appointment_booked", "technician_dispatched", "technician_arrived",
                       "technician_done", "activation_requested", "service_active",
                       "call_queued", "call_answered", "update_sent"])
AS_OF = "2030-01-01T00:00:00Z"
XES = Path(__file__).resolve().parents[1] / "tests/data/eventlogs/07_bpic2013_incidents.xes.gz"


def write_log(path: Path, n_events: int, seed: int = 0) -> None:
    """A synthetic log: ~20 events a case, process order with repeats, seconds resolution."""
    rng = np.random.default_rng(seed)
    per_case = rng.integers(10, 31, n_events // 20 + 1)
    per_case = per_case[np.cumsum(per_case) <= n_events]
    case = np.repeat(np.arange(len(per_case)), per_case)
    n = len(case)
    step = np.arange(n) - np.repeat(np.cumsum(per_case) - per_case, per_case)
    activity = np.where(rng.random(n) < 0.7, np.minimum(step, 8), rng.integers(0, 12, n))
    start = rng.integers(0, 180 * 86400, len(per_case))
    gaps = rng.exponential(6 * 3600, n).astype("int64")
    offsets = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[np.cumsum(per_case) - 1]
                                          - np.add.reduceat(gaps, np.r_[0, np.cumsum(per_case)
                                                                        [:-1]]), per_case)
    ts = (np.datetime64("2026-01-01T00:00:00", "s") + (start[case] + offsets)
          .astype("timedelta64[s]"))
    ids = pa.array(case).cast(pa.string())
    table = pa.table({
        "journey_id": pa.compute.binary_join_element_wise("J", ids, ""),
        "customer_id": pa.compute.binary_join_element_wise("C", ids, ""),
        "activity": pa.DictionaryArray.from_arrays(pa.array(activity),
                                                   pa.array(ACTIVITIES)).cast(pa.string()),
        "ts": pa.array(ts.astype("datetime64[us]")).cast(pa.timestamp("us", tz="UTC")),
        "source": pa.array(np.full(n, "bench")),
        "source_row": pa.array(np.arange(1, n + 1)),
    })
    pq.write_table(table, path)


# --- contenders: each returns {metric: seconds} --------------------------------------------

REPEATS = 3


def timed(work: Callable[[], object]) -> float:
    """Median seconds of ``REPEATS`` runs (the first also warms the file cache)."""
    seconds = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - t)
    return statistics.median(seconds)


def run_cxlib(path: str) -> dict[str, float]:
    import ibis

    from cxlib import journeys as J
    from cxlib import process
    from cxlib.config import JourneySpec
    from cxlib.engines import to_frame

    spec = JourneySpec(journey="bench")
    events = ibis.duckdb.connect().read_parquet(path)
    return {
        "throughput": timed(lambda: to_frame(
            J.journey_expr(events, spec, AS_OF).select("journey_id", "e2e_hours"))),
        "wait_per_activity": timed(lambda: process.activity_waits(events, spec, AS_OF)),
        "directly_follows": timed(lambda: process.bottlenecks(events, spec, AS_OF,
                                                              min_group_size=1)),
        # not a peer metric: every column of the journey table, for the record
        "journey_table": timed(lambda: J.build_journeys(events, spec, AS_OF)),
    }


DUCKDB_SQL = {
    "throughput": "select journey_id, {span} as hours from ev group by journey_id",
    "wait_per_activity": """select activity, avg(wait) from (
        select activity, {wait} as wait
        from ev window w as (partition by journey_id order by ts, source_row))
        where wait is not null group by activity""",
    "directly_follows": """select prev, activity, count(*), avg(wait) from (
        select activity, lag(activity) over w as prev, {wait} as wait
        from ev window w as (partition by journey_id order by ts, source_row))
        where prev is not null group by prev, activity""",
}
# Two ways to write hours between timestamps by hand: the idiomatic one through an interval,
# and the fastest found, integer microseconds (DuckDB's date_diff on TIMESTAMPTZ is slower still).
HOURS_SQL = {"duckdb_interval": "epoch({later} - {earlier}) / 3600",
             "duckdb": "(epoch_us({later}) - epoch_us({earlier})) / 3.6e9"}


def duckdb_sql(contender: str, metric: str) -> str:
    """The hand-written SQL of ``metric``, with ``contender``'s way of computing hours."""
    hours = HOURS_SQL[contender]
    return DUCKDB_SQL[metric].format(span=hours.format(later="max(ts)", earlier="min(ts)"),
                                     wait=hours.format(later="ts", earlier="lag(ts) over w"))


def run_duckdb(path: str, contender: str = "duckdb") -> dict[str, float]:
    import duckdb

    con = duckdb.connect()
    con.execute(f"create view ev as select * from read_parquet('{path}')")
    sql = {metric: duckdb_sql(contender, metric) for metric in DUCKDB_SQL}
    return {metric: timed(lambda m=metric: con.execute(sql[m]).df()) for metric in sql}


def run_pandas(path: str) -> dict[str, float]:
    import pandas as pd

    df = pd.read_parquet(path)

    def throughput() -> None:
        g = df.groupby("journey_id")["ts"]
        ((g.max() - g.min()).dt.total_seconds() / 3600).reset_index()

    def wait_per_activity() -> None:
        s = df.sort_values(["journey_id", "ts", "source_row"])
        wait = s.groupby("journey_id")["ts"].diff().dt.total_seconds()
        s.assign(wait=wait).dropna(subset=["wait"]).groupby("activity")["wait"].mean()

    def directly_follows() -> None:
        s = df.sort_values(["journey_id", "ts", "source_row"])
        prev = s.groupby("journey_id")["activity"].shift()
        wait = s.groupby("journey_id")["ts"].diff().dt.total_seconds()
        s.assign(prev=prev, wait=wait).dropna(subset=["prev"]).groupby(
            ["prev", "activity"])["wait"].agg(["size", "mean"])

    return {"throughput": timed(throughput), "wait_per_activity": timed(wait_per_activity),
            "directly_follows": timed(directly_follows)}


def run_pm4py(path: str) -> dict[str, float]:
    import pandas as pd
    import pm4py
    from pm4py.statistics.traces.generic.pandas import case_statistics

    df = pd.read_parquet(path).rename(columns={
        "journey_id": "case:concept:name", "activity": "concept:name", "ts": "time:timestamp"})
    df = pm4py.format_dataframe(df)

    def wait_per_activity() -> None:
        dfg, _, _ = pm4py.discover_performance_dfg(df)
        per_activity: dict[str, list[float]] = {}
        for (_, target), stats in dfg.items():
            per_activity.setdefault(target, []).append(stats["mean"])

    def directly_follows() -> None:
        pm4py.discover_dfg(df)
        pm4py.discover_performance_dfg(df)

    return {"throughput": timed(lambda: case_statistics.get_cases_description(df)),
            "wait_per_activity": timed(wait_per_activity),
            "directly_follows": timed(directly_follows)}


def read_xes_cxlib(path: str) -> dict[str, float]:
    from cxlib.importing import read_xes

    t = time.perf_counter()
    read_xes(path)
    return {"read_xes": time.perf_counter() - t}


def read_xes_pm4py(path: str) -> dict[str, float]:
    import pm4py

    t = time.perf_counter()
    pm4py.read_xes(path)
    return {"read_xes": time.perf_counter() - t}


CONTENDERS = {"cxlib": run_cxlib, "duckdb": run_duckdb,
              "duckdb_interval": lambda path: run_duckdb(path, "duckdb_interval"),
              "pandas": run_pandas,
              "pm4py": run_pm4py, "xes_cxlib": read_xes_cxlib, "xes_pm4py": read_xes_pm4py}


def measure(contender: str, path: Path) -> dict[str, float]:
    """Run one contender in a fresh process; return its seconds per metric and peak RSS."""
    result = subprocess.run([sys.executable, __file__, "--contender", contender, str(path)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{contender} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


METRICS = ["throughput", "wait_per_activity", "directly_follows"]


def report(n_events: int, results: dict[str, dict[str, float]]) -> None:
    """Print seconds and peak RSS per contender, the ratios, and the issue's three targets."""
    print(f"\n== {n_events:,} events (median of {REPEATS} runs) ==")
    print(f"{'':16}" + "".join(f"{m:>20}" for m in METRICS) + f"{'peak RSS':>12}")
    for name, row in results.items():
        print(f"{name:16}" + "".join(f"{row[m]:>19.2f}s" for m in METRICS)
              + f"{row['peak_rss_gib']:>8.2f} GiB")
    cx = results["cxlib"]
    print(f"cxlib, the whole journey table ({cx['journey_table']:.2f} s), for the record")
    for peer in (p for p in results if p != "cxlib"):
        ratios = "  ".join(f"{m}: {cx[m] / results[peer][m]:.2f}" for m in METRICS)
        print(f"cxlib ÷ {peer}: {ratios}")
    fastest_sql = {m: min(results[p][m] for p in HOURS_SQL if p in results) for m in METRICS}
    within = [cx[m] / fastest_sql[m] for m in METRICS]
    print(f"target cxlib ≤ 1.5 × the faster DuckDB SQL: "
          f"{' / '.join(f'{r:.2f}' for r in within)} — {_verdict(max(within) <= 1.5)}")
    if "pm4py" in results:
        faster = [results["pm4py"][m] / cx[m] for m in METRICS]
        print(f"target cxlib ≥ 20 × faster than PM4Py: "
              f"{' / '.join(f'{r:.1f}' for r in faster)} — {_verdict(min(faster) >= 20)}")
    print(f"target peak RSS < 4 GB: {cx['peak_rss_gib'] * 2**30 / 1e9:.2f} GB — "
          f"{_verdict(cx['peak_rss_gib'] * 2**30 < 4e9)}")


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--skip-pm4py", action="store_true")
    parser.add_argument("--contender", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contender:
        name, path = args.contender
        out = CONTENDERS[name](path)
        # this process's own peak (ru_maxrss is KiB on Linux)
        out["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(json.dumps(out))
        return
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.events:
            path = Path(tmp) / f"log-{n}.parquet"
            write_log(path, n)
            peers = ["cxlib", *HOURS_SQL, "pandas"] + ([] if args.skip_pm4py else ["pm4py"])
            report(n, {name: measure(name, path) for name in peers})
    if XES.exists():
        cx, ref = measure("xes_cxlib", XES), (None if args.skip_pm4py
                                              else measure("xes_pm4py", XES))
        line = f"\nread {XES.name}: cxlib {cx['read_xes']:.2f} s"
        if ref:
            line += f", PM4Py {ref['read_xes']:.2f} s ({ref['read_xes'] / cx['read_xes']:.1f}×)"
        print(line)


if __name__ == "__main__":
    main()
