"""Benchmark the manager's dashboards in headless Chromium, against a bare Voilà notebook.

    .venv/bin/python benchmarks/dashboard.py [--reports reports --channel latest]
                                             [--viewers 10 30]

Both are served the same way (cxlab's Voilà settings: template, culling, no tracebacks,
preheated kernels) in the same run; the bare notebook is one cell showing one HTML widget.
Prints:
- first full render of each view (every figure drawn) against the bare notebook's;
- time from a region change to the redrawn figures, per view: drawn on demand (no page of the
  run drew that state before), and read from the run's shared drawings once `cx serve`'s
  warmer has drawn each one-filter change (``cxlib.drawing_warmer``);
- N viewers opening the overview at once against N opening the bare notebook: time until
  the last page is fully drawn, errors, and the memory of Voilà plus its kernels and the
  warmer `cx serve` starts beside it (summed PSS, and summed RSS, which counts shared library
  pages once per kernel).
Figures, not assertions: the targets are in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat

from cxlib import drawing_warmer
from cxlib.dashboard import SHARED_DRAWINGS, warm_drawings
from cxlib.dashboard_views import VIEWS
from cxlib.execution import descendants
from cxlib.paths import project_root
from cxlib.serving import voila_command, voila_environment

CHROMIUM = "/usr/lib/chromium/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DRAWN = ("() => document.querySelector('.cx-dashboard, .cx-bare') !== null && "
         "Array.from(document.querySelectorAll('img')).filter(i => i.offsetParent !== null)"
         ".every(i => i.complete && i.naturalWidth > 0) && "
         "document.querySelectorAll('.cx-takeaway, .cx-bare').length > 0")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory_mib(*pids: int) -> tuple[float, float]:
    """Return the summed RSS and PSS (MiB) of processes and every descendant of them.

    RSS counts a shared library's pages once per kernel; PSS divides shared pages among the
    processes that map them, so its sum is the memory the server and its kernels take.
    """
    rss = pss = 0
    for p in {q for pid in pids for q in (pid, *descendants(pid))}:
        try:
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        fields = {ln.split(":")[0]: int(ln.split()[1]) for ln in rollup[1:] if ":" in ln}
        rss, pss = rss + fields.get("Rss", 0), pss + fields.get("Pss", 0)
    return rss / 1024, pss / 1024


@contextmanager
def _served(notebooks: Path, reports: Path, channel: str, extra: list[str],
            log: Path = Path(os.devnull), predraw: bool = False
            ) -> Iterator[tuple[str, list[int]]]:
    """Serve ``notebooks`` as `cx serve` does; yield the root URL and the processes serving.

    ``predraw``: with the warmer `cx serve` starts beside Voilà (the dashboards).
    """
    port = _free_port()
    env = voila_environment(channel, str(reports))
    with open(log, "w") as out:
        server = subprocess.Popen(voila_command(port, extra, notebooks), env=env,
                                  stdout=out, stderr=subprocess.STDOUT, cwd=project_root())
    serving = [server]
    if predraw:
        serving.append(drawing_warmer.start(reports / channel, env))
    base = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "voila/static/voila.js", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        yield base, [process.pid for process in serving]
    finally:
        for process in serving:
            process.terminate()
            process.wait(timeout=30)


def _bare_notebook(folder: Path) -> Path:
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                   "language": "python"}
    book.cells = [nbformat.v4.new_code_cell(
        "import ipywidgets\nipywidgets.HTML(\"<div class='cx-bare'>bare</div>\")")]
    nbformat.write(book, folder / "bare.ipynb")
    return folder


def _render(browser, url: str, timeout: float = 300) -> float:
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    started = time.perf_counter()
    page.goto(url, timeout=timeout * 1000)
    page.wait_for_function(DRAWN, timeout=timeout * 1000)
    seconds = time.perf_counter() - started
    page.close()
    return seconds


def _burst(browser, url: str, viewers: int) -> tuple[float, int]:
    """Open ``viewers`` pages at once; return seconds until the last is drawn, and errors."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    pages = [context.new_page() for _ in range(viewers)]
    started = time.perf_counter()
    for page in pages:
        page.goto(url, wait_until="commit", timeout=600_000)
    errors = 0
    deadline = started + 600  # one deadline for the burst, not ten minutes per page
    for page in pages:
        try:
            page.wait_for_function(DRAWN, timeout=max(deadline - time.perf_counter(), 1) * 1000)
        except Exception:  # a page that never draws is counted, not fatal to the benchmark
            errors += 1
    seconds = time.perf_counter() - started
    context.close()
    return seconds, errors


def _filter_change(browser, url: str, repeats: int = 3) -> float:
    """Median seconds from choosing another region to every figure of the view redrawn."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(url, timeout=300_000)
    page.wait_for_function(DRAWN, timeout=300_000)
    region = page.locator(".widget-dropdown:has(label:text-is('Region')) select")
    options = region.locator("option").all_inner_texts()
    times = []
    shown = "Array.from(document.images).filter(i => i.offsetParent !== null).map(i => i.src)"
    for i in range(repeats):
        before = page.evaluate(f"{shown}.join('|')")
        started = time.perf_counter()
        region.select_option(index=1 + i % (len(options) - 1))
        page.wait_for_function(
            f"(old) => {{ const now = {shown}; const was = old.split('|');"
            " return now.length === was.length && now.every((s, k) => s !== was[k]) }",
            arg=before, timeout=60_000)
        times.append(time.perf_counter() - started)
    page.close()
    return sorted(times)[len(times) // 2]


def _renders_and_redraws(browser, bare_folder: Path, dashboards: Path,
                          args: argparse.Namespace, extra: list[str]) -> None:
    """Print each view's first render against the bare notebook's, and its redraws."""
    with _served(bare_folder, args.reports, args.channel, extra) as (url, _):
        _render(browser, url + "voila/render/bare.ipynb")  # warm the file caches
        bare = _render(browser, url + "voila/render/bare.ipynb")
    print(f"bare notebook: first render {bare:.2f} s")
    run = (args.reports / args.channel).resolve()
    shutil.rmtree(run / "views" / SHARED_DRAWINGS, ignore_errors=True)  # nothing drawn yet
    with _served(dashboards, args.reports, args.channel, extra) as (url, _):
        _render(browser, url + "voila/render/overview.ipynb")
        on_demand = {}
        for view in VIEWS:
            first = _render(browser, url + f"voila/render/{view}.ipynb")
            on_demand[view] = _filter_change(browser, url + f"voila/render/{view}.ipynb")
            print(f"{view:9s}: first render {first:.2f} s ({first / bare:.2f}× bare, "
                  f"target ≤ 1.3×)", flush=True)
        shutil.rmtree(run / "views" / SHARED_DRAWINGS, ignore_errors=True)
        started = time.perf_counter()
        states = warm_drawings(run)  # what cx serve's warmer does, here in the foreground
        print(f"warming: {states} states drawn in {time.perf_counter() - started:.1f} s")
        for view in VIEWS:
            warmed = _filter_change(browser, url + f"voila/render/{view}.ipynb")
            print(f"{view:9s}: region change → figures redrawn {on_demand[view]:.2f} s drawn "
                  f"on demand, {warmed:.2f} s warmed (target ≤ 0.3 s)", flush=True)


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, default=project_root() / "reports")
    parser.add_argument("--channel", default="latest")
    parser.add_argument("--viewers", type=int, nargs="*", default=[10, 30])
    parser.add_argument("--only-bursts", action="store_true",
                        help="skip first renders and filter changes")
    parser.add_argument("--no-predraw", action="store_true",
                        help="bursts without the warmer cx serve starts beside Voilà")
    parser.add_argument("--voila-option", action="append", default=[],
                        help="a Voilà option for both servers, replacing cxlab's own "
                        "(e.g. --MappingKernelManager.cull_idle_timeout=300)")
    args = parser.parse_args()
    if not (args.reports / args.channel / "tables").is_dir():
        raise SystemExit(f"no published run at {args.reports / args.channel}: make reports")
    extra: list[str] = args.voila_option
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        bare_folder = _bare_notebook(Path(tmp))
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            dashboards = project_root() / "notebooks" / "dashboards"
            if not args.only_bursts:
                _renders_and_redraws(browser, bare_folder, dashboards, args, extra)
            for n in args.viewers:  # each burst on a fresh server: no kernels left over
                burst = {}
                for name, folder, page in (("bare", bare_folder, "bare"),
                                           ("overview", dashboards, "overview")):
                    log = Path(tmp) / f"voila-{name}-{n}.log"
                    # the worst case: the warmer draws every state during the burst
                    shutil.rmtree(args.reports / args.channel / "views" / SHARED_DRAWINGS,
                                  ignore_errors=True)
                    with _served(folder, args.reports, args.channel, extra, log,
                                 predraw=name == "overview" and not args.no_predraw
                                 ) as (url, serving):
                        seconds, errors = _burst(browser, url + f"voila/render/{page}.ipynb", n)
                        rss, pss = _memory_mib(*serving)
                        burst[name] = (seconds, errors, rss / 1024, pss / 1024)
                    if errors:  # say why, from the server's warnings and errors
                        said = [ln for ln in log.read_text().splitlines()
                                if "WARNING" in ln or "ERROR" in ln or "Error" in ln]
                        print(f"{name}: {errors} page(s) never drawn; the server said:",
                              *sorted(set(said))[:20], sep="\n  ", flush=True)
                (seconds, errors, rss, pss), (b_seconds, b_errors, b_rss, b_pss) = (
                    burst["overview"], burst["bare"])
                print(f"{n} viewers at once: overview last drawn after {seconds:.1f} s vs bare "
                      f"{b_seconds:.1f} s ({seconds / b_seconds:.2f}×, target ≤ 1.2×); errors "
                      f"{errors} (bare {b_errors}); server and kernels: PSS {pss:.2f} GiB vs "
                      f"bare {b_pss:.2f} GiB (target ≤ 2 GiB for 10), summed RSS {rss:.2f} GiB "
                      f"vs bare {b_rss:.2f} GiB", flush=True)
        finally:
            browser.close()
    print(f"cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
