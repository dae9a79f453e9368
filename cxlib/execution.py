"""One report notebook, executed in a worker process of its own.

The runner forks a worker per notebook from its preloaded fork server (:func:`run_forked_worker`;
where there is none, it starts ``python -m cxlib.execution REQUEST.json RESULT.json``), so it can
enforce a whole-notebook timeout (by killing the worker and its kernel), notice a dead kernel or
worker, and keep kernel chatter in a log file instead of the console. Whatever happens, the
output notebook left behind says why it stopped: a marker cell at the top names the cell.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from cxlib.forked_kernels import (
    PROVISIONER_ENV,
    PROVISIONER_NAME,
    ForkedProcess,
    fork_kernels_from_this_process,
)

FAILURE_KINDS = ("cell_error", "timeout", "kernel_died", "worker_died", "write_failed")
# the thread-pool sizes OpenMP and BLAS read (set for run workers and dashboard kernels)
THREAD_LIMITS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
KERNEL_SOCKETS_ENV = "CXLAB_KERNEL_SOCKETS"  # the folder a worker's kernel makes its sockets in


@dataclass
class NotebookResult:
    """How one notebook execution went (``kind`` says how it failed, if it did)."""

    notebook: str
    label: str = ""
    status: str = "pending"  # ok | failed
    seconds: float = 0.0
    kind: str | None = None
    error: str | None = None
    cell: int | None = None
    first_line: str | None = None

    def describe(self) -> str:
        """One line naming the notebook, its matrix values, the cell and the reason."""
        where = f"{self.notebook}" + (f" [{self.label}]" if self.label else "")
        if self.status == "ok":
            return f"{where}: ok in {self.seconds:.1f} s"
        if self.kind == "write_failed":
            return f"{where}: {self.error}"
        cell = (f"cell {self.cell} ({self.first_line!r})" if self.cell is not None
                else "before any cell ran")
        return f"{where}: {cell}: {self.error}"


def _is_marker(cell: nbformat.NotebookNode) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    return "injected-parameters" in tags or "cx-error" in tags or "papermill-error-cell-tag" in tags


def _first_line(source: str) -> str:
    return next((ln.strip() for ln in source.splitlines() if ln.strip()), "")


def cell_position(book: nbformat.NotebookNode, index: int) -> int:
    """Return the 1-based position of output cell ``index`` in the source notebook."""
    return sum(1 for c in book.cells[: index + 1] if not _is_marker(c))


def running_cell(path: Path) -> tuple[int, str] | None:
    """Return the cell running when execution stopped: the last code cell that started."""
    try:
        book = nbformat.read(path, as_version=4)
    except (OSError, ValueError):
        return None
    started = [i for i, c in enumerate(book.cells)
               if c.cell_type == "code" and not _is_marker(c)
               and c.metadata.get("papermill", {}).get("start_time")]
    if not started:
        return None
    i = started[-1]
    return cell_position(book, i), _first_line(book.cells[i].source)


def mark_failed(path: Path, result: NotebookResult) -> None:
    """Put a cell at the top of the output notebook saying where and why it stopped."""
    try:
        book = nbformat.read(path, as_version=4)
    except (OSError, ValueError):
        return
    cell = nbformat.v4.new_markdown_cell(
        f"<span style='color:#a00;font-weight:bold'>This report did not finish.</span> "
        f"{result.describe()}", metadata={"tags": ["cx-error"]})
    book.cells = [c for c in book.cells if "cx-error" not in c.metadata.get("tags", [])]
    book.cells.insert(0, cell)
    nbformat.write(book, path)


REPORT_TEMPLATES = Path(__file__).parent / "share" / "nbconvert" / "templates"


def _report_header(book: nbformat.NotebookNode, header: dict[str, str]) -> nbformat.NotebookNode:
    """Return a Markdown cell: title, cut-off, run, input fingerprint, and a contents list.

    Every value is HTML-escaped (Markdown passes raw HTML through). The contents link the
    notebook's ``##`` headings by the anchors nbconvert gives them.
    """
    import html

    facts = [f"**{html.escape(header.get('title', ''))}**",
             f"cut-off {html.escape(header.get('as_of', ''))}",
             f"run {html.escape(header.get('run_id', ''))}",
             f"input fingerprint `{html.escape(header.get('input_fingerprint', ''))}`"]
    if header.get("label"):
        facts.insert(1, html.escape(header["label"]))
    headings = [line[3:].strip() for cell in book.cells if cell.cell_type == "markdown"
                for line in cell.source.splitlines() if line.startswith("## ")]
    contents = "\n".join(f"- [{html.escape(h)}](#{html.escape(h.replace(' ', '-'), quote=True)})"
                         for h in headings)
    cell = nbformat.v4.new_markdown_cell(" · ".join(facts)
                                         + ("\n\n**Contents**\n\n" + contents if contents else ""))
    cell.metadata["tags"] = ["cx-report-header"]
    return cell


def write_html(path: Path, header: dict[str, str] | None = None) -> None:
    """Write ``path``'s HTML next to it, without code cells (what managers read).

    The page loads nothing from the internet (template ``cxlab-report``). Cells whose output
    nbval checks (:func:`cxlib.notebooks.is_checked`) print numbers for the test, repeating the
    table above them: they are tagged ``nbval-check-output`` and left out of the page by
    nbconvert's tag remover, while the ``.ipynb`` keeps them. ``header`` (title, ``as_of``,
    ``run_id``, ``input_fingerprint``, ``label``) puts a header and contents list on top.
    """
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    from cxlib.notebooks import CHECK_TAG, is_checked

    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = {CHECK_TAG}
    exporter = HTMLExporter(config=config, exclude_input=True, template_name="cxlab-report",
                            extra_template_basedirs=[str(REPORT_TEMPLATES)])
    exporter.log.setLevel(logging.ERROR)  # not "alternative text is missing" per figure
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if is_checked(cell) and CHECK_TAG not in tags:
            tags.append(CHECK_TAG)
    if header:
        book.cells.insert(0, _report_header(book, header))
    body, _ = exporter.from_notebook_node(book)
    path.with_suffix(".html").write_text(body)


def try_write_html(path: Path, header: dict[str, str] | None = None) -> str | None:
    """Write the HTML if the notebook is there and readable; return the problem if not."""
    if not path.exists():
        return None
    try:
        write_html(path, header)
    except OSError as exc:
        return f"could not write {path.with_suffix('.html')}: {exc}"
    except ValueError as exc:  # a notebook truncated by a failed write is not JSON
        return f"could not read back {path} (was its write cut short?): {exc}"[:500]
    return None


class UnixSocketKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel listens on Unix sockets of its own instead of TCP ports.

    Over TCP, jupyter_client picks five free ports, lets them go, and the kernel binds them
    a moment later; a process starting meanwhile (another run's kernel, a test's server) can
    take one, and the kernel dies at start with ``ZMQError: Address already in use``
    (papermill#511, jupyter_client#154). Socket files at a path no other kernel uses cannot
    be taken. jupyter_client removes them when the kernel shuts down; for a kernel killed
    instead, the runner removes the folder it gave the worker (:data:`KERNEL_SOCKETS_ENV`).
    """

    @default("transport")
    def _unix_sockets(self) -> str:
        return "ipc"

    @default("ip")
    def _socket_path_prefix(self) -> str:
        return _socket_prefix(uuid.uuid4().hex[:12])


SOCKET_PATH_LIMIT = 100  # bytes of a Unix socket's path (108 on Linux, 104 on macOS)


def _socket_prefix(token: str) -> str:
    """Return the path a kernel's sockets start with; jupyter_client appends "-1" … "-5"."""
    folder = os.environ.get(KERNEL_SOCKETS_ENV) or tempfile.gettempdir()
    return os.path.join(folder, f"cx-kernel-{token}")


def run_kernel_manager() -> type[AsyncKernelManager]:
    """Return the kernel manager a report's kernel runs under: Unix sockets where there are.

    TCP where the platform has none, or where the temporary folder's path is too long for a
    socket's.
    """
    fits = len(os.fsencode(_socket_prefix("0" * 12) + "-5")) <= SOCKET_PATH_LIMIT
    return UnixSocketKernelManager if os.name == "posix" and fits else AsyncKernelManager


def execute_notebook(notebook: str, source: Path, output: Path, parameters: dict, timeout: int,
            label: str = "", header: dict[str, str] | None = None) -> NotebookResult:
    """Execute ``source`` into ``output`` with papermill and write its HTML (with ``header``)."""
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    result = NotebookResult(notebook, label)
    started = time.monotonic()
    try:
        pm.execute_notebook(str(source), str(output), parameters=parameters,
                            cwd=str(source.parent), kernel_name="python3",
                            execution_timeout=timeout, progress_bar=False, log_output=False,
                            kernel_manager_class=run_kernel_manager())
        result.status = "ok"
    except pm.PapermillExecutionError as exc:
        result.status, result.kind = "failed", "cell_error"
        result.error = f"{exc.ename}: {exc.evalue}"
    except CellTimeoutError:  # before OSError: it is a TimeoutError
        result.status, result.kind = "failed", "timeout"
        result.error = f"a cell ran longer than {timeout} s; stopped"
    except DeadKernelError as exc:
        result.status, result.kind = "failed", "kernel_died"
        result.error = f"the kernel died ({exc})"
    except OSError as exc:
        result.status, result.kind = "failed", "write_failed"
        result.error = f"could not write {output}: {exc}"
    except Exception as exc:  # anything else papermill or nbclient raises
        result.status, result.kind = "failed", "cell_error"
        result.error = f"{type(exc).__name__}: {exc}"
    if result.status == "failed" and result.kind != "write_failed":
        where = running_cell(output)
        if where:
            result.cell, result.first_line = where
        mark_failed(output, result)
    if result.kind != "write_failed":
        problem = try_write_html(output, header)
        if problem:
            result.status, result.kind, result.error = "failed", "write_failed", problem
    result.seconds = round(time.monotonic() - started, 2)
    return result


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with(parent_pid: int) -> None:
    """Be killed when ``parent_pid`` (the ``cx run`` that started this worker) dies.

    A run killed with ``kill -9`` cannot stop its workers; the kernel asks for SIGKILL on the
    worker instead. The worker's kernel then follows on its own: ipykernel exits when its parent
    process goes away (``JPY_PARENT_PID``). If the parent is already gone, exit now.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)  # the run died before the request above took effect


def descendants(pid: int) -> list[int]:
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


def kill_tree(proc: subprocess.Popen | ForkedProcess) -> None:
    """Stop a worker, its kernel and anything they started."""
    victims = descendants(proc.pid)
    for pid in [proc.pid, *victims]:
        for kill in (os.killpg, os.kill):
            try:
                kill(os.getpgid(pid) if kill is os.killpg else pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    proc.wait()


def _work(request: dict, reply_file: Path) -> int:
    """Execute the notebook a request describes; write the result; return the exit code."""
    result = execute_notebook(request["notebook"], Path(request["source"]),
                              Path(request["output"]), request["parameters"], request["timeout"],
                              request.get("label", ""), request.get("header"))
    reply_file.write_text(json.dumps(asdict(result)))
    return 0 if result.status == "ok" else 1


def main(argv: list[str]) -> int:
    """Worker entry point: ``python -m cxlib.execution REQUEST.json RESULT.json``."""
    request = json.loads(Path(argv[0]).read_text())
    if request.get("runner_pid"):
        die_with(int(request["runner_pid"]))
    return _work(request, Path(argv[1]))


# what a run's fork server imports besides the notebooks' own imports: the worker's
# papermill and nbconvert, and the kernel's ipykernel and inline plots
WORKER_PRELOAD = ("cxlib.execution", "papermill", "nbclient", "nbconvert",
                  "ipykernel.kernelapp", "matplotlib_inline.backend_inline")
PRELOAD_MODULES_ENV = "CXLAB_PRELOAD"  # the fork server's modules (cxlib.report_preload)


def run_forked_worker(request_file: Path, reply_file: Path, log_file: Path,
                      env: dict[str, str], cwd: Path) -> None:
    """Be a notebook worker forked from the run's fork server, as ``main`` is when started.

    Its own session, working folder ``cwd``, environment ``env`` and log; killed when the
    fork server (which ends with the run) goes away. Its kernel is forked from this process,
    which imported what the kernel needs (:func:`fork_kernels_from_this_process`).
    """
    os.setsid()
    die_with(os.getppid())  # the fork server, which ends with the run
    os.chdir(cwd)
    log = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for stream in (1, 2):
        os.dup2(log, stream)
    os.close(log)
    os.environ.clear()
    os.environ.update({**env, PROVISIONER_ENV: PROVISIONER_NAME})
    fork_kernels_from_this_process()
    sys.exit(_work(json.loads(request_file.read_text()), reply_file))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
