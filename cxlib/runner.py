"""``cx run``: validate params → check data → execute notebooks → publish, or keep as failed.

A run is written under ``reports/runs/.<id>.partial`` and renamed when complete: to
``runs/<id>`` and ``reports/latest`` is re-pointed only when every notebook succeeded; to
``runs/<id>.failed`` otherwise. Readers never see half a run, and a failure never replaces
the last good one.
"""

from __future__ import annotations

import fcntl
import hashlib
import html
import json
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import papermill as pm

from cxlib.config import RunParams, load_params
from cxlib.errors import EXIT_OK, CxError, NotebookFailed, ParamsError, RunLocked
from cxlib.io import load_dataset
from cxlib.paths import project_root, reports_dir, resolve
from cxlib.synth import write_demo

log = logging.getLogger("cxlib.run")
logging.getLogger("papermill").setLevel(logging.WARNING)  # one line per notebook is ours to log
PACKAGES = ("cxlab", "pandas", "duckdb", "ibis-framework", "statsmodels", "scikit-learn",
            "seaborn", "papermill", "voila", "pyarrow")


@dataclass
class NotebookResult:
    """How one notebook of a run went."""

    notebook: str
    status: str = "pending"  # ok | failed
    seconds: float = 0.0
    error: str | None = None
    cell: int | None = None


@dataclass
class RunResult:
    """What ``cx run`` did: where the run is, whether it was published, and its exit code."""

    run_id: str
    folder: Path
    published: bool
    notebooks: list[NotebookResult] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when published, else the code of a failed notebook."""
        return EXIT_OK if self.published else NotebookFailed.exit_code


def notebook_path(name: str) -> Path:
    """Path of a report notebook by name (``10_journey_times``)."""
    return project_root() / "notebooks" / f"{name}.ipynb"


def check_notebook_parameters(params: RunParams, params_file: str) -> None:
    """Stop before any kernel starts if a notebook does not declare what it will be given."""
    given = set(params.notebook_parameters(Path("tables")))
    for name in params.notebooks:
        declared = set(pm.inspect_notebook(str(notebook_path(name))))
        missing = sorted(given - declared)
        if missing:
            raise ParamsError(params_file, ", ".join(missing),
                              f"notebooks/{name}.ipynb does not declare this parameter in its "
                              "parameters cell")


def _fingerprint(data_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in data_dir.iterdir() if p.is_file()):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project_root(), text=True,
                             capture_output=True, timeout=10, check=False)
    except OSError:
        return None
    return out.stdout.strip() or None


def _versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def execute_one(name: str, out_dir: str, parameters: dict, timeout: int) -> NotebookResult:
    """Execute one notebook with papermill, then write its HTML without code cells."""
    from nbconvert import HTMLExporter

    result = NotebookResult(name)
    started = time.monotonic()
    output = Path(out_dir) / f"{name}.ipynb"
    try:
        pm.execute_notebook(str(notebook_path(name)), str(output), parameters=parameters,
                            cwd=str(notebook_path(name).parent), kernel_name="python3",
                            execution_timeout=timeout, progress_bar=False, log_output=False)
        result.status = "ok"
    except pm.PapermillExecutionError as exc:
        first = next((ln for ln in exc.source.splitlines() if ln.strip()), "")
        result.status, result.cell = "failed", exc.exec_count
        result.error = str(NotebookFailed(name, exc.exec_count, first,
                                          f"{exc.ename}: {exc.evalue}"))
    except Exception as exc:  # timeouts, dead kernels: papermill raises many kinds
        result.status = "failed"
        result.error = str(NotebookFailed(name, None, "", f"{type(exc).__name__}: {exc}"))
    if output.exists():
        exporter = HTMLExporter(exclude_input=True)
        exporter.log.setLevel(logging.ERROR)  # not "alternative text is missing" per figure
        body, _ = exporter.from_filename(str(output))
        output.with_suffix(".html").write_text(body)
    result.seconds = round(time.monotonic() - started, 2)
    return result


@contextmanager
def run_lock(folder: Path, key: str) -> Iterator[None]:
    """Hold an exclusive lock for runs of one params file, or raise :class:`RunLocked`."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f".lock-{key}", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLocked(f"another `cx run` of {key} is running (lock {handle.name})") from None
        yield


def _publish(reports: Path, partial: Path, run_id: str, ok: bool) -> Path:
    final = reports / "runs" / (run_id if ok else f"{run_id}.failed")
    partial.rename(final)
    if ok:
        tmp_link = reports / f".latest-{run_id}"
        tmp_link.symlink_to(Path("runs") / run_id)
        os.replace(tmp_link, reports / "latest")  # atomic: readers see old or new, never none
    return final


def write_index(reports: Path) -> Path:
    """Write ``reports/index.html`` listing every run, newest first, failed ones marked."""
    runs = sorted((p for p in (reports / "runs").glob("*") if p.is_dir()
                   and not p.name.startswith(".")), reverse=True)
    latest = (reports / "latest").resolve() if (reports / "latest").exists() else None
    rows = []
    for run in runs:
        manifest = run / "manifest.json"
        info = json.loads(manifest.read_text()) if manifest.exists() else {}
        status = "failed" if run.name.endswith(".failed") else "ok"
        links = " · ".join(f"<a href='runs/{run.name}/{nb['notebook']}.html'>"
                           f"{html.escape(nb['notebook'])}</a>"
                           for nb in info.get("notebooks", []))
        mark = " (latest)" if latest == run.resolve() else ""
        rows.append(f"<tr class='{status}'><td>{html.escape(run.name)}{mark}</td>"
                    f"<td>{status}</td><td>{html.escape(info.get('title', ''))}</td>"
                    f"<td>{links}</td></tr>")
    page = ("<!doctype html><meta charset='utf-8'><title>cxlab reports</title>"
            "<style>body{font-family:sans-serif}td{padding:4px 10px}"
            ".failed{color:#a00}</style><h1>cxlab reports</h1>"
            "<table><tr><th>run</th><th>status</th><th>title</th><th>reports</th></tr>"
            + "".join(rows) + "</table>")
    index = reports / "index.html"
    index.write_text(page)
    return index


def run(params_file: str | Path, reports: Path | None = None) -> RunResult:
    """Run every notebook of a params file and publish the run if all succeed.

    Raises :class:`ParamsError` (bad params), :class:`ContractError` (bad data) or
    :class:`RunLocked` before any kernel starts; a failing notebook gives a failed run.
    """
    params_file = str(resolve(params_file))
    params = load_params(params_file)
    check_notebook_parameters(params, params_file)
    reports = reports or reports_dir()
    with run_lock(reports, Path(params_file).stem):
        data_dir = resolve(params.data_dir)
        if not data_dir.exists() and params.demo is not None:
            log.info("generating demo data (%d customers) in %s", params.demo.customers, data_dir)
            write_demo(data_dir, params.demo.customers, params.demo.seed)
        dataset = load_dataset(data_dir, max_bad_share=params.max_bad_share)
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + f"-{Path(params_file).stem}"
        partial = reports / "runs" / f".{run_id}.partial"
        (partial / "tables").mkdir(parents=True)
        nb_params = params.notebook_parameters(partial / "tables")
        log.info("run %s: %d notebooks, %d at a time", run_id, len(params.notebooks), params.jobs)
        started = time.monotonic()
        with ProcessPoolExecutor(max_workers=params.jobs) as pool:
            futures = [pool.submit(execute_one, name, str(partial), nb_params,
                                   params.timeout_seconds) for name in params.notebooks]
            results = [f.result() for f in futures]
        for r in results:
            log.info("%-28s %-6s %6.1f s%s", r.notebook, r.status, r.seconds,
                     f"  {r.error}" if r.error else "")
        ok = all(r.status == "ok" for r in results)
        manifest = {
            "run_id": run_id, "title": params.title, "params_file": params_file,
            "params": params.model_dump(mode="json"), "status": "ok" if ok else "failed",
            "git_commit": _git_commit(), "packages": _versions(),
            "input_fingerprint": _fingerprint(data_dir),
            "rows": {"read": dataset.rows_read, "quarantined": dataset.rows_quarantined,
                     "by_table": dataset.quality.drop(columns=["file"]).to_dict("records")},
            "seconds": round(time.monotonic() - started, 2),
            "notebooks": [asdict(r) for r in results],
            "tables": sorted(p.name for p in (partial / "tables").glob("*.parquet")),
        }
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str))
        final = _publish(reports, partial, run_id, ok)
        write_index(reports)
    return RunResult(run_id, final, ok, results)


__all__ = ["CxError", "RunResult", "run", "write_index"]
