"""``cx run``: validate params → plan executions → execute in workers → publish.

A run is written under ``reports/runs/.<id>.partial`` and renamed when complete: to
``runs/<id>`` — and the params file's channel pointer (``reports/latest`` by default) moves to
it — only when every notebook succeeded; to ``runs/<id>.failed`` otherwise. Readers never see
half a run, and a failed run never replaces the last good one.

Each notebook runs in a worker process of its own (:mod:`cxlib.execution`), ``jobs`` at a time,
so a notebook that hangs past ``timeout_seconds`` is killed with its kernel, and a kernel or
worker that dies is reported with the cell it was running. Workers are forked from a fork
server that imports what they and their kernels need while the run builds
(:func:`start_worker_forks`), so a notebook starts with its imports done.
"""

from __future__ import annotations

import errno
import itertools
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from multiprocessing.context import BaseContext
from pathlib import Path

import duckdb
import pandas as pd
import papermill as pm

from cxlib.errors import (
    EXIT_NOTEBOOK_FAILED,
    EXIT_OK,
    EXIT_WRITE_FAILED,
    ParamsError,
)
from cxlib.execution import (
    KERNEL_SOCKETS_ENV,
    PRELOAD_MODULES_ENV,
    THREAD_LIMITS,
    WORKER_PRELOAD,
    NotebookResult,
    kill_tree,
    mark_failed,
    run_forked_worker,
    running_cell,
    try_write_html,
)
from cxlib.forked_kernels import (
    ForkedProcess,
    can_fork_kernels,
    fork,
    start_fork_server,
)
from cxlib.io import data_fingerprint
from cxlib.notebooks import imported_modules
from cxlib.params import DemoSettings, RunParams, load_params
from cxlib.paths import project_root, reports_dir, resolve
from cxlib.store import (
    apply_retention,
    publish,
    read_manifest,
    run_lock,
    sweep_stale_partials,
    write_index,
)
from cxlib.synth import write_demo
from cxlib.workbench import build_workbench

log = logging.getLogger("cxlib.run")
logging.getLogger("papermill").setLevel(logging.WARNING)  # its notebook inspection is chatty
PACKAGES = ("cxlab", "pandas", "duckdb", "ibis-framework", "statsmodels", "scikit-learn",
            "seaborn", "papermill", "voila", "pyarrow")
KILL_GRACE_SECONDS = 5
BUILD_FOLDER = ".build"  # in the run folder while it runs; removed before it is published


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



def worker_environment(jobs: int, cores: int | None = None) -> dict[str, str]:
    """Return the environment of a notebook worker and its kernel when ``jobs`` run at once.

    Each kernel's OpenMP and BLAS pools get the cores divided among the jobs (at least one):
    with two notebooks at once on two cores, scikit-learn's k-means (the mixture's start)
    spin-waited for a core the other kernel held, and the segments' stability refits took
    28 s instead of 6 s. A limit the caller's environment sets already is kept.
    """
    share = str(max(1, (cores or os.cpu_count() or 1) // max(jobs, 1)))
    return {**dict.fromkeys(THREAD_LIMITS, share), **os.environ}


def _jobs(params: RunParams, tasks: list[Execution]) -> int:
    """How many notebooks run at once."""
    return max(1, min(params.jobs or os.cpu_count() or 1, len(tasks)))


def start_worker_forks(params: RunParams) -> BaseContext | None:
    """Start the fork server a run's notebook workers (and their kernels) are forked from.

    While the run builds, it imports papermill, nbconvert, ipykernel, every module the run's
    notebooks import and the dashboards (the run writes their static copies), and writes a
    page (:mod:`cxlib.report_preload`); each worker and its kernel then start with that done
    instead of paying it per notebook (≈ 4.5 s of CPU each on two cores). None where
    ``multiprocessing`` has no fork server (Windows): workers are started as processes.
    """
    if not can_fork_kernels():
        return None
    tasks = plan(params)
    notebooks = sorted({notebook_path(t.notebook) for t in tasks})
    modules = [*WORKER_PRELOAD, *imported_modules(notebooks), "cxlib.dashboard"]
    return start_fork_server(["cxlib.report_preload"], {
        **worker_environment(_jobs(params, tasks)), PRELOAD_MODULES_ENV: ",".join(modules)})


def _waited(proc: subprocess.Popen | ForkedProcess, seconds: float) -> int | None:
    """Wait for a worker's exit code; past ``seconds`` kill it and its children (None)."""
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        kill_tree(proc)
        return None


def run_in_worker(task: Execution, run_dir: Path, parameters: dict, timeout: int,
                  header: dict[str, str] | None = None, jobs: int = 1,
                  forks: BaseContext | None = None) -> NotebookResult:
    """Execute one notebook in a worker process; kill it (and its kernel) past ``timeout``.

    ``header`` (title, cut-off, run id, input fingerprint) heads the published HTML page;
    ``jobs`` (how many run at once) divides the cores among the kernels' thread pools;
    ``forks`` (:func:`start_worker_forks`) forks the worker, else it is started as
    ``python -m cxlib.execution``.
    """
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
                                   "timeout": timeout, "runner_pid": os.getpid(),
                                   "header": {**(header or {}), "label": task.label}}))
    started = time.monotonic()
    sockets = tempfile.mkdtemp(prefix="cx-sockets-")  # the kernel's, even if it is killed
    env = {**worker_environment(jobs), KERNEL_SOCKETS_ENV: sockets}
    try:
        if forks is None:
            with open(logs / f"{stem}.log", "w") as worker_log:
                proc = subprocess.Popen([sys.executable, "-m", "cxlib.execution", str(request),
                                         str(reply)], stdout=worker_log,
                                        stderr=subprocess.STDOUT, start_new_session=True,
                                        cwd=project_root(), env=env)
        else:
            proc = fork(forks, run_forked_worker,
                        (request, reply, logs / f"{stem}.log", env, project_root()), f"cx {stem}")
        code = _waited(proc, timeout + KILL_GRACE_SECONDS)
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
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
    try_write_html(output, {**(header or {}), "label": task.label})
    return result


def _generate_demo(demo: DemoSettings, data_dir: Path) -> None:
    """Write the demo world into a new or empty ``data_dir``, saying where (loudly if outside)."""
    outside = not data_dir.is_relative_to(project_root())
    log.log(logging.WARNING if outside else logging.INFO,
            "generating demo data (%d customers) in %s%s", demo.customers, data_dir,
            " — outside the project folder" if outside else "")
    write_demo(data_dir, demo.customers, demo.seed)


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


def _summary(results: list[NotebookResult]) -> str:
    table = pd.DataFrame([{"notebook": r.notebook, "values": r.label or "-",
                           "status": r.status, "seconds": r.seconds,
                           "problem": r.describe() if r.status != "ok" else ""}
                          for r in results])
    return table.to_string(index=False)


def longest_first(tasks: list[Execution], last_run: Path) -> list[Execution]:
    """Return the tasks ordered by how long each took in ``last_run`` (longest first).

    With ``jobs`` at a time, starting the longest first ends the run sooner (the default run
    on two cores: 30.2 → 27.5 s); a task the last run did not have starts first, as it may be
    long. Ties and a missing or failed last run keep the params file's order.
    """
    seconds = {(r.get("notebook"), r.get("label", "")): r.get("seconds", 0.0)
               for r in read_manifest(last_run).get("notebooks", [])}
    return sorted(tasks, key=lambda t: -seconds.get((t.notebook, t.label), float("inf")))


def _execute_all(tasks: list[Execution], run_dir: Path, parameters: dict, params: RunParams,
                 quiet: bool, header: dict[str, str], last_run: Path,
                 forks: BaseContext | None) -> list[NotebookResult]:
    from tqdm import tqdm

    jobs = _jobs(params, tasks)
    results: dict[Execution, NotebookResult] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool, \
            tqdm(total=len(tasks), desc="notebooks", unit="nb", disable=quiet,
                 file=sys.stderr) as bar:
        futures = {pool.submit(run_in_worker, t, run_dir, parameters, params.timeout_seconds,
                               header, jobs, forks): t
                   for t in longest_first(tasks, last_run)}
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
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + f"-{stem}"
        partial = reports / "runs" / f".{run_id}.partial"
        started = time.monotonic()
        forks = start_worker_forks(params)  # its imports overlap the build
        try:
            built = build_workbench(data_dir, params.journey_spec, params.as_of,
                                    partial / BUILD_FOLDER, params.max_bad_share,
                                    params.timezone, engine=params.engine,
                                    spark_conf=dict(params.spark_conf),
                                    survey_duration=params.survey_duration,
                                    asked_by=params_file)
            build = {"seconds": round(time.monotonic() - started, 2),
                     "journeys": len(built.journeys),
                     "journey_spec": built.spec.model_dump(mode="json", by_alias=True),
                     "rows": {"read": built.dataset.rows_read,
                              "quarantined": built.dataset.rows_quarantined,
                              "by_table": built.dataset.quality.drop(columns=["file"])
                              .to_dict("records")}}
            del built  # the notebooks read the build from disk: free its memory before them
            return _run_into(params, params_file, data_dir, reports, partial, run_id, quiet,
                             build, forks)
        except (OSError, duckdb.IOException) as exc:
            shutil.rmtree(partial, ignore_errors=True)
            code = errno.errorcode.get(getattr(exc, "errno", None) or 0, "")
            return RunResult(run_id, partial, False,
                             write_error=f"could not write the run folder ({code} {exc})")
        except BaseException:  # bad data, interrupted: no run folder is left behind
            shutil.rmtree(partial, ignore_errors=True)
            raise


VIEW_WRITERS = 3  # processes sharing the static views (one view each today)


def _views_written(run: Path, part: int = 0, parts: int = 1) -> dict[str, str]:
    """Write the static copies (``part`` of ``parts``); return each view's file, or the error."""
    from cxlib.dashboard import write_static_views  # matplotlib: only when a run publishes

    try:
        pages = write_static_views(run, part, parts)
    except Exception as exc:  # the run's reports stand without the copies
        return {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
    return {p.stem: str(p.relative_to(run)) for p in pages}


def _write_views_to(run: Path, part: int, parts: int, reply: Path) -> None:
    """Write ``part`` of the static copies (in a process forked for it); say how to ``reply``."""
    reply.write_text(json.dumps(_views_written(run, part, parts)))


def _write_views(run: Path, forks: BaseContext | None, timeout: int) -> dict[str, str]:
    """Write the dashboards' static copies; return each view's file, or why they are missing.

    Where there is a fork server, :data:`VIEW_WRITERS` processes forked from it share the
    views: it imported the dashboards while the run built (≈ 1 s of imports the runner would
    pay after the last notebook), and the views draw on both cores; stopped past ``timeout``.
    """
    started = time.monotonic()
    if forks is None:
        written = _views_written(run)
    else:
        writers = []
        for part in range(VIEW_WRITERS):
            reply = run / "logs" / f"views-{part}.result.json"
            writers.append((reply, fork(forks, _write_views_to,
                                        (run, part, VIEW_WRITERS, reply), f"cx views {part}")))
        parts = []
        for reply, process in writers:
            code = _waited(process, max(timeout - (time.monotonic() - started), 1))
            parts.append(json.loads(reply.read_text()) if reply.exists() else {
                "error": f"the process writing them ended ({code})" if code is not None
                else f"the process writing them was stopped after {timeout} s"})
            reply.unlink(missing_ok=True)
        failed = [part for part in parts if "error" in part]
        written = failed[0] if failed else {k: v for part in parts for k, v in part.items()}
    if "error" in written:
        log.error("could not write the dashboards' static copies: %s\n%s", written["error"],
                  written.pop("trace", ""))
        return written
    log.info("wrote %d static dashboard views in %.1f s", len(written),
             time.monotonic() - started)
    return written


def _run_into(params: RunParams, params_file: str, data_dir: Path, reports: Path,
              partial: Path, run_id: str, quiet: bool, build: dict,
              forks: BaseContext | None) -> RunResult:
    partial.mkdir(parents=True, exist_ok=True)  # the build is already in it
    handler = logging.FileHandler(partial / "run.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    try:
        tasks = plan(params)
        log.info("built %s once in %.1f s: %d journeys", data_dir, build["seconds"],
                 build["journeys"])
        log.info("run %s: %d notebook executions, %s at a time", run_id, len(tasks),
                 params.jobs or os.cpu_count())
        started = time.monotonic()
        parameters = params.notebook_parameters(partial, partial / BUILD_FOLDER)
        fingerprint = data_fingerprint(data_dir)
        header = {"title": params.title, "as_of": str(params.model_dump(mode="json")["as_of"]),
                  "run_id": run_id, "input_fingerprint": fingerprint}
        try:
            results = _execute_all(tasks, partial, parameters, params, quiet, header,
                                   reports / params.channel, forks)
        finally:  # the raw data never reaches a published (or failed) run's folder
            shutil.rmtree(partial / BUILD_FOLDER, ignore_errors=True)
        log.info("summary of %s\n%s", run_id, _summary(results))
        ok = all(r.status == "ok" for r in results)
        manifest = {
            "run_id": run_id, "title": params.title, "params_file": params_file,
            "params": params.model_dump(mode="json"), "status": "ok" if ok else "failed",
            "channel": params.channel, "git_commit": _git_commit(), "packages": _versions(),
            "input_fingerprint": fingerprint,
            "journey_spec": build["journey_spec"],  # what the dashboards label and measure by
            "rows": {**build["rows"], "written": _rows_written(partial)},
            "seconds": round(time.monotonic() - started, 2),
            "build_seconds": build["seconds"],
            "notebooks": [asdict(r) for r in results],
        }
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str))
        if ok:  # the views read the manifest (spec, min_group_size): write them after it
            manifest["views"] = _write_views(partial, forks, params.timeout_seconds)
            (partial / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str))
    finally:
        log.removeHandler(handler)
        handler.close()
    final = publish(reports, partial, run_id, ok, params.channel)
    try:  # the run is already published (or kept as failed): housekeeping must not undo that
        removed = apply_retention(reports, Path(params_file).stem, params.keep_runs)
        if removed:
            log.info("retention: removed %d old run(s)", len(removed))
        write_index(reports)
    except OSError as exc:
        log.warning("could not tidy old runs or rewrite index.html: %s", exc)
    return RunResult(run_id, final, ok, results)
