"""Who answered: respondents against every journey asked, and weights that let them stand for all.

Survey respondents are rarely a random draw of the customers: where slow journeys answer more
often (to complain) — or less (they gave up) — the raw scores describe the respondents, not the
customers. :func:`respondent_balance` sets the journeys that answered beside those that did not,
with standardised differences; :func:`response_weights` models each asked journey's chance of
answering (a logistic regression) and weights every answer by its inverse, so that
:func:`weighted_scores` can show the weighted scores beside the raw ones.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from scipy import stats as st
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cxlib.engines import is_in
from cxlib.privacy import MIN_GROUP_SIZE, suppress_small_groups
from cxlib.satisfaction import ANSWER_VALUES
from cxlib.stats import LEVEL

IMBALANCE = 0.1  # |standardised difference| from which groups are said to differ (Austin 2009)
MAX_WEIGHT = 10.0  # weights are capped at this multiple of the mean (documented trimming)


def asked_journeys(journeys: pd.DataFrame, as_of: datetime, answer_days: float) -> pd.DataFrame:
    """Return the journeys every customer was asked about: completed long enough before the cut-off.

    Parameters
    ----------
    journeys
        The journey table (``status``, ``end_ts``).
    as_of
        The cut-off.
    answer_days
        How long after a journey ends its survey may still come: later journeys are not yet
        asked, so they are neither respondents nor non-respondents.

    Returns
    -------
    The completed journeys that ended at least ``answer_days`` before ``as_of``.

    """
    done = journeys[journeys["status"] == "complete"]
    return done[done["end_ts"] <= pd.Timestamp(as_of) - timedelta(days=answer_days)]


def _indicators(frame: pd.DataFrame, covariates: list[str]) -> pd.DataFrame:
    """Numbers as they are; each level of a label as its own 0/1 column (``name=level``)."""
    parts = []
    for name in covariates:
        values = frame[name]
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            parts.append(values.astype("float64").rename(name))
        else:
            levels = values.astype("str").where(values.notna(), "(missing)")
            parts.append(pd.get_dummies(levels, prefix=name, prefix_sep="=", dtype="float64"))
    return pd.concat(parts, axis=1)


def respondent_balance(asked: pd.DataFrame, answered: pd.Series, covariates: list[str],
                       min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Compare the journeys that answered with those that did not, covariate by covariate.

    Parameters
    ----------
    asked
        The journeys asked (:func:`asked_journeys`), with the covariates as columns.
    answered
        Per row of ``asked``, whether an answer came.
    covariates
        Columns to compare: numbers by their mean, labels (region, segment) by the share at
        each level.
    min_group_size
        Respondents or non-respondents fewer than this: the comparison is suppressed.

    Returns
    -------
    One row per covariate (per level for a label): ``respondents`` and ``non_respondents``
    (mean or share), ``std_difference`` (difference over the pooled standard deviation) and
    ``differs`` (its size at least :data:`IMBALANCE`), with both group sizes as ``n`` and
    ``n_non_respondents``. A level held by fewer than ``min_group_size`` journeys among the
    respondents or the others shows no shares.

    """
    design = _indicators(asked, covariates)
    said = answered.to_numpy(bool)
    rows = []
    for column in design.columns:
        yes, no = design[column].to_numpy()[said], design[column].to_numpy()[~said]
        yes, no = yes[~np.isnan(yes)], no[~np.isnan(no)]
        pooled = np.sqrt((yes.var(ddof=1) + no.var(ddof=1)) / 2) if min(len(yes), len(no)) > 1 \
            else np.nan
        diff = (yes.mean() - no.mean()) / pooled if pooled and pooled > 0 else 0.0
        # a label's level held by fewer than min_group_size journeys on either side: its
        # shares (times n, a count) would show that small group, so they are blanked
        rare = column not in covariates and min(yes.sum(), no.sum()) < min_group_size
        rows.append({"covariate": column, "respondents": yes.mean() if len(yes) else np.nan,
                     "non_respondents": no.mean() if len(no) else np.nan,
                     "std_difference": diff, "differs": bool(abs(diff) >= IMBALANCE),
                     "n": len(yes), "n_non_respondents": len(no), "_rare": rare})
    table = pd.DataFrame(rows)
    hidden = (table["n_non_respondents"] < min_group_size) | table.pop("_rare")
    table.loc[hidden, ["respondents", "non_respondents", "std_difference"]] = np.nan
    table.loc[hidden, "differs"] = False
    return suppress_small_groups(table, min_group_size, labels=("covariate",))


def response_weights(asked: pd.DataFrame, answered: pd.Series, covariates: list[str],
                     max_weight: float = MAX_WEIGHT) -> pd.Series:
    """Weight each answering journey by the inverse of its modelled chance of answering.

    Parameters
    ----------
    asked, answered, covariates
        As for :func:`respondent_balance`; a label enters the model as one indicator per
        level, a number linearly, all standardised; the logistic regression is mildly
        penalised (scikit-learn's default L2, ``C=1``), so a level where everybody or nobody
        answered cannot push a chance to 0 or 1.
    max_weight
        Cap, as a multiple of the mean weight, so that a few unlikely respondents cannot carry
        the estimate (the cap is applied once, then weights are rescaled).

    Returns
    -------
    Per row of ``asked``: the weight (mean 1 over respondents), NaN where no answer came; all
    1 when every journey answered.

    Raises
    ------
    ValueError
        No journey answered: there is nobody to weight.

    """
    said = answered.to_numpy(bool)
    if not said.any():
        raise ValueError("of the journeys asked, none did answer: nobody to weight")
    if said.all():
        return pd.Series(1.0, index=asked.index)
    design = _indicators(asked, covariates)
    design = design.loc[:, design.std(ddof=0) > 0]  # a constant column says nothing
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    chance = model.fit(design.fillna(design.mean()), said).predict_proba(
        design.fillna(design.mean()))[:, 1]
    weights = pd.Series(np.where(said, 1.0 / chance, np.nan), index=asked.index)
    weights /= weights.mean()
    return (weights.clip(upper=max_weight) / weights.clip(upper=max_weight).mean())


WEIGHTED_SCORES = ("csat", "csat_top2_box", "nps", "ces")  # of satisfaction.ANSWER_VALUES


def weighted_mean_ci(values: pd.Series, weights: pd.Series, level: float = LEVEL
                     ) -> dict[str, float]:
    """Return a weighted mean with its interval (linearised variance) and ``n``.

    ``n_effective`` is Kish's effective sample size: how many equally weighted answers the
    weighted ones are worth.
    """
    keep = values.notna() & weights.notna()
    y, w = values[keep].to_numpy(float), weights[keep].to_numpy(float)
    n = len(y)
    if n < 2:
        return {"estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": n,
                "n_effective": float(n)}
    mean = float(np.sum(w * y) / np.sum(w))
    se = float(np.sqrt(n / (n - 1) * np.sum((w * (y - mean)) ** 2)) / np.sum(w))
    z = st.norm.ppf(0.5 + level / 2)
    return {"estimate": mean, "ci_low": mean - z * se, "ci_high": mean + z * se, "n": n,
            "n_effective": float(np.sum(w) ** 2 / np.sum(w ** 2))}


def weighted_scores(answers: pd.DataFrame, weight: str = "weight",
                    min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Every score raw and weighted, side by side, each with its interval and ``n``.

    Parameters
    ----------
    answers
        Survey answers (``csat``, ``nps``, ``ces``) with their journey's response weight.
    weight
        The weight column (:func:`response_weights`); answers without one are left out.
    min_group_size
        Scores on fewer answers are suppressed.

    Returns
    -------
    One row per score and ``estimate`` (``raw`` or ``weighted``): the interval, ``n`` and
    the effective ``n`` of the weighted answers.

    """
    weighted = answers[answers[weight].notna()]
    rows = []
    for score in WEIGHTED_SCORES:
        values = ANSWER_VALUES[score](weighted)
        for kind, w in (("raw", pd.Series(1.0, index=weighted.index)),
                        ("weighted", weighted[weight])):
            rows.append({"score": score, "estimate_kind": kind, **weighted_mean_ci(values, w)})
    return suppress_small_groups(pd.DataFrame(rows), min_group_size,
                                 labels=("score", "estimate_kind"))


def answer_weighting(journeys: pd.DataFrame, answers: pd.DataFrame, as_of: datetime,
                     answer_days: float, covariates: list[str] | None = None,
                     min_group_size: int = MIN_GROUP_SIZE) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Say who answered and what the scores are once respondents stand for everyone asked.

    Parameters
    ----------
    journeys
        The journey table (with ``region`` and ``segment`` where known).
    answers
        Survey answers linked to journeys (``journey_id``, ``csat``, ``nps``, ``ces``).
    as_of, answer_days
        The cut-off and how long after a journey's end an answer may come
        (:func:`asked_journeys`).
    covariates
        What the answer chance may depend on; default: end-to-end days, region, segment and
        every promise's outcome (those present).
    min_group_size
        Smaller groups are suppressed.

    Returns
    -------
    The balance table (:func:`respondent_balance`) and the raw and weighted scores
    (:func:`weighted_scores`).

    """
    asked = asked_journeys(journeys, as_of, answer_days)
    if covariates is None:
        covariates = [c for c in ("e2e_days", "region", "segment") if c in asked.columns]
        covariates += [c for c in asked.columns
                       if c.startswith("promise_") and asked[c].dtype.kind in "OUST"
                       and not c.endswith("_class")]
    answered = pd.Series(is_in(asked["journey_id"], answers["journey_id"]), index=asked.index)
    weights = pd.Series(response_weights(asked, answered, covariates).to_numpy()
                        if answered.any() else np.nan, index=asked["journey_id"].to_numpy())
    weighted = answers.assign(weight=answers["journey_id"].map(weights))
    return (respondent_balance(asked, answered, covariates, min_group_size),
            weighted_scores(weighted, min_group_size=min_group_size))
