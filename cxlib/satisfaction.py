"""Satisfaction against time: what each day costs in CSAT, NPS and CES, and where it starts.

All functions take the survey-journey table (:func:`cxlib.survey_links.survey_journeys`) and
return tidy tables (``estimate``, ``ci_low``, ``ci_high``, ``n``, and ``p_value`` where it
means something).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import optimize, special
from scipy.stats import chi2, norm
from statsmodels.miscmodels.ordinal_model import OrderedModel
from statsmodels.tools.numdiff import approx_fprime

from cxlib.answer_summaries import completed_answers
from cxlib.config import JourneySpec, WindowPromise
from cxlib.privacy import MIN_GROUP_SIZE, suppress_small_groups
from cxlib.stats import LEVEL, grouped, mean_ci, not_estimable, nps_ci, share_ci

OUTCOMES = ("csat", "nps", "ces")


def late_or_missed(data: pd.DataFrame, promise: str) -> pd.Series:
    """1.0 where a window promise ended late or missed (the customer waited in vain), else 0.0.

    A covariate for the satisfaction models: an early arrival also breaks the promise but does
    not leave the customer waiting.
    """
    return data[f"promise_{promise}_class"].isin(["late", "missed"]).astype(float)


def promise_controls(data: pd.DataFrame, spec: JourneySpec) -> list[str]:
    """Add a 0/1 column per promise the customer saw broken; return their names.

    ``<promise>_late_or_missed`` for a window promise (waited in vain: an early arrival breaks
    the promise but leaves nobody waiting), ``<promise>_broken`` for the others. The controls
    a satisfaction model takes so that a day's cost and the tolerance threshold are not
    confused with the loss when a promise breaks (none when the spec states no promise).
    """
    names = []
    for promise in spec.promises:
        if isinstance(promise, WindowPromise) and f"promise_{promise.name}_class" in data:
            name = f"{promise.name}_late_or_missed"
            data[name] = late_or_missed(data, promise.name)
        elif not isinstance(promise, WindowPromise) and f"promise_{promise.name}" in data:
            name = f"{promise.name}_broken"
            data[name] = (data[f"promise_{promise.name}"] == "breached").astype(float)
        else:
            continue
        names.append(name)
    return names


@dataclass(frozen=True)
class OrdinalFit:
    """A proportional-odds (ordinal logit) fit of a score on journey measures."""

    summary: pd.DataFrame
    model: object
    outcome: str

    def _repr_html_(self) -> str:
        return f"<b>Ordinal logit of {self.outcome}</b>" + self.summary.to_html(index=False)


class WeightedOrderedLogit(OrderedModel):
    """statsmodels' ordinal logit with frequency weights and an exact score.

    statsmodels' own score for the thresholds is numerical, which stops the optimiser near
    1e-6 of the optimum; this one is analytic, so fits agree with published ones to 6 decimals.
    A frequency weight ``w`` counts an answer ``w`` times (as ``weights = Freq`` in R's polr).
    """

    def __init__(self, endog: object, exog: object, freq_weights: object = None,
                 **kwargs: object) -> None:
        super().__init__(endog, exog, distr="logit", **kwargs)
        weights = np.ones(self.nobs) if freq_weights is None else np.asarray(freq_weights, float)
        self.freq_weights = weights

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """Return the logistic cdf: scipy.stats.logistic's formula without its argument checks.

        The checks cost more than the formula (7 of the tolerance threshold's 11 s of fits);
        the values are the same bits (a test compares them).
        """
        return special.expit(x)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Return the logistic density, as scipy.stats.logistic computes it (stable tails)."""
        y = -np.abs(x)
        return np.exp(y - 2.0 * special.log1p(np.exp(y)))

    def loglike(self, params: np.ndarray) -> float:
        """Return the log-likelihood, each answer counted by its frequency weight."""
        return float(np.sum(self.freq_weights * self.loglikeobs(params)))

    def score(self, params: np.ndarray) -> np.ndarray:
        """Return the analytic gradient of :meth:`loglike`."""
        params = np.asarray(params, float)
        low, upp = self._bounds(params)
        prob = np.maximum(self.prob(low, upp), 1e-300)
        pdf_low, pdf_upp = self.pdf(low), self.pdf(upp)  # 0 at ±inf
        weight = self.freq_weights / prob
        k_exog = self.exog.shape[1] if self.exog is not None else 0
        d_exog = -(weight * (pdf_upp - pdf_low)) @ self.exog if k_exog else np.empty(0)
        # threshold j (0-based) is the upper bound of level j and the lower bound of level j+1
        level = np.asarray(self.endog, int)
        n_cuts = len(params) - k_exog
        d_cut = np.array([np.sum(weight * (pdf_upp * (level == j) - pdf_low * (level == j + 1)))
                          for j in range(n_cuts)])
        # cut_j = θ_0 + Σ_{1≤i≤j} exp(θ_i): chain rule to statsmodels' increments
        theta = params[k_exog:]
        d_theta = np.array([d_cut.sum()] + [np.exp(theta[i]) * d_cut[i:].sum()
                                            for i in range(1, n_cuts)])
        return np.concatenate([d_exog, d_theta])

    def hessian(self, params: np.ndarray) -> np.ndarray:
        """Return the Hessian as central differences of the analytic :meth:`score`.

        statsmodels differentiates the log-likelihood twice numerically, which amplifies its
        last-digit rounding (it changes with the BLAS thread count) into the fourth digit of a
        weakly identified standard error; one numerical step on the exact gradient does not.
        """
        jacobian = approx_fprime(np.asarray(params, float), self.score, centered=True)
        return (jacobian + jacobian.T) / 2


def ordered_outcome(values: pd.Series) -> pd.Series:
    """Return a score as an ordered categorical: labels as declared, numbers by value."""
    if isinstance(values.dtype, pd.CategoricalDtype) and values.cat.ordered:
        return values.cat.remove_unused_categories()
    return pd.Series(pd.Categorical(values.astype(int), ordered=True), index=values.index)


def ordinal_fit(data: pd.DataFrame, outcome: str = "csat",
                predictors: tuple[str, ...] = ("e2e_days",), *, formula: str | None = None,
                weights: str | None = None) -> OrdinalFit:
    """Fit an ordered outcome with a proportional-odds (ordinal logit) model.

    Either ``outcome`` on numeric ``predictors``, or a ``formula`` with categorical covariates
    (``"Sat ~ C(Infl) + C(Type) + C(Cont)"``; the outcome is its left side). The outcome may be
    numeric scores or ordered labels (an ordered pandas Categorical: "Low" < "Medium" < "High").
    ``weights`` names a column of frequency weights. Rows missing any used value are left out;
    answers about journeys that are not complete too (see :func:`cost_per_day`).

    Coefficients are on the log-odds scale: a negative ``e2e_days`` term means each extra day
    makes a higher score less likely. ``odds_ratio`` is ``exp(estimate)``; ``n`` counts rows
    (answers, or cells of a weighted table).
    """
    frame = completed_answers(data)
    if formula is not None:
        outcome = formula.split("~", 1)[0].strip()
        used = [c for c in frame.columns if re.search(rf"(?<![\w.]){re.escape(str(c))}(?![\w.])",
                                                      formula)]
        frame = frame[[*used, *([weights] if weights and weights not in used else [])]].dropna()
        frame = frame.assign(**{outcome: ordered_outcome(frame[outcome])})
        model = WeightedOrderedLogit.from_formula(
            formula, frame, freq_weights=frame[weights] if weights else None)
    else:
        frame = frame[[outcome, *predictors, *([weights] if weights else [])]].dropna()
        model = WeightedOrderedLogit(ordered_outcome(frame[outcome]),
                                      frame[list(predictors)].astype("float64"),
                                      freq_weights=frame[weights] if weights else None)
    first = model.fit(method="bfgs", disp=False, maxiter=2000)
    result = model.fit(start_params=first.params, method="newton", disp=False, maxiter=50)
    ci = result.conf_int()
    terms = list(model.exog_names[:model.exog.shape[1]])  # the thresholds follow
    summary = pd.DataFrame({
        "term": terms,
        "estimate": result.params[terms].to_numpy(),
        "ci_low": ci.loc[terms, 0].to_numpy(),
        "ci_high": ci.loc[terms, 1].to_numpy(),
        "p_value": result.pvalues[terms].to_numpy(),
        "n": len(frame),
    }).assign(odds_ratio=lambda d: np.exp(d["estimate"]))
    return OrdinalFit(summary, result, outcome)


def ordinal_thresholds(fit: OrdinalFit) -> pd.Series:
    """Return the fitted cut-points between adjacent levels, on the log-odds scale (R's polr)."""
    model, params = fit.model.model, np.asarray(fit.model.params, float)
    cuts = model.transform_threshold_params(params)[1:-1]
    labels = list(model.labels)
    return pd.Series(cuts, index=[f"{a}|{b}" for a, b in zip(labels, labels[1:], strict=False)])


def proportional_odds_check(data: pd.DataFrame, outcome: str = "csat",
                            predictors: tuple[str, ...] = ("e2e_days",),
                            level: float = 0.95) -> pd.DataFrame:
    """Test the ordinal model's one assumption: each predictor moves every cut-point alike.

    Brant's (1990) Wald test: one binary logit per cut (a score above level j against at or
    below it) gives each predictor one coefficient per cut; under proportional odds they are
    equal. The test compares them with their joint covariance (Brant's formula), for every
    predictor and all together (as R's ``brant`` package does).

    Parameters
    ----------
    data
        Answers with the score and the predictors (completed journeys are used).
    outcome
        The ordered score.
    predictors
        Numeric predictors of the ordinal model.
    level
        Below ``1 − level`` a p-value says the assumption does not hold.

    Returns
    -------
    One row per predictor and one ``all`` row: ``chi2``, ``df``, ``p_value``, ``holds`` and
    ``in_words``, a sentence a reader can take as it is.

    """
    frame = completed_answers(data)[[outcome, *predictors]].dropna()
    levels = np.sort(frame[outcome].unique())
    x = np.column_stack([np.ones(len(frame)), frame[list(predictors)].to_numpy(float)])
    cuts = levels[:-1]
    fits, chances = [], []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a fit that does not converge checks nothing
            for cut in cuts:  # one binary logit per cut
                above = (frame[outcome].to_numpy() > cut).astype(float)
                coef = sm.Logit(above, x).fit(disp=0, method="newton", maxiter=100).params
                fits.append(coef)
                chances.append(1 / (1 + np.exp(-x @ coef)))
    except (np.linalg.LinAlgError, ValueError, Warning) as exc:
        fits = []
        reason = f"{type(exc).__name__}: {exc}".split("\n")[0]
    if len(cuts) < 2 or len(fits) < len(cuts):
        why = ("fewer than three levels answered" if len(cuts) < 2 else
               f"a cut's logit could not be fitted ({reason})")
        return pd.DataFrame([{"term": t, "chi2": np.nan, "df": np.nan, "p_value": np.nan,
                              "holds": False, "n": len(frame),
                              "in_words": f"{t}: not checked — {why}"}
                             for t in (*predictors, "all")])
    k, p = len(cuts), x.shape[1]
    info = [np.linalg.inv((x * (c * (1 - c))[:, None]).T @ x) for c in chances]
    cov = np.zeros((k * p, k * p))
    for m in range(k):
        for n_ in range(m, k):  # Brant: cov(b_m, b_l) = I_m⁻¹ X'W_ml X I_l⁻¹
            w = chances[n_] - chances[m] * chances[n_]
            block = info[m] @ (x * w[:, None]).T @ x @ info[n_]
            cov[m * p:(m + 1) * p, n_ * p:(n_ + 1) * p] = block
            cov[n_ * p:(n_ + 1) * p, m * p:(m + 1) * p] = block.T
    stacked = np.concatenate(fits)

    def wald(columns: list[int]) -> tuple[float, int]:
        rows = []  # b_1 − b_j for each later cut j, for each tested predictor
        for j in range(1, k):
            for col in columns:
                d = np.zeros(k * p)
                d[col], d[j * p + col] = 1.0, -1.0
                rows.append(d)
        contrast = np.array(rows)
        diff = contrast @ stacked
        stat = float(diff @ np.linalg.pinv(contrast @ cov @ contrast.T) @ diff)
        return stat, len(rows)

    out = []
    for name, columns in [*[(n, [i + 1]) for i, n in enumerate(predictors)],
                          ("all", list(range(1, p)))]:
        stat, df = wald(columns)
        p_value = float(chi2.sf(stat, df))
        holds = p_value >= 1 - level
        what = "every predictor" if name == "all" else name
        words = (f"{what}: moves every cut-point of {outcome} alike (the model's assumption "
                 f"holds, p = {p_value:.2g})" if holds else
                 f"{what}: moves some cut-points of {outcome} more than others (p = "
                 f"{p_value:.2g}); read its coefficient as an average over the scale")
        out.append({"term": name, "chi2": stat, "df": df, "p_value": p_value, "holds": holds,
                    "n": len(frame), "in_words": words})
    return pd.DataFrame(out)


def cost_per_day(data: pd.DataFrame, outcome: str = "csat", by: str | None = "segment",
                 min_group_size: int = MIN_GROUP_SIZE, duration: str = "e2e_days") -> pd.DataFrame:
    """Points of ``outcome`` lost per extra unit of ``duration`` (OLS slope), per group.

    ``duration`` is any numeric column (default: end-to-end days; a survey's own delay in
    minutes works the same). Uses answers about completed journeys only where the table says
    (``status``): an open journey's duration is censored.
    """

    def slope(g: pd.DataFrame) -> dict[str, float]:
        frame = g[[outcome, duration]].dropna()
        if len(frame) < 3:
            return not_estimable(len(frame), "p_value")
        fit = sm.OLS(frame[outcome].astype(float), sm.add_constant(frame[duration])).fit()
        low, high = fit.conf_int().loc[duration]
        return {"estimate": -fit.params[duration], "ci_low": -high, "ci_high": -low,
                "n": len(frame), "p_value": fit.pvalues[duration]}

    table = grouped(completed_answers(data), by, slope).assign(outcome=outcome)
    return suppress_small_groups(table, min_group_size)


ANSWER_VALUES = {  # per answer, the value whose mean is the score (missing where unanswered)
    "csat": lambda d: d["csat"],
    "csat_top2_box": lambda d: (d["csat"] >= 4).astype(float).where(d["csat"].notna()),
    "nps": lambda d: (100.0 * ((d["nps"] >= 9).astype(float) - (d["nps"] <= 6).astype(float))
                      ).where(d["nps"].notna()),  # +100 promoter, 0 passive, −100 detractor
    "nps_detractor_points": lambda d: 100.0 * (d["nps"] <= 6).astype(float).where(
        d["nps"].notna()),
    "ces": lambda d: d["ces"],
}
VALUE_OF_TIME = {"nps_points": ANSWER_VALUES["nps"],  # whose slope per extra day is reported
                 "detractor_share_points": ANSWER_VALUES["nps_detractor_points"]}


def value_of_time(data: pd.DataFrame, by: str | None = "segment",
                  min_group_size: int = MIN_GROUP_SIZE,
                  duration: str = "e2e_days") -> pd.DataFrame:
    """Return what one more unit of waiting changes in NPS and the detractor share, per group.

    The slope of a least-squares line through each answer's NPS value (+100 promoter, 0
    passive, −100 detractor: their mean is the NPS) and through its detractor mark (100 or 0:
    the mean is the share in percentage points), with heteroskedasticity-robust (HC1)
    intervals — the values are two or three steps, not a bell curve.

    Parameters
    ----------
    data
        Answers with ``nps`` and ``duration`` (completed journeys are used).
    by
        Column of the groups (``None``: overall).
    min_group_size
        Smaller groups are suppressed.
    duration
        The wait (default end-to-end days).

    Returns
    -------
    One row per group and ``metric`` (``nps_points`` or ``detractor_share_points``): the
    change per extra unit (negative NPS, positive detractors: waiting costs), its interval,
    ``n`` and ``p_value``.

    """
    done = completed_answers(data)
    parts = []
    for metric, value in VALUE_OF_TIME.items():
        frame = done.assign(_value=value(done))

        def slope(g: pd.DataFrame) -> dict[str, float]:
            rows = g[["_value", duration]].dropna()
            if len(rows) < 3 or rows[duration].nunique() < 2:
                return not_estimable(len(rows), "p_value")
            fit = sm.OLS(rows["_value"], sm.add_constant(rows[duration].astype(float))).fit(
                cov_type="HC1")
            low, high = fit.conf_int().loc[duration]
            return {"estimate": fit.params[duration], "ci_low": low, "ci_high": high,
                    "n": len(rows), "p_value": fit.pvalues[duration]}

        parts.append(grouped(frame, by, slope).assign(metric=metric))
    table = pd.concat(parts, ignore_index=True)
    return suppress_small_groups(table, min_group_size)


PROFILE_GTOL = 1e-8  # each profile fit stops when no parameter's mean score exceeds this


def _profile_fit(model: WeightedOrderedLogit, start: np.ndarray | None,
                 curvature: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Maximise ``model``'s likelihood by BFGS from ``start`` and an inverse Hessian.

    Returns the estimates and BFGS's inverse Hessian at them (``None`` unless positive
    definite), the next fit's start.
    """
    n = float(model.nobs)
    found = optimize.minimize(
        lambda params: -model.loglike(params) / n,
        model.start_params if start is None else start,
        jac=lambda params: -model.score(params) / n, method="BFGS",
        options={"gtol": PROFILE_GTOL, "norm": np.inf, "maxiter": 500,
                 "hess_inv0": curvature})
    inverse = (found.hess_inv + found.hess_inv.T) / 2  # BFGS's own is symmetric to rounding
    return found.x, inverse if np.all(np.linalg.eigvalsh(inverse) > 0) else None


def _profile_loglike(outcome: pd.Series, x: np.ndarray, extra: pd.DataFrame,
                     grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fit the ordinal logit with a hinge at each ``τ`` of the grid.

    Returns the log-likelihood at each ``τ`` (−inf where no value lies beyond it) and the
    hinge coefficient of each fit. Each fit starts from the previous one's estimates *and*
    curvature (neighbouring hinges give nearly the same fit): about 5 evaluations a fit
    instead of 16 from the curvature alone, converged 300 times closer (:data:`PROFILE_GTOL`;
    statsmodels' default stopped ≈ 3e-5 from the optimum in the hinge's slope). No
    covariance is computed: the profile needs none.
    """
    levels = ordered_outcome(outcome)
    loglike, slope = np.full(len(grid), -np.inf), np.full(len(grid), np.nan)
    start = curvature = None
    for k, tau in enumerate(grid):
        hinge = np.maximum(0.0, x - tau)
        if not hinge.any():
            continue
        exog = pd.DataFrame({"hinge": hinge, **{c: extra[c].to_numpy(float) for c in extra}},
                            index=outcome.index)
        model = WeightedOrderedLogit(levels, exog)
        start, curvature = _profile_fit(model, start, curvature)
        loglike[k], slope[k] = model.loglike(start), start[0]  # the hinge is the first term
    return loglike, slope


def _threshold_grid(values: pd.Series, duration: str) -> np.ndarray:
    """Return the candidate thresholds of a profile fit.

    1 to 15 days by quarter days for end-to-end days; for any other duration, 57 points (the
    same count) between its 5th and 95th percentiles.
    """
    if duration == "e2e_days":
        return np.arange(1.0, 15.01, 0.25)
    low, high = np.nanpercentile(values.to_numpy(float), [5, 95]) if len(values) else (0, 1)
    return np.linspace(low, high, 57)


def tolerance_threshold(data: pd.DataFrame, outcome: str = "csat", by: str | None = "segment",
                        controls: tuple[str, ...] = (), grid: np.ndarray | None = None,
                        level: float = 0.95, min_group_size: int = MIN_GROUP_SIZE,
                        duration: str = "e2e_days") -> pd.DataFrame:
    """Tolerance threshold: the value of ``duration`` after which ``outcome`` starts to fall.

    The score is modelled as it is answered, an ordered scale: a proportional-odds (ordinal
    logit) model with ``β·max(0, duration − τ)`` and the ``controls``, fitted for each ``τ`` on
    a grid (a profile likelihood); the estimate is the ``τ`` with the highest likelihood. A
    least-squares hinge on the scores themselves puts the threshold too early, because the
    scale's floor bends the decline (about half a day early on the demo world's planted 5 days).

    Parameters
    ----------
    data
        Survey answers with their journey's ``duration`` (completed journeys are used).
    outcome
        The score (``csat``, ``nps``, ``ces``).
    by
        Column to estimate a threshold per group of (``None``: one overall).
    controls
        0/1 or numeric columns the model also takes (a promise seen broken).
    grid
        Candidate thresholds (default: see :func:`_threshold_grid`).
    level
        The interval's level: every ``τ`` whose likelihood-ratio statistic against the best is
        below the χ²₁ quantile, reaching to the grid values next to the first and last such
        one (the grid cannot say where between two of its values the interval ends).
    min_group_size
        Smaller groups are suppressed.
    duration
        The wait the threshold is on (a column of ``data``).

    Returns
    -------
    Per group: ``estimate``, ``ci_low``, ``ci_high``, ``n`` and ``slope_after``, the log-odds of
    a higher score lost per unit of ``duration`` beyond the threshold.

    """
    done = completed_answers(data)
    grid = (_threshold_grid(done[duration], duration) if grid is None
            else np.asarray(grid, dtype=float))
    critical = float(chi2.ppf(level, 1))

    def threshold(g: pd.DataFrame) -> dict[str, float]:
        frame = g[[outcome, duration, *controls]].dropna()
        n = len(frame)
        if n < max(min_group_size, 20) or frame[outcome].nunique() < 2:
            return not_estimable(n, "slope_after")
        loglike, slope = _profile_loglike(frame[outcome], frame[duration].to_numpy(float),
                                          frame[list(controls)], grid)
        best = int(np.argmax(loglike))
        inside = np.flatnonzero(2 * (loglike[best] - loglike) <= critical)
        low, high = max(inside.min() - 1, 0), min(inside.max() + 1, len(grid) - 1)
        return {"estimate": float(grid[best]), "ci_low": float(grid[low]),
                "ci_high": float(grid[high]), "n": n, "slope_after": float(-slope[best])}

    table = grouped(done, by, threshold).assign(outcome=outcome)
    return suppress_small_groups(table, min_group_size)


def update_effect(data: pd.DataFrame, outcome: str = "csat", by: str | None = "segment",
                  informed: str = "kept_informed", min_group_size: int = MIN_GROUP_SIZE,
                  duration: str = "e2e_days") -> pd.DataFrame:
    """How much proactive updates soften the cost of each day (points per day given back).

    OLS of ``outcome ~ days + days×informed + informed`` per group; ``estimate`` is the
    interaction (positive: kept-informed customers lose fewer points per day).
    """

    def softening(g: pd.DataFrame) -> dict[str, float]:
        frame = g[[outcome, duration, informed]].dropna()
        if len(frame) < 10 or frame[informed].nunique() < 2:
            return not_estimable(len(frame), "p_value")
        inf = frame[informed].astype(float)
        X = sm.add_constant(pd.DataFrame({"days": frame[duration], "informed": inf,
                                          "days_x_informed": frame[duration] * inf}))
        fit = sm.OLS(frame[outcome].astype(float), X).fit()
        low, high = fit.conf_int().loc["days_x_informed"]
        return {"estimate": fit.params["days_x_informed"], "ci_low": low, "ci_high": high,
                "n": len(frame), "p_value": fit.pvalues["days_x_informed"]}

    table = grouped(completed_answers(data), by, softening).assign(outcome=outcome)
    return suppress_small_groups(table, min_group_size)


def promise_step(data: pd.DataFrame, promise: str, outcome: str = "csat",
                 by: str | None = None, unit_hours: float = 24.0, min_each_side: int = 10,
                 min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Satisfaction around the promised time: a step at the deadline, slopes either side.

    OLS of ``outcome ~ t + after + t×after`` where ``t`` is when the promised event happened
    relative to the deadline (``promise_<name>_margin_hours`` / ``unit_hours``; negative before)
    and ``after`` marks answers past it. ``estimate`` is the step (the jump at the deadline, with
    its interval and p-value: the test for a cliff); ``slope_before`` / ``slope_after`` are the
    points per unit on either side. Needs ``min_each_side`` answers before and after.
    """
    column = f"promise_{promise}_margin_hours"

    def step(g: pd.DataFrame) -> dict[str, float]:
        frame = g[[outcome, column]].dropna()
        t = frame[column].to_numpy(float) / unit_hours
        after = (t > 0).astype(float)
        n_after = int(after.sum())
        if min(n_after, len(frame) - n_after) < min_each_side:
            return not_estimable(len(frame), "p_value", "slope_before", "slope_after")
        X = pd.DataFrame({"const": 1.0, "t": t, "after": after, "t_after": t * after})
        fit = sm.OLS(frame[outcome].to_numpy(float), X).fit()
        low, high = fit.conf_int().loc["after"]
        return {"estimate": fit.params["after"], "ci_low": low, "ci_high": high,
                "n": len(frame), "p_value": fit.pvalues["after"],
                "slope_before": fit.params["t"],
                "slope_after": fit.params["t"] + fit.params["t_after"]}

    table = grouped(data, by, step).assign(promise=promise, outcome=outcome)
    return suppress_small_groups(table, min_group_size)


PEAK_END = {"total": "the whole wait", "peak": "the longest single wait",
            "end": "the last wait"}  # the aspects of waiting compared by :func:`peak_end`


def peak_end(data: pd.DataFrame, outcome: str = "csat", duration: str = "e2e_days",
             peak: str = "longest_wait_hours", end: str = "last_wait_hours",
             controls: tuple[str, ...] = (), min_group_size: int = MIN_GROUP_SIZE,
             level: float = LEVEL) -> pd.DataFrame:
    """Compare the total wait, the longest single wait and the last one as drivers of a score.

    One ordinal logit of ``outcome`` on the total wait (``duration``), the longest single wait
    (``peak``) and the last wait before the end (``end``), each standardised (per standard
    deviation, so their effects compare), with ``controls`` held fixed; completed journeys only.

    Parameters
    ----------
    data
        Answers linked to their journeys.
    outcome, duration, peak, end
        Column names of the score and of the three aspects of waiting.
    controls
        Further predictors held fixed (promise outcomes).
    min_group_size, level
        Fewer answers than this suppress the table; the intervals' level.

    Returns
    -------
    One row per aspect (``total``, ``peak``, ``end``): ``column``, ``estimate`` (log-odds of a
    higher score per standard deviation, negative = hurts), ``ci_low``, ``ci_high``, ``n``,
    ``p_value``, ``sd`` (the standard deviation, in the column's unit), ``matters_most`` (the
    aspect whose harm is largest and clear of zero) and ``in_words``.

    """
    aspects = {"total": duration, "peak": peak, "end": end}
    frame = completed_answers(data)[[outcome, *aspects.values(), *controls]].dropna()
    sd = frame[list(aspects.values())].std()
    scaled = frame.assign(**{a: (frame[c] - frame[c].mean()) / sd[c] for a, c in aspects.items()})
    if len(frame) < max(min_group_size, 20) or (sd == 0).any():
        rows = [{"aspect": a, "column": c, **not_estimable(len(frame), "p_value"),
                 "sd": sd[c]} for a, c in aspects.items()]
        return suppress_small_groups(pd.DataFrame(rows), min_group_size).assign(
            matters_most=False, in_words="too few answers or no variation to compare")
    fit = ordinal_fit(scaled, outcome, (*aspects, *controls))
    z = norm.ppf(0.5 + level / 2)
    estimate, se = fit.model.params[list(aspects)], fit.model.bse[list(aspects)]
    table = pd.DataFrame({
        "aspect": list(aspects), "column": list(aspects.values()),
        "estimate": estimate.to_numpy(), "ci_low": (estimate - z * se).to_numpy(),
        "ci_high": (estimate + z * se).to_numpy(), "n": len(frame),
        "p_value": fit.model.pvalues[list(aspects)].to_numpy(),
        "sd": sd[list(aspects.values())].to_numpy()})
    harmful = table[table["ci_high"] < 0]
    most = harmful.loc[harmful["estimate"].idxmin(), "aspect"] if len(harmful) else None
    table["matters_most"] = table["aspect"] == most
    table["in_words"] = (f"{PEAK_END[most]} matters most: one standard deviation more of it "
                         f"({table.set_index('aspect').loc[most, 'sd']:.3g} {aspects[most]}) "
                         f"costs {-harmful['estimate'].min():.2f} log-odds of a higher "
                         f"{outcome}" if most else "no aspect of waiting clearly lowers the "
                         f"{outcome} once the others are held fixed")
    return suppress_small_groups(table, min_group_size)  # marks every row shown


def promise_result(data: pd.DataFrame, promise: str) -> pd.Series:
    """Return ``kept`` or ``broken`` per answer whose journey's promise is decided, else NaN."""
    return data[f"promise_{promise}"].map({"met": "kept", "breached": "broken"})


def score_by_promise_outcome(data: pd.DataFrame, promise: str, outcome: str = "csat",
                             min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Mean ``outcome`` (interval, ``n``) for journeys whose promise was kept and broken."""
    decided = data.assign(promise_result=promise_result(data, promise)).dropna(
        subset=["promise_result"])
    table = grouped(decided, "promise_result", lambda g: mean_ci(g[outcome]))
    return suppress_small_groups(table.assign(promise=promise, outcome=outcome), min_group_size)


SCORES = {  # what score_summary reports, each with its interval and n
    "csat": lambda g: mean_ci(g["csat"]),  # mean, 1–5
    "csat_top2_box": lambda g: share_ci(g["csat"], 4, 5),  # share satisfied (4–5)
    "nps": lambda g: nps_ci(g["nps"]),  # −100…100; the interval's half-width is its margin
    "nps_detractors": lambda g: share_ci(g["nps"], 0, 6),  # share answering 0–6
    "ces": lambda g: mean_ci(g["ces"]),  # mean, 1–7 (7 = effortless)
    "ces_easy_5_7": lambda g: share_ci(g["ces"], 5, 7),  # share finding it easy (5–7)
}


def score_summary(data: pd.DataFrame, by: str | None = None,
                  min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Every score of :data:`SCORES` with its interval and ``n``, overall or per group.

    Means of CSAT and CES, CSAT's top-2-box, NPS with its interval (its margin of error is the
    half-width) and its detractor share, and the share finding it easy (CES 5–7).
    """
    parts = [grouped(data, by, stat).assign(score=name) for name, stat in SCORES.items()]
    table = pd.concat(parts, ignore_index=True)
    return suppress_small_groups(table[["score", *[c for c in table.columns if c != "score"]]],
                                 min_group_size)
