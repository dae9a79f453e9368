"""Time-sensitivity segments, learned from behaviour rather than asked in a survey.

Three kinds of customer, after the customer-time literature:

* ``time_savers`` want time saved: they take the earliest slot, use digital channels and hang up
  quickly when kept waiting in a queue;
* ``time_engagers`` will spend time when it is worth it to them: long advisory calls, the
  optional set-up walkthrough, a later slot that suits them;
* ``informed_waiters`` feel the wait less when kept informed: they keep checking where their
  order stands.

:func:`behaviour_features` measures that behaviour per customer from the events (activity names
come from the journey spec's ``behaviour`` section); :class:`TimeSensitivitySegmenter` is a
scikit-learn estimator that clusters it and names each cluster by its profile.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.impute import SimpleImputer
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from cxlib.config import JourneySpec
from cxlib.engines import to_frame
from cxlib.journeys import journey_events_expr
from cxlib.privacy import MIN_GROUP_SIZE, suppress_small_groups
from cxlib.stats import grouped, mean_ci

SEGMENT_NAMES = ("time_savers", "time_engagers", "informed_waiters")
FEATURES = ("slot_lead_days", "digital_share", "abandon_rate", "engaged_minutes",
            "status_checks_per_day")
# clustered by default: shown by (nearly) every customer. Channel mix and abandonment exist only
# for customers who made contact; imputing them for the rest creates clusters of their own.
AUTO_K = range(2, 7)  # the numbers of segments n_segments="auto" chooses among
SILHOUETTE_TOLERANCE = 0.01  # a smaller k within this of the best silhouette is preferred
CLUSTER_FEATURES = ("slot_lead_days", "engaged_minutes", "status_checks_per_day")
# how strongly each feature (standardised) speaks for each segment, used to name clusters
_PROFILE = {
    "time_savers": {"slot_lead_days": -1.0, "digital_share": 1.0, "abandon_rate": 1.0,
                    "engaged_minutes": -0.5},
    "time_engagers": {"engaged_minutes": 1.5, "slot_lead_days": 1.0, "abandon_rate": -0.5,
                      "digital_share": -0.5},
    "informed_waiters": {"status_checks_per_day": 2.0},
}


def _count(rows: ir.Table, activities: tuple[str, ...]) -> ir.Value:
    return rows.activity.isin(list(activities)).sum() if activities else ibis.literal(0)


def behaviour_features(events: pd.DataFrame | ir.Table, journeys: pd.DataFrame,
                       spec: JourneySpec, as_of: str | datetime) -> pd.DataFrame:
    """One row per customer with the behaviour that reveals time sensitivity.

    Columns: ``slot_lead_days`` (booking → booked slot), ``digital_share`` (chats among contacts),
    ``abandon_rate`` (queued calls given up), ``engaged_minutes`` (time spent by choice per
    journey), ``status_checks_per_day`` (per day of waiting). A feature a customer never showed
    (no contact at all, say) is NaN, not zero.
    """
    b = spec.behaviour
    if b is None:
        raise ValueError("the journey spec has no 'behaviour' section; add one to segment")
    ev, _ = journey_events_expr(events, spec, as_of)
    booked = ev.group_by("journey_id").aggregate(booked=ev.ts.min(where=ev.activity == b.booking))
    ev = ev.join(booked, "journey_id")
    a = ev.activity
    per = to_frame(ev.group_by("journey_id").aggregate(
        booked=ev.booked.min(),
        slot=ev.ts.min(where=(a == b.slot) & (ev.ts >= ev.booked)),  # the slot booked then
        digital=_count(ev, b.digital_contacts),
        phone=_count(ev, b.phone_contacts),
        abandoned=_count(ev, b.abandoned),
        checks=_count(ev, b.status_checks),
    ))
    j = journeys.merge(per, on="journey_id", how="left")
    engaged_cols = [f"customer_{n}_hours" for n in b.engaged_time]
    contacts = j["digital"] + j["phone"]
    features = pd.DataFrame({
        "customer_id": j["customer_id"],
        "slot_lead_days": (j["slot"] - j["booked"]).dt.total_seconds() / 86400,
        "digital_share": (j["digital"] / contacts).where(contacts > 0),
        "abandon_rate": (j["abandoned"] / j["phone"]).where(j["phone"] > 0),
        "engaged_minutes": j[engaged_cols].sum(axis=1) * 60 if engaged_cols else np.nan,
        "status_checks_per_day": j["checks"] / j["e2e_days"].clip(lower=1.0),
    })
    return features.groupby("customer_id", sort=True).mean().reset_index()


class LogScaler(TransformerMixin, BaseEstimator):
    """``log1p(x / typical)``, with ``typical`` the median positive value of each column.

    Waiting times, minutes and rates are right-skewed; on a log scale k-means sees their
    shape rather than their outliers, whatever unit each feature is in.
    """

    def fit(self, X: np.ndarray, y: object = None) -> LogScaler:
        """Learn each column's typical positive value."""
        X = np.asarray(X, dtype="float64")
        typical = [np.nanmedian(c[c > 0]) if np.any(c > 0) else 1.0 for c in X.T]
        self.typical_ = np.asarray(typical)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Return ``log1p(x / typical)`` (negative values are clipped to zero)."""
        check_is_fitted(self, "typical_")
        return np.log1p(np.clip(np.asarray(X, dtype="float64"), 0, None) / self.typical_)


class TimeSensitivitySegmenter(ClusterMixin, BaseEstimator):
    """Cluster customers by time-sensitivity behaviour and name the clusters.

    Follows the scikit-learn estimator contract: ``__init__`` only stores parameters, ``fit``
    learns ``pipeline_``, ``labels_``, ``segment_names_`` and ``profile_`` and returns ``self``.

    Parameters
    ----------
    n_segments
        Number of clusters (three named segments; more get numbered names), or ``"auto"``:
        k from 2 to 6 by the silhouette (on at most 5,000 customers), the smallest k within
        :data:`SILHOUETTE_TOLERANCE` of the best — ``selection_`` lists every k's score and says
        which was chosen and why.
    features
        Columns of the input to cluster on (default: :data:`CLUSTER_FEATURES`).
    random_state
        Seed for k-means, so a run is repeatable.

    """

    def __init__(self, n_segments: int | str = 3, features: tuple[str, ...] = CLUSTER_FEATURES,
                 random_state: int = 0) -> None:
        self.n_segments = n_segments
        self.features = features
        self.random_state = random_state

    def _matrix(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [f for f in self.features if f not in X.columns]
        if missing:
            raise ValueError(f"missing behaviour feature(s): {', '.join(missing)}")
        return X[list(self.features)].astype("float64")

    def _pipeline(self, k: int) -> Pipeline:
        return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                             LogScaler(), StandardScaler(),
                             KMeans(n_clusters=k, n_init=10, random_state=self.random_state))

    def _choose_k(self, M: pd.DataFrame) -> int:
        """Score k = 2…6 by the silhouette; keep the smallest k close to the best."""
        rows = []
        for k in AUTO_K:
            pipeline = self._pipeline(k)
            labels = pipeline.fit_predict(M)
            scaled = pipeline[:-1].transform(M)
            rows.append({"k": k, "silhouette": float(silhouette_score(
                scaled, labels, sample_size=min(len(M), 5000), random_state=self.random_state))})
        table = pd.DataFrame(rows)
        best = table["silhouette"].max()
        chosen = int(table.loc[table["silhouette"] >= best - SILHOUETTE_TOLERANCE, "k"].min())
        self.selection_ = table.assign(
            chosen=table["k"] == chosen,
            why=np.where(table["k"] == chosen,
                         f"smallest k whose silhouette is within {SILHOUETTE_TOLERANCE} of the "
                         f"best ({best:.3f})", ""))
        return chosen

    def fit(self, X: pd.DataFrame, y: object = None) -> TimeSensitivitySegmenter:
        """Learn the clusters from a behaviour-feature table."""
        M = self._matrix(X)
        if self.n_segments == "auto":
            k = self._choose_k(M)
        elif isinstance(self.n_segments, int) and self.n_segments >= 1:
            k = self.n_segments
        else:
            raise ValueError(f"n_segments must be a whole number or 'auto', not "
                             f"{self.n_segments!r}")
        self.pipeline_: Pipeline = self._pipeline(k)
        self.labels_ = self.pipeline_.fit_predict(M)
        centers = pd.DataFrame(self.pipeline_[-1].cluster_centers_, columns=list(self.features))
        self.segment_names_ = self._name_clusters(centers)
        self.profile_ = centers.assign(segment=self.segment_names_)
        self.n_segments_ = k
        return self

    def _name_clusters(self, centers: pd.DataFrame) -> list[str]:
        names = list(SEGMENT_NAMES)
        score = np.array([[sum(w * centers.loc[c, f] for f, w in _PROFILE[name].items()
                               if f in centers.columns) for name in names]
                          for c in centers.index])
        rows, cols = linear_sum_assignment(-score)
        out = [f"segment_{c + 1}" for c in centers.index]
        for r, c in zip(rows, cols, strict=True):
            out[r] = names[c]
        return out

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Return each customer's segment name."""
        check_is_fitted(self, "pipeline_")
        return np.array(self.segment_names_, dtype=object)[self.pipeline_.predict(self._matrix(X))]

    def fit_predict(self, X: pd.DataFrame, y: object = None, **kwargs: object) -> np.ndarray:
        """Fit, then return each customer's segment name."""
        self.fit(X)
        return np.array(self.segment_names_, dtype=object)[self.labels_]


def segment_stability(segmenter: TimeSensitivitySegmenter, X: pd.DataFrame,
                      n_boot: int = 20, random_state: int = 0) -> dict[str, float]:
    """Return how stable the segments are: refits on resamples against the full fit.

    Parameters
    ----------
    segmenter
        A fitted segmenter (its ``n_segments_`` is kept for every refit).
    X
        The behaviour-feature table it was fitted on.
    n_boot, random_state
        Resamples and their seed.

    Returns
    -------
    ``mean_ari``, ``min_ari`` (adjusted Rand index of each refit's assignment of every customer
    against the full fit's) and ``n_boot``.

    """
    check_is_fitted(segmenter, "pipeline_")
    rng = np.random.default_rng(random_state)
    M = segmenter._matrix(X)
    full = segmenter.pipeline_.predict(M)
    scores = []
    for b in range(n_boot):  # each refit starts k-means once, from its own seed: a strict test
        rows = rng.integers(0, len(X), len(X))
        refit = segmenter._pipeline(segmenter.n_segments_)
        refit[-1].set_params(n_init=1, random_state=b)
        scores.append(adjusted_rand_score(full, refit.fit(M.iloc[rows]).predict(M)))
    return {"mean_ari": float(np.mean(scores)), "min_ari": float(np.min(scores)),
            "n_boot": n_boot}


def segment_sizes(segments: pd.DataFrame, segment: str = "segment") -> pd.DataFrame:
    """Return customers per segment and their share (segments in name order)."""
    counts = segments[segment].value_counts().sort_index()
    return pd.DataFrame({segment: counts.index.astype(str), "customers": counts.to_numpy(),
                         "share": counts.to_numpy() / max(len(segments), 1)})


def segment_profile(features: pd.DataFrame, segment: str = "segment",
                    min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Mean of each behaviour feature per segment, with interval and ``n`` (tidy)."""
    parts = [grouped(features, segment, lambda g, f=f: mean_ci(g[f])).assign(feature=f)
             for f in FEATURES if f in features.columns]
    table = pd.concat(parts, ignore_index=True)
    return suppress_small_groups(table[["feature", *[c for c in table.columns if c != "feature"]]],
                                 min_group_size)


def agreement(segments: pd.DataFrame, true_segment_of: dict[str, str]) -> pd.DataFrame:
    """Compare learned segments with known (planted) ones: share correct and adjusted Rand index.

    ``segments`` has ``customer_id`` and ``segment``; ``true_segment_of`` maps customer → truth
    (the demo data's ``truth.json``).
    """
    truth = segments["customer_id"].map(true_segment_of)
    known = truth.notna()
    learned, truth = segments.loc[known, "segment"], truth[known]
    return pd.DataFrame([{"customers": int(known.sum()),
                          "share_correct": float((learned == truth).mean()),
                          "adjusted_rand_index": float(adjusted_rand_score(truth, learned))}])
