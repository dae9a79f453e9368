"""What drives a score: the share of its explained variance each journey measure carries.

Journey measures are correlated (a long journey has more contacts and more broken promises), so
a regression's coefficients do not say which matters most. Johnson's relative weights (Johnson
2000, *Multivariate Behavioral Research* 35:1) split the model's R² among correlated drivers:
the drivers are replaced by their closest orthogonal counterparts, the score is regressed on
those, and each counterpart's share is carried back to the drivers it is made of. The weights
sum to R²; with uncorrelated drivers each is the squared correlation with the score. Intervals
come from a bootstrap over answers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxlib.privacy import MIN_GROUP_SIZE, suppress_small_groups
from cxlib.stats import LEVEL


def relative_weights(drivers: pd.DataFrame, score: pd.Series) -> pd.Series:
    """Return Johnson's relative weight of each driver (they sum to the regression's R²).

    Parameters
    ----------
    drivers
        Numeric columns, one per driver, no missing values, none constant.
    score
        The outcome, aligned with ``drivers``.

    Returns
    -------
    The weight of each driver, indexed by its name.

    """
    return pd.Series(_relative_weights(drivers.to_numpy(float), score.to_numpy(float)),
                     index=drivers.columns)


def _relative_weights(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return :func:`relative_weights` of the driver columns ``x`` for the score ``y``."""
    return _weights_of(np.corrcoef(np.column_stack([x, y]), rowvar=False))


def _weights_of(corr: np.ndarray) -> np.ndarray:
    """Return the relative weights from the correlations of the drivers and (last) the score."""
    r_xx, r_xy = corr[:-1, :-1], corr[:-1, -1]
    values, vectors = np.linalg.eigh(r_xx)
    root = vectors @ np.diag(np.sqrt(np.clip(values, 0, None))) @ vectors.T  # R_xx^(1/2)
    beta = np.linalg.lstsq(root, r_xy, rcond=None)[0]  # the score on the orthogonal drivers
    return (root ** 2) @ (beta ** 2)


def key_drivers(data: pd.DataFrame, outcome: str, drivers: list[str], n_boot: int = 200,
                level: float = LEVEL, random_state: int = 0,
                min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Rank what drives ``outcome``: each driver's relative weight with a bootstrap interval.

    Parameters
    ----------
    data
        One row per answer: the score and the journey measures (completed journeys are used).
    outcome
        The score (``csat``, ``nps``, ``ces``), read as a number.
    drivers
        Candidate drivers (numeric columns; 0/1 for a promise seen broken). Those constant in
        the answers are left out.
    n_boot, level, random_state
        Bootstrap resamples of the answers, the interval's level, the resampling seed.
    min_group_size
        Fewer answers than this: nothing is estimated.

    Returns
    -------
    One row per driver, most important first: ``estimate`` (its weight, in R² units) with
    ``ci_low`` and ``ci_high``, ``share`` (of the explained variance), ``rank``, ``n`` answers,
    and the model's ``r_squared``.

    """
    done = data[data["status"] == "complete"] if "status" in data.columns else data
    frame = done[[outcome, *drivers]].dropna().astype(float)
    used = [d for d in drivers if frame[d].std(ddof=0) > 0]
    n = len(frame)
    if n < max(min_group_size, len(used) + 2) or not used:
        table = pd.DataFrame({"driver": used or drivers, "estimate": np.nan, "ci_low": np.nan,
                              "ci_high": np.nan, "share": np.nan, "rank": np.nan, "n": n,
                              "r_squared": np.nan, "outcome": outcome})
        return suppress_small_groups(table, min_group_size, labels=("rank",))
    weights = relative_weights(frame[used], frame[outcome])
    boots = _bootstrap_weights(frame[[*used, outcome]].to_numpy(), n_boot, random_state)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(boots, [tail, 100 - tail], axis=0)
    r_squared = float(weights.sum())
    table = pd.DataFrame({"driver": used, "estimate": weights.to_numpy(), "ci_low": low,
                          "ci_high": high, "share": weights.to_numpy() / r_squared, "n": n,
                          "r_squared": r_squared, "outcome": outcome})
    table = table.sort_values("estimate", ascending=False, kind="stable").reset_index(drop=True)
    table.insert(5, "rank", np.arange(1, len(table) + 1))
    return suppress_small_groups(table, min_group_size, labels=("rank",))


CONSTANT = 1e-9  # a driver whose resampled variance is below this share of its own is constant


def _bootstrap_weights(z: np.ndarray, n_boot: int, random_state: int) -> np.ndarray:
    """Return the relative weights of ``n_boot`` resamples of the rows of ``z`` (score last).

    A resample is the rows drawn with replacement, as ever; its correlations come from the
    rows' weighted cross-products (each row weighted by how often it was drawn), one matrix
    product on the columns centred once, instead of copying the drawn rows: on 100,000 answers
    a resample took 120 ms that way. A resample in which a driver never varies (a rare one
    never drawn) is left out, as a correlation with it is undefined.
    """
    n = len(z)
    z = z - z.mean(axis=0)  # a resample's means stay near 0: no cancellation in the moments
    spread = z[:, :-1].var(axis=0)
    rng = np.random.default_rng(random_state)
    boots = []
    for _ in range(n_boot):
        drawn = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        mean = drawn @ z / n
        cov = z.T @ (z * drawn[:, None]) / n - np.outer(mean, mean)
        if (np.diag(cov)[:-1] > CONSTANT * spread).all():
            sd = np.sqrt(np.diag(cov))
            boots.append(_weights_of(np.clip(cov / np.outer(sd, sd), -1, 1)))
    return np.array(boots)


def journey_drivers(data: pd.DataFrame, controls: list[str]) -> list[str]:
    """Return the journey measures a driver analysis can take from the answers' columns.

    End-to-end days, unowned hand-off hours, contacts, updates sent, each team's and each
    customer-time clock's hours (the customer's total where the spec names no such clock), and
    ``controls`` (0/1 per promise seen
    broken, from :func:`cxlib.satisfaction.promise_controls`) — those present.
    """
    clocks = [c for c in data.columns if c.endswith("_hours")
              and (c.startswith("team_") or c.startswith("customer_")) and c != "customer_hours"]
    # the customer's total is the sum of their clocks: with those, it would only split weight
    total = [] if any(c.startswith("customer_") for c in clocks) else ["customer_hours"]
    named = ["e2e_days", "unowned_hours", *total, "contacts", "updates_sent"]
    return [c for c in dict.fromkeys([*named, *clocks, *controls]) if c in data.columns]
