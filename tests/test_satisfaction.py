import json

import numpy as np
import pandas as pd
import pytest

from cxlib import journeys as J
from cxlib import satisfaction as Sat
from cxlib.io import load_dataset
from tests.conftest import AS_OF


@pytest.fixture(scope="module")
def answers(demo_full, spec):
    """Survey answers joined to journeys, with each customer's *true* segment."""
    data = load_dataset(demo_full)
    journeys = J.build_journeys(data.events, spec, AS_OF)
    truth = json.loads((demo_full / "truth.json").read_text())
    segments = pd.DataFrame({"customer_id": list(truth["segment_of_customer"]),
                             "segment": list(truth["segment_of_customer"].values())})
    frame = Sat.survey_journeys(data.surveys, journeys, data.customers, segments)
    frame["window_breached"] = Sat.late_or_missed(frame, "technician_in_window")
    return frame, truth["world"]


def test_every_answer_is_kept_and_joined(answers, demo_full):
    frame, _ = answers
    surveys = load_dataset(demo_full).surveys
    assert len(frame) == len(surveys)
    assert frame["e2e_days"].notna().all() and frame["segment"].notna().all()


def test_tolerance_thresholds_recover_the_planted_ones(answers):
    frame, world = answers
    table = Sat.tolerance_threshold(frame, "csat", by="segment", controls=("window_breached",),
                                    n_boot=60).set_index("segment")
    for name, planted in world["segments"].items():
        row = table.loc[name]
        assert row["ci_low"] <= planted["threshold_days"] <= row["ci_high"], name
        assert abs(row["estimate"] - planted["threshold_days"]) <= 1.0, name
        assert row["slope_after"] > 0


def test_each_day_costs_satisfaction_in_every_segment(answers):
    frame, _ = answers
    for outcome in ("csat", "nps"):
        cost = Sat.cost_per_day(frame, outcome, by="segment")
        assert (cost["ci_low"] > 0).all(), outcome
        assert (cost["p_value"] < 0.001).all()


def test_updates_soften_the_wait_only_where_planted(answers):
    frame, world = answers
    effect = Sat.update_effect(frame, "csat", by="segment").set_index("segment")
    for name, seg in world["segments"].items():
        row = effect.loc[name]
        if seg["informed_softening"] > 0:
            assert row["ci_low"] > 0, name
        else:
            assert row["ci_low"] <= 0 <= row["ci_high"], name


def test_ordinal_fit_finds_the_day_and_window_penalties(answers):
    frame, _ = answers
    fit = Sat.ordinal_fit(frame, "csat", ("e2e_days", "window_breached"))
    terms = fit.summary.set_index("term")
    assert terms.loc["e2e_days", "ci_high"] < 0
    assert terms.loc["window_breached", "ci_high"] < 0
    assert fit.summary["n"].iloc[0] == frame[["csat", "status"]].dropna().query(
        "status == 'complete'").shape[0]
    assert "Ordinal logit" in fit._repr_html_()


def test_open_journeys_never_enter_duration_models():
    frame = pd.DataFrame({"status": ["complete"] * 40 + ["open"],
                          "e2e_days": list(np.linspace(1, 10, 40)) + [100.0],
                          "csat": [5] * 20 + [3] * 20 + [1]})
    assert Sat.cost_per_day(frame, "csat", by=None)["n"].iloc[0] == 40


def test_answers_without_a_journey_id_go_to_the_latest_journey_started_before():
    journeys = pd.DataFrame({"journey_id": ["J1", "J2"], "customer_id": ["C1", "C1"],
                             "start_ts": pd.to_datetime(["2026-01-01", "2026-03-01"], utc=True),
                             "e2e_days": [3.0, 9.0], "status": ["complete", "complete"]})
    surveys = pd.DataFrame({"response_id": ["R1", "R2"], "customer_id": ["C1", "C1"],
                            "journey_id": [None, "J1"],
                            "ts": pd.to_datetime(["2026-03-20", "2026-01-10"], utc=True),
                            "csat": [2, 5], "nps": [3, 9], "ces": [4, 6], "comment": [None, None]})
    surveys["journey_id"] = surveys["journey_id"].astype("str")
    joined = Sat.survey_journeys(surveys, journeys).set_index("response_id")
    assert joined.loc["R1", "journey_id"] == "J2" and joined.loc["R1", "e2e_days"] == 9.0
    assert joined.loc["R2", "e2e_days"] == 3.0


def test_score_summary_suppresses_small_groups(answers):
    frame, _ = answers
    tiny = frame.head(12).assign(segment=["a"] * 9 + ["b"] * 3)
    table = Sat.score_summary(tiny, by="segment", min_group_size=5)
    assert table.loc[table["segment"] == "b", "suppressed"].all()
    assert table.loc[table["segment"] == "b", "estimate"].isna().all()


def test_late_or_missed_marks_only_customers_left_waiting():
    frame = pd.DataFrame({"promise_w_class": ["early", "on_time", "late", "missed", "open",
                                              "not_applicable"]})
    assert Sat.late_or_missed(frame, "w").tolist() == [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
