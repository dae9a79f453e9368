"""The manager's front-page numbers, checked on hand-made journeys, and their formatting."""

import math

import pandas as pd
import pytest

from cxlib.config import JourneySpec
from cxlib.formatting import estimate_text, html_table, p_value_text
from cxlib.headlines import (
    clocks_against_targets,
    contacts_per_journey,
    executive_kpis,
    kpi_changes,
    overview_sentence,
    segment_mix,
    suppress_partition,
    trend_in_words,
    week_start,
    weekly_kpis,
)
from cxlib.stats import proportion_ci

SPEC = JourneySpec.model_validate({
    "journey": "claim", "start": "opened", "end": "paid",
    "labels": {"paid_in_10_days": "Paid within 10 days", "desk": "front desk"},
    "promises": [{"name": "paid_in_10_days", "from": "opened", "to": "paid",
                  "within": "10d"}],
    "teams": [{"team": "desk", "from": "opened", "to": "checked", "target": 4},
              {"team": "payments", "from": "approved", "to": "paid", "target": 24},
              {"team": "audit", "from": "checked", "to": "approved"}],
})


def journeys(n: int = 40) -> pd.DataFrame:
    """n completed journeys over four weeks: desk 2 or 6 hours, payments always 30 hours."""
    i = pd.RangeIndex(n)
    return pd.DataFrame({
        "status": "complete",
        "start_ts": pd.Timestamp("2026-03-02", tz="UTC") + pd.to_timedelta(i % 4 * 7 + i % 3,
                                                                           unit="D"),
        "e2e_days": 5.0 + (i % 10), "customer_hours": 2.0 + i % 2,
        "unowned_hours": 48.0, "contacts": i % 5,
        "team_desk_hours": [2.0 if k % 4 else 6.0 for k in i],  # 3 of 4 within 4 hours
        "team_payments_hours": 30.0, "team_audit_hours": 1.0,
        "promise_paid_in_10_days": ["met" if k % 10 < 5 else "breached" for k in i],
        "region": "North", "segment": ["a" if k < 30 else "b" for k in i],
    })


def answers(n: int = 20) -> pd.DataFrame:
    return pd.DataFrame({"nps": [10] * (n // 2) + [0] * (n // 2), "csat": [5, 3] * (n // 2),
                         "answered_day": pd.Timestamp("2026-03-04", tz="UTC"),
                         "region": "North", "segment": "a"})


def test_weeks_start_on_monday():
    days = pd.Series(pd.to_datetime(["2026-03-02", "2026-03-08", "2026-03-09"], utc=True))
    assert list(week_start(days).dt.strftime("%Y-%m-%d")) == ["2026-03-02", "2026-03-02",
                                                              "2026-03-09"]


def test_headlines_are_the_hand_counted_numbers():
    table = executive_kpis(journeys(), answers(), "paid_in_10_days").set_index("key")
    assert table.loc["promise_kept", "estimate"] == pytest.approx(50.0)
    assert table.loc["customer_hours", "estimate"] == pytest.approx(2.5)
    assert table.loc["nps", "estimate"] == pytest.approx(0.0)  # half promoters, half detractors
    assert table.loc["csat_top2_box", "estimate"] == pytest.approx(50.0)
    # Kaplan–Meier (statsmodels): the first day fewer than half are still waiting — after
    # day 9 exactly half wait (5…14, four journeys each), after day 10 fewer do
    assert table.loc["e2e_days", "estimate"] == pytest.approx(10.0)
    assert not table["suppressed"].any()


def test_changes_are_against_the_same_headline_of_the_earlier_run():
    now = executive_kpis(journeys(), answers(), "paid_in_10_days")
    before = now.assign(estimate=now["estimate"] - 1.0)
    assert (kpi_changes(now, before) == 1.0).all()
    assert kpi_changes(now, None).isna().all()
    hidden = before.assign(estimate=before["estimate"].where(before["key"] != "nps"))
    assert kpi_changes(now, hidden).isna().sum() == 1


def test_weekly_headlines_count_every_journey_once_and_hide_small_weeks():
    data = journeys(40)
    weekly = weekly_kpis(data, answers(), "paid_in_10_days", min_group_size=5)
    kept = weekly[weekly["key"] == "promise_kept"]
    assert len(kept) == 4 and kept["n"].sum() == 40  # four weeks of ten
    nps = weekly[weekly["key"] == "nps"]
    assert nps["n"].tolist() == [20, 0, 0, 0]  # every answer came in week one
    assert nps["suppressed"].tolist() == [False, True, True, True]
    few = weekly_kpis(data.head(6), None, "paid_in_10_days", min_group_size=2)
    small = few[few["n"] < 2]
    assert len(small) and small["suppressed"].all() and small["estimate"].isna().all()
    assert weekly["settled"].all()  # every journey complete, every answer given
    assert "Promise kept: " in trend_in_words(weekly, "promise_kept")
    assert "left out" not in trend_in_words(weekly, "promise_kept")
    assert trend_in_words(weekly, "nps").startswith("Too few settled weeks")


def test_the_trend_leaves_out_recent_weeks_whose_journeys_are_still_open():
    data = journeys()
    last_week = data["start_ts"] >= pd.Timestamp("2026-03-23", tz="UTC")
    undecided = last_week & (data.index // 4 % 2 == 0)  # half the last week's journeys run on
    data.loc[undecided, "status"] = "open"
    data.loc[undecided, "promise_paid_in_10_days"] = "open"
    weekly = weekly_kpis(data, None, "paid_in_10_days", min_group_size=5)
    kept = weekly[weekly["key"] == "promise_kept"].set_index("week")
    assert kept["settled"].tolist() == [True, True, True, False]
    assert kept["n"].iloc[-1] == 5  # only the decided half is counted: why it is not settled
    words = trend_in_words(weekly, "promise_kept")
    assert "week of 16 Mar 2026." in words and "23 Mar" not in words
    assert words.endswith("The last week is left out: more than 5% of its journeys are still "
                          "open.")


def test_each_team_is_measured_against_its_own_target_and_the_customer_against_the_promise():
    table = clocks_against_targets(journeys(), SPEC, "paid_in_10_days").set_index("clock")
    desk, payments = table.loc["front desk"], table.loc["payments"]
    assert desk["estimate"] == pytest.approx(0.75) and desk["green"]  # median 2 h within 4 h
    assert payments["estimate"] == 0.0 and not payments["green"]
    assert "audit" not in table.index  # no target, no verdict
    customer = table.loc["customer: Paid within 10 days"]
    assert customer["estimate"] == pytest.approx(proportion_ci(20, 40)["estimate"])
    assert customer["green"]  # exactly half got it: the median customer did
    assert table.loc["hand-offs nobody owns", "median"] == pytest.approx(2.0)
    assert overview_sentence(table.reset_index()) == (
        "1 of 2 teams met their own target; 50% of customers got the promise; the median "
        "journey spent 2.0 days in hand-offs nobody owns.")


def test_clocks_of_a_small_group_are_suppressed_and_have_no_verdict():
    table = clocks_against_targets(journeys(3), SPEC, "paid_in_10_days", min_group_size=5)
    assert table["suppressed"].all() and table["green"].isna().all()
    assert overview_sentence(table).startswith("Too few journeys")


def test_one_small_part_of_a_whole_takes_the_next_smallest_with_it():
    parts = pd.DataFrame({"group": ["a", "b", "c"], "journeys": [50, 3, 9],
                          "estimate": [0.8, 0.05, 0.15], "ci_low": 0.0, "ci_high": 1.0})
    out = suppress_partition(parts, 5)
    assert out["suppressed"].tolist() == [False, True, True]  # c would give b away
    assert out.loc[1:, ["journeys", "estimate"]].isna().all().all()
    two = suppress_partition(parts.assign(journeys=[50, 3, 2]), 5)
    assert two["suppressed"].tolist() == [False, True, True]  # two hidden hide each other
    none = suppress_partition(parts.assign(journeys=[50, 30, 9]), 5)
    assert not none["suppressed"].any() and none["journeys"].tolist() == [50, 30, 9]


def test_segment_mix_and_contacts_add_up():
    data = journeys(40)
    mix = segment_mix(data, 5)
    assert mix["journeys"].sum() == 40 and mix["estimate"].sum() == pytest.approx(1.0)
    table = contacts_per_journey(data, 5).set_index("band")
    assert table.loc["none", "journeys"] == 8 and table.loc["3 or more", "journeys"] == 16
    assert table.loc["mean", "estimate"] == pytest.approx(2.0)


def test_estimates_read_as_one_cell_with_unit_and_interval():
    row = {"estimate": 7.21, "ci_low": 6.94, "ci_high": 7.5, "n": 10, "suppressed": False}
    assert estimate_text(row, "days") == "7.2 days (6.9–7.5)"
    assert estimate_text({**row, "estimate": 0.47, "ci_low": 0.46, "ci_high": 0.48}, "%", 0,
                         scale=100) == "47% (46–48)"
    assert estimate_text({**row, "suppressed": True}, "days", min_group_size=5) == "fewer than 5"
    assert estimate_text({"estimate": math.nan}) == "not estimable"
    assert estimate_text({"estimate": 3.0}, "hours") == "3.0 hours"
    assert [p_value_text(p) for p in (1e-9, 0.0342, 0.41, math.nan)] == [
        "< 0.001", "0.034", "0.41", "—"]


def test_tables_for_people_have_no_index_and_escape_every_cell():
    frame = pd.DataFrame({"name": ["<b>x</b>", None], "value": ["1", "2"]})
    table = html_table(frame, {"name": "who", "value": "how many"}, numeric=("value",))
    assert "<b>" not in table and "&lt;b&gt;x&lt;/b&gt;" in table
    assert "<th>who</th><th>how many</th>" in table and "<td class=num>2</td>" in table
    assert "<td></td>" in table and ">0<" not in table  # no index column


def test_a_spec_without_promises_or_teams_has_no_promise_no_customer_and_no_hand_off_row():
    data = journeys().drop(columns="promise_paid_in_10_days")
    bare = JourneySpec.model_validate({"journey": "claim"})
    kpis = executive_kpis(data, answers(), None).set_index("key")
    assert "promise_kept" not in kpis.index and kpis.loc["e2e_days", "n"] == 40
    weekly = weekly_kpis(data, None, None, min_group_size=5)
    assert set(weekly["key"]) == {"e2e_days", "customer_hours"}
    assert clocks_against_targets(data, bare, None).empty  # 48 unowned hours, but no team
    with_teams = clocks_against_targets(data, SPEC.model_copy(update={"promises": ()}), None)
    assert list(with_teams["kind"]) == ["team", "team", "unowned"]
    assert overview_sentence(with_teams).startswith("1 of 2 teams met their own target")


def test_a_missing_status_or_promise_state_counts_as_neither_done_nor_decided():
    data = journeys().astype({"status": "string", "promise_paid_in_10_days": "string"})
    data.loc[:3, ["status", "promise_paid_in_10_days"]] = None
    kpis = executive_kpis(data, None, "paid_in_10_days").set_index("key")
    assert kpis.loc["promise_kept", "n"] == 36 and kpis.loc["customer_hours", "n"] == 36
    assert weekly_kpis(data, None, "paid_in_10_days", min_group_size=5)["n"].notna().all()
