"""The dashboards' logic, driven through their widgets without a browser (the CI run)."""

import base64
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import ipywidgets as widgets
import pandas as pd
import pytest

from cxlib import dashboard as D
from cxlib.dashboard import (
    ALL_REGIONS,
    ALL_SEGMENTS,
    Dashboard,
    open_dashboard,
    section_html,
)
from cxlib.dashboard_guard import ConnectionGuard
from cxlib.dashboard_views import VIEWS, _tile
from cxlib.headlines import executive_kpis, week_start
from cxlib.published import channel_folder, channel_name, load_published
from tests.conftest import run_cx


@pytest.fixture(scope="module")
def board(published_reports):
    return Dashboard("overview", published_reports / "ci")


def _figure(address: str) -> bytes:
    """The image a figure's data URL holds (PNG, or SVG text); empty for no figure."""
    if not address:
        return b""
    kind, _, data = address.partition(";base64,")
    assert kind in ("data:image/png", "data:image/svg+xml"), kind
    return base64.b64decode(data)


def _shown(board: Dashboard) -> dict[str, tuple[str, bytes, str]]:
    """What each section of the page shows now: HTML, figure bytes, takeaway."""
    return {key: (drawing["body"], _figure(drawing["figure"]), drawing["takeaway"])
            for key, drawing in ((k, part.drawing()) for k, part in board.sections.items())}


def test_tiles_show_the_headlines_with_interval_and_n(board):
    kpis = board.selection()
    table = executive_kpis(kpis.journeys, kpis.surveys, kpis.promise, board.run.min_group_size)
    assert len(table) == 5 and not table["suppressed"].any()
    assert (table["ci_low"] <= table["estimate"]).all()
    assert (table["estimate"] <= table["ci_high"]).all()
    tiles = board.sections["headlines"].drawing()["body"]
    for row in table.itertuples():
        assert f"n={row.n:,}" in tiles and f"{row.estimate:.1f}" in tiles
    assert tiles.count("no earlier run to compare") == 5  # the CI reports hold one run


@pytest.mark.parametrize("view", VIEWS)
def test_every_section_of_every_view_shows_numbers(published_reports, view):
    board = Dashboard(view, published_reports / "ci")
    for key, (body, figure, takeaway) in _shown(board).items():
        assert "did not publish" not in body, (view, key)
        assert any(ch.isdigit() for ch in body + takeaway) or figure, (view, key)
        assert not figure or figure.startswith((b"\x89PNG", b"<svg "))
    for section in VIEWS[view][1]:  # each section under its own heading, in one widget
        part = board.sections[section.key]
        assert part.box.value.startswith("<h3 class='cx-section'>"), (view, section.key)
        assert f">{html.escape(section.title)}</h3>" in part.box.value, (view, section.key)
        drawing = part.drawing()
        assert part.box.value == section_html(section, drawing)
        assert (f"src='{drawing['figure']}'" in part.box.value) == bool(drawing["figure"])


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("name", ["region", "segment", "promise", "from"])
def test_each_filter_changes_what_each_view_shows(published_reports, view, name):
    board = Dashboard(view, published_reports / "ci")
    control = board.filters.controls[name]
    before = _shown(board)
    options = [o[1] if isinstance(o, tuple) else o for o in control.options]
    control.value = options[len(options) // 2] if name == "from" else options[1]
    after = _shown(board)
    changed = [key for key in before if before[key] != after[key]]
    assert changed, (view, name)


def test_the_region_filter_narrows_the_numbers_and_redraws_the_figures(board):
    overall = board.selection()
    figure = board.sections["clocks"].drawing()["figure"]
    board.filters.region.value = board.filters.region.options[1]
    regional = board.selection()
    assert len(regional.journeys) < len(overall.journeys)
    assert (regional.journeys["region"] == board.filters.region.value).all()
    assert board.sections["clocks"].drawing()["figure"] != figure
    board.filters.region.value = ALL_REGIONS


def test_values_from_outside_the_options_are_refused(board):
    with pytest.raises(Exception, match="Invalid selection|unknown region"):
        board.filters.region.value = "Atlantis"
    with pytest.raises(Exception, match="Invalid selection|unknown segment"):
        board.filters.segment.value = "nobody"


def test_small_groups_show_fewer_than_n_not_a_number(published_reports):
    run = load_published(published_reports / "ci")
    kpis = executive_kpis(run.journeys.head(3), run.surveys.head(2), "live_within_7_days",
                          min_group_size=5)
    assert kpis["suppressed"].all() and kpis["estimate"].isna().all()


def test_a_missing_run_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="make reports"):
        load_published(tmp_path)
    page = open_dashboard(str(tmp_path))
    assert isinstance(page, widgets.HTML) and "cx-no-run" in page.value
    assert "No published run yet" in page.value and "make reports" in page.value


def test_the_header_says_which_run_the_numbers_come_from(board):
    manifest = board.run.manifest
    for needle in (manifest["run_id"], manifest["params"]["as_of"], "channel ci",
                   f"{len(board.run.journeys):,} journeys"):
        assert needle in board.header.value, needle


def test_the_runs_own_min_group_size_suppresses_every_number(published_reports, tmp_path):
    run = tmp_path / "strict"
    shutil.copytree(published_reports / "ci", run)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["params"]["min_group_size"] = 10**9
    (run / "manifest.json").write_text(json.dumps(manifest))
    for view in VIEWS:
        strict = Dashboard(view, run)
        page = " ".join(body + takeaway for body, _, takeaway in _shown(strict).values()
                        if "the filters do not change it" not in takeaway)
        assert f"fewer than {10**9}" in page, view
        cells = re.sub(r"<th>.*?</th>", "", page)  # headings say "(95% CI)"; cells show none
        assert not re.search(r"\d\.\d|\d%|n=", cells), (view, cells)


def test_a_table_an_older_run_lacks_is_named_in_plain_words(published_reports, tmp_path):
    run = tmp_path / "older"
    shutil.copytree(published_reports / "ci", run)
    (run / "tables" / "levers.parquet").unlink()
    board = Dashboard("segments", run)
    body = board.sections["levers"].drawing()["body"]
    assert "This run did not publish" in body and "save, engage or dissolve" in body
    assert "Traceback" not in body and board.sections["mix"].drawing()["body"]  # the rest shows


def test_a_run_whose_spec_states_no_promise_hides_the_filter_and_says_so(published_reports,
                                                                        tmp_path):
    run = tmp_path / "no-promise"
    shutil.copytree(published_reports / "ci", run)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["journey_spec"]["promises"] = []
    (run / "manifest.json").write_text(json.dumps(manifest))
    facts = pd.read_parquet(run / "tables/journey_facts.parquet")
    facts.drop(columns=[c for c in facts if c.startswith("promise_")]).to_parquet(
        run / "tables/journey_facts.parquet", index=False)
    board = Dashboard("overview", run, query="promise=live_within_7_days&region=North")
    assert board.filters.promise.layout.display == "none"
    assert board.filters.region.value == "North" and "promise" not in board.filters.describe()
    assert "This run measures no promise" in board.notice.value
    tiles = board.sections["headlines"].drawing()["body"]
    assert "Promise kept" not in tiles and "states no promises" in tiles
    clocks = board.sections["clocks"].drawing()["body"]
    assert "customer:" not in clocks and "nobody owns" in clocks  # the teams are still there
    journeys = Dashboard("journeys", run).sections["promises"].drawing()
    assert "states no promises" in journeys["body"] and not journeys["figure"]


def test_the_tables_computed_from_answers_are_published_tables():
    from cxlib.publishing import FROM_ANSWERS, SCHEMA

    assert FROM_ANSWERS <= set(SCHEMA) and "survey_facts" not in FROM_ANSWERS


def test_a_run_from_before_the_spec_was_recorded_says_so(published_reports, tmp_path):
    run = tmp_path / "old"
    shutil.copytree(published_reports / "ci", run)
    manifest = json.loads((run / "manifest.json").read_text())
    del manifest["journey_spec"]
    (run / "manifest.json").write_text(json.dumps(manifest))
    page = open_dashboard(str(run))
    assert isinstance(page, widgets.HTML) and "This run cannot be shown" in page.value
    assert "the journey spec it measured by" in page.value


def _with_an_older_run(published_reports: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Copy the published reports and add a copy of the ci run dated 2000; return both runs."""
    reports = tmp_path / "reports"
    shutil.copytree(published_reports, reports, symlinks=True)
    latest = (reports / "ci").resolve()
    older = latest.parent / ("20000101T000000000000Z-" + latest.name.split("-", 1)[1])
    shutil.copytree(latest, older)
    manifest = json.loads((older / "manifest.json").read_text())
    (older / "manifest.json").write_text(json.dumps({**manifest, "run_id": older.name}))
    return latest, older


def test_tiles_show_the_change_against_the_previous_run(published_reports, tmp_path):
    latest, older = _with_an_older_run(published_reports, tmp_path)
    facts = pd.read_parquet(older / "tables/journey_facts.parquet")
    facts["customer_hours"] += 1.0  # the run before spent one more hour of each customer's
    facts.to_parquet(older / "tables/journey_facts.parquet", index=False)
    board = Dashboard("overview", latest.parent.parent / "ci")
    tiles = board.sections["headlines"].drawing()["body"]
    assert f"▼ 1.0 hours vs {older.name}" in tiles
    assert tiles.count(f"vs {older.name}") == 5 and tiles.count("= 0.0") == 4


def test_a_run_being_published_draws_its_copies_against_the_run_before(published_reports,
                                                                       tmp_path):
    from cxlib.dashboard import write_static_views

    latest, older = _with_an_older_run(published_reports, tmp_path)
    partial = latest.parent / f".{latest.name}.partial"  # where the run writes its copies
    latest.rename(partial)
    write_static_views(partial)
    saved = json.loads((partial / "views" / "overview.json").read_text())
    assert saved["key"]["previous"] == older.name
    assert f"vs {older.name}" in (partial / "views" / "overview.html").read_text()
    partial.rename(latest)  # once published, the kernel's key is the same: no redraw
    assert Dashboard("overview", latest)._restore()


def test_a_drawing_saved_by_other_code_is_redrawn_not_shown(published_reports, monkeypatch):
    import cxlib

    run = published_reports / "ci"
    assert Dashboard("overview", run)._restore()  # the run's own drawing, by this code
    monkeypatch.setattr(cxlib, "code_fingerprint", lambda: "a newer cxlib")
    assert not Dashboard("overview", run)._restore()


def test_hostile_strings_reach_the_tile_only_escaped():
    tile = _tile("<img src=x onerror=alert(7)>", "50%", "n=100", "no earlier run")
    assert "<img" not in tile and "&lt;img src=x onerror=alert(7)&gt;" in tile


def test_the_guard_answers_a_ping_and_nothing_else(monkeypatch):
    guard = ConnectionGuard()
    sent = []
    monkeypatch.setattr(guard, "send", sent.append)
    guard._answer(guard, {"type": "ping"}, [])
    guard._answer(guard, {"type": "execute", "code": "1"}, [])
    guard._answer(guard, "ping", [])
    assert sent == [{"type": "pong"}]


def test_channels_are_plain_names(monkeypatch):
    monkeypatch.setenv("CXLAB_CHANNEL", "ci")
    assert channel_name() == "ci" and channel_name("weekly") == "weekly"
    assert channel_folder("weekly").name == "weekly"
    with pytest.raises(ValueError, match="not a channel name"):
        channel_folder("../etc")


def test_serve_options_after_the_dashes_replace_cxlabs_own(monkeypatch):
    from cxlib.forked_kernels import PROVISIONER_NAME
    from cxlib.serving import DASHBOARDS, voila_command, voila_environment
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("JUPYTER_DEFAULT_PROVISIONER_NAME", raising=False)
    command = voila_command(9000, ["--MappingKernelManager.cull_idle_timeout=120"])
    culls = [a for a in command if a.startswith("--MappingKernelManager.cull_idle_timeout")]
    assert culls == ["--MappingKernelManager.cull_idle_timeout=120"]
    assert "--VoilaConfiguration.show_tracebacks=False" in command and "--port=9000" in command
    assert "--VoilaExecutor.iopub_timeout=120" in command  # a busy server keeps a view's output
    assert str(DASHBOARDS) in command  # every view, served from one folder
    env = voila_environment("weekly")
    assert env["CXLAB_CHANNEL"] == "weekly"
    assert env["ARROW_DEFAULT_MEMORY_POOL"] == "system" and env["MALLOC_ARENA_MAX"] == "2"
    assert env["JUPYTER_DEFAULT_PROVISIONER_NAME"] == PROVISIONER_NAME  # forked kernels
    assert env["OPENBLAS_NUM_THREADS"] == "1"
    templates = Path(env["JUPYTER_PATH"].split(os.pathsep)[0]) / "voila/templates/cxlab"
    assert (templates / "index.html.j2").is_file() and (templates / "tree-lab.html").is_file()


def test_a_link_sets_the_filters_and_every_view_gives_it_back(published_reports):
    run = load_published(published_reports / "ci")
    region = sorted(run.journeys["region"].unique())[1]
    weeks = sorted(week_start(run.journeys["start_ts"]).unique())
    first, last = weeks[2], weeks[-3]
    query = urlencode({"from": f"{first:%Y-%m-%d}", "to": f"{last:%Y-%m-%d}",
                       "region": region, "segment": "time_savers"})
    board = Dashboard("overview", published_reports / "ci", query=query,
                      page_url="http://127.0.0.1:8866/voila/render/overview.ipynb")
    assert board.notice.value == "" and board.filters.query() == query  # it round-trips
    assert (f"value='http://127.0.0.1:8866/voila/render/overview.ipynb?{html.escape(query)}'"
            in board.link.value)
    for view in VIEWS:  # the link bar keeps the filters
        assert f"href='{view}.ipynb?{html.escape(query)}'" in board.views.value
    started = week_start(run.journeys["start_ts"])
    chosen = run.journeys[started.between(first, last) & (run.journeys["region"] == region)
                          & (run.journeys["segment"] == "time_savers")]
    answered = week_start(run.surveys["answered_day"])
    answers = run.surveys[answered.between(first, last) & (run.surveys["region"] == region)
                          & (run.surveys["segment"] == "time_savers")]
    selection = board.selection()
    pd.testing.assert_frame_equal(selection.journeys, chosen)
    pd.testing.assert_frame_equal(selection.surveys, answers)
    board.filters.segment.value = ALL_SEGMENTS  # a change in the page changes its link
    assert "segment=" not in board.filters.query() and "segment=" not in board.link.value


def test_a_date_inside_a_week_opens_that_week(published_reports):
    run = load_published(published_reports / "ci")
    monday = sorted(week_start(run.journeys["start_ts"]).unique())[3]
    thursday = monday + pd.Timedelta(days=3)
    board = Dashboard("journeys", published_reports / "ci", query=f"from={thursday:%Y-%m-%d}")
    assert board.filters.start.value == f"{monday:%Y-%m-%d}" and board.notice.value == ""


def test_unknown_filters_and_bad_dates_in_a_link_are_named_and_not_applied(published_reports):
    board = Dashboard("overview", published_reports / "ci",
                      query="region=Atlantis&colour=red&promise=<b>x</b>&from=yesterday"
                            "&to=1999-01-04")
    notice = html.unescape(board.notice.value)
    assert "No region 'Atlantis' in this run, so all are shown" in notice
    assert "a filter the dashboards do not have ('colour')" in notice
    assert "No promise '<b>x</b>'" in notice and "<b>x" not in board.notice.value  # as text
    assert "from='yesterday' is not a date" in notice
    assert "No journeys started in the week of 04 Jan 1999" in notice
    assert board.filters.region.value == ALL_REGIONS and board.filters.query() == ""
    plain = Dashboard("overview", published_reports / "ci")
    assert _shown(board) == _shown(plain)


def test_a_period_that_ends_before_it_starts_shows_every_week(published_reports):
    run = load_published(published_reports / "ci")
    weeks = sorted(week_start(run.journeys["start_ts"]).unique())
    board = Dashboard("overview", published_reports / "ci",
                      query=f"from={weeks[-2]:%Y-%m-%d}&to={weeks[1]:%Y-%m-%d}")
    assert "starts after it ends" in board.notice.value and board.filters.query() == ""


def test_a_preheated_kernel_builds_first_and_follows_the_link_when_asked(
        published_reports, tmp_path, monkeypatch):
    import voila.utils

    region = sorted(load_published(published_reports / "ci").journeys["region"].unique())[1]
    asked = []

    def request_arrives() -> None:  # what Voilà does when the page is asked for
        asked.append(True)
        monkeypatch.setenv("QUERY_STRING", f"region={region}&colour=red")
        monkeypatch.setenv("VOILA_REQUEST_URL", "http://127.0.0.1:8866/voila/render/"
                           f"journeys.ipynb?region={region}&colour=red")

    monkeypatch.setenv("VOILA_PREHEAT", "True")
    monkeypatch.delenv("QUERY_STRING", raising=False)
    monkeypatch.setattr(voila.utils, "wait_for_request", request_arrives)
    app = open_dashboard(str(published_reports / "ci"), view="journeys")
    assert asked == [True]
    text = " ".join(w.value for w in app.children if isinstance(w, widgets.HTML))
    assert "('colour')" in html.unescape(text)  # the link's unknown filter is named
    assert (f"value='http://127.0.0.1:8866/voila/render/journeys.ipynb?region={region}'"
            in text)
    direct = Dashboard("journeys", published_reports / "ci", query=f"region={region}")
    chosen = [c.value for box in app.children if isinstance(box, widgets.HBox)
              for c in box.children]
    assert region in chosen
    shown = [w.value for w in app.children
             if any(c.startswith("cx-section-") for c in w._dom_classes)]
    assert shown == [p.box.value for p in direct.sections.values()]  # the same figures


def test_a_run_published_while_a_kernel_waited_is_the_one_shown(published_reports, tmp_path,
                                                                  monkeypatch):
    import voila.utils

    reports = tmp_path / "reports"
    shutil.copytree(published_reports, reports, symlinks=True)
    first = (reports / "ci").resolve()
    newer = first.parent / (first.name.replace("2026", "2099", 1))
    monkeypatch.setenv("CXLAB_REPORTS_DIR", str(reports))
    monkeypatch.setenv("VOILA_PREHEAT", "True")

    def publish_meanwhile() -> None:
        shutil.copytree(first, newer)
        manifest = json.loads((newer / "manifest.json").read_text())
        (newer / "manifest.json").write_text(json.dumps({**manifest, "run_id": newer.name}))
        (reports / "ci").unlink()
        (reports / "ci").symlink_to(Path("runs") / newer.name)
        monkeypatch.setenv("QUERY_STRING", "")

    monkeypatch.setattr(voila.utils, "wait_for_request", publish_meanwhile)
    app = open_dashboard(channel="ci", view="overview")
    assert newer.name in app.children[0].value  # the header names the newer run


def test_the_page_address_comes_from_what_voila_tells_the_kernel():
    from cxlib.dashboard import page_address

    assert page_address({"VOILA_REQUEST_URL": "http://h:1/voila/render/x.ipynb?a=1"}) == (
        "http://h:1/voila/render/x.ipynb")
    preheated = {"SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8866",
                 "SCRIPT_NAME": "/voila/render/segments.ipynb"}  # what wait_for_request sets
    assert page_address(preheated) == "http://127.0.0.1:8866/voila/render/segments.ipynb"
    assert page_address({}) == ""
    behind = {"CXLAB_PUBLIC_URL": "https://dash.example.com/cx/"}  # cx serve --public-url
    assert page_address({**preheated, **behind}) == (
        "https://dash.example.com/cx/voila/render/segments.ipynb")
    assert page_address({"VOILA_REQUEST_URL": "http://h:1/voila/render/x.ipynb?a=1",
                         **behind}) == "https://dash.example.com/cx/voila/render/x.ipynb"


def test_a_public_url_reaches_the_kernels_and_a_wrong_one_is_refused():
    from cxlib.errors import ParamsError
    from cxlib.serving import voila_environment

    env = voila_environment("latest", public_url="https://dash.example.com/cx/")
    assert env["CXLAB_PUBLIC_URL"] == "https://dash.example.com/cx/"
    for wrong in ("dash.example.com", "ftp://x/", "https://x/ y"):
        with pytest.raises(ParamsError, match="--public-url"):
            voila_environment("latest", public_url=wrong)
    result = run_cx("serve", "--public-url", "dash.example.com", "--port", "1")
    assert result.returncode == 2 and "--public-url" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_section_that_fails_says_so_and_logs_why(board, monkeypatch, caplog):
    import cxlib.dashboard_views as views

    def broken(selection):
        raise KeyError("a column this run lacks")

    section = views.Section("broken", "Broken", broken)
    monkeypatch.setitem(views.VIEWS, "overview", ("Overview", (section,)))
    with caplog.at_level("ERROR", logger="cxlib.dashboard"):
        shown = Dashboard("overview", board.run.folder).sections["broken"].drawing()["body"]
    assert "could not be drawn" in shown and "KeyError" not in shown
    assert "a column this run lacks" in caplog.text  # for the analyst, in the server's log


def test_a_filter_state_shown_before_in_the_page_is_shown_again_without_redrawing(
        published_reports, monkeypatch):
    board = Dashboard("overview", published_reports / "ci")
    drawn = []
    render = board.render
    monkeypatch.setattr(board, "render", lambda: drawn.append(1) or render())
    monkeypatch.setattr(D, "SHARED_DRAWINGS_KEPT", 0)  # this page's own memory only
    first, second, third = board.filters.region.options[1:4]
    board.filters.region.value = first
    at_first = _shown(board)
    board.filters.region.value = second
    assert len(drawn) == 2 and _shown(board) != at_first
    board.filters.region.value = first
    assert len(drawn) == 2 and _shown(board) == at_first  # the same page, not redrawn
    assert first in board.link.value  # the link still follows the filters
    monkeypatch.setattr(D, "DRAWINGS_KEPT", 1)  # only the newest state is kept
    board.filters.region.value = third
    board.filters.region.value = first
    assert len(drawn) == 4


def test_following_a_link_redraws_only_when_it_asks_for_other_filters(published_reports,
                                                                       monkeypatch):
    monkeypatch.setattr(D, "SHARED_DRAWINGS_KEPT", 0)  # no state drawn by another page
    board = Dashboard("journeys", published_reports / "ci")
    drawn = []
    render = board.render
    monkeypatch.setattr(board, "render", lambda: drawn.append(1) or render())
    board.follow_link("", "http://127.0.0.1:8866/voila/render/journeys.ipynb")
    assert drawn == [] and "journeys.ipynb'" in board.link.value  # the link, not the figures
    region = board.filters.region.options[1]
    board.follow_link(f"region={region}&segment={board.filters.defaults['segment']}",
                      "http://127.0.0.1:8866/voila/render/journeys.ipynb")
    assert drawn == [1]  # two filters from the link, one redraw


def test_the_default_view_shows_the_runs_own_drawing_without_redrawing(published_reports,
                                                                       tmp_path, monkeypatch):
    fresh = tmp_path / "fresh"
    shutil.copytree(published_reports / "ci", fresh)
    shutil.rmtree(fresh / "views")  # nothing drawn by the run: the kernel draws
    for view in VIEWS:
        drawn = _shown(Dashboard(view, fresh))
        monkeypatch.setattr(Dashboard, "render", lambda self: pytest.fail("redrawn"))
        saved = _shown(Dashboard(view, published_reports / "ci"))
        monkeypatch.undo()
        assert {k: (b, t) for k, (b, _, t) in saved.items()} == {
            k: (b, t) for k, (b, _, t) in drawn.items()}, view
        assert all(bool(f) == bool(saved[k][1]) for k, (_, f, _) in drawn.items()), view


@pytest.mark.parametrize("view", list(VIEWS))
def test_a_page_shares_one_layout_and_style_among_its_filters_and_among_its_texts(
        published_reports, view):
    """Each widget model is built by the browser and relayed by Voilà for every viewer."""
    board = Dashboard(view, published_reports / "ci")
    filters = list(board.filters.controls.values())
    texts = [board.header, board.views, board.notice, board.link,
             *(part.box for part in board.sections.values())]
    assert len({id(f.layout) for f in filters}) == 1
    assert len({id(f.style) for f in filters}) == len({id(t.style) for t in texts}) == 1
    assert len({id(t.layout) for t in [*texts, board.guard]}) == 1
    assert board.filters.promise.layout.display != "none"  # shown: this spec states promises
    models = {id(w) for w in [*filters, *texts, board.guard]}
    models |= {id(part) for w in [*filters, *texts] for part in (w.layout, w.style)}
    assert len(models) == len(filters) + len(texts) + 1 + 4


def _fresh_run(published_reports: Path, tmp_path: Path) -> Path:
    """A copy of the CI run with no drawing shared by any page yet."""
    fresh = tmp_path / "runs" / "fresh"
    shutil.copytree(published_reports / "ci", fresh)
    shutil.rmtree(fresh / "views" / D.SHARED_DRAWINGS, ignore_errors=True)
    return fresh


def _warmed_states(run: Path, pairs: bool = True) -> int:
    """How many filter states of a view :func:`cxlib.dashboard.warm_drawings` draws."""
    filters = Dashboard("overview", run).filters
    return sum(len(D._changed_states(filters, names))
               for names in [(n,) for n in D.WARMED_FILTERS] + list(D.WARMED_PAIRS) * pairs)


def test_a_filter_state_one_page_drew_is_shown_by_every_page_of_the_run(published_reports,
                                                                         tmp_path):
    run = _fresh_run(published_reports, tmp_path)
    first = Dashboard("overview", run)
    region = first.filters.region.options[1]
    first.filters.region.value = region
    assert first.redraws == 1
    other = Dashboard("overview", run)  # another manager's page, in another kernel
    other.filters.region.value = region
    assert other.redraws == 0 and _shown(other) == _shown(first)
    assert region in other.link.value  # the link still follows the filters
    stricter = Dashboard("overview", run, min_group_size=first.run.min_group_size + 5)
    drawn_at_start = stricter.redraws  # its default state differs from the run's drawing too
    stricter.filters.region.value = region  # numbers suppressed otherwise: drawn again
    assert stricter.redraws == drawn_at_start + 1 and _shown(stricter) != _shown(first)
    journeys = Dashboard("journeys", run)  # another view: its own drawing
    journeys.filters.region.value = region
    assert journeys.redraws == 1


def test_a_shared_drawing_that_is_broken_or_of_another_state_is_drawn_again(published_reports,
                                                                            tmp_path):
    run = _fresh_run(published_reports, tmp_path)
    board = Dashboard("journeys", run)
    board.filters.region.value = board.filters.region.options[1]
    (shared,) = (run / "views" / D.SHARED_DRAWINGS).glob("*.json")
    drawn = _shown(board)
    saved = json.loads(shared.read_text())
    for broken in ("{half a drawing", json.dumps({**saved, "query": "region=elsewhere"}),
                   json.dumps({**saved, "sections": {"promises": saved["sections"]["promises"]}})):
        shared.write_text(broken)
        other = Dashboard("journeys", run)
        other.filters.region.value = board.filters.region.options[1]
        assert other.redraws == 1 and _shown(other) == drawn


def test_shared_drawings_are_bounded_and_a_run_that_cannot_keep_them_still_draws(
        published_reports, tmp_path, monkeypatch, caplog):
    run = _fresh_run(published_reports, tmp_path)
    monkeypatch.setattr(D, "SHARED_DRAWINGS_KEPT", 2)
    board = Dashboard("segments", run)
    regions = board.filters.region.options[1:4]
    for region in regions:
        board.filters.region.value = region
        os.utime(max((run / "views" / D.SHARED_DRAWINGS).glob("*.json"),
                     key=lambda p: p.stat().st_mtime_ns))  # distinct times on a coarse clock
    assert len(list((run / "views" / D.SHARED_DRAWINGS).glob("*"))) == 2
    later = Dashboard("segments", run)
    later.filters.region.value = regions[2]
    later.filters.region.value = regions[1]
    assert later.redraws == 0  # the two shown last are read
    later.filters.region.value = regions[0]
    assert later.redraws == 1  # the least recently shown was removed
    blocked = _fresh_run(published_reports, tmp_path / "blocked")
    (blocked / "views" / D.SHARED_DRAWINGS).write_text("a file where the folder would be")
    board = Dashboard("segments", blocked)
    with caplog.at_level("INFO", logger="cxlib.dashboard"):
        board.filters.region.value = regions[0]
        at_first = _shown(board)
        board.filters.region.value = regions[1]
    assert board.redraws == 2 and _shown(board) != at_first  # drawn, shown, not kept
    assert caplog.text.count("not shared with other pages") == 1  # said once per page


def test_warming_draws_every_view_with_a_filter_or_two_changed(published_reports, tmp_path):
    run = _fresh_run(published_reports, tmp_path)
    regions = len(Dashboard("overview", run).filters.region.options) - 1
    segments = len(Dashboard("overview", run).filters.segment.options) - 1
    assert _warmed_states(run) >= regions + segments + regions * segments >= 4 + 3 + 12
    assert D.warm_drawings(run) == _warmed_states(run) * len(VIEWS)
    for view in VIEWS:
        page = Dashboard(view, run)
        page.filters.region.value = page.filters.region.options[-1]
        page.filters.segment.value = page.filters._allowed("segment")[-1]
        page.filters.region.value = ALL_REGIONS
        assert page.redraws == 0, view  # a manager's first filter changes are reads
        page.filters.end.value = page.filters._allowed("to")[-2]  # a shorter period: drawn
        assert page.redraws == 1, view
    assert D.warm_drawings(run) == 0  # what is shared is not drawn again


def test_filters_set_together_redraw_once_and_unknown_ones_are_refused(published_reports,
                                                                        tmp_path):
    board = Dashboard("journeys", _fresh_run(published_reports, tmp_path))
    region, segment = board.filters.region.options[1], board.filters._allowed("segment")[1]
    board.set_filters({"region": region, "segment": segment})
    assert board.redraws == 1 and board.filters.query() == urlencode(
        {"region": region, "segment": segment})
    board.set_filters({})
    assert board.filters.query() == "" and board.redraws == 1  # the run's own drawing
    with pytest.raises(KeyError, match="not a filter: colour"):
        board.set_filters({"colour": "red"})


def test_cx_serve_warms_each_run_the_channel_points_to(published_reports, tmp_path):
    from cxlib import drawing_warmer

    run = _fresh_run(published_reports, tmp_path)
    channel = tmp_path / "latest"
    channel.symlink_to(run, target_is_directory=True)
    watcher = drawing_warmer.start(channel, os.environ)
    try:
        assert os.getsid(watcher.pid) == watcher.pid  # the terminal's Ctrl-C goes to Voilà only
        shared = run / "views" / D.SHARED_DRAWINGS
        for _ in range(600):
            if (len(list(shared.glob("*.json"))) >= _warmed_states(run, pairs=False) * len(VIEWS)
                    or watcher.poll() is not None):  # each filter alone: drawn first
                break
            time.sleep(0.2)
        assert watcher.poll() is None  # it keeps watching for the next run
        page = Dashboard("journeys", run)
        page.filters.region.value = page.filters.region.options[1]
        assert page.redraws == 0
    finally:
        watcher.kill()
        watcher.wait()


def test_a_run_that_cannot_be_drawn_ahead_is_logged_not_a_traceback(published_reports,
                                                                    tmp_path):
    run = _fresh_run(published_reports, tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    del manifest["journey_spec"]  # a run from before the spec was recorded
    (run / "manifest.json").write_text(json.dumps(manifest))
    done = subprocess.run([sys.executable, "-m", "cxlib.drawing_warmer", "warm", str(run),
                           "--parent", str(os.getpid())], capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert "cannot be drawn ahead" in done.stderr and "journey spec" in done.stderr


def test_a_shared_drawing_in_a_run_the_server_only_reads_is_still_shown(published_reports,
                                                                         tmp_path, monkeypatch):
    run = _fresh_run(published_reports, tmp_path)
    region = Dashboard("segments", run).filters.region.options[1]
    Dashboard("segments", run).filters.region.value = region

    def refused(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(os, "utime", refused)
    page = Dashboard("segments", run)
    page.filters.region.value = region
    assert page.redraws == 0


def test_cx_serve_starts_the_warmer_unless_told_not_to(published_reports, monkeypatch):
    from cxlib import drawing_warmer, serving

    started, served = [], []
    monkeypatch.setattr(drawing_warmer, "start", lambda folder, env: started.append(folder))
    monkeypatch.setattr(serving.os, "execve", lambda path, argv, env: served.append(argv))
    monkeypatch.setattr(serving.os, "environ", dict(os.environ))  # serve() updates it
    serving.serve("ci", reports_dir=str(published_reports), predraw=False)
    assert started == [] and len(served) == 1
    serving.serve("ci", reports_dir=str(published_reports))
    assert started == [published_reports.resolve() / "ci"] and len(served) == 2


def test_the_warmer_waits_before_each_state_while_the_machine_is_busy(published_reports,
                                                                      tmp_path, monkeypatch):
    from cxlib import drawing_warmer

    run = _fresh_run(published_reports, tmp_path)
    asked = []
    assert D.warm_drawings(run, before_each=lambda: asked.append(1)) == len(asked)
    assert len(asked) == _warmed_states(run) * len(VIEWS)  # once before each state drawn
    share = drawing_warmer.busy_share(0.05)
    assert share is not None and 0.0 <= share <= 1.0  # Linux: read from /proc/stat
    shares = iter([0.95, 0.9, 0.2])  # pages being opened, then quiet
    monkeypatch.setattr(drawing_warmer, "busy_share", lambda: next(shares))
    monkeypatch.setattr(drawing_warmer.time, "sleep", lambda seconds: None)
    drawing_warmer.wait_until_quiet()
    assert next(shares, "all read") == "all read"


def test_the_bottleneck_table_counts_waits_not_journeys(published_reports):
    """A journey that passes a hand-off twice waits twice: the count is of waits (the CI run's
    slowest hand-off counts more waits than the run has journeys)."""
    board = Dashboard("journeys", published_reports / "ci")
    drawing = board.sections["bottlenecks"].drawing()
    table = board.run.table("bottlenecks")
    slowest = table[table["handoff"].notna() & ~table["suppressed"]].nlargest(1, "median_hours")
    n = int(slowest["n"].iloc[0])
    assert ">waits</th>" in drawing["body"] and f">{n:,}</td>" in drawing["body"]
    assert f"over {n:,} waits." in drawing["takeaway"] and "journeys." not in drawing["takeaway"]


def test_a_headline_without_answers_says_so_instead_of_calling_runs_not_comparable(board):
    """Survey headlines of a selection (or an earlier run) without answers: no false claim."""
    from dataclasses import replace

    from cxlib.dashboard_views import headline_tiles

    now = board.selection()
    no_answers = now.surveys.head(0)

    def tiles(selection) -> dict[str, str]:
        body = headline_tiles(selection).html
        found = re.findall(r"<div class='cx-kpi'>(.*?)</div><div class='cx-value'>(.*?)</div>"
                           r"<div class='cx-detail'>(.*?)</div><div class='cx-change'>(.*?)</div>",
                           body)
        assert len(found) == 5
        return {html.unescape(kpi): (html.unescape(value), html.unescape(change))
                for kpi, value, _, change in found}

    earlier = ("RUN-EARLIER", now.journeys, now.surveys)
    both = tiles(replace(now, previous=lambda: earlier))
    assert all(change.startswith(("▲", "▼", "=")) for _, change in both.values())
    survey_kpis = [kpi for kpi in both if kpi.startswith(("CSAT", "NPS"))]
    assert len(survey_kpis) == 2

    none_now = tiles(replace(now, surveys=no_answers, previous=lambda: earlier))
    none_before = tiles(replace(now, previous=lambda: (*earlier[:2], no_answers)))
    for kpi in both:
        if kpi in survey_kpis:
            assert none_now[kpi] == ("—", "")  # "none in this selection" says why
            assert none_before[kpi][1] == "none shown in run RUN-EARLIER (none, or too few)"
        else:  # journey headlines compare as before
            assert none_now[kpi] == both[kpi] and none_before[kpi] == both[kpi]
    assert "not comparable" not in str(none_now) + str(none_before)
