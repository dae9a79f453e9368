"""Who answered: the demo's slow journeys answer more often; weighting recovers everyone's score."""


import numpy as np
import pandas as pd
import pytest

from cxlib import nonresponse as N
from cxlib.survey_links import survey_journeys
from tests.conftest import AS_OF


@pytest.fixture(scope="module")
def world(full_world):
    data = full_world.data
    journeys = full_world.journeys.merge(data.customers[["customer_id", "region"]],
                                         on="customer_id")
    answers = survey_journeys(data.surveys, full_world.journeys, data.customers)
    return journeys, answers, full_world.truth


def test_the_journeys_asked_are_the_completed_ones_past_the_answer_window(world):
    journeys, _, truth = world
    asked = N.asked_journeys(journeys, pd.Timestamp(AS_OF), truth["world"]["answer_days"])
    # the demo asks every live journey its answer window has passed; the log sees activation
    # as the journey's end, so the two counts agree to a handful (activation logged late)
    assert abs(len(asked) - truth["asked"]["journeys"]) <= 0.002 * truth["asked"]["journeys"]


def test_respondents_are_slower_than_the_customers_and_weighting_recovers_the_score(world):
    journeys, answers, truth = world
    balance, scores = N.answer_weighting(journeys, answers, pd.Timestamp(AS_OF),
                                         truth["world"]["answer_days"], ["e2e_days", "region"])
    e2e = balance.set_index("covariate").loc["e2e_days"]
    assert e2e["differs"] and e2e["respondents"] > e2e["non_respondents"]
    assert not balance[balance["covariate"].str.startswith("region=")]["differs"].any()
    scores = scores.set_index(["score", "estimate_kind"])
    for score, planted in (("csat", truth["asked"]["mean_csat"]),
                           ("csat_top2_box", truth["asked"]["csat_top2_box"])):
        raw, weighted = scores.loc[(score, "raw")], scores.loc[(score, "weighted")]
        assert raw["ci_high"] < planted  # the raw score understates everyone's
        assert weighted["ci_low"] <= planted <= weighted["ci_high"]
        assert abs(weighted["estimate"] - planted) < abs(raw["estimate"] - planted) / 3
        assert 0.8 * raw["n"] < weighted["n_effective"] <= raw["n"]


def test_weighted_mean_by_hand():
    values, weights = pd.Series([1.0, 2.0, 4.0, np.nan]), pd.Series([1.0, 1.0, 2.0, 5.0])
    row = N.weighted_mean_ci(values, weights)
    assert row["estimate"] == pytest.approx((1 + 2 + 8) / 4)
    assert row["n"] == 3 and row["n_effective"] == pytest.approx(16 / 6)
    mean = 11 / 4  # linearised: sqrt(n/(n-1) * sum((w (y - mean))^2)) / sum(w)
    se = np.sqrt(1.5 * ((1 - mean) ** 2 + (2 - mean) ** 2 + (2 * (4 - mean)) ** 2)) / 4
    assert row["ci_high"] - row["estimate"] == pytest.approx(1.959964 * se, rel=1e-5)


def test_equal_chances_give_equal_weights_and_nobody_answering_is_an_error():
    asked = pd.DataFrame({"e2e_days": [1.0, 2.0] * 50, "region": ["N", "N", "S", "S"] * 25})
    answered = pd.Series([True, False, False, True] * 25)
    weights = N.response_weights(asked, answered, ["e2e_days", "region"])
    assert weights[answered].to_numpy() == pytest.approx(1.0) and weights[~answered].isna().all()
    with pytest.raises(ValueError, match="none did"):
        N.response_weights(asked, pd.Series([False] * 100), ["e2e_days"])
    assert (N.response_weights(asked, pd.Series([True] * 100), ["e2e_days"]) == 1.0).all()


def test_a_level_held_by_a_small_group_shows_no_shares():
    asked = pd.DataFrame({"e2e_days": np.arange(40.0), "region": ["N"] * 37 + ["S"] * 3})
    answered = pd.Series([True, False] * 20)
    table = N.respondent_balance(asked, answered, ["e2e_days", "region"]).set_index("covariate")
    assert table.loc["region=S", ["respondents", "non_respondents"]].isna().all()
    assert not table.loc["region=S", "differs"]
    assert table.loc["region=N", "respondents"] == pytest.approx(19 / 20)
    assert table.loc["e2e_days", "respondents"] == pytest.approx(19.0)  # 0, 2, …, 38
