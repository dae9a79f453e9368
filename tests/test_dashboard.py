"""The dashboard's logic, driven through its widgets without a browser."""

import math

import pandas as pd
import pytest

from cxlib.dashboard import ALL, ExecutiveDashboard, executive_kpis, load_published


@pytest.fixture(scope="module")
def board(published_reports):
    return ExecutiveDashboard(published_reports / "latest")


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
    tables = load_published(published_reports / "latest")
    few = tables["journey_facts"].head(3)
    kpis = executive_kpis(few, tables["survey_facts"].head(2), "live_within_7_days",
                          min_group_size=5)
    assert kpis["suppressed"].all() and kpis["estimate"].isna().all()


def test_published_facts_are_enough_for_the_dashboard(published_reports):
    tables = load_published(published_reports / "latest")
    assert {"region", "segment", "status", "e2e_days", "customer_hours"} <= set(
        tables["journey_facts"].columns)
    assert {"region", "nps"} <= set(tables["survey_facts"].columns)
    assert not math.isnan(pd.to_numeric(tables["survey_facts"]["nps"]).mean())


def test_a_missing_run_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="make reports"):
        load_published(tmp_path)
