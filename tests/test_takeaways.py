"""Report tables said for people, and the sentence under each figure, on hand-made tables."""

import math

import pandas as pd

from cxlib import takeaways as T
from cxlib.formatting import for_people


def test_a_table_for_people_has_no_index_one_cell_per_estimate_and_the_mark():
    table = pd.DataFrame({
        "term": ["days_waited", "broken_promise", "rare"],
        "estimate": [-0.164, 1234.5, math.nan], "ci_low": [-0.18, 1000.0, math.nan],
        "ci_high": [-0.149, 1400.0, math.nan], "p_value": [1e-9, 0.0342, math.nan],
        "n": [6269, 6269, 3], "share": [0.4138, 0.5, math.nan],
        "holds": [True, False, False], "suppressed": [False, False, True]})
    said = for_people(table, min_group_size=5, unit="hours")
    assert list(said.frame.columns) == ["term", "estimate (95% CI)", "p value", "n", "share",
                                        "holds"]
    assert said.frame.iloc[0].tolist() == ["days_waited", "−0.2 hours (−0.2 to −0.1)",
                                           "< 0.001", "6,269", "41.4%", "yes"]
    assert said.frame.iloc[1].tolist() == ["broken_promise", "1,234.5 hours (1,000.0–1,400.0)",
                                           "0.034", "6,269", "50.0%", "no"]
    # a suppressed row says the mark once and shows no other number, its n included
    assert said.frame.iloc[2].tolist() == ["rare", "fewer than 5", "—", "—", "—", "—"]
    html = said._repr_html_()
    assert "<th>estimate (95% CI)</th>" in html and "suppressed" not in html
    assert "<th></th>" not in html and ">0<" not in html  # no index column
    assert repr(said).splitlines()[0].split() == ["term", "estimate", "(95%", "CI)", "p",
                                                  "value", "n", "share", "holds"]


def test_a_suppressed_row_without_an_estimate_marks_its_count():
    paths = pd.DataFrame({"path": ["a → b", "a → c"], "n": [120, 3],
                          "median_e2e_days": [7.06, math.nan], "share": [0.97, math.nan],
                          "suppressed": [False, True]})
    said = for_people(paths, 5, percent=("median_e2e_days",)).frame
    assert said.to_dict("list") == {"path": ["a → b", "a → c"], "n": ["120", "fewer than 5"],
                                    "median e2e days": ["706.0%", "—"], "share": ["97.0%", "—"]}
    assert for_people(paths, 5).frame["median e2e days"].tolist() == ["7.06", "—"]
    empty = for_people(paths.iloc[:0], 5)  # an empty table keeps its headings
    assert list(empty.frame.columns) == ["path", "n", "median e2e days", "share"]
    assert "<th>median e2e days</th>" in empty._repr_html_()


CLOCKS = pd.DataFrame({
    "clock": ["desk", "payments", "hand-offs (unowned)", "customer end-to-end"],
    "kind": ["team", "team", "unowned", "customer"], "estimate": [0.5, 1.5, 6.0, 8.0],
    "ci_low": [0.4, 1.4, 5.8, 7.5], "ci_high": [0.6, 1.6, 6.2, 8.5], "n": [40, 40, 40, 40],
    "suppressed": False})


def test_the_clock_sentence_compares_the_customers_clock_with_the_teams():
    assert T.clock_comparison(CLOCKS, str.upper) == (
        "The median completed journey took 8.0 days (7.5–8.5) end to end; no team's own clock "
        "ran longer than 1.5 days (PAYMENTS); 6.0 days (75%) went by in hand-offs no team owns.")
    hidden = CLOCKS.assign(suppressed=True, estimate=math.nan)
    assert T.clock_comparison(hidden) == "Too few completed journeys to compare the clocks."


def test_the_longest_handoff_is_named_and_a_suppressed_one_never():
    waits = pd.DataFrame({
        "from_activity": ["checked", "approved", "opened"], "to_activity": ["approved", "paid",
                                                                           "checked"],
        "n": [40, 3, 40], "median_hours": [30.0, math.nan, 2.0],
        "handoff": ["desk → audit", "audit → payments", None], "suppressed": [False, True, False]})
    assert T.longest_handoff(waits) == ("The longest hand-off wait: checked → approved "
                                        "(desk → audit), median 30.0 hours over 40 waits.")
    assert T.longest_handoff(waits[waits["handoff"].isna()]) == ""


def test_promises_completion_and_thresholds_are_said_with_their_intervals():
    kept = pd.DataFrame({"promise": ["paid_fast", "called_back", "rare"],
                         "estimate": [0.8, 0.47, math.nan], "ci_low": [0.7, 0.4, math.nan],
                         "ci_high": [0.9, 0.55, math.nan], "n": [50, 60, 2],
                         "suppressed": [False, False, True]})
    assert T.promises_kept(kept, min_group_size=5) == (
        "called back: 47% (40–55) kept; paid fast: 80% (70–90) kept; rare: fewer than 5 kept.")
    completion = pd.DataFrame({"region": ["North", "South", "Tiny"], "estimate": [5.0, 9.0, 1.0],
                               "ci_low": [4.5, 8.0, math.nan], "ci_high": [5.5, 10.0, math.nan],
                               "n": [50, 50, 2], "suppressed": [False, False, True]})
    completion.loc[2, "estimate"] = math.nan  # as published: a suppressed row keeps no number
    assert T.completion_by_group(completion, "region") == (
        "Half the journeys were complete after 5.0 days (4.5–5.5) in North and after "
        "9.0 days (8.0–10.0) in South.")
    overlapping = completion.assign(ci_high=[9.5, 10.0, math.nan])
    assert T.completion_by_group(overlapping, "region").endswith(
        "— the intervals overlap, so the difference may be chance.")
    thresholds = kept.rename(columns={"promise": "segment"})
    assert T.tolerance_thresholds(thresholds, min_group_size=5) == (
        "Satisfaction starts to fall after (95% CI) — called back: 0.5 days (0.4–0.6); "
        "paid fast: 0.8 days (0.7–0.9); rare: fewer than 5.")


def test_the_widest_difference_between_groups_is_the_largest_ratio():
    profile = pd.DataFrame({
        "feature": ["lead_days", "lead_days", "minutes", "minutes"],
        "segment": ["fast", "slow", "fast", "slow"], "estimate": [3.0, 7.0, 1.2, 36.0],
        "ci_low": [2.9, 6.9, 1.1, 35.0], "ci_high": [3.1, 7.1, 1.3, 37.0], "n": 50,
        "suppressed": False})
    assert T.widest_difference(profile) == (
        "The segments differ most in minutes: 36.00 for slow against 1.20 for fast (30.0×).")


def test_the_score_sentence_reads_the_first_and_last_band_shown():
    bands = pd.DataFrame({
        "segment": ["a", "a", "a", "b"], "band_start": [0.0, 3.0, 14.0, 3.0],
        "band_end": [3.0, 5.0, math.inf, 5.0], "estimate": [4.4, math.nan, 1.3, 4.0],
        "n": [30, 2, 30, 30], "suppressed": [False, True, False, False], "outcome": "csat"})
    assert T.score_by_band(bands) == ("Mean CSAT — a: 4.4 for 0–3 days → 1.3 for 14 days or "
                                      "more; b: 4.0 for 3–5 days.")


def test_the_weekly_events_sentence_adds_up_the_sources():
    weekly = pd.DataFrame({"week": pd.to_datetime(["2026-03-02", "2026-03-02", "2026-03-09"]),
                           "source": ["crm", "web", "crm"], "events": [1200, 300, 900]})
    assert T.events_per_week(weekly) == ("2,400 events from 2 source systems over 2 weeks; "
                                         "the busiest week began 2026-03-02 (1,500 events).")
