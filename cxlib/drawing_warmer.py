"""Draw each dashboard view's likely next states before a manager asks for them.

``cx serve`` starts :func:`watch` beside Voilà. Whenever the channel points to a run it has not
seen, it draws, in a process of its own that then exits, every view with one filter changed
from its default (each region, each segment, each promise) and then each region with each
segment into the run's shared drawings (:func:`cxlib.dashboard.warm_drawings`): a manager's
first filter changes are then reads, not drawings (≈ 0.5 s on the overview). Any other state is
drawn by the first page that asks and shared from then on. Spare CPU only: the warmer runs
under ``SCHED_IDLE`` and draws a state only while the machine is mostly idle
(:func:`wait_until_quiet`), so pages being opened for managers always come first.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from cxlib.execution import die_with

log = logging.getLogger("cxlib.drawing_warmer")
POLL_SECONDS = 5.0  # how soon a newly published run is warmed
WARM_TIMEOUT_SECONDS = 3600  # on a machine busy for that long, the next run will be warmed
QUIET_BUSY_SHARE = 0.5  # a state is drawn only while the others use at most this share of CPU
QUIET_SAMPLE_SECONDS = 0.25


def start(channel_folder: Path, env: Mapping[str, str]) -> subprocess.Popen:
    """Start :func:`watch` on ``reports/<channel>`` as a child of this process.

    It dies with this process — also after ``cx serve`` replaces itself with Voilà (the
    process id stays) — and, in a session of its own, is not sent the terminal's Ctrl-C.
    """
    return subprocess.Popen([sys.executable, "-m", "cxlib.drawing_warmer", "watch",
                             str(channel_folder), "--parent", str(os.getpid())],
                            env=dict(env), stdin=subprocess.DEVNULL, start_new_session=True)


def warm_once(run_folder: Path) -> int | str:
    """Draw a run's likely next states in a process of its own; return how it ended."""
    try:
        return subprocess.run([sys.executable, "-m", "cxlib.drawing_warmer", "warm",
                               str(run_folder), "--parent", str(os.getpid())],
                              stdin=subprocess.DEVNULL, timeout=WARM_TIMEOUT_SECONDS,
                              check=False).returncode
    except subprocess.TimeoutExpired:
        return "timed out"


def watch(channel_folder: Path, poll_seconds: float = POLL_SECONDS) -> None:
    """Warm every run ``channel_folder`` points to, once each, for as long as this lives."""
    warmed: Path | None = None
    while True:
        run = channel_folder.resolve()
        if run != warmed and (run / "tables").is_dir():
            started = time.monotonic()
            ended = warm_once(run)
            log.info("dashboard drawings of %s warmed in %.1f s (exit %s)", run.name,
                     time.monotonic() - started, ended)
            warmed = run
        time.sleep(poll_seconds)


def main(argv: list[str] | None = None) -> None:
    """Run ``watch CHANNEL_FOLDER --parent PID`` or ``warm RUN_FOLDER --parent PID``.

    What :func:`start` and :func:`warm_once` start; each dies with its ``--parent``.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=("watch", "warm"))
    parser.add_argument("folder", type=Path)
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # stopped, never a KeyboardInterrupt trace
    die_with(args.parent)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.task == "warm":
        wait_until_quiet()  # its imports and the run's tables too
        from cxlib.dashboard import warm_drawings
        from cxlib.published import TableMissing

        try:
            warm_drawings(args.folder, before_each=wait_until_quiet)
        except (FileNotFoundError, ValueError, TableMissing) as exc:  # the page says so too
            log.warning("the dashboards of %s cannot be drawn ahead: %s", args.folder, exc)
        return
    run_only_when_idle()
    watch(args.folder)


def busy_share(seconds: float = QUIET_SAMPLE_SECONDS) -> float | None:
    """Return the share of the machine's CPU time others used over ``seconds`` (Linux), else None.

    Read from ``/proc/stat`` before and after a sleep, so this process counts for nothing.
    """
    def times() -> tuple[int, int]:
        fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle and waiting for I/O, all

    try:
        idle_before, total_before = times()
        time.sleep(seconds)
        idle_after, total_after = times()
    except (OSError, ValueError, IndexError):
        return None
    total = total_after - total_before
    return 1 - (idle_after - idle_before) / total if total > 0 else 0.0


def wait_until_quiet(busy_above: float = QUIET_BUSY_SHARE) -> None:
    """Wait while more than ``busy_above`` of the machine's CPU is in use (pages being opened).

    Measured with ``SCHED_IDLE`` alone: 30 managers opening the overview at once were drawn
    after 46.7 s with the warmer drawing, 41.7 s without it.
    """
    while (share := busy_share()) is not None and share > busy_above:
        time.sleep(QUIET_SAMPLE_SECONDS)


def run_only_when_idle() -> None:
    """Take CPU only when nothing else wants it (inherited by the drawing processes).

    Linux's ``SCHED_IDLE``: a viewer's kernel or the server always runs first. Elsewhere,
    the lowest priority (``nice 19``).
    """
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(19)


if __name__ == "__main__":
    main()
