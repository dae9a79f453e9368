"""Which lever pays for which segment: save time, engage time, or dissolve the wait.

Three ways to spend less of a customer's patience: **save** time (a shorter journey past the
point where satisfaction starts to fall), **engage** time (time the customer chooses to spend —
a walkthrough, a call — when it is valuable to them), **dissolve** the wait (proactive updates,
so the same days cost less). Per segment, one ordinal-logit fit of the score on the days past
the segment's tolerance threshold, those days for customers kept informed, and the hours the
customer engaged gives each lever's effect on the latent (log-odds) scale, with its interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chi2, norm

from cxlib.privacy import MIN_GROUP_SIZE, suppress_small_groups
from cxlib.satisfaction import WeightedOrderedLogit, ordered_outcome
from cxlib.stats import LEVEL

LEVERS = {  # lever: (model term, sign that makes the effect "satisfaction kept", what it means)
    "save": ("days_past", -1.0, "log-odds of a higher score kept per day saved past the "
             "threshold"),
    "dissolve": ("days_past_informed", 1.0, "log-odds given back per day past the threshold "
                 "when the customer is kept informed"),
    "engage": ("engaged_hours", 1.0, "log-odds per hour the customer chose to spend"),
}


def _design(g: pd.DataFrame, tau: float, duration: str, engaged: str | None,
            controls: tuple[str, ...]) -> pd.DataFrame:
    past = (g[duration] - tau).clip(lower=0)
    columns = {"days_past": past,
               "days_past_informed": past * g["kept_informed"].astype(float)}
    if engaged:
        columns["engaged_hours"] = g[engaged].fillna(0.0) / 60.0
    columns.update({c: g[c].astype(float) for c in controls})
    return pd.DataFrame(columns, index=g.index)


def lever_table(data: pd.DataFrame, thresholds: pd.DataFrame, outcome: str = "csat",
                engaged: str | None = "engaged_minutes", controls: tuple[str, ...] = (),
                duration: str = "e2e_days", level: float = LEVEL,
                min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Estimate the save / engage / dissolve levers per segment.

    Parameters
    ----------
    data
        Answers with ``segment``, ``kept_informed``, the score, ``duration`` and ``engaged``
        (minutes of chosen engagement; missing counts as none).
    thresholds
        Per segment, the tolerance threshold (:func:`cxlib.satisfaction.tolerance_threshold`).
    outcome
        The score.
    engaged
        Column of engaged minutes; ``None`` leaves the engage lever out.
    controls
        0/1 columns of promises seen broken.
    duration
        The wait.
    level
        The intervals' level.
    min_group_size
        Segments with fewer answers are suppressed.

    Returns
    -------
    One row per segment and ``lever``: ``estimate`` (log-odds of a higher score kept, per unit),
    ``ci_low``, ``ci_high``, ``n``, ``p_value`` and ``meaning``.

    """
    done = data[data["status"] == "complete"] if "status" in data.columns else data
    taus = thresholds.set_index("segment")["estimate"]
    z = norm.ppf(0.5 + level / 2)
    rows = []
    for segment, g in done.groupby("segment", sort=True):
        tau = taus.get(segment, np.nan)
        design = _design(g, tau, duration, engaged, controls) if pd.notna(tau) else None
        keep = (design.notna().all(axis=1) & g[outcome].notna()) if design is not None else None
        n = int(keep.sum()) if keep is not None else 0
        fit = None
        if n >= max(min_group_size, 20) and g.loc[keep, outcome].nunique() > 1:
            design = design.loc[keep, design.loc[keep].std(ddof=0) > 0]
            fit = WeightedOrderedLogit(ordered_outcome(g.loc[keep, outcome]), design).fit(
                method="bfgs", disp=False, maxiter=2000)
        for lever, (term, sign, meaning) in LEVERS.items():
            if lever == "engage" and not engaged:
                continue
            if fit is None or term not in fit.params.index:
                rows.append({"segment": segment, "lever": lever, "estimate": np.nan,
                             "ci_low": np.nan, "ci_high": np.nan, "n": n, "p_value": np.nan,
                             "meaning": meaning})
                continue
            estimate, se = sign * fit.params[term], fit.bse[term]
            rows.append({"segment": segment, "lever": lever, "estimate": estimate,
                         "ci_low": estimate - z * se, "ci_high": estimate + z * se, "n": n,
                         "p_value": float(fit.pvalues[term]), "meaning": meaning})
    return suppress_small_groups(pd.DataFrame(rows), min_group_size)


def time_response_differs(data: pd.DataFrame, outcome: str = "csat", by: str = "segment",
                          duration: str = "e2e_days", controls: tuple[str, ...] = (),
                          level: float = LEVEL) -> dict[str, object]:
    """Test whether groups differ in how their score responds to waiting at all.

    A likelihood-ratio test of two ordinal logits: the score on ``duration``, the groups and
    ``controls``, against the same with one ``duration`` slope per group (the interaction).

    Returns
    -------
    ``chi2``, ``df``, ``p_value``, ``n``, ``differs`` and ``in_words``.

    """
    done = data[data["status"] == "complete"] if "status" in data.columns else data
    frame = done[[outcome, duration, by, *controls]].dropna()
    if frame[by].nunique() < 2:
        return {"chi2": np.nan, "df": 0, "p_value": np.nan, "n": len(frame), "differs": False,
                "in_words": f"one {by} only: nothing to compare"}
    groups = pd.get_dummies(frame[by].astype(str), prefix=by, dtype=float)
    base = pd.concat([frame[[duration, *controls]].astype(float), groups.iloc[:, 1:]], axis=1)
    slopes = groups.mul(frame[duration].astype(float), axis=0).iloc[:, 1:].add_suffix(
        f"_x_{duration}")
    levels = ordered_outcome(frame[outcome])
    small = WeightedOrderedLogit(levels, base).fit(method="bfgs", disp=False, maxiter=2000)
    large = WeightedOrderedLogit(levels, pd.concat([base, slopes], axis=1)).fit(
        method="bfgs", disp=False, maxiter=2000)
    stat, df = 2 * (large.llf - small.llf), slopes.shape[1]
    p_value = float(chi2.sf(stat, df))
    differs = p_value < 1 - level
    words = (f"the {by}s respond to waiting differently (p = {p_value:.2g}): one lever does "
             "not fit all" if differs else
             f"no evidence that the {by}s respond to waiting differently (p = {p_value:.2g})")
    return {"chi2": float(stat), "df": df, "p_value": p_value, "n": len(frame),
            "differs": differs, "in_words": words}
