import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from cxlib.stats import (
    grouped,
    km_median,
    mean_ci,
    median_ci,
    not_estimable,
    nps_ci,
    proportion_ci,
)


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


def test_median_ci_is_the_tabled_order_statistic_interval():
    # binomial order statistics: n=20 → (x(6), x(15)), n=7 → (x(1), x(7)), n=2 → not reachable
    assert median_ci(np.arange(1.0, 21.0)) == pytest.approx(
        {"estimate": 10.5, "ci_low": 6.0, "ci_high": 15.0, "n": 20})
    assert median_ci(np.arange(1.0, 8.0)) == pytest.approx(
        {"estimate": 4.0, "ci_low": 1.0, "ci_high": 7.0, "n": 7})
    two, one = median_ci([1.0, 2.0]), median_ci([4.0])
    assert two["estimate"] == 1.5 and np.isnan(two["ci_low"]) and np.isnan(two["ci_high"])
    assert one["estimate"] == 4.0 and one["n"] == 1 and np.isnan(one["ci_high"])


def test_nps_interval_is_the_normal_interval_of_a_difference_of_shares():
    # 50 promoters, 30 passives, 20 detractors: var = .5 + .2 − .3² = .61 per answer
    row = nps_ci([10] * 50 + [8] * 30 + [0] * 20)
    half = 100 * sps.norm.ppf(0.975) * np.sqrt(0.61 / 100)
    assert row == pytest.approx({"estimate": 30.0, "ci_low": 30 - half, "ci_high": 30 + half,
                                 "n": 100})
    assert nps_ci([10]) == pytest.approx({"estimate": 100.0, "ci_low": 100.0,
                                          "ci_high": 100.0, "n": 1})


def test_a_single_value_counts_as_one():
    assert mean_ci([3.0])["n"] == 1 and km_median([3.0], [True])["n"] == 1


def test_intervals_follow_the_requested_level():
    assert proportion_ci(8, 10, level=0.9) == pytest.approx(
        {"estimate": 0.8, "ci_low": 0.54079, "ci_high": 0.93144, "n": 10}, abs=1e-4)
    t = np.arange(1.0, 12.0)
    wide, narrow = km_median(t, np.ones_like(t)), km_median(t, np.ones_like(t), level=0.5)
    assert wide["ci_low"] < narrow["ci_low"] <= narrow["estimate"] <= narrow["ci_high"] \
        < wide["ci_high"]


def test_km_median_of_one_completed_journey_and_of_none():
    assert km_median([3.0], [True])["estimate"] == 3.0
    none = km_median([1.0, 2.0, 3.0], [False, False, False])
    assert np.isnan(none["estimate"]) and none["n"] == 3
    assert km_median([], [])["n"] == 0


def test_grouped_by_several_keys_sorted_and_only_observed_categories():
    df = pd.DataFrame({"g": pd.Categorical(["b", "a", "b"], categories=["c", "b", "a"]),
                       "h": ["y", "x", "x"], "x": [1.0, 3.0, 5.0]})
    table = grouped(df, ["h", "g"], lambda d: mean_ci(d["x"]))
    assert table[["h", "g"]].astype(str).values.tolist() == [["x", "b"], ["x", "a"],
                                                              ["y", "b"]]
    assert table["n"].tolist() == [1, 1, 1]  # no row for the unused category "c"
    empty = grouped(df.iloc[:0], "h", lambda d: mean_ci(d["x"]))
    assert empty.empty and list(empty.columns) == ["h", "estimate", "ci_low", "ci_high", "n"]


def test_a_group_too_small_to_estimate_has_nan_for_every_statistic():
    row = not_estimable(3, "p_value")
    assert row["n"] == 3 and all(np.isnan(row[k]) for k in ("estimate", "ci_low", "p_value"))


# --- the light statistics equal the library results they stand for ------------------------

durations = st.lists(st.tuples(st.integers(0, 60).map(lambda d: d / 4), st.booleans()),
                     min_size=1, max_size=300)


@settings(max_examples=300, deadline=None)
@given(durations)
def test_kaplan_meier_and_its_median_interval_equal_statsmodels(pairs):
    from statsmodels.duration.survfunc import SurvfuncRight

    from cxlib.stats import kaplan_meier

    t = np.array([p[0] for p in pairs])
    d = np.array([p[1] for p in pairs], dtype="int64")
    row = km_median(t, d)
    if d.sum() == 0:
        assert np.isnan(row["estimate"]) and row["n"] == len(t)
        return
    sf = SurvfuncRight(t, d)
    times, surv, se = kaplan_meier(t, d)
    np.testing.assert_array_equal(times, sf.surv_times)
    np.testing.assert_allclose(surv, sf.surv_prob, rtol=1e-12, atol=0)
    np.testing.assert_allclose(se, sf.surv_prob_se, rtol=1e-12, atol=0, equal_nan=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        low, high = sf.quantile_ci(0.5, alpha=0.05)
    np.testing.assert_equal([row["estimate"], row["ci_low"], row["ci_high"]],
                            [sf.quantile(0.5), low, high])


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
       st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_interval_equals_statsmodels(counts, level):
    from statsmodels.stats.proportion import proportion_confint

    successes, n = counts
    row = proportion_ci(successes, n, level)
    low, high = proportion_confint(successes, n, alpha=1 - level, method="wilson")
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), rel=1e-13, abs=1e-15)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=400),
       st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_mean_median_and_nps_intervals_equal_scipy_stats(values, level):
    x = np.array(values)
    n = len(x)
    half = sps.t.ppf((1 + level) / 2, n - 1) * x.std(ddof=1) / np.sqrt(n)
    mean = mean_ci(x, level)
    assert (mean["ci_low"], mean["ci_high"]) == pytest.approx(
        (x.mean() - half, x.mean() + half), rel=1e-12, abs=1e-9)
    ordered = np.sort(x)
    lo_k = int(sps.binom.ppf((1 - level) / 2, n, 0.5))
    hi_k = int(sps.binom.ppf((1 + level) / 2, n, 0.5))
    median = median_ci(x, level)
    assert median["ci_low"] == (ordered[lo_k - 1] if lo_k >= 1 else pytest.approx(np.nan,
                                                                                 nan_ok=True))
    assert median["ci_high"] == (ordered[hi_k] if hi_k < n else pytest.approx(np.nan,
                                                                             nan_ok=True))
    scores = np.abs(x).astype(int) % 11
    z = sps.norm.ppf((1 + level) / 2)
    nps = nps_ci(scores, level)
    assert nps["ci_high"] - nps["estimate"] == pytest.approx(
        z * 100 * np.sqrt(max(np.mean(scores >= 9) + np.mean(scores <= 6)
                              - (np.mean(scores >= 9) - np.mean(scores <= 6)) ** 2, 0) / n),
        rel=1e-9, abs=1e-9)


def test_binomial_quantiles_equal_scipy_stats_for_every_n_up_to_600():
    from cxlib.stats import _binomial_quantiles

    for n in [*range(1, 601), 20_000]:
        for level in (0.8, 0.9, 0.95, 0.99):
            probabilities = ((1 - level) / 2, (1 + level) / 2)
            assert _binomial_quantiles(n, probabilities) == [
                int(sps.binom.ppf(p, n, 0.5)) for p in probabilities], (n, level)
