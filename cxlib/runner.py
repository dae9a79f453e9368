"""``cx run``: validate params → plan executions → execute in workers → publish.

A run is written under ``reports/runs/.<id>.partial`` and renamed when complete: to
``runs/<id>`` — and the params file's channel pointer (``reports/latest`` by default) moves to
it — only when every notebook succeeded; to ``runs/<id>.failed`` otherwise. Readers never see
half a run, and a failed run never replaces the last good one.

Each notebook runs in a worker process of its own (:mod:`cxlib.execution`), ``jobs`` at a time,
so a notebook that hangs past ``timeout_seconds`` is killed with its kernel, and a kernel or
worker that dies is reported with the cell it was running.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import html
import itertools
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pandas as pd
import papermill as pm

from cxlib.config import DemoSettings, RunParams, load_params
from cxlib.errors import (
    EXIT_NOTEBOOK_FAILED,
    EXIT_OK,
    EXIT_WRITE_FAILED,
    ParamsError,
    RunLocked,
)
from cxlib.execution import NotebookResult, mark_failed, running_cell, try_write_html
from cxlib.io import load_dataset
from cxlib.paths import project_root, reports_dir, resolve
from cxlib.synth import write_demo

log = logging.getLogger("cxlib.run")
logging.getLogger("papermill").setLevel(logging.WARNING)  # its notebook inspection is chatty
PACKAGES = ("cxlab", "pandas", "duckdb", "ibis-framework", "statsmodels", "scikit-learn",
            "seaborn", "papermill", "voila", "pyarrow")
KILL_GRACE_SECONDS = 5


@dataclass(frozen=True)
class Execution:
    """One notebook with one set of matrix values."""

    notebook: str
    values: tuple[tuple[str, object], ...] = ()

    @property
    def label(self) -> str:
        """Folder name of this set of values (``region=North``); empty without a matrix."""
        return ",".join(f"{k}={v}" for k, v in self.values)


@dataclass
class RunResult:
    """What ``cx run`` did: where the run is, whether it was published, and its exit code."""

    run_id: str
    folder: Path
    published: bool
    notebooks: list[NotebookResult] = field(default_factory=list)
    write_error: str | None = None

    @property
    def exit_code(self) -> int:
        """0 published · 1 a notebook failed · 5 the run folder could not be written."""
        if self.published:
            return EXIT_OK
        if self.write_error or any(nb.kind == "write_failed" for nb in self.notebooks):
            return EXIT_WRITE_FAILED
        return EXIT_NOTEBOOK_FAILED


def notebook_path(name: str) -> Path:
    """Path of a report notebook by name (``10_journey_times``)."""
    return project_root() / "notebooks" / f"{name}.ipynb"


def plan(params: RunParams) -> list[Execution]:
    """Return every (notebook, matrix values) execution of a run, in a stable order."""
    keys = sorted(params.matrix)
    combos = [tuple(zip(keys, values, strict=True))
              for values in itertools.product(*(params.matrix[k] for k in keys))]
    return [Execution(nb, combo) for combo in combos for nb in params.notebooks]


def check_notebook_parameters(params: RunParams, params_file: str) -> None:
    """Stop before any kernel starts if a notebook does not declare what it will be given."""
    given = set(params.notebook_parameters(Path("tables"))) | set(params.matrix)
    for name in params.notebooks:
        declared = set(pm.inspect_notebook(str(notebook_path(name))))
        missing = sorted(given - declared)
        if missing:
            raise ParamsError(params_file, ", ".join(missing),
                              f"notebooks/{name}.ipynb does not declare this parameter in its "
                              "parameters cell")


def _descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (kernels run in sessions of their own)."""
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            ppid = int(next(ln for ln in status.read_text().splitlines()
                            if ln.startswith("PPid:")).split()[1])
        except (OSError, StopIteration, ValueError):
            continue
        children.setdefault(ppid, []).append(int(status.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_tree(proc: subprocess.Popen) -> None:
    """Stop a worker, its kernel and anything they started."""
    victims = _descendants(proc.pid)
    for pid in [proc.pid, *victims]:
        for kill in (os.killpg, os.kill):
            try:
                kill(os.getpgid(pid) if kill is os.killpg else pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    proc.wait()


def run_in_worker(task: Execution, run_dir: Path, parameters: dict, timeout: int) -> NotebookResult:
    """Execute one notebook in a worker process; kill it (and its kernel) past ``timeout``."""
    out_dir = run_dir / task.label if task.label else run_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    logs = run_dir / "logs"
    logs.mkdir(exist_ok=True)
    stem = f"{task.label + '__' if task.label else ''}{task.notebook}"
    request, reply = logs / f"{stem}.request.json", logs / f"{stem}.result.json"
    output = out_dir / f"{task.notebook}.ipynb"
    values = dict(task.values)
    params = {**parameters, "output_dir": str(out_dir / "tables"), **values}
    request.write_text(json.dumps({"notebook": task.notebook, "label": task.label,
                                   "source": str(notebook_path(task.notebook)),
                                   "output": str(output), "parameters": params,
                                   "timeout": timeout, "runner_pid": os.getpid()}))
    started = time.monotonic()
    with open(logs / f"{stem}.log", "w") as worker_log:
        proc = subprocess.Popen([sys.executable, "-m", "cxlib.execution", str(request),
                                 str(reply)], stdout=worker_log, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=project_root())
        try:
            code = proc.wait(timeout=timeout + KILL_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _kill_tree(proc)
            code = None
    if reply.exists():
        return NotebookResult(**json.loads(reply.read_text()))
    result = NotebookResult(task.notebook, task.label, status="failed",
                            seconds=round(time.monotonic() - started, 2))
    if code is None:
        result.kind, result.error = "timeout", f"did not finish within {timeout} s; stopped"
    else:
        result.kind = "worker_died"
        result.error = f"worker process died (exit code {code}); see logs/{stem}.log"
    where = running_cell(output)
    if where:
        result.cell, result.first_line = where
    mark_failed(output, result)
    try_write_html(output)
    return result


def _generate_demo(demo: DemoSettings, data_dir: Path) -> None:
    """Write the demo world into a new or empty ``data_dir``, saying where (loudly if outside)."""
    outside = not data_dir.is_relative_to(project_root())
    log.log(logging.WARNING if outside else logging.INFO,
            "generating demo data (%d customers) in %s%s", demo.customers, data_dir,
            " — outside the project folder" if outside else "")
    write_demo(data_dir, demo.customers, demo.seed)


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


def _rows_written(run_dir: Path) -> int:
    return sum(len(pd.read_parquet(p, columns=[]))
               for p in run_dir.rglob("tables/*.parquet"))


@contextmanager
def run_lock(folder: Path, key: str, wait: bool = False) -> Iterator[None]:
    """Hold an exclusive lock for runs of one params file; raise :class:`RunLocked` if taken.

    With ``wait``, block until the other run finishes instead.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f".lock-{key}", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise RunLocked(f"another `cx run` of {key} is running (lock {handle.name}); "
                            "use --wait to queue behind it") from None
        yield


def _lock_is_free(reports: Path, stem: str) -> bool:
    """Tell whether no run of params file ``stem`` holds its lock right now."""
    try:
        with open(reports / f".lock-{stem}", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError:
        return False
    return True


def sweep_stale_partials(reports: Path, own_stem: str) -> list[Path]:
    """Delete ``runs/.<id>.partial`` folders whose run is gone (killed, machine rebooted).

    A partial folder belongs to a live run only while that run holds its params file's lock;
    the caller holds ``own_stem``'s lock, so partial folders of its own stem are stale.
    """
    removed = []
    for partial in sorted((reports / "runs").glob(".*.partial")):
        run_id = partial.name[1:].removesuffix(".partial")
        stem = run_id.split("-", 1)[1] if "-" in run_id else ""
        if stem == own_stem or _lock_is_free(reports, stem):
            shutil.rmtree(partial, ignore_errors=True)
            log.info("removed %s: its run is gone", partial)
            removed.append(partial)
    return removed


def _point(reports: Path, channel: str, run_id: str) -> None:
    tmp_link = reports / f".{channel}-{run_id}"
    tmp_link.symlink_to(Path("runs") / run_id)
    os.replace(tmp_link, reports / channel)  # atomic: readers see old or new, never none


def _publish(reports: Path, partial: Path, run_id: str, ok: bool, channel: str) -> Path:
    final = reports / "runs" / (run_id if ok else f"{run_id}.failed")
    partial.rename(final)
    if ok:
        _point(reports, channel, run_id)
    return final


def apply_retention(reports: Path, stem: str, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` runs of one params file; never a published one."""
    pointed = {p.resolve() for p in reports.iterdir() if p.is_symlink()}
    runs = sorted((p for p in (reports / "runs").iterdir()
                   if p.is_dir() and not p.name.startswith(".")
                   and p.name.removesuffix(".failed").endswith(f"-{stem}")), reverse=True)
    removed = []
    for old in runs[keep:]:
        if old.resolve() not in pointed:
            shutil.rmtree(old)
            removed.append(old)
    return removed


def _read_manifest(run: Path) -> dict:
    """Return a run's manifest, or {} when it is missing or unreadable (old, damaged)."""
    try:
        info = json.loads((run / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _report_link(run: Path, nb: dict) -> str:
    label = nb.get("label") or ""  # runs from before matrix runs have no label
    folder = f"{label}/" if label else ""
    shown = nb["notebook"] + (f" [{label}]" if label else "")
    return (f"<a href='runs/{html.escape(run.name)}/{html.escape(folder)}"
            f"{html.escape(nb['notebook'])}.html'>{html.escape(shown)}</a>")


def write_index(reports: Path) -> Path:
    """Write ``reports/index.html`` listing every run, newest first, failed ones marked."""
    runs = sorted((p for p in (reports / "runs").glob("*") if p.is_dir()
                   and not p.name.startswith(".")), reverse=True)
    pointers = {p.resolve(): p.name for p in reports.iterdir() if p.is_symlink()}
    rows = []
    for run in runs:
        info = _read_manifest(run)
        status = "failed" if run.name.endswith(".failed") else "ok"
        links = " · ".join(_report_link(run, nb) for nb in info.get("notebooks", [])
                           if isinstance(nb, dict) and "notebook" in nb)
        mark = f" ({pointers[run.resolve()]})" if run.resolve() in pointers else ""
        rows.append(f"<tr class='{status}'><td>{html.escape(run.name)}{mark}</td>"
                    f"<td>{status}</td><td>{html.escape(str(info.get('title', '')))}</td>"
                    f"<td>{links}</td></tr>")
    page = ("<!doctype html><meta charset='utf-8'><title>cxlab reports</title>"
            "<style>body{font-family:sans-serif}td{padding:4px 10px}"
            ".failed{color:#a00}</style><h1>cxlab reports</h1>"
            "<table><tr><th>run</th><th>status</th><th>title</th><th>reports</th></tr>"
            + "".join(rows) + "</table>")
    index = reports / ".index.html.tmp"
    index.write_text(page)
    index.replace(reports / "index.html")
    return reports / "index.html"


def _summary(results: list[NotebookResult]) -> str:
    table = pd.DataFrame([{"notebook": r.notebook, "values": r.label or "-",
                           "status": r.status, "seconds": r.seconds,
                           "problem": r.describe() if r.status != "ok" else ""}
                          for r in results])
    return table.to_string(index=False)


def _execute_all(tasks: list[Execution], run_dir: Path, parameters: dict, params: RunParams,
                 quiet: bool) -> list[NotebookResult]:
    from tqdm import tqdm

    jobs = params.jobs or os.cpu_count() or 1
    results: dict[Execution, NotebookResult] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool, \
            tqdm(total=len(tasks), desc="notebooks", unit="nb", disable=quiet,
                 file=sys.stderr) as bar:
        futures = {pool.submit(run_in_worker, t, run_dir, parameters, params.timeout_seconds): t
                   for t in tasks}
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            bar.update()
            if result.status != "ok":
                log.warning("failed: %s", result.describe())
    return [results[t] for t in tasks]


def run(params_file: str | Path, reports: Path | None = None, wait: bool = False,
        quiet: bool = False, jobs: int | None = None) -> RunResult:
    """Run every notebook (× matrix values) of a params file; publish if all succeed.

    ``jobs`` overrides the params file's ``jobs``. Raises :class:`ParamsError` (bad params),
    :class:`ContractError` (bad data) or :class:`RunLocked` before any kernel starts.
    """
    params_file = str(resolve(params_file))
    params = load_params(params_file)
    if jobs is not None:
        if jobs < 1:
            raise ParamsError(params_file, "--jobs", "must be at least 1")
        params = params.model_copy(update={"jobs": jobs})
    check_notebook_parameters(params, params_file)
    reports = reports or reports_dir()
    stem = Path(params_file).stem
    with run_lock(reports, stem, wait):
        sweep_stale_partials(reports, stem)
        data_dir = resolve(params.data_dir)
        if params.demo is not None and not (data_dir.is_dir() and any(data_dir.iterdir())):
            _generate_demo(params.demo, data_dir)
        dataset = load_dataset(data_dir, timezone=params.timezone,
                               max_bad_share=params.max_bad_share)
        if params.survey_duration:
            dataset.check_survey_column(params.survey_duration, params_file)
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + f"-{stem}"
        partial = reports / "runs" / f".{run_id}.partial"
        try:
            return _run_into(params, params_file, dataset, data_dir, reports, partial, run_id,
                             quiet)
        except OSError as exc:
            shutil.rmtree(partial, ignore_errors=True)
            code = errno.errorcode.get(exc.errno or 0, "")
            return RunResult(run_id, partial, False,
                             write_error=f"could not write the run folder ({code} {exc})")


def _run_into(params: RunParams, params_file: str, dataset: object, data_dir: Path,
              reports: Path, partial: Path, run_id: str, quiet: bool) -> RunResult:
    partial.mkdir(parents=True)
    handler = logging.FileHandler(partial / "run.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    try:
        tasks = plan(params)
        log.info("run %s: %d notebook executions, %s at a time", run_id, len(tasks),
                 params.jobs or os.cpu_count())
        started = time.monotonic()
        results = _execute_all(tasks, partial, params.notebook_parameters(partial), params,
                               quiet)
        log.info("summary of %s\n%s", run_id, _summary(results))
        ok = all(r.status == "ok" for r in results)
        manifest = {
            "run_id": run_id, "title": params.title, "params_file": params_file,
            "params": params.model_dump(mode="json"), "status": "ok" if ok else "failed",
            "channel": params.channel, "git_commit": _git_commit(), "packages": _versions(),
            "input_fingerprint": _fingerprint(data_dir),
            "rows": {"read": dataset.rows_read, "quarantined": dataset.rows_quarantined,
                     "written": _rows_written(partial),
                     "by_table": dataset.quality.drop(columns=["file"]).to_dict("records")},
            "seconds": round(time.monotonic() - started, 2),
            "notebooks": [asdict(r) for r in results],
        }
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str))
    finally:
        log.removeHandler(handler)
        handler.close()
    final = _publish(reports, partial, run_id, ok, params.channel)
    try:  # the run is already published (or kept as failed): housekeeping must not undo that
        removed = apply_retention(reports, Path(params_file).stem, params.keep_runs)
        if removed:
            log.info("retention: removed %d old run(s)", len(removed))
        write_index(reports)
    except OSError as exc:
        log.warning("could not tidy old runs or rewrite index.html: %s", exc)
    return RunResult(run_id, final, ok, results)
