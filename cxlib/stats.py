"""Small statistics that return tidy rows: ``estimate``, ``ci_low``, ``ci_high``, ``n``.

Every report number with uncertainty goes through one of these, so notebooks and dashboards
print, plot and save them without reshaping.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.duration.survfunc import SurvfuncRight
from statsmodels.stats.proportion import proportion_confint

LEVEL = 0.95
STAT_COLUMNS = ["estimate", "ci_low", "ci_high", "n"]


def _row(estimate: float, low: float, high: float, n: int) -> dict[str, float]:
    return {"estimate": float(estimate), "ci_low": float(low), "ci_high": float(high), "n": int(n)}


def not_estimable(n: int = 0, *extra: str) -> dict[str, float]:
    """Return a row for a group too small to estimate: NaN statistics (and ``extra``), its ``n``."""
    return {**_row(np.nan, np.nan, np.nan, n), **dict.fromkeys(extra, np.nan)}


def mean_ci(values: pd.Series | np.ndarray, level: float = LEVEL) -> dict[str, float]:
    """Mean with a t-interval."""
    x = pd.Series(values, dtype="float64").dropna().to_numpy()
    n = len(x)
    if n == 0:
        return not_estimable()
    if n == 1:
        return _row(x[0], np.nan, np.nan, 1)
    half = sps.t.ppf((1 + level) / 2, n - 1) * x.std(ddof=1) / np.sqrt(n)
    return _row(x.mean(), x.mean() - half, x.mean() + half, n)


def median_ci(values: pd.Series | np.ndarray, level: float = LEVEL) -> dict[str, float]:
    """Median with a distribution-free (binomial order-statistic) interval."""
    x = np.sort(pd.Series(values, dtype="float64").dropna().to_numpy())
    n = len(x)
    if n == 0:
        return not_estimable()
    lo_k = int(sps.binom.ppf((1 - level) / 2, n, 0.5))
    hi_k = int(sps.binom.ppf((1 + level) / 2, n, 0.5))
    low = x[lo_k - 1] if lo_k >= 1 else np.nan
    high = x[hi_k] if hi_k < n else np.nan
    return _row(np.median(x), low, high, n)


def proportion_ci(successes: int, n: int, level: float = LEVEL) -> dict[str, float]:
    """Share of successes with a Wilson interval."""
    if n == 0:
        return not_estimable()
    low, high = proportion_confint(successes, n, alpha=1 - level, method="wilson")
    return _row(successes / n, low, high, n)


def share_ci(values: pd.Series | np.ndarray, low: float, high: float,
             level: float = LEVEL) -> dict[str, float]:
    """Share of answers between ``low`` and ``high`` inclusive (a top-box), Wilson interval."""
    x = pd.Series(values, dtype="float64").dropna().to_numpy()
    return proportion_ci(int(((x >= low) & (x <= high)).sum()), len(x), level)


def nps_ci(scores: pd.Series | np.ndarray, level: float = LEVEL) -> dict[str, float]:
    """Net Promoter Score (% promoters 9–10 minus % detractors 0–6) with a normal interval."""
    x = pd.Series(scores, dtype="float64").dropna().to_numpy()
    n = len(x)
    if n == 0:
        return not_estimable()
    promoters, detractors = np.mean(x >= 9), np.mean(x <= 6)
    score = promoters - detractors
    se = np.sqrt(max(promoters + detractors - score**2, 0.0) / n)
    z = sps.norm.ppf((1 + level) / 2)
    return _row(100 * score, 100 * (score - z * se), 100 * (score + z * se), n)


def km_median(durations: pd.Series | np.ndarray, observed: pd.Series | np.ndarray,
              level: float = LEVEL) -> dict[str, float]:
    """Kaplan–Meier median of right-censored durations, with its interval.

    ``observed`` is False for journeys still open at the cut-off (censored). An estimate or bound
    the data cannot reach (too many censored) comes back as NaN rather than a guess.
    """
    t = np.asarray(durations, dtype="float64")
    d = np.asarray(observed, dtype="int64")
    keep = ~np.isnan(t)
    t, d = t[keep], d[keep]
    if len(t) == 0 or d.sum() == 0:
        return not_estimable(len(t))
    sf = SurvfuncRight(t, d)
    with np.errstate(divide="ignore", invalid="ignore"):  # bounds the data cannot reach → NaN
        low, high = sf.quantile_ci(0.5, alpha=1 - level)
    return _row(sf.quantile(0.5), low, high, len(t))


def grouped(data: pd.DataFrame, by: str | list[str] | None,
            stat: Callable[[pd.DataFrame], dict[str, float]]) -> pd.DataFrame:
    """Apply a one-row statistic overall (``by=None``) or per group; return a tidy table."""
    if by is None:
        return pd.DataFrame([stat(data)])
    keys = [by] if isinstance(by, str) else list(by)
    rows = [{**dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True)),
             **stat(group)} for key, group in data.groupby(keys, observed=True, sort=True)]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=[*keys, *STAT_COLUMNS])
