"""Key drivers: Johnson's relative weights, checked by their identities and on planted truth."""


import numpy as np
import pandas as pd
import pytest

from cxlib import satisfaction as Sat
from cxlib.drivers import journey_drivers, key_drivers, relative_weights
from cxlib.survey_links import survey_journeys


def test_weights_sum_to_r_squared_and_are_squared_correlations_when_drivers_are_unrelated():
    rng = np.random.default_rng(2)
    n = 400
    base = rng.normal(size=(n, 3))
    x = pd.DataFrame(base @ np.array([[1, 0.6, 0.3], [0, 1, 0.5], [0, 0, 1]]), columns=list("abc"))
    y = pd.Series(0.5 * x["a"] - 0.2 * x["b"] + 0.8 * x["c"] + rng.normal(size=n))
    design = np.column_stack([np.ones(n), x])
    fitted = design @ np.linalg.lstsq(design, y, rcond=None)[0]
    r_squared = 1 - np.sum((y - fitted) ** 2) / np.sum((y - y.mean()) ** 2)
    assert relative_weights(x, y).sum() == pytest.approx(r_squared, rel=1e-10)

    unrelated = pd.DataFrame(np.linalg.qr(base - base.mean(axis=0))[0] * np.sqrt(n),
                             columns=list("abc"))  # exactly uncorrelated columns
    y = pd.Series(unrelated.to_numpy() @ [0.5, -0.2, 0.8] + rng.normal(size=n))
    squared = unrelated.apply(lambda c: np.corrcoef(c, y)[0, 1] ** 2)
    pd.testing.assert_series_equal(relative_weights(unrelated, y), squared, rtol=1e-9)


@pytest.fixture(scope="module")
def answers(full_world, spec):
    w = full_world
    frame = survey_journeys(w.data.surveys, w.journeys, w.data.customers, w.segments)
    return frame, Sat.promise_controls(frame, spec), w.truth["world"]


def test_csat_drivers_come_out_in_the_order_the_demo_planted(answers):
    """The planted latent satisfaction, without its noise, ranks the drivers; CSAT must too."""
    frame, _, world = answers
    done = frame[frame["status"] == "complete"]
    seg = world["segments"]
    slope = done["segment"].map({k: v["slope_per_day"] for k, v in seg.items()}) * np.where(
        done["kept_informed"], 1 - done["segment"].map(
            {k: v["informed_softening"] for k, v in seg.items()}), 1.0)
    past = (done["e2e_days"] - done["segment"].map(
        {k: v["threshold_days"] for k, v in seg.items()})).clip(lower=0)
    window = done["technician_in_window_late_or_missed"]
    planted = (-slope * past - world["window_breach_penalty"] * window
               - world["promise_cliff"] * (done["e2e_days"] > world["promise_days"]))
    drivers = ["e2e_days", "technician_in_window_late_or_missed",
               "live_within_7_days_broken", "contacts", "updates_sent"]
    rows = done[drivers].notna().all(axis=1)
    truth_order = relative_weights(done.loc[rows, drivers], planted[rows]).sort_values(
        ascending=False).index.tolist()
    found = key_drivers(done, "csat", drivers, n_boot=100)
    assert found["driver"].tolist() == truth_order
    assert (found["ci_low"].to_numpy()[:-1] > found["ci_high"].to_numpy()[1:]).all()  # apart
    assert found["estimate"].sum() == pytest.approx(found["r_squared"].iloc[0])


def test_contacts_drive_effort_first(answers):
    """The demo's effort score falls with every contact (and a missed visit), not with days."""
    frame, controls, _ = answers
    found = key_drivers(frame, "ces", journey_drivers(frame, controls), n_boot=100)
    assert found["driver"].iloc[0] == "contacts"
    assert found["ci_low"].iloc[0] > found["ci_high"].iloc[1]
    assert "customer_hours" not in found["driver"].tolist()  # the sum of the clocks listed
    assert found["rank"].tolist() == list(range(1, len(found) + 1))


def test_too_few_answers_estimate_nothing():
    frame = pd.DataFrame({"csat": [1, 2, 3], "e2e_days": [1.0, 2.0, 4.0]})
    found = key_drivers(frame, "csat", ["e2e_days"])
    assert found["estimate"].isna().all() and found["suppressed"].all()


def test_the_bootstrap_draws_the_same_resamples_as_copying_the_rows():
    """Weighted cross-products give each resample's weights as copying its rows would,
    and skip the same resamples: those in which a rare driver is never drawn."""
    from cxlib.drivers import _bootstrap_weights, _relative_weights

    rng = np.random.default_rng(5)
    n = 60
    x = np.column_stack([rng.normal(50, 10, n), rng.exponential(3, n),
                         (np.arange(n) == 7).astype(float)])  # one answer has the rare driver
    y = 0.05 * x[:, 0] - 0.3 * x[:, 1] + 2 * x[:, 2] + rng.normal(0, 1, n)
    draws = np.random.default_rng(11)
    expected = []
    for _ in range(300):
        rows = draws.integers(0, n, n)
        if (x[rows].std(axis=0) > 0).all():
            expected.append(_relative_weights(x[rows], y[rows]))
    found = _bootstrap_weights(np.column_stack([x, y]), 300, random_state=11)
    assert 50 < len(expected) < 300  # some resamples miss answer 7: they are skipped
    np.testing.assert_allclose(found, np.array(expected), rtol=1e-9, atol=1e-12)
