"""``cx serve``: the manager dashboards on Voilà, configured in one place.

Every view in notebooks/dashboards (``/`` opens the overview); code hidden, tracebacks
hidden, idle kernels culled (Voilà never shuts down a closed tab's kernel: upstream
voila#1458), kernels forked from one preloaded fork server (:mod:`cxlib.forked_kernels`),
bound to 127.0.0.1, and a page template with no public-CDN assets, so a dashboard works with
no internet. ``make serve`` and the browser tests use it.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from cxlib import drawing_warmer
from cxlib.errors import ParamsError
from cxlib.execution import THREAD_LIMITS
from cxlib.forked_kernels import PROVISIONER_ENV, PROVISIONER_NAME, can_fork_kernels
from cxlib.paths import project_root
from cxlib.published import CHANNEL_ENV, PUBLIC_URL_ENV, channel_folder

TEMPLATE = "cxlab"
TEMPLATES_ROOT = Path(__file__).parent / "share"  # holds voila/templates/cxlab
DASHBOARDS = project_root() / "notebooks" / "dashboards"  # one notebook per view
# A kernel no page has connected to yet is "idle" to the culler: a page that takes longer than
# this to connect finds its kernel gone. 60 s lost most of 30 viewers opening the overview at
# once on two cores (their pages connected after 1–3 minutes); 300 s lost none. A closed tab's
# kernel lingers as long (Voilà never shuts it down: upstream voila#1458).
CULL_IDLE_SECONDS = 300
CULL_INTERVAL_SECONDS = 10
# After a cell's reply, Voilà (nbclient) waits this long for the cell's output on IOPub, then
# renders the page without it: a dashboard page with no widgets that never draws. Its 4 s
# default lost 8 of 30 pages opened at once on two cores (the view's widgets are large
# messages and the server was busy); output that is on time is not slowed by a longer wait.
IOPUB_TIMEOUT_SECONDS = 120
KERNEL_MEMORY = {"ARROW_DEFAULT_MEMORY_POOL": "system", "MALLOC_ARENA_MAX": "2"}
# many kernels share two cores: one thread each for BLAS/OpenMP (and none running in the
# fork server the kernels are forked from)
KERNEL_THREADS = dict.fromkeys(THREAD_LIMITS, "1")


def voila_command(port: int, voila_args: Sequence[str] = (),
                  notebooks: Path = DASHBOARDS) -> list[str]:
    """Return the Voilà command line that serves the dashboard views (``/`` opens the overview).

    An option in ``voila_args`` replaces cxlab's setting of the same name; ``notebooks`` is
    the folder served (the benchmark serves a bare notebook the same way).
    """
    settings = ["--no-browser", "--Voila.ip=127.0.0.1", f"--port={port}",
                f"--template={TEMPLATE}", "--VoilaConfiguration.show_tracebacks=False",
                f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_SECONDS}",
                f"--MappingKernelManager.cull_interval={CULL_INTERVAL_SECONDS}",
                f"--VoilaExecutor.iopub_timeout={IOPUB_TIMEOUT_SECONDS}",
                "--preheat_kernel=True"]  # a kernel per view waits with its imports done
    replaced = {arg.split("=", 1)[0] for arg in voila_args}
    return [sys.executable, "-m", "voila", str(notebooks),
            *(s for s in settings if s.split("=", 1)[0] not in replaced), *voila_args]


def voila_environment(channel: str, reports_dir: str | None = None,
                      public_url: str = "") -> dict[str, str]:
    """Return the environment Voilà and its kernels run with (channel, reports, template).

    Every viewer has a kernel of its own, so each kernel's memory counts many times: Arrow
    uses the system allocator and glibc two arenas (measured 30 MiB less per kernel,
    about 190 → 160 MiB proportional set size), each kernel has one BLAS/OpenMP thread, and
    kernels are forked from one fork server that imported what a view needs (jupyter_client's
    default provisioner: :mod:`cxlib.forked_kernels`) — unless the environment says otherwise.
    ``public_url`` is the address managers reach the server's root by (behind a proxy): each
    view's copyable link starts with it.

    Raises
    ------
    ParamsError
        When ``public_url`` is not an http(s) address.
    """
    forked = {PROVISIONER_ENV: PROVISIONER_NAME} if can_fork_kernels() else {}
    env = {**KERNEL_MEMORY, **KERNEL_THREADS, **forked, **os.environ, CHANNEL_ENV: channel}
    if public_url:
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", public_url):
            raise ParamsError("cx serve", "--public-url", f"{public_url!r} is not an http(s) "
                              "address such as https://dashboards.example.com/cx/")
        env[PUBLIC_URL_ENV] = public_url
    if reports_dir:
        env["CXLAB_REPORTS_DIR"] = str(Path(reports_dir).resolve())
    env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(TEMPLATES_ROOT),
                                                        env.get("JUPYTER_PATH")]))
    return env


def serve(channel: str = "latest", port: int = 8866, reports_dir: str | None = None,
          voila_args: Sequence[str] = (), public_url: str = "", predraw: bool = True) -> int:
    """Replace this process with Voilà serving the dashboard over ``reports/<channel>``.

    ``public_url``: see :func:`voila_environment`. ``predraw``: draw each view with a
    filter or two changed ahead, on spare CPU, for every run the channel points to
    (:mod:`cxlib.drawing_warmer`), so a manager's first filter changes are reads.
    """
    env = voila_environment(channel, reports_dir, public_url)
    os.environ.update(env)  # channel_folder reads the reports folder from the environment
    folder = channel_folder(channel)
    print(f"serving the dashboards of {folder} on http://127.0.0.1:{port}/", file=sys.stderr,
          flush=True)
    if predraw:
        drawing_warmer.start(folder, env)  # a child of the Voilà this process becomes
    command = voila_command(port, voila_args)
    os.execve(command[0], command, env)
    return 0  # not reached
