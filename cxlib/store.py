"""The reports folder: runs, channel pointers, locks, retention and the index page.

``reports/runs/<id>`` holds every run (``<id>.failed`` the failed ones, ``.<id>.partial`` one in
progress); ``reports/<channel>`` is a symlink to a channel's last good run, replaced atomically,
so readers see the old run or the new one, never half of one. One lock per params file keeps two
runs of it from writing at once.
"""

from __future__ import annotations

import fcntl
import html
import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cxlib.errors import RunLocked

log = logging.getLogger("cxlib.run")


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


def point(reports: Path, channel: str, run_id: str) -> None:
    """Point ``reports/<channel>`` at a run, atomically."""
    tmp_link = reports / f".{channel}-{run_id}"
    tmp_link.symlink_to(Path("runs") / run_id)
    os.replace(tmp_link, reports / channel)  # atomic: readers see old or new, never none


def publish(reports: Path, partial: Path, run_id: str, ok: bool, channel: str) -> Path:
    """Rename a finished run into place; point the channel at it only when it succeeded."""
    final = reports / "runs" / (run_id if ok else f"{run_id}.failed")
    partial.rename(final)
    if ok:
        point(reports, channel, run_id)
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


def read_manifest(run: Path) -> dict:
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


def _view_links(run: Path, info: dict) -> str:
    views = info.get("views") if isinstance(info.get("views"), dict) else {}
    if "error" in views:
        return "<span class='failed'>views not written (see run.log)</span>"
    return " · ".join(f"<a href='runs/{html.escape(run.name)}/{html.escape(str(path))}'>"
                      f"{html.escape(view)}</a>" for view, path in views.items())


def _when(run_id: str) -> str:
    """Say a run id's UTC start time in words (``2026-12-03 14:55 UTC``)."""
    stamp = run_id.split("-", 1)[0]
    if len(stamp) < 13 or not stamp[:8].isdigit():
        return ""
    return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]} {stamp[9:11]}:{stamp[11:13]} UTC"


def write_index(reports: Path) -> Path:
    """Write ``reports/index.html``: every run, newest first, failed ones marked.

    Each row says when the run started, its status, title, params file and cut-off, the input
    fingerprint, and links to its dashboard views (static copies) and report notebooks.
    """
    runs = sorted((p for p in (reports / "runs").glob("*") if p.is_dir()
                   and not p.name.startswith(".")), reverse=True)
    pointers = {p.resolve(): p.name for p in reports.iterdir() if p.is_symlink()}
    rows = []
    for run in runs:
        info = read_manifest(run)
        status = "failed" if run.name.endswith(".failed") else "ok"
        links = " · ".join(_report_link(run, nb) for nb in info.get("notebooks", [])
                           if isinstance(nb, dict) and "notebook" in nb)
        mark = f" ({pointers[run.resolve()]})" if run.resolve() in pointers else ""
        params = info.get("params") if isinstance(info.get("params"), dict) else {}
        asked = (f"{info.get('params_file', '')} · cut-off {params.get('as_of', '?')}"
                 if info else "")
        rows.append(f"<tr class='{status}'><td>{html.escape(run.name)}{mark}</td>"
                    f"<td>{html.escape(_when(run.name))}</td><td>{status}</td>"
                    f"<td>{html.escape(str(info.get('title', '')))}</td>"
                    f"<td>{html.escape(asked)}</td>"
                    f"<td><code>{html.escape(str(info.get('input_fingerprint', '')))}</code></td>"
                    f"<td>{_view_links(run, info)}</td><td>{links}</td></tr>")
    page = ("<!doctype html><meta charset='utf-8'><title>cxlab reports</title>"
            "<style>body{font-family:sans-serif}td{padding:4px 10px;vertical-align:top}"
            "th{text-align:left}.failed{color:#a00}</style><h1>cxlab reports</h1>"
            "<table><tr><th>run</th><th>started</th><th>status</th><th>title</th>"
            "<th>params</th><th>input fingerprint</th><th>dashboards</th><th>reports</th></tr>"
            + "".join(rows) + "</table>")
    index = reports / ".index.html.tmp"
    index.write_text(page)
    index.replace(reports / "index.html")
    return reports / "index.html"
