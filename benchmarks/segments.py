"""Benchmark segmenting a large world: behaviour features and the mixture fit, from files.

    .venv/bin/python benchmarks/segments.py [--customers 1000000] [--data DIR]

Writes a demo world (``cx demo``, 20 events per customer) unless ``--data`` names one, checks it
and builds its journeys in one process (``cx journeys``), then measures in a fresh process, as
its own wall time and peak RSS (``/usr/bin/time``), what segmenting adds: the behaviour
features straight from ``events.parquet`` (DuckDB through Ibis; the row number the contract
adds, the demo's few planted broken rows kept) and the latent-class mixture
fit of :class:`cxlib.segments.TimeSensitivitySegmenter`. In the same process, as peers on the
same customers: scikit-learn's ``KMeans`` (``n_init=10``) on the five profiled features (log
scale, standardised; the segmenter before the mixture) and ``GaussianMixture`` (3 classes,
diagonal) on the same matrix. Prints seconds, peak memory and issue #12's target (under 2
minutes and 4 GB for 1 M customers). Figures, not tests.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "params/journeys/broadband.yaml"
AS_OF = "2026-07-01T00:00:00Z"
GNU_TIME = "/usr/bin/time"


def segment_from_files(events_path: Path, journeys_path: Path,
                       duckdb_memory_limit: str = "") -> dict[str, float]:
    """Features and fits, timed phase by phase (runs in the measured child process)."""
    import ibis
    import numpy as np
    import pandas as pd
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    from sklearn.mixture import GaussianMixture
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from cxlib.config import load_spec
    from cxlib.segments import FEATURES, LogScaler, TimeSensitivitySegmenter, behaviour_features

    spec = load_spec(SPEC)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    backend = ibis.duckdb.connect()
    if duckdb_memory_limit:  # DuckDB's own default is 80 % of the machine's memory
        backend.raw_sql(f"SET memory_limit = '{duckdb_memory_limit}'")
    events = backend.read_parquet(events_path)
    events = events.mutate(source_row=ibis.row_number())  # the row number the contract adds
    journeys = pd.read_parquet(journeys_path)
    features = behaviour_features(events, journeys, spec, AS_OF)
    seconds["features"] = time.perf_counter() - start
    start = time.perf_counter()
    segments = TimeSensitivitySegmenter(random_state=0).fit_predict(features)
    seconds["mixture fit"] = time.perf_counter() - start
    view = make_pipeline(LogScaler(), StandardScaler()).fit_transform(
        features[list(FEATURES)].astype("float64"))
    view = np.nan_to_num(view)  # the peers cannot leave a value out: missing → the mean
    start = time.perf_counter()
    kmeans = KMeans(3, n_init=10, random_state=0).fit_predict(view)
    seconds["peer: KMeans"] = time.perf_counter() - start
    start = time.perf_counter()
    GaussianMixture(3, covariance_type="diag", random_state=0).fit(view)
    seconds["peer: GaussianMixture"] = time.perf_counter() - start
    truth_file = events_path.parent / "truth.json"
    if truth_file.exists():
        truth = json.loads(truth_file.read_text())["segment_of_customer"]
        planted = features["customer_id"].map(truth)
        seconds["ARI mixture"] = adjusted_rand_score(planted, segments)
        seconds["ARI KMeans"] = adjusted_rand_score(planted, kmeans)
    seconds["customers"] = len(features)
    return seconds


def measure(command: list[str]) -> tuple[float, float, str]:
    """Run a command as its own process; return wall seconds, peak RSS in GiB and its stdout."""
    done = subprocess.run([GNU_TIME, "-f", "%e %M", *command], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed: {done.stderr[-1500:]}")
    wall, kib = done.stderr.strip().splitlines()[-1].split()
    return float(wall), int(kib) / 2**20, done.stdout


def main() -> None:
    """Write (or reuse) the world, build its journeys, then measure segmenting it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, help="an existing demo folder (skips cx demo)")
    parser.add_argument("--duckdb-memory-limit", default="",
                        help="e.g. 2GB (default: DuckDB's own, 80%% of the machine's memory)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        events, journeys, limit = args.child
        print(json.dumps(segment_from_files(Path(events), Path(journeys), limit)))
        return
    cx = [sys.executable, "-m", "cxlib.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "world"
            wall, gib, _ = measure([*cx, "demo", "--customers", str(args.customers),
                                    "--seed", "42", "--out", str(data)])
            print(f"cx demo --customers {args.customers:,}: {wall:.1f} s, {gib:.2f} GiB")
        journeys = Path(tmp) / "journeys.parquet"
        wall, gib, _ = measure([*cx, "journeys", str(data), "--spec", str(SPEC), "--as-of",
                                AS_OF, "--out", str(journeys)])
        print(f"cx journeys (contract + journeys, not part of the target): {wall:.1f} s, "
              f"{gib:.2f} GiB")
        wall, gib, out = measure([sys.executable, __file__, "--child",
                                  str(data / "events.parquet"), str(journeys),
                                  args.duckdb_memory_limit])
    phases = json.loads(out)
    limit = args.duckdb_memory_limit or "DuckDB's default"
    print(f"\nsegmenting {int(phases.pop('customers')):,} customers, one process from the files "
          f"(DuckDB memory limit: {limit}):")
    for name, value in phases.items():
        print(f"  {name:24} {value:8.3f}" + ("" if name.startswith("ARI") else " s"))
    own = phases["features"] + phases["mixture fit"]
    print(f"  process: {wall:.1f} s wall, peak {gib:.2f} GiB (the peers' fits included)")
    print(f"\nfeatures + fit: {own:.1f} s (target < 120 s: {'met' if own < 120 else 'NOT met'}); "
          f"peak {gib:.2f} GiB (target < 4 GB: {'met' if gib * 2**30 < 4e9 else 'NOT met'})")
    print(f"mixture fit vs KMeans: {phases['mixture fit'] / phases['peer: KMeans']:.2f}x; "
          f"vs GaussianMixture: {phases['mixture fit'] / phases['peer: GaussianMixture']:.2f}x")


if __name__ == "__main__":
    main()
