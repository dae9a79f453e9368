"""Benchmark `cx run`: where a run's wall time goes, and what parallel workers buy.

    .venv/bin/python benchmarks/runs.py [--customers 20000]

Prints, from one run of each on this machine:
- the default run's wall time against the sum of its notebooks' own seconds and the floor of
  starting and stopping a kernel for an empty notebook the usual way;
- the same run with its workers started as processes (``python -m cxlib.execution``, kernels
  launched the usual way, as where there is no fork server) instead of forked from the run's
  preloaded fork server;
- a 4-region matrix (2 notebooks × 4 regions) with jobs=2 against jobs=1 (sequential).
Figures, not assertions: compare them with the ones recorded in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import nbformat

from cxlib import runner
from cxlib.execution import execute_notebook
from cxlib.paths import project_root
from cxlib.runner import run
from cxlib.synth import write_demo


def _params(folder: Path, data: Path, extra: str) -> Path:
    path = folder / f"bench-{abs(hash(extra)) % 10_000}.yaml"
    path.write_text(f"data_dir: {data}\nas_of: '2026-07-01T00:00:00Z'\n{extra}")
    return path


def _timed_run(params: Path, reports: Path) -> tuple[float, dict]:
    started = time.monotonic()
    result = run(params, reports, quiet=True)
    wall = time.monotonic() - started
    if not result.published:
        raise SystemExit(f"benchmark run failed: {[nb.describe() for nb in result.notebooks]}")
    return wall, json.loads((result.folder / "manifest.json").read_text())


@contextmanager
def _workers_started_as_processes():
    """Run as where ``multiprocessing`` has no fork server."""
    forking = runner.can_fork_kernels
    runner.can_fork_kernels = lambda: False
    try:
        yield
    finally:
        runner.can_fork_kernels = forking


def _kernel_floor(folder: Path) -> float:
    empty = nbformat.v4.new_notebook()
    empty.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}
    empty.cells = [nbformat.v4.new_code_cell("pass")]
    nbformat.write(empty, folder / "empty.ipynb")
    result = execute_notebook("empty", folder / "empty.ipynb", folder / "empty-out.ipynb", {}, 60)
    return result.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        data = write_demo(tmp_path / "data", customers=args.customers, seed=42)
        floor = _kernel_floor(tmp_path)
        wall, manifest = _timed_run(_params(tmp_path, data, "jobs: 2\n"), tmp_path / "r1")
        notebook_sum = sum(nb["seconds"] for nb in manifest["notebooks"])
        with _workers_started_as_processes():
            launched, launched_manifest = _timed_run(_params(tmp_path, data, "jobs: 2\n"),
                                                     tmp_path / "r0")
        matrix = ("notebooks: [10_journey_times, 30_satisfaction_vs_time]\n"
                  "matrix: {region: [North, South, East, West]}\n")
        parallel, _ = _timed_run(_params(tmp_path, data, matrix + "jobs: 2\n"), tmp_path / "r2")
        sequential, _ = _timed_run(_params(tmp_path, data, matrix + "jobs: 1\n"),
                                   tmp_path / "r3")
    print(f"project: {project_root()}  customers: {args.customers}")
    print(f"kernel start + stop (empty notebook, usual) {floor:6.1f} s")
    print(f"default run, 4 notebooks, jobs=2: wall       {wall:6.1f} s")
    print(f"  sum of the notebooks' own seconds          {notebook_sum:6.1f} s "
          f"(wall / sum = {wall / notebook_sum:.2f})")
    print(f"  the build (once, before the notebooks)     {manifest['build_seconds']:6.1f} s")
    print(f"the same, workers started as processes       {launched:6.1f} s "
          f"(forked is {launched / wall:.2f}× faster)")
    after, launched_after = (wall - manifest["build_seconds"],
                             launched - launched_manifest["build_seconds"])
    print(f"  after the build: forked · started          {after:6.1f} · {launched_after:.1f} s "
          f"({launched_after / after:.2f}×; the first run's build also imported the models)")
    print(f"matrix, 2 notebooks × 4 regions, jobs=2     {parallel:6.1f} s")
    print(f"matrix, 2 notebooks × 4 regions, jobs=1     {sequential:6.1f} s "
          f"(parallel is {sequential / parallel:.2f}× faster)")


if __name__ == "__main__":
    main()
