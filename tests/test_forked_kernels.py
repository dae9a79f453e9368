"""Dashboard kernels forked from the preloaded fork server behave as launched kernels."""

import asyncio
import os
import sys
import time
from pathlib import Path

import psutil
from jupyter_client.manager import AsyncKernelManager

from cxlib.forked_kernels import (
    PROVISIONER_NAME,
    ForkedKernelProvisioner,
    ipykernel_arguments,
)


def test_only_this_interpreters_ipykernel_is_forked(tmp_path):
    """Another environment's Python (even a link to the same binary) is launched as usual."""
    other = tmp_path / "python"
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    assert ipykernel_arguments([sys.executable, "-m", "ipykernel_launcher", "-f", "k.json"]) \
        == ["-f", "k.json"]
    assert ipykernel_arguments([str(other), "-m", "ipykernel_launcher", "-f", "k.json"]) is None
    assert ipykernel_arguments([sys.executable, "-m", "other_kernel", "-f", "k.json"]) is None
    assert ipykernel_arguments(["R", "--slave", "-e", "IRkernel::main()"]) is None


async def _run(client, code: str, timeout: float = 60) -> tuple[str, dict]:
    """Execute ``code``; return what it printed and the execute reply's content."""
    msg_id = client.execute(code)
    printed = []
    while True:
        msg = await client.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            printed.append(msg["content"]["text"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    reply = await client.get_shell_msg(timeout=timeout)
    return "".join(printed), reply["content"]


async def _start(cwd: Path, env: dict[str, str]) -> tuple[AsyncKernelManager, object]:
    manager = AsyncKernelManager(kernel_name="python3")
    manager.kernel_spec.metadata["kernel_provisioner"] = {"provisioner_name": PROVISIONER_NAME}
    await manager.start_kernel(env=env, cwd=str(cwd))
    client = manager.client()
    client.start_channels()
    await client.wait_for_ready(timeout=120)
    return manager, client


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.2)
    return False


def test_a_forked_kernel_starts_imported_with_its_launch_environment_and_obeys_signals(tmp_path):
    async def scenario() -> None:
        env = {**os.environ, "CX_LAUNCHED_WITH": "this kernel's own value"}
        env.pop("MPLBACKEND", None)
        os.environ["CX_ONLY_IN_THE_MANAGER"] = "1"
        try:
            manager, client = await _start(tmp_path, env)
        finally:
            del os.environ["CX_ONLY_IN_THE_MANAGER"]
        provisioner = manager.provisioner
        assert isinstance(provisioner, ForkedKernelProvisioner)
        pid = provisioner.pid
        kernel = psutil.Process(pid)
        fork_server = kernel.parent()
        assert fork_server.pid != os.getpid() and fork_server.parent().pid == os.getpid()
        assert b"multiprocessing.forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
        try:
            printed, reply = await _run(client, "\n".join([
                "import os, sys, matplotlib",
                "print('cxlib.dashboard' in sys.modules, os.getcwd(),",
                "      os.getpid() == os.getpgid(0), os.environ.get('CX_LAUNCHED_WITH'),",
                "      os.environ.get('CX_ONLY_IN_THE_MANAGER'), matplotlib.get_backend(),",
                "      sep='|')"]))
            assert reply["status"] == "ok", reply
            imported, cwd, own_group, launched, manager_only, backend = printed.strip().split("|")
            assert imported == "True"  # the fork server's imports, not this kernel's
            assert Path(cwd) == tmp_path.resolve() and own_group == "True"
            assert (launched, manager_only) == ("this kernel's own value", "None")
            assert backend == "module://matplotlib_inline.backend_inline"

            started = time.monotonic()
            sleeping = asyncio.ensure_future(_run(client, "import time; time.sleep(60)"))
            await asyncio.sleep(1.0)
            await manager.interrupt_kernel()
            _, reply = await asyncio.wait_for(sleeping, 30)
            assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
            assert time.monotonic() - started < 30
            assert (await _run(client, "print(6 * 7)"))[0].strip() == "42"  # still alive
        finally:
            client.stop_channels()
            await manager.shutdown_kernel(now=False)
        assert _gone(pid, 10) and not manager.has_kernel

    asyncio.run(scenario())


def test_a_forked_kernel_ends_when_its_fork_server_does_and_the_next_forks_from_a_new_one(
        tmp_path):
    async def scenario() -> None:
        manager, client = await _start(tmp_path, dict(os.environ))
        pid = manager.provisioner.pid
        client.stop_channels()
        fork_server = psutil.Process(pid).parent()
        try:
            fork_server.kill()  # as when the dashboard server ends (not reaped here:
            assert _gone(fork_server.pid, 10)  # multiprocessing does, and then restarts it)
            assert _gone(pid, 20), "the kernel outlived its parent"
        finally:
            await manager.shutdown_kernel(now=True)
        manager, client = await _start(tmp_path, dict(os.environ))  # multiprocessing restarts it
        try:
            assert psutil.Process(manager.provisioner.pid).parent().pid != fork_server.pid
            assert (await _run(client, "print('up')"))[0].strip() == "up"
        finally:
            client.stop_channels()
            await manager.shutdown_kernel(now=True)

    asyncio.run(scenario())


def test_without_a_fork_server_kernels_are_launched_as_usual(monkeypatch):
    """Where multiprocessing has no fork server (Windows), cx serve keeps jupyter's default."""
    import multiprocessing

    from cxlib.serving import voila_environment

    monkeypatch.delenv("JUPYTER_DEFAULT_PROVISIONER_NAME", raising=False)
    assert voila_environment("latest")["JUPYTER_DEFAULT_PROVISIONER_NAME"] == PROVISIONER_NAME
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    assert "JUPYTER_DEFAULT_PROVISIONER_NAME" not in voila_environment("latest")


STARTER = """
import asyncio, sys
from jupyter_client.manager import AsyncKernelManager
from cxlib.forked_kernels import PROVISIONER_NAME

async def main():
    manager = AsyncKernelManager(kernel_name="python3")
    manager.kernel_spec.metadata["kernel_provisioner"] = {"provisioner_name": PROVISIONER_NAME}
    await manager.start_kernel(cwd=sys.argv[1])
    print(manager.provisioner.pid, flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def test_a_killed_starter_takes_its_fork_server_and_kernels_with_it(tmp_path):
    """``kill -9`` of a dashboard server (here: any process forking kernels) leaves nothing.

    Each forked process inherits a write end of the pipe that tells the fork server its
    starter has gone; held, the fork server and its kernels kept each other alive for ever.
    """
    import subprocess

    starter = subprocess.Popen([sys.executable, "-c", STARTER, str(tmp_path)],
                               stdout=subprocess.PIPE, text=True)
    try:
        kernel = int(starter.stdout.readline())
        fork_server = psutil.Process(kernel).parent().pid
        assert psutil.Process(fork_server).parent().pid == starter.pid
    finally:
        starter.kill()
        starter.wait()
    assert _gone(fork_server, 10), "the fork server outlived the process that started it"
    assert _gone(kernel, 20), "the kernel outlived its fork server"
