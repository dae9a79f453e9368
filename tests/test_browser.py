"""The manager's view: a real Voilà server (`cx serve`), a real headless Chromium (Debian's).

Every page is opened offline (a request that leaves 127.0.0.1 fails the test) and with a dialog
handler that fails the test if any script a name smuggled in gets to run.
"""

import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pytest

from tests.conftest import CX, ROOT, run_cx

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]
HOSTILE = {  # each would run script in the manager's browser if it reached the page as HTML
    "promise": "<img src=x onerror=alert('promise')>",
    "title": "<script>alert('title')</script><img src=x onerror=alert('title')>",
    "region": "<img src=x onerror=alert('region')>",
    "activity": "<img src=x onerror=alert('activity')>",
    "label": "<img src=x onerror=alert('label')>",  # how the dashboards name a promise
}


def _chromium() -> str:
    for candidate in ("/usr/lib/chromium/chromium", shutil.which("chromium") or ""):
        if candidate and Path(candidate).exists():
            return candidate
    if os.environ.get("CI") == "true":
        pytest.fail("Debian's chromium is missing; .ci/run installs it (make browser)")
    pytest.skip("Debian's chromium is not installed (make browser)")
    return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kernels_of(server_pid: int) -> list[int]:
    """The kernel processes a Voilà server started: launched, or forked by its fork server."""
    from cxlib.execution import descendants

    def command(pid: int) -> bytes:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # gone since it was listed
            return b""

    fork_servers = [pid for pid in descendants(server_pid)
                    if b"multiprocessing.forkserver" in command(pid)]
    forked = {pid for server in fork_servers for pid in descendants(server)}
    return [pid for pid in descendants(server_pid)
            if pid in forked or b"ipykernel" in command(pid)]


def _page_kernel(page, server_pid: int) -> int:
    """The process of the kernel behind a Voilà page: the one listening on its shell port."""
    import psutil

    kernel_id = re.search(r'"kernelId":\s*"([0-9a-f-]+)"', page.content()).group(1)
    files = list(Path(tempfile.gettempdir()).glob(f"voila_*/kernel-{kernel_id}.json"))
    assert len(files) == 1, (kernel_id, files)  # Voilà's connection files live in voila_*
    connection = json.loads(files[0].read_text())
    found = [pid for pid in kernels_of(server_pid)
             if any(c.status == psutil.CONN_LISTEN and c.laddr.port == connection["shell_port"]
                    for c in psutil.Process(pid).net_connections("tcp"))]
    assert len(found) == 1, (kernel_id, found)
    return found[0]


@contextmanager
def serving(reports: Path, channel: str, log: Path, *voila_args: str):
    """`cx serve` on a free port until the block ends; yields the page URL and server pid."""
    port = _free_port()
    with open(log, "w") as out:
        server = subprocess.Popen([*CX, "serve", "--channel", channel, "--port", str(port),
                                   "--reports-dir", str(reports), "--", *voila_args],
                                  stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/voila/static/voila.js", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"cx serve did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
        yield base + "/", server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


class Watched:
    """A browser page that records dialogs (script that ran) and requests leaving 127.0.0.1."""

    def __init__(self, page):
        self.page, self.dialogs, self.outside = page, [], []
        page.on("dialog", self._dialog)
        page.route("**/*", self._route)

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _route(self, route):
        host = urlparse(route.request.url).hostname
        if route.request.url.startswith(("http://", "https://")) and host != "127.0.0.1":
            self.outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    def assert_clean(self):
        assert self.dialogs == [], f"script ran in the page: {self.dialogs}"
        assert self.outside == [], f"requests left the machine: {self.outside}"


@contextmanager
def browser():
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, headless=True,
                                      args=CHROMIUM_FLAGS)
        try:
            yield lambda: Watched(chromium.new_page(viewport={"width": 1100, "height": 900}))
        finally:
            chromium.close()


@contextmanager
def dashboard_page(reports: Path, channel: str, log: Path, *voila_args: str):
    """`cx serve` plus a watched browser page showing the dashboard's tiles; yields both."""
    with serving(reports, channel, log, *voila_args) as (url, server), browser() as new:
        watched = new()
        watched.page.goto(url, timeout=90_000)
        watched.page.wait_for_selector(".cx-value", timeout=90_000)
        yield watched, server


def _dropdown(page, label: str):
    """The <select> of the filter labelled ``label``."""
    return page.locator(f".widget-dropdown:has(label:text-is('{label}')) select")


def _tiles(page) -> list[str]:
    return page.locator(".cx-value").all_inner_texts()


def test_manager_sees_numbers_of_a_named_run_and_the_filter_redraws_the_figure(
        published_reports, tmp_path):
    with dashboard_page(published_reports, "ci", tmp_path / "voila.log") as (watched, _):
        page = watched.page
        values = _tiles(page)
        assert len(values) == 5
        assert all(any(ch.isdigit() for ch in v) for v in values), values
        body = page.inner_text("body")
        assert "Traceback" not in body and "Error" not in body
        assert "open_dashboard(" not in page.content()  # sources are not shown
        run_id = (published_reports / "ci").resolve().name
        header = page.inner_text(".cx-run")  # which run the numbers come from
        assert "cxlab CI run" in header and run_id in header
        assert "cut-off 2026-07-01T00:00:00Z" in header and "journeys" in header
        figure = page.locator(".cx-section-clocks img")
        figure.wait_for(timeout=30_000)
        before_src, before_tiles = figure.get_attribute("src"), values
        page.screenshot(path=str(ARTIFACTS / "dashboard_all_regions.png"), full_page=True)

        region = _dropdown(page, "Region")
        choice = region.locator("option").nth(1).inner_text()
        region.select_option(label=choice)
        page.wait_for_function(
            "([src]) => document.querySelector('.cx-section-clocks img')"
            ".getAttribute('src') !== src", arg=[before_src], timeout=30_000)
        page.wait_for_function(
            "(old) => Array.from(document.querySelectorAll('.cx-value'))"
            ".map(e => e.innerText).join('|') !== old", arg="|".join(before_tiles),
            timeout=30_000)
        assert choice in page.inner_text("body")
        page.wait_for_timeout(1500)  # the guard's ping after the change has been answered
        assert page.locator(".cx-connection-lost").is_hidden()
        assert "cx-stale" not in (page.get_attribute("body", "class") or "")
        page.screenshot(path=str(ARTIFACTS / "dashboard_one_region.png"), full_page=True)
        watched.assert_clean()  # offline: nothing fetched from a CDN
    assert (ARTIFACTS / "dashboard_one_region.png").stat().st_size > 10_000


def test_before_any_run_the_page_says_so_in_plain_words(tmp_path):
    with serving(tmp_path / "empty", "latest", tmp_path / "voila.log") as (url, _), \
            browser() as new:
        watched = new()
        watched.page.goto(url, timeout=90_000)
        watched.page.wait_for_selector(".cx-no-run", timeout=90_000)
        body = watched.page.inner_text("body")
        assert "No published run yet" in body and "make reports" in body
        assert "error" not in body.lower() and "Traceback" not in body
        watched.page.goto(url + "no/such/page")  # Voilà's own error pages are offline too
        assert any(code in watched.page.inner_text("body") for code in ("403", "404"))
        watched.assert_clean()


# Voilà culls a kernel idle for cull_idle_timeout; `cull_connected` lets it cull one whose page
# is still open, which is what a page that lost its connection for longer looks like afterwards
CULL_FAST = ("--MappingKernelManager.cull_idle_timeout=3",
             "--MappingKernelManager.cull_interval=1",
             "--MappingKernelManager.cull_connected=True")


@pytest.mark.parametrize("how", ["culled", "killed"])
def test_a_page_whose_kernel_is_gone_greys_its_numbers_and_says_reload(published_reports,
                                                                       tmp_path, how):
    voila_args = CULL_FAST if how == "culled" else ()
    with dashboard_page(published_reports, "ci", tmp_path / "voila.log",
                        *voila_args) as (watched, server):
        page = watched.page
        before = _tiles(page)
        kernels = [_page_kernel(page, server)]  # the pool's waiting kernels are not this page's
        # forked from cx serve's fork server (cxlib.forked_kernels), not launched
        assert b"multiprocessing.forkserver" in Path(f"/proc/{kernels[0]}/cmdline").read_bytes()
        if how == "killed":
            os.kill(kernels[0], signal.SIGKILL)
        # culled by Voilà's own culler, or killed (Voilà's restarter may start a fresh kernel,
        # which knows nothing of this page's widgets: the page is just as stale)
        deadline = time.monotonic() + 60
        while kernels[0] in kernels_of(server) and time.monotonic() < deadline:
            time.sleep(0.5)
        log = (tmp_path / "voila.log").read_text()
        assert kernels[0] not in kernels_of(server), log[-2000:]
        culled = re.search(r"Culling 'idle' kernel .* due to \d+ seconds of inactivity", log)
        assert bool(culled) == (how == "culled"), log[-2000:]
        _dropdown(page, "Region").select_option(index=1)  # a filter nobody will answer
        page.wait_for_selector(".cx-connection-lost", state="visible", timeout=20_000)
        banner = page.locator(".cx-connection-lost")
        assert "no longer follow the filters" in banner.inner_text()
        assert banner.locator("a").inner_text() == "Reload the page"
        assert banner.locator("a").get_attribute("href") == page.url
        assert "cx-stale" in page.get_attribute("body", "class")
        opacity = page.evaluate("getComputedStyle(document.querySelector('.cx-dashboard'))"
                                ".opacity")
        assert float(opacity) < 0.5  # the previous region's numbers are visibly out of play
        assert _tiles(page) == before
        page.screenshot(path=str(ARTIFACTS / "dashboard_connection_lost.png"), full_page=True)
        watched.assert_clean()


@pytest.fixture(scope="module")
def hostile_reports(tmp_path_factory, demo_ci):
    """A published run whose spec, params title, region names and an activity are hostile."""
    root = tmp_path_factory.mktemp("hostile")
    data = root / "data"
    shutil.copytree(demo_ci, data)
    customers = pd.read_parquet(data / "customers.parquet")
    customers["region"] = customers["region"].replace({"North": HOSTILE["region"]})
    customers.to_parquet(data / "customers.parquet", index=False)
    events = pd.read_parquet(data / "events.parquet")
    odd = events[events["activity"] == "order_confirmed"].head(20).assign(
        activity=HOSTILE["activity"])
    pd.concat([events, odd], ignore_index=True).to_parquet(data / "events.parquet", index=False)
    spec = (ROOT / "params/journeys/broadband.yaml").read_text().replace(
        "live_within_7_days", json.dumps(HOSTILE["promise"])).replace(
        "Live within 7 days of the order", json.dumps(HOSTILE["label"]))
    (root / "spec.yaml").write_text(spec)
    (root / "params.yaml").write_text(
        f"title: {json.dumps(HOSTILE['title'])}\ndata_dir: {data}\n"
        f"journey_spec: {root / 'spec.yaml'}\n"
        "as_of: '2026-07-01T00:00:00Z'\nchannel: hostile\n")
    reports = root / "reports"
    result = run_cx("run", str(root / "params.yaml"), "--reports-dir", str(reports))
    assert result.returncode == 0, result.stderr[-3000:]
    return reports


def test_hostile_names_are_shown_as_text_never_run(hostile_reports, tmp_path):
    with dashboard_page(hostile_reports, "hostile", tmp_path / "voila.log") as (watched, _):
        page = watched.page
        text = page.inner_text("body")
        assert HOSTILE["label"] in text and HOSTILE["title"] in text  # shown, as text
        before = "|".join(_tiles(page))
        _dropdown(page, "Region").select_option(label=HOSTILE["region"])
        page.wait_for_function(
            "(old) => Array.from(document.querySelectorAll('.cx-value'))"
            ".map(e => e.innerText).join('|') !== old", arg=before, timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "dashboard_hostile_names.png"), full_page=True)
        watched.assert_clean()
        # the published reports and the index, opened from files as a reader would
        run = (hostile_reports / "hostile").resolve()
        pages = [hostile_reports / "index.html", *sorted(run.glob("*.html"))]
        assert len(pages) == 5
        for path in pages:
            page.goto(path.as_uri())
            page.wait_for_timeout(500)
        assert HOSTILE["activity"] in (run / "00_data_quality.html").read_text().replace(
            "&lt;", "<").replace("&gt;", ">").replace("&#x27;", "'").replace("&#39;", "'")
        watched.assert_clean()


def _kernel_message(msg_type: str, content: dict) -> str:
    """One Jupyter shell message, in the JSON form a kernel websocket takes."""
    import uuid

    header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": uuid.uuid4().hex,
              "username": "intruder", "version": "5.3", "date": "2026-12-03T00:00:00Z"}
    return json.dumps({"header": header, "parent_header": {}, "metadata": {},
                       "content": content, "channel": "shell", "buffers": []})


def test_a_dashboard_kernel_refuses_code_sent_to_its_websocket(published_reports, tmp_path):
    """Any client that can open the page can reach its kernel's websocket: widget messages
    are expected there, code must never run. The kernel info request proves the channel is
    live, so a refused connection cannot pass for a refused execute_request."""
    import asyncio

    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    marker = tmp_path / "code_ran.txt"
    code = f"open({str(marker)!r}, 'w').write('the intruder was here')"
    with serving(published_reports, "ci", tmp_path / "voila.log") as (url, _):
        page = urllib.request.urlopen(f"{url}voila/render/overview.ipynb",
                                      timeout=120).read().decode()
        kernel_id = re.search(r'"kernelId":\s*"([0-9a-f-]+)"', page).group(1)

        async def intrude() -> list[str]:
            socket_url = f"{url.replace('http', 'ws', 1)}api/kernels/{kernel_id}/channels"
            ws = await websocket_connect(HTTPRequest(socket_url,
                                                     headers={"Origin": url.rstrip("/")}))
            await ws.write_message(_kernel_message("execute_request", {
                "code": code, "silent": False, "store_history": False, "user_expressions": {},
                "allow_stdin": False, "stop_on_error": True}))
            await ws.write_message(_kernel_message("kernel_info_request", {}))
            seen: list[str] = []
            deadline = time.monotonic() + 30
            while "kernel_info_reply" not in seen and time.monotonic() < deadline:
                raw = await asyncio.wait_for(ws.read_message(), 30)
                if raw is None:
                    break
                if isinstance(raw, str):
                    seen.append(json.loads(raw)["header"]["msg_type"])
            ws.close()
            return seen

        seen = asyncio.run(intrude())
        time.sleep(1.0)  # a shell queue answers in order; give a stray execution time anyway
    assert "kernel_info_reply" in seen, seen  # the websocket reached the kernel …
    assert "execute_reply" not in seen and "execute_input" not in seen, seen
    assert not marker.exists()  # … and the code was never run


def _chosen(page, label: str) -> str:
    text = _dropdown(page, label).evaluate("s => s.options[s.selectedIndex].text")
    return text.replace("\xa0", " ")  # the widget shows spaces as non-breaking ones


def test_a_shared_link_opens_with_its_filters_set_and_bad_values_are_explained(
        published_reports, tmp_path):
    from urllib.parse import urlencode

    from cxlib.publishing import read_table

    region = sorted(read_table(published_reports / "ci", "journey_facts")["region"].unique())[1]
    query = urlencode({"region": region, "segment": "time_savers"})
    with serving(published_reports, "ci", tmp_path / "voila.log") as (url, _), \
            browser() as new:
        watched = new()
        page = watched.page
        page.goto(f"{url}?{query}", timeout=90_000)  # the front door keeps the query
        page.wait_for_selector(".cx-value", timeout=90_000)
        assert (_chosen(page, "Region"), _chosen(page, "Segment")) == (region, "time savers")
        link = page.locator(".cx-link-url").get_attribute("value")
        assert link == f"{url}voila/render/overview.ipynb?{query}" == page.url  # this view
        shared = _tiles(page)
        page.screenshot(path=str(ARTIFACTS / "dashboard_shared_link.png"), full_page=True)
        _dropdown(page, "Segment").select_option(index=0)  # all segments
        page.wait_for_function(
            "(old) => document.querySelector('.cx-link-url').value !== old", arg=link,
            timeout=30_000)
        assert "segment=" not in page.locator(".cx-link-url").get_attribute("value")
        page.goto(link, timeout=90_000)  # the link, opened again, shows the same numbers
        page.wait_for_selector(".cx-value", timeout=90_000)
        assert _tiles(page) == shared
        page.goto(f"{url}?region=Atlantis&colour=red", timeout=90_000)
        page.wait_for_selector(".cx-notice", timeout=90_000)
        notice = page.inner_text(".cx-notice")
        assert "No region 'Atlantis' in this run, so all are shown" in notice
        assert "('colour')" in notice
        assert _chosen(page, "Region") == "All regions"
        assert "Traceback" not in page.inner_text("body")
        page.screenshot(path=str(ARTIFACTS / "dashboard_unknown_filter.png"), full_page=True)
        watched.assert_clean()


FIGURES_DRAWN = ("() => Array.from(document.querySelectorAll('.cx-dashboard img'))"
                 ".filter(i => i.offsetParent !== null)"
                 ".every(i => i.complete && i.naturalWidth > 0)")


def test_every_view_shows_its_sections_and_the_link_bar_keeps_the_filters(published_reports,
                                                                         tmp_path):
    from cxlib.dashboard_views import VIEWS
    from cxlib.publishing import read_table

    region = sorted(read_table(published_reports / "ci", "journey_facts")["region"].unique())[2]
    with serving(published_reports, "ci", tmp_path / "voila.log") as (url, _), \
            browser() as new:
        watched = new()
        page = watched.page
        page.goto(f"{url}?region={region}", timeout=90_000)
        for view, (title, sections) in VIEWS.items():
            if view != "overview":  # move by the link bar, as a manager does
                page.locator(f"nav.cx-views a:text-is('{title}')").click()
                page.wait_for_url(f"**/voila/render/{view}.ipynb?region={region}",
                                  timeout=90_000)
            page.wait_for_selector(f".cx-section-{sections[-1].key} p.cx-takeaway",
                                   timeout=90_000)
            page.wait_for_function(FIGURES_DRAWN, timeout=30_000)
            assert _chosen(page, "Region") == region, view
            body = page.inner_text("body")
            assert "Traceback" not in body and "did not publish" not in body, view
            for section in sections:
                assert section.title in body, (view, section.title)
            assert any(ch.isdigit() for ch in page.inner_text(".cx-takeaway")), view
            page.screenshot(path=str(ARTIFACTS / f"dashboard_{view}.png"), full_page=True)
        figure = page.locator(".cx-section-completion img")  # the journeys view: a filter
        before = figure.get_attribute("src")                 # redraws its figure
        _dropdown(page, "Segment").select_option(index=1)
        page.wait_for_function(
            "(src) => document.querySelector('.cx-section-completion img')"
            ".getAttribute('src') !== src", arg=before, timeout=30_000)
        assert "segment=" in page.locator(".cx-link-url").get_attribute("value")
        assert "segment=" in page.locator("nav.cx-views a").first.get_attribute("href")
        watched.assert_clean()
    for view in VIEWS:
        assert (ARTIFACTS / f"dashboard_{view}.png").stat().st_size > 20_000


def test_a_group_below_the_runs_minimum_shows_the_mark_in_the_page(published_reports,
                                                                  tmp_path):
    reports = tmp_path / "reports"
    shutil.copytree(published_reports, reports, symlinks=True)
    run = (reports / "ci").resolve()
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["params"]["min_group_size"] = 1000  # more than any one region's journeys
    (run / "manifest.json").write_text(json.dumps(manifest))
    with serving(reports, "ci", tmp_path / "voila.log") as (url, _), browser() as new:
        watched = new()
        page = watched.page
        page.goto(f"{url}voila/render/journeys.ipynb?region=North", timeout=90_000)
        page.wait_for_selector(".cx-section-ledger p.cx-takeaway", timeout=90_000)
        text = page.inner_text(".cx-dashboard")
        assert text.count("fewer than 1000") >= 5 and "Traceback" not in text
        page.screenshot(path=str(ARTIFACTS / "dashboard_suppressed.png"), full_page=True)
        watched.assert_clean()


def test_static_copies_of_the_views_work_from_files_offline(published_reports):
    run = (published_reports / "ci").resolve()
    with browser() as new:
        watched = new()
        page = watched.page
        page.goto((published_reports / "index.html").as_uri())
        page.locator("a", has_text="overview").first.click()  # from the index, as a reader
        for view in ("overview", "segments", "journeys"):
            if view != "overview":
                page.locator(f"nav.cx-views a[href='{view}.html']").click()
            page.wait_for_url(f"**/runs/{run.name}/views/{view}.html")
            page.wait_for_function(FIGURES_DRAWN.replace(".cx-dashboard img", "img"),
                                   timeout=10_000)
            shown = page.evaluate("Array.from(document.images).filter(i => i.naturalWidth"
                                  " > 100).length")
            assert shown >= 1, view
            text = page.inner_text("body")
            assert "Traceback" not in text and any(ch.isdigit() for ch in text)
            page.screenshot(path=str(ARTIFACTS / f"static_{view}.png"), full_page=True)
        watched.assert_clean()


@pytest.mark.parametrize("days", [120, 4 * 365])
def test_weekly_panels_keep_titles_inside_and_dates_apart_as_chromium_draws_them(days,
                                                                                 tmp_path):
    """Measured in the browser that draws them: a two-line title stays inside its panel (a
    matplotlib title was cut off at the top), and over four years the dates under a panel do
    not run into each other (month labels did)."""
    from cxlib.headlines import weekly_kpis
    from cxlib.svg_figures import weekly_trends_svg
    from tests.test_headlines import journeys

    data = journeys(400)
    data["start_ts"] = pd.Timestamp("2010-01-04", tz="UTC") + pd.to_timedelta(
        pd.RangeIndex(400) * days // 400, unit="D")
    weekly = weekly_kpis(data, None, None, min_group_size=1)
    weekly["kpi"] = weekly["kpi"].where(weekly["key"] != "customer_hours",
                                        "Customer hours spent per journey, all channels")
    drawing = tmp_path / "trends.svg"
    drawing.write_text(weekly_trends_svg(weekly), encoding="utf-8")
    with browser() as new:
        watched = new()
        watched.page.goto(drawing.as_uri())
        boxes = watched.page.evaluate("""() => {
            const svg = document.querySelector('svg');
            const frames = Array.from(svg.querySelectorAll("rect[stroke='#ccc']"))
                .map(r => r.getBBox());
            const texts = Array.from(svg.querySelectorAll("text[text-anchor='middle']"))
                .map(t => { const b = t.getBBox();
                            return {text: t.textContent, x0: b.x, x1: b.x + b.width,
                                    y0: b.y, y1: b.y + b.height}; });
            return {width: svg.width.baseVal.value, height: svg.height.baseVal.value,
                    frames: frames.map(b => ({x0: b.x, x1: b.x + b.width, y0: b.y,
                                              y1: b.y + b.height})), texts: texts};
        }""")
        watched.assert_clean()
    assert len(boxes["frames"]) == 2
    for frame in boxes["frames"]:
        column = [t for t in boxes["texts"] if frame["x0"] - 40 <= (t["x0"] + t["x1"]) / 2
                  <= frame["x1"] + 20]
        titles = [t for t in column if t["y1"] <= frame["y0"] + 1]
        dates = sorted((t for t in column if t["y0"] >= frame["y1"] - 1), key=lambda t: t["x0"])
        assert len(titles) == 2  # each title wraps to two lines
        for text in titles + dates:  # inside the drawing and inside the panel's column
            assert 0 <= text["y0"] and text["y1"] <= boxes["height"], text
            assert frame["x0"] - 44 <= text["x0"] and text["x1"] <= frame["x1"] + 22, text
        assert 2 <= len(dates) <= 4, [d["text"] for d in dates]
        assert all(a["x1"] < b["x0"] for a, b in itertools.pairwise(dates)), dates
