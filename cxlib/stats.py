"""Small statistics that return tidy rows: ``estimate``, ``ci_low``, ``ci_high``, ``n``.

Every report number with uncertainty goes through one of these, so notebooks and dashboards
print, plot and save them without reshaping. They are computed with :mod:`scipy.special`, not
``scipy.stats`` or statsmodels, so every dashboard viewer's kernel starts without those
(1.1 s and tens of MB each); a test checks each one equals the statsmodels / scipy.stats
result it stands for (Wilson interval, t and binomial quantiles, Kaplan–Meier with
Greenwood's error and the log-log quantile interval of ``SurvfuncRight``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import special

LEVEL = 0.95
STAT_COLUMNS = ["estimate", "ci_low", "ci_high", "n"]


def _row(estimate: float, low: float, high: float, n: int) -> dict[str, float]:
    return {"estimate": float(estimate), "ci_low": float(low), "ci_high": float(high), "n": int(n)}


def not_estimable(n: int = 0, *extra: str) -> dict[str, float]:
    """Return a row for a group too small to estimate: NaN statistics (and ``extra``), its ``n``."""
    return {**_row(np.nan, np.nan, np.nan, n), **dict.fromkeys(extra, np.nan)}


def _present(values: pd.Series | np.ndarray) -> np.ndarray:
    """Return the values as floats without the missing ones (a float array passes as is)."""
    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        return values[~np.isnan(values)]
    return pd.Series(values, dtype="float64").dropna().to_numpy()


def mean_ci(values: pd.Series | np.ndarray, level: float = LEVEL) -> dict[str, float]:
    """Mean with a t-interval."""
    x = _present(values)
    n = len(x)
    if n == 0:
        return not_estimable()
    if n == 1:
        return _row(x[0], np.nan, np.nan, 1)
    half = special.stdtrit(n - 1, (1 + level) / 2) * x.std(ddof=1) / np.sqrt(n)
    return _row(x.mean(), x.mean() - half, x.mean() + half, n)


def median_ci(values: pd.Series | np.ndarray, level: float = LEVEL) -> dict[str, float]:
    """Median with a distribution-free (binomial order-statistic) interval."""
    x = np.sort(_present(values))
    n = len(x)
    if n == 0:
        return not_estimable()
    lo_k, hi_k = _binomial_quantiles(n, ((1 - level) / 2, (1 + level) / 2))
    low = x[lo_k - 1] if lo_k >= 1 else np.nan
    high = x[hi_k] if hi_k < n else np.nan
    return _row(np.median(x), low, high, n)


def _binomial_quantiles(n: int, probabilities: tuple[float, ...]) -> list[int]:
    """Return scipy.stats.binom(n, 0.5).ppf of each probability: the least k with cdf ≥ p."""
    cdf = special.bdtr(np.arange(n + 1), n, 0.5)
    return [int(np.searchsorted(cdf, p, side="left")) for p in probabilities]


def proportion_ci(successes: int, n: int, level: float = LEVEL) -> dict[str, float]:
    """Share of successes with a Wilson interval."""
    if n == 0:
        return not_estimable()
    share = successes / n
    z = -special.ndtri((1 - level) / 2)
    centre = (share + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(share * (1 - share) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    low, high = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    return _row(successes / n, low, high, n)


def share_ci(values: pd.Series | np.ndarray, low: float, high: float,
             level: float = LEVEL) -> dict[str, float]:
    """Share of answers between ``low`` and ``high`` inclusive (a top-box), Wilson interval."""
    x = _present(values)
    return proportion_ci(int(((x >= low) & (x <= high)).sum()), len(x), level)


def nps_ci(scores: pd.Series | np.ndarray, level: float = LEVEL) -> dict[str, float]:
    """Net Promoter Score (% promoters 9–10 minus % detractors 0–6) with a normal interval."""
    x = _present(scores)
    n = len(x)
    if n == 0:
        return not_estimable()
    promoters, detractors = np.mean(x >= 9), np.mean(x <= 6)
    score = promoters - detractors
    se = np.sqrt(max(promoters + detractors - score**2, 0.0) / n)
    z = special.ndtri((1 + level) / 2)
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
    times, surv, se = kaplan_meier(t, d)
    below = np.flatnonzero(surv < 0.5)
    median = times[below[0]] if len(below) else np.nan
    # the log-log interval: the event times whose survival a z-test cannot tell from 0.5
    with np.errstate(divide="ignore", invalid="ignore"):  # bounds the data cannot reach → NaN
        r = (np.log(-np.log(surv)) - np.log(-np.log(0.5))) / (-se / (surv * np.log(surv)))
    inside = np.flatnonzero(np.abs(r) <= special.ndtri((1 + level) / 2))
    if len(inside) == 0:
        low = high = np.nan
    else:
        low = times[inside[0]]
        high = np.inf if inside[-1] == len(times) - 1 else times[inside[-1] + 1]
    return _row(median, low, high, len(t))


def kaplan_meier(durations: np.ndarray, observed: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kaplan–Meier survival at each event time, with Greenwood's standard error.

    Parameters
    ----------
    durations : times to the event or to censoring (no NaN).
    observed : 1 where the event happened, 0 where the duration is censored.

    Returns
    -------
    times, survival, standard_error
        One value per distinct event time, ascending (as statsmodels' ``SurvfuncRight``).
    """
    times, rank = np.unique(durations, return_inverse=True)
    events = np.bincount(rank, weights=observed, minlength=len(times))
    at_risk = np.cumsum(np.bincount(rank, minlength=len(times))[::-1])[::-1]
    keep = np.flatnonzero(events > 0)
    times, events, at_risk = times[keep], events[keep], at_risk[keep]
    step = 1 - events / at_risk.astype(np.float64)
    gone = step < 1e-16
    surv = np.exp(np.cumsum(np.log(np.where(gone, 1e-16, step))))
    surv[gone] = 0
    greenwood = events / np.clip(at_risk * (at_risk - events), 1e-12, np.inf).astype(np.float64)
    greenwood[(at_risk == events) | (at_risk == 0)] = np.nan
    se = np.sqrt(np.cumsum(greenwood))
    known = np.isfinite(se) | (surv != 0)
    se[known] *= surv[known]
    se[~known] = np.nan
    return times, surv, se


def grouped(data: pd.DataFrame, by: str | list[str] | None,
            stat: Callable[[pd.DataFrame], dict[str, float]]) -> pd.DataFrame:
    """Apply a one-row statistic overall (``by=None``) or per group; return a tidy table."""
    if by is None:
        return pd.DataFrame([stat(data)])
    keys = [by] if isinstance(by, str) else list(by)
    rows = [{**dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True)),
             **stat(group)} for key, group in data.groupby(keys, observed=True, sort=True)]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=[*keys, *STAT_COLUMNS])
