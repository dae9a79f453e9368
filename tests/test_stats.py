import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from cxlib.stats import grouped, km_median, mean_ci, median_ci, nps_ci, proportion_ci


def test_mean_ci_matches_scipy_t_interval():
    x = np.array([2.0, 4.0, 4.0, 5.0, 7.0, 9.0])
    row = mean_ci(x)
    low, high = sps.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=sps.sem(x))
    assert row == pytest.approx({"estimate": x.mean(), "ci_low": low, "ci_high": high, "n": 6})


def test_empty_and_single_values_give_nan_not_errors():
    assert np.isnan(mean_ci([])["estimate"]) and mean_ci([])["n"] == 0
    one = mean_ci([3.0])
    assert one["estimate"] == 3.0 and np.isnan(one["ci_low"])


def test_wilson_interval_known_value():
    row = proportion_ci(8, 10)
    assert row["estimate"] == 0.8
    assert row["ci_low"] == pytest.approx(0.4902, abs=1e-4)
    assert row["ci_high"] == pytest.approx(0.9433, abs=1e-4)


def test_nps_is_promoters_minus_detractors():
    scores = [10, 9, 9, 8, 7, 6, 0, 10, 10, 3]  # 5 promoters, 3 detractors
    row = nps_ci(scores)
    assert row["estimate"] == pytest.approx(20.0)
    assert row["ci_low"] < 20 < row["ci_high"] and row["n"] == 10


def test_median_ci_brackets_the_median():
    rng = np.random.default_rng(0)
    row = median_ci(rng.exponential(5, 500))
    assert row["ci_low"] < row["estimate"] < row["ci_high"]


def test_km_median_equals_plain_median_without_censoring():
    t = np.arange(1.0, 12.0)
    assert km_median(t, np.ones_like(t))["estimate"] == pytest.approx(np.median(t))


def test_km_median_is_longer_than_the_naive_median_when_long_waits_are_censored():
    rng = np.random.default_rng(1)
    true = rng.exponential(10, 2000)
    cutoff = rng.uniform(0, 30, 2000)
    observed = true <= cutoff
    seen = np.minimum(true, cutoff)
    km = km_median(seen, observed)["estimate"]
    naive = np.median(seen[observed])
    assert naive < km
    assert km == pytest.approx(10 * np.log(2), rel=0.12)  # the exponential's true median


def test_grouped_returns_one_tidy_row_per_group():
    df = pd.DataFrame({"g": ["a", "a", "b"], "x": [1.0, 3.0, 5.0]})
    table = grouped(df, "g", lambda d: mean_ci(d["x"]))
    assert table["g"].tolist() == ["a", "b"]
    assert table["estimate"].tolist() == [2.0, 5.0]
    assert list(table.columns[:5]) == ["g", "estimate", "ci_low", "ci_high", "n"]
