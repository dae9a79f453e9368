"""Save, engage, dissolve: the levers per segment recover what the demo planted."""


import pytest

from cxlib import satisfaction as Sat
from cxlib.levers import lever_table, time_response_differs
from cxlib.segments import behaviour_features
from cxlib.survey_links import survey_journeys
from tests.conftest import AS_OF


@pytest.fixture(scope="module")
def answers(full_world, spec):
    w = full_world
    behaviour = behaviour_features(w.data.events, w.journeys, spec, AS_OF)
    frame = survey_journeys(w.data.surveys, w.journeys, w.data.customers, w.segments).merge(
        behaviour[["customer_id", "engaged_minutes"]], on="customer_id", how="left")
    return frame, tuple(Sat.promise_controls(frame, spec)), w.truth["world"]["segments"]


def test_each_lever_recovers_its_planted_effect_per_segment(answers):
    """Planted on the latent scale: save = the slope per day past the threshold, dissolve =
    the part of it updates give back, engage = nothing (no effect was planted). Three segments
    and three levers on one draw: intervals at 99 %."""
    frame, controls, planted = answers
    thresholds = Sat.tolerance_threshold(frame, "csat", by="segment", controls=controls)
    table = lever_table(frame, thresholds, controls=controls, level=0.99).set_index(
        ["segment", "lever"])
    for name, seg in planted.items():
        truth = {"save": seg["slope_per_day"],
                 "dissolve": seg["slope_per_day"] * seg["informed_softening"], "engage": 0.0}
        for lever, value in truth.items():
            row = table.loc[(name, lever)]
            assert row["ci_low"] <= value <= row["ci_high"], (name, lever, row.to_dict())
        assert table.loc[(name, "save"), "ci_low"] > 0  # saving time pays in every segment
    dissolves = table.xs("dissolve", level="lever")
    assert dissolves["estimate"].idxmax() == "informed_waiters"
    assert dissolves.loc["informed_waiters", "p_value"] < 1e-6


def test_segments_respond_to_waiting_differently_and_one_group_does_not(answers):
    frame, controls, _ = answers
    found = time_response_differs(frame, controls=controls)
    assert found["differs"] and found["p_value"] < 1e-6 and found["df"] == 2
    assert "differently" in found["in_words"]
    same = time_response_differs(frame.assign(segment="all").assign(
        half=lambda d: (d.index % 2).astype(str)), by="half", controls=controls)
    assert not same["differs"] and same["df"] == 1  # a random split responds alike
