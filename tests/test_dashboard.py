"""The dashboard's logic, driven through its widgets without a browser."""

import html
import json
import math
import os
import shutil
from pathlib import Path
from urllib.parse import urlencode

import ipywidgets as widgets
import pandas as pd
import pytest

from cxlib.dashboard import (
    ALL,
    ALL_SEGMENTS,
    ConnectionGuard,
    ExecutiveDashboard,
    _tile_html,
    channel_folder,
    channel_name,
    executive_kpis,
    load_published,
    open_dashboard,
)


@pytest.fixture(scope="module")
def board(published_reports):
    return ExecutiveDashboard(published_reports / "ci")


def test_tiles_show_the_four_kpis_with_interval_and_n(board):
    kpis = board.kpis()
    assert len(kpis) == 4 and not kpis["suppressed"].any()
    assert (kpis["ci_low"] <= kpis["estimate"]).all()
    assert (kpis["estimate"] <= kpis["ci_high"]).all()
    html = board.tiles.value
    for row in kpis.itertuples():
        assert row.kpi in html and f"n={row.n:,}" in html


def test_the_region_filter_changes_numbers_and_figure(board):
    overall = board.kpis()
    first_figure = bytes(board.figure.value)
    assert first_figure.startswith(b"\x89PNG")
    board.region.value = board.region.options[1]
    regional = board.kpis()
    assert (regional["n"] < overall["n"]).all()
    redrawn = bytes(board.figure.value)
    assert redrawn.startswith(b"\x89PNG") and redrawn != first_figure
    board.region.value = ALL


def test_values_from_outside_the_options_are_refused(board):
    with pytest.raises(Exception, match="Invalid selection|unknown region"):
        board.region.value = "Atlantis"


def test_small_groups_show_a_dash_not_a_number(published_reports):
    tables = load_published(published_reports / "ci")
    few = tables.journeys.head(3)
    kpis = executive_kpis(few, tables.surveys.head(2), "live_within_7_days",
                          min_group_size=5)
    assert kpis["suppressed"].all() and kpis["estimate"].isna().all()


def test_published_facts_are_enough_for_the_dashboard(published_reports):
    tables = load_published(published_reports / "ci")
    assert {"region", "segment", "status", "e2e_days", "customer_hours"} <= set(
        tables.journeys.columns)
    assert {"region", "nps"} <= set(tables.surveys.columns)
    assert not math.isnan(pd.to_numeric(tables.surveys["nps"]).mean())


def test_a_missing_run_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="make reports"):
        load_published(tmp_path)


def test_the_header_says_which_run_the_numbers_come_from(board):
    manifest = board.run.manifest
    header = board.header.value
    for needle in (manifest["run_id"], manifest["params"]["as_of"], "channel ci",
                   f"{len(board.journeys):,} journeys"):
        assert needle in header, (needle, header)


def test_the_runs_own_min_group_size_suppresses_the_tiles(published_reports, tmp_path):
    run = tmp_path / "strict"
    shutil.copytree(published_reports / "ci", run)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["params"]["min_group_size"] = 10**9
    (run / "manifest.json").write_text(json.dumps(manifest))
    strict = ExecutiveDashboard(run)
    assert strict.min_group_size == 10**9 and strict.kpis()["suppressed"].all()
    assert strict.tiles.value.count(f"fewer than {10**9}") == 4
    assert "n=" in strict.tiles.value and "95% CI" not in strict.tiles.value


def test_hostile_strings_reach_the_tile_only_escaped():
    row = pd.Series({"kpi": "<img src=x onerror=alert(7)>", "unit": "%", "estimate": 50.0,
                     "ci_low": 40.0, "ci_high": 60.0, "n": 100, "suppressed": False})
    tile = _tile_html(row, 5)
    assert "<img" not in tile and "&lt;img src=x onerror=alert(7)&gt;" in tile


def test_before_any_run_the_page_says_how_to_publish_one(tmp_path):
    page = open_dashboard(str(tmp_path))
    assert isinstance(page, widgets.HTML) and "cx-no-run" in page.value
    assert "No published run yet" in page.value and "make reports" in page.value


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


def test_serve_options_after_the_dashes_replace_cxlabs_own():
    from cxlib.serving import voila_command, voila_environment
    command = voila_command(9000, ["--MappingKernelManager.cull_idle_timeout=120"])
    culls = [a for a in command if a.startswith("--MappingKernelManager.cull_idle_timeout")]
    assert culls == ["--MappingKernelManager.cull_idle_timeout=120"]
    assert "--VoilaConfiguration.show_tracebacks=False" in command and "--port=9000" in command
    env = voila_environment("weekly")
    assert env["CXLAB_CHANNEL"] == "weekly"
    assert (Path(env["JUPYTER_PATH"].split(os.pathsep)[0])
            / "voila/templates/cxlab/index.html.j2").is_file()


def test_a_link_sets_the_filters_and_the_page_gives_its_link_back(published_reports):
    run = load_published(published_reports / "ci")
    region = sorted(run.journeys["region"].unique())[1]
    query = urlencode({"region": region, "segment": "time_savers"})
    board = ExecutiveDashboard(published_reports / "ci", query=query,
                               page_url="http://127.0.0.1:8866/")
    assert (board.region.value, board.segment.value) == (region, "time_savers")
    assert board.notice.value == ""
    assert board.query() == query  # the link round-trips
    assert f"value='http://127.0.0.1:8866/?{html.escape(query)}'" in board.link.value
    chosen = run.journeys[(run.journeys["region"] == region)
                          & (run.journeys["segment"] == "time_savers")]
    answers = run.surveys[(run.surveys["region"] == region)
                          & (run.surveys["segment"] == "time_savers")]
    expected = executive_kpis(chosen, answers, board.promise, board.min_group_size)
    pd.testing.assert_frame_equal(board.kpis(), expected)
    board.segment.value = ALL_SEGMENTS  # a change in the page changes its link
    assert board.query() == urlencode({"region": region})
    assert "segment=" not in board.link.value


def test_unknown_filters_in_a_link_are_named_and_not_applied(published_reports):
    board = ExecutiveDashboard(published_reports / "ci",
                               query="region=Atlantis&colour=red&promise=<b>x</b>")
    notice = html.unescape(board.notice.value)
    assert "No region 'Atlantis' in this run, so all are shown" in notice
    assert "a filter this view does not have ('colour')" in notice
    assert "No promise '<b>x</b>'" in notice and "<b>x" not in board.notice.value  # as text
    assert board.region.value == ALL and board.query() == ""
    pd.testing.assert_frame_equal(board.kpis(), ExecutiveDashboard(published_reports / "ci")
                                  .kpis())


def test_the_segment_filter_narrows_every_tile(board):
    overall = board.kpis()
    board.segment.value = board.segment.options[1]
    narrowed = board.kpis()
    assert (narrowed["n"] < overall["n"]).all()
    with pytest.raises(Exception, match="Invalid selection|unknown segment"):
        board.segment.value = "nobody"
    board.segment.value = ALL_SEGMENTS
