"""Kernels (and report workers) forked from one parent that imported what they need once.

Every viewer of a Voilà dashboard gets a kernel of its own. Started the usual way, each
kernel spends about 2 s of CPU importing ipykernel, pandas, matplotlib and scipy.special and
then holds about 100 MiB of modules of its own; ten managers opening the overview at once
pay that ten times on two cores. ``cx serve`` registers :class:`ForkedKernelProvisioner`
(the jupyter_client kernel provisioner ``cxlab-forked``) instead: a fork server (Python's
``multiprocessing`` forkserver, one per dashboard server) imports :data:`PRELOAD` once, and
each kernel is forked from it — it starts with its imports done and shares their memory
copy-on-write. A kernel spec that is not this interpreter's ipykernel starts the usual way.

The kernel behaves as a launched one: its own session and process group (signals and
interrupts reach it), the launch's environment and working folder, matplotlib's backend from
that environment, and it exits when its parent (the fork server, which ends with the
dashboard server) goes away. Code changed after the server started reaches new kernels only
after ``cx serve`` restarts, as the imports are the fork server's.

``cx run`` does the same for its notebooks: :func:`start_fork_server` starts a fork server
that imports papermill, ipykernel and the notebooks' modules while the run builds; each
notebook's worker is forked from it (:func:`fork`), and the worker forks its kernel from
itself (:func:`fork_kernels_from_this_process`).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.forkserver
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner

PROVISIONER_NAME = "cxlab-forked"  # the entry point in pyproject.toml
PROVISIONER_ENV = "JUPYTER_DEFAULT_PROVISIONER_NAME"  # jupyter_client's choice of provisioner
PRELOAD = ("cxlib.kernel_preload",)  # what the fork server imports before forking kernels
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"  # what ipykernel sets by default


def can_fork_kernels() -> bool:
    """Return whether this platform has ``multiprocessing``'s fork server (not on Windows)."""
    return "forkserver" in multiprocessing.get_all_start_methods()


_kernel_forks: BaseContext | None = None  # where this process forks its kernels from


def fork_server(preload: Sequence[str]) -> BaseContext:
    """Return ``multiprocessing``'s fork server context, importing ``preload`` when it starts.

    The fork server is one per process: it imports the modules named last before it starts
    (with the first process forked, or :func:`start_fork_server`), and keeps them.
    """
    forks = multiprocessing.get_context("forkserver")
    forks.set_forkserver_preload(list(preload))
    return forks


def start_fork_server(preload: Sequence[str], env: Mapping[str, str]) -> BaseContext:
    """Start the fork server now with ``env``; it imports ``preload`` while the caller goes on.

    ``env`` is what the server (and so every process forked from it) imports with: thread
    pools sized by the environment are sized when numpy or OpenMP load, in the server.
    """
    forks = fork_server(preload)
    before = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        os.environ.clear()
        os.environ.update(before)
    return forks


def _let_fork_server_end_with_its_starter() -> None:
    """Close this forked process's copy of the fork server's lifeline.

    The fork server ends when the process that started it (``cx run``, the dashboard server)
    has ended: when the last write end of a pipe closes. Every process it forks inherits a
    write end (``multiprocessing``'s ``_forkserver_alive_fd``); kept open, a starter killed
    with ``kill -9`` would leave the fork server — and every worker and kernel tied to it —
    running for ever.
    """
    server = multiprocessing.forkserver._forkserver
    lifeline = getattr(server, "_forkserver_alive_fd", None)
    if lifeline is not None:
        os.close(lifeline)
        server._forkserver_alive_fd = None


def fork_kernels_from_this_process() -> None:
    """Fork this process's kernels from itself, not a fork server: it imported what they need.

    For a report worker, itself forked from the run's preloaded fork server.
    """
    global _kernel_forks
    _kernel_forks = multiprocessing.get_context("fork")


def _forks() -> BaseContext:
    global _kernel_forks
    if _kernel_forks is None:
        _kernel_forks = fork_server(PRELOAD)
    return _kernel_forks


def ipykernel_arguments(cmd: list[str]) -> list[str] | None:
    """Return the ipykernel arguments of a kernel command this interpreter can fork, else None.

    Parameters
    ----------
    cmd
        The kernel spec's command with its connection file filled in, such as
        ``[python, "-m", "ipykernel_launcher", "-f", "kernel-1.json"]``.

    Returns
    -------
    list of str or None
        The arguments after ``ipykernel_launcher`` when ``cmd`` runs this very interpreter's
        ipykernel; None for any other kernel (another Python, another language).
    """
    if len(cmd) < 3 or cmd[1:3] != ["-m", "ipykernel_launcher"]:
        return None
    program = shutil.which(cmd[0])
    if program is None or os.path.abspath(program) != os.path.abspath(sys.executable):
        return None
    return cmd[3:]


def run_kernel(arguments: list[str], env: dict[str, str], cwd: str) -> None:
    """Run an ipykernel in this (forked) process as if it had been launched with ``env``.

    Parameters
    ----------
    arguments
        ipykernel's command-line arguments (the connection file).
    env
        The environment the kernel manager launched the kernel with.
    cwd
        The kernel's working folder.
    """
    os.setsid()  # its own process group, as jupyter_client launches kernels
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    matplotlib = sys.modules.get("matplotlib")
    if matplotlib is not None:  # imported before MPLBACKEND was set: read it as its import does
        matplotlib.rcParams["backend"] = os.environ["MPLBACKEND"]
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(
        argv=[*arguments, f"--IPKernelApp.parent_handle={os.getppid()}"])


_STARTING = threading.Lock()


class ForkedProcess:
    """The part of :class:`subprocess.Popen` its users need, for a forked process.

    jupyter_client uses it for a forked kernel, the runner for a forked report worker.
    """

    stdin = stdout = stderr = None

    def __init__(self, process: BaseProcess) -> None:
        self._process = process
        self.pid = process.pid
        self.args = process.name

    def poll(self) -> int | None:
        """Return the exit code (negative: the signal) or None while the process runs."""
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        """Wait until the process ends; return its exit code.

        Raises
        ------
        subprocess.TimeoutExpired
            When it still runs after ``timeout`` seconds.
        """
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self._process.exitcode

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the process."""
        os.kill(self.pid, signum)

    def terminate(self) -> None:
        """Ask the process to end (SIGTERM)."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """End the process (SIGKILL)."""
        self.send_signal(signal.SIGKILL)


def _forked(target: Callable[..., object], args: tuple) -> object:
    """Run ``target(*args)`` in a forked process that lets its fork server end with its starter."""
    _let_fork_server_end_with_its_starter()
    return target(*args)


def fork(forks: BaseContext, target: Callable[..., object], args: tuple,
         name: str) -> ForkedProcess:
    """Start ``target(*args)`` in a process forked by ``forks``; return it as a Popen.

    The process first closes its copy of the fork server's lifeline
    (:func:`_let_fork_server_end_with_its_starter`).

    Parameters
    ----------
    forks
        Where from: a fork server (:func:`fork_server`) or this process (``fork``).
    target, args
        What the process runs.
    name
        The process's name (its ``args`` as a Popen).

    Returns
    -------
    ForkedProcess
        The started process.
    """
    process = forks.Process(target=_forked, args=(target, args), name=name)
    with _STARTING:  # one fork request at a time (the first waits for the server's imports)
        process.start()
    return ForkedProcess(process)


class ForkedKernelProvisioner(LocalProvisioner):
    """A local provisioner whose Python kernels are forked from the preloaded fork server."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        """Fork the kernel ``cmd`` describes, or launch it the usual way when it cannot be.

        Returns
        -------
        KernelConnectionInfo
            The connection info the kernel manager wrote for it.
        """
        arguments = ipykernel_arguments(cmd) if can_fork_kernels() else None
        if arguments is None:
            return await super().launch_kernel(cmd, **kwargs)
        env = {str(k): str(v) for k, v in (kwargs.get("env") or os.environ).items()}
        cwd = str(kwargs.get("cwd") or Path.cwd())
        self.process = await asyncio.to_thread(
            fork, _forks(), run_kernel, (arguments, env, cwd),
            f"kernel {kwargs.get('kernel_id', '')}".strip())
        # its own group once it has called setsid; until then a group signal fails with
        # ESRCH and the provisioner signals the process itself
        self.pid = self.pgid = self.process.pid
        self.cwd = cwd
        return self.connection_info
