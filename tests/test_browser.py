"""The manager's view: a real Voilà server, a real headless Chromium (Debian's), via Playwright."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]


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


@pytest.fixture(scope="module")
def voila_url(published_reports, tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("voila") / "voila.log"
    env = {**os.environ, "CXLAB_REPORTS_DIR": str(published_reports)}
    with open(log, "w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "voila", str(ROOT / "notebooks/dashboards/executive.ipynb"),
             "--no-browser", "--Voila.ip=127.0.0.1", f"--port={port}",
             "--MappingKernelManager.cull_idle_timeout=60",
             "--MappingKernelManager.cull_interval=10"],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/voila/static/voila.js", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"voila did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
        yield base + "/"
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def test_manager_sees_numbers_and_the_filter_redraws_the_figure(voila_url, tmp_path):
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True,
                                     args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(voila_url, timeout=90_000)
        page.wait_for_selector(".cx-value", timeout=90_000)
        values = page.locator(".cx-value").all_inner_texts()
        assert len(values) == 4
        assert all(any(ch.isdigit() for ch in v) for v in values), values
        body = page.inner_text("body")
        assert "Traceback" not in body and "Error" not in body
        assert "ExecutiveDashboard(" not in page.content()  # sources are not shown
        figure = page.locator("img").first
        figure.wait_for(timeout=30_000)
        before_src, before_tiles = figure.get_attribute("src"), values
        page.screenshot(path=str(ARTIFACTS / "dashboard_all_regions.png"), full_page=True)

        region = page.locator("select").first
        choice = region.locator("option").nth(1).inner_text()
        region.select_option(label=choice)
        page.wait_for_function(
            "([src]) => document.querySelector('img') && "
            "document.querySelector('img').getAttribute('src') !== src", arg=[before_src],
            timeout=30_000)
        page.wait_for_function(
            "(old) => Array.from(document.querySelectorAll('.cx-value'))"
            ".map(e => e.innerText).join('|') !== old", arg="|".join(before_tiles),
            timeout=30_000)
        assert choice in page.inner_text("body")
        page.screenshot(path=str(ARTIFACTS / "dashboard_one_region.png"), full_page=True)
        browser.close()
    assert (ARTIFACTS / "dashboard_one_region.png").stat().st_size > 10_000
