"""The latent-class mixture recovers a mixture it is given, leaving missing behaviour out."""

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp
from sklearn.metrics import adjusted_rand_score

from cxlib.mixture import LatentClassMixture, MixtureLayout, log_sum_exp_rows

LAYOUT = MixtureLayout(durations=("lead",), shares=(("chats", "contacts"),),
                       rates=(("checks", "days"),))
PLANTED = {"weight": [0.5, 0.3, 0.2], "log_mean": [0.0, 1.0, 2.0], "log_sd": [0.4, 0.5, 0.3],
           "share": [0.1, 0.5, 0.9], "rate": [0.1, 0.5, 2.0]}


def _planted(n: int = 6000, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    cls = rng.choice(3, n, p=PLANTED["weight"])
    pick = {k: np.asarray(v)[cls] for k, v in PLANTED.items()}
    lead = np.exp(rng.normal(pick["log_mean"], pick["log_sd"]))
    lead[rng.random(n) < 0.3] = np.nan  # never booked
    contacts = rng.poisson(2.0, n)  # a third never made contact: no share at all
    days = rng.uniform(0, 10, n) * (rng.random(n) > 0.1)  # some never waited
    frame = pd.DataFrame({"lead": lead, "contacts": contacts,
                          "chats": rng.binomial(contacts, pick["share"]),
                          "days": days, "checks": rng.poisson(pick["rate"] * days)})
    return frame, cls


def test_recovers_the_planted_classes_and_their_parameters():
    frame, cls = _planted()
    fit = LatentClassMixture(3, LAYOUT).fit(frame)
    oracle = LatentClassMixture(3, LAYOUT)  # the planted parameters, as a classifier
    oracle.params_ = {"weight": np.asarray(PLANTED["weight"]),
                      "mean": np.asarray(PLANTED["log_mean"])[:, None],
                      "var": np.asarray(PLANTED["log_sd"])[:, None] ** 2,
                      "share": np.asarray(PLANTED["share"])[:, None],
                      "rate": np.asarray(PLANTED["rate"])[:, None]}
    best = adjusted_rand_score(cls, oracle.predict(frame))
    assert adjusted_rand_score(cls, fit.labels_) >= 0.98 * best
    p = fit.params_
    _, order = linear_sum_assignment(np.abs(p["mean"][:, 0][None, :]
                                            - np.asarray(PLANTED["log_mean"])[:, None]))
    np.testing.assert_allclose(p["weight"][order], PLANTED["weight"], atol=0.02)
    np.testing.assert_allclose(p["mean"][order, 0], PLANTED["log_mean"], atol=0.05)
    np.testing.assert_allclose(np.sqrt(p["var"][order, 0]), PLANTED["log_sd"], atol=0.04)
    np.testing.assert_allclose(p["share"][order, 0], PLANTED["share"], atol=0.03)
    np.testing.assert_allclose(p["rate"][order, 0], PLANTED["rate"], rtol=0.08)


def test_a_customer_who_showed_nothing_gets_the_class_shares_not_a_guess():
    frame, _ = _planted()
    fit = LatentClassMixture(3, LAYOUT).fit(frame)
    silent = pd.DataFrame({"lead": [np.nan], "contacts": [0], "chats": [0], "days": [0.0],
                           "checks": [0]})
    np.testing.assert_allclose(fit.predict_proba(silent)[0], fit.params_["weight"], atol=1e-9)
    zero_lead = silent.assign(lead=0.0)  # not a duration either: left out, not log(0)
    np.testing.assert_allclose(fit.predict_proba(zero_lead)[0], fit.params_["weight"],
                               atol=1e-9)


def test_the_information_criteria_choose_the_planted_number_of_classes():
    frame, _ = _planted()
    fits = {k: LatentClassMixture(k, LAYOUT).fit(frame) for k in (2, 3, 4)}
    assert min(fits, key=lambda k: fits[k].bic_) == 3
    assert min(fits, key=lambda k: fits[k].icl_) == 3
    assert all(f.icl_ >= f.bic_ for f in fits.values())


def test_a_table_without_a_column_of_the_layout_is_refused():
    frame, _ = _planted(200)
    with pytest.raises(ValueError, match="missing behaviour feature.*checks"):
        LatentClassMixture(2, LAYOUT).fit(frame.drop(columns="checks"))


def test_the_rows_log_sum_exp_is_scipys_to_the_bit():
    """The EM loop's own log-sum-exp gives scipy's numbers exactly: fits do not move."""
    rng = np.random.default_rng(3)
    for shape in [(5000, 3), (2000, 5), (7, 2), (1, 1)]:
        joint = rng.normal(size=shape) * rng.choice([1e-3, 1.0, 50.0, 800.0])
        joint[0] = 2.5  # a row of ties
        if shape[1] > 1:
            joint[-1, 0] = -np.inf  # an impossible class
            joint[len(joint) // 2, 1:] = joint[len(joint) // 2, 0] - 1e-15  # nearly tied
        ours = log_sum_exp_rows(joint)
        assert ours.shape == (shape[0], 1)
        assert np.array_equal(ours, logsumexp(joint, axis=1, keepdims=True)), shape
