"""Dashboard kernels forked from one parent that imported what a view needs once.

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
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import signal
import sys
import threading
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner

PROVISIONER_NAME = "cxlab-forked"  # the entry point in pyproject.toml
PRELOAD = ("cxlib.kernel_preload",)  # what the fork server imports before forking kernels
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"  # what ipykernel sets by default


def can_fork_kernels() -> bool:
    """Return whether this platform has ``multiprocessing``'s fork server (not on Windows)."""
    return "forkserver" in multiprocessing.get_all_start_methods()


if can_fork_kernels():
    _FORKS = multiprocessing.get_context("forkserver")
    _FORKS.set_forkserver_preload(list(PRELOAD))


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


def _start(process: BaseProcess) -> None:
    with _STARTING:  # one fork request at a time
        process.start()


class ForkedKernel:
    """The part of :class:`subprocess.Popen` jupyter_client uses, for a forked kernel."""

    stdin = stdout = stderr = None

    def __init__(self, process: BaseProcess) -> None:
        self._process = process
        self.pid = process.pid

    def poll(self) -> int | None:
        """Return the exit code (negative: the signal) or None while the kernel runs."""
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait until the kernel ends (at most ``timeout`` seconds); return its exit code."""
        self._process.join(timeout)
        return self._process.exitcode

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the kernel process."""
        os.kill(self.pid, signum)

    def terminate(self) -> None:
        """Ask the kernel to end (SIGTERM)."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """End the kernel (SIGKILL)."""
        self.send_signal(signal.SIGKILL)


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
        process = _FORKS.Process(target=run_kernel, args=(arguments, env, cwd),
                                 name=f"kernel {kwargs.get('kernel_id', '')}".strip())
        await asyncio.to_thread(_start, process)  # the first waits for the server's imports
        self.process = ForkedKernel(process)
        # its own group once it has called setsid; until then a group signal fails with
        # ESRCH and the provisioner signals the process itself
        self.pid = self.pgid = process.pid
        self.cwd = cwd
        return self.connection_info
