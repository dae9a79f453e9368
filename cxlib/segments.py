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
scikit-learn estimator that fits a latent-class mixture to it (:mod:`cxlib.mixture`) and names
each class by its profile.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.metrics import adjusted_rand_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from cxlib.config import JourneySpec
from cxlib.engines import to_frame
from cxlib.journeys import JourneyInput, journey_events_expr
from cxlib.mixture import LatentClassMixture, MixtureLayout
from cxlib.privacy import MIN_GROUP_SIZE, suppress_small_groups
from cxlib.stats import grouped, mean_ci

SEGMENT_NAMES = ("time_savers", "time_engagers", "informed_waiters")
FEATURES = ("slot_lead_days", "digital_share", "abandon_rate", "engaged_minutes",
            "status_checks_per_day")  # the behaviour profiled per segment, in people's terms
AUTO_K = range(2, 7)  # the numbers of segments n_segments="auto" chooses among
# how strongly each profiled feature (log scale, standardised) speaks for each segment, used to
# name the classes
_PROFILE = {
    "time_savers": {"slot_lead_days": -1.0, "digital_share": 1.0, "abandon_rate": 1.0,
                    "engaged_minutes": -0.5},
    "time_engagers": {"engaged_minutes": 1.5, "slot_lead_days": 1.0, "abandon_rate": -0.5,
                      "digital_share": -0.5},
    "informed_waiters": {"status_checks_per_day": 2.0},
}


def _count(rows: ir.Table, activities: tuple[str, ...]) -> ir.Value:
    return rows.activity.isin(list(activities)).sum() if activities else ibis.literal(0)


ONCE_SHARE = 0.99  # an engaged step is taken "once" when this share of its journeys take it once


def _taken_once(times: pd.Series) -> bool:
    """Whether journeys that take a step take it once (a stray repeat does not change that)."""
    took = int((times >= 1).sum())
    return took > 0 and int((times == 1).sum()) >= ONCE_SHARE * took


def behaviour_features(events: JourneyInput, journeys: pd.DataFrame,
                       spec: JourneySpec, as_of: str | datetime) -> pd.DataFrame:
    """One row per customer with the behaviour that reveals time sensitivity.

    Parameters
    ----------
    events, journeys
        The checked event log (or its :class:`cxlib.journeys.JourneyEvents`) and the
        journeys built from it.
    spec
        The journey spec; its ``behaviour`` section names the activities.
    as_of
        The cut-off.

    Returns
    -------
    One row per customer. For people (profiled per segment): ``slot_lead_days`` (booking →
    booked slot), ``digital_share`` (chats among contacts), ``abandon_rate`` (queued calls given
    up), ``engaged_minutes`` (time spent by choice per journey), ``status_checks_per_day`` (per
    day of waiting). For the segmenter, the counts behind them: ``contacts``,
    ``digital_contacts``, ``phone_contacts``, ``abandoned_calls``; status checks and contacts
    that reached someone with the days waited, split by whether the journey kept the customer
    informed (``status_checks_informed`` / ``waiting_days_informed``, … ``_uninformed``,
    ``contacts_reached_…``); per engaged-time interval ``<name>``: ``took_<name>`` and
    ``<name>_minutes_each`` and, for a step journeys take once (:data:`ONCE_SHARE` of those
    that take it; calls are taken again and again), ``took_<name>`` and ``offered_<name>``
    (completed journeys). A feature a customer
    never showed (no contact at all, say) is NaN, not zero.

    Raises
    ------
    ValueError
        When the spec has no ``behaviour`` section.

    """
    b = spec.behaviour
    if b is None:
        raise ValueError("the journey spec has no 'behaviour' section; add one to segment")
    ev, _ = journey_events_expr(events, spec, as_of)
    booked = ev.group_by("journey_id").aggregate(booked=ev.ts.min(where=ev.activity == b.booking))
    ev = ev.join(booked, "journey_id")
    a = ev.activity
    starts = {t.name: t.from_ for t in spec.customer_time if t.name in b.engaged_time}
    per = to_frame(ev.group_by("journey_id").aggregate(
        booked=ev.booked.min(),
        slot=ev.ts.min(where=(a == b.slot) & (ev.ts >= ev.booked)),  # the slot booked then
        digital=_count(ev, b.digital_contacts),
        phone=_count(ev, b.phone_contacts),
        abandoned=_count(ev, b.abandoned),
        checks=_count(ev, b.status_checks),
        **{f"times_{name}": _count(ev, (start,)) for name, start in starts.items()},
    ))
    j = journeys.merge(per, on="journey_id", how="left")
    contacts = j["digital"] + j["phone"]
    informed = (j["kept_informed"] if "kept_informed" in j.columns
                else pd.Series(False, index=j.index)).fillna(False).astype(bool)
    waited = j["e2e_days"].clip(lower=0)
    reached = (contacts - j["abandoned"]).clip(lower=0)
    completed = j["status"] == "complete"
    features = pd.DataFrame({
        "customer_id": j["customer_id"],
        "slot_lead_days": (j["slot"] - j["booked"]).dt.total_seconds() / 86400,
        "digital_share": (j["digital"] / contacts).where(contacts > 0),
        "abandon_rate": (j["abandoned"] / j["phone"]).where(j["phone"] > 0),
        "engaged_minutes": j[[f"customer_{n}_hours" for n in b.engaged_time]].sum(axis=1) * 60
        if b.engaged_time else np.nan,
        "status_checks_per_day": j["checks"] / j["e2e_days"].clip(lower=1.0),
    })
    counts = pd.DataFrame({
        "customer_id": j["customer_id"], "contacts": contacts, "digital_contacts": j["digital"],
        "phone_contacts": j["phone"], "abandoned_calls": j["abandoned"],
        **{f"{what}_{kind}": values.where(informed == (kind == "informed"), 0)
           for kind in ("informed", "uninformed")
           for what, values in (("status_checks", j["checks"]), ("waiting_days", waited),
                                ("contacts_reached", reached))},
        **{column: values for name in starts for column, values in (
            (f"{name}_minutes", j[f"customer_{name}_hours"] * 60),
            (f"{name}_times", j[f"times_{name}"]))},
        # a step a journey takes once is a choice: taken or not, once completed
        **{column: values for name in starts if _taken_once(j[f"times_{name}"])
           for column, values in (
               (f"took_{name}", (completed & (j[f"times_{name}"] > 0)).astype("int64")),
               (f"offered_{name}", completed.astype("int64")))},
    })
    out = features.groupby("customer_id", sort=True).mean().join(
        counts.groupby("customer_id", sort=True).sum())
    for name in starts:
        times, minutes = out.pop(f"{name}_times"), out.pop(f"{name}_minutes")
        out[f"{name}_minutes_each"] = (minutes / times).where(times > 0)
    return out.reset_index()


def behaviour_layout(features: pd.DataFrame) -> MixtureLayout:
    """Which behaviour columns the segmenter reads, and their shapes (see :mod:`cxlib.mixture`).

    Durations: the slot's lead time and the minutes of each engaged-time interval; shares: chats
    among contacts, calls given up, each engaged interval taken among completed journeys; rates:
    status checks and contacts that reached someone per day of waiting, kept informed or not.
    Pairs no customer has any trials or exposure for are left out.
    """
    engaged = sorted(c.removesuffix("_minutes_each") for c in features.columns
                     if c.endswith("_minutes_each"))
    pairs = [("digital_contacts", "contacts"), ("abandoned_calls", "phone_contacts"),
             *[(f"took_{n}", f"offered_{n}") for n in engaged]]
    rates = [(f"{what}_{kind}", f"waiting_days_{kind}") for what in
             ("status_checks", "contacts_reached") for kind in ("informed", "uninformed")]

    def used(pair: tuple[str, str]) -> bool:
        return set(pair) <= set(features.columns) and features[pair[1]].fillna(0).sum() > 0

    return MixtureLayout(
        durations=("slot_lead_days", *[f"{n}_minutes_each" for n in engaged]),
        shares=tuple(p for p in pairs if used(p)), rates=tuple(r for r in rates if used(r)))


class LogScaler(TransformerMixin, BaseEstimator):
    """``log1p(x / typical)``, with ``typical`` the median positive value of each column.

    Waiting times, minutes and rates are right-skewed; on a log scale their shape shows rather
    than their outliers, whatever unit each feature is in.
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
    """Segment customers by time-sensitivity behaviour and name the segments.

    A :class:`~cxlib.mixture.LatentClassMixture` over every behaviour the spec exposes (slot
    choice, engaged time, channel mix, abandonment, status checks and contacts per day of
    waiting), each in its own shape and with missing behaviour left out of the likelihood; each
    class is named by its profile. Follows the scikit-learn estimator contract: ``__init__``
    only stores parameters, ``fit`` learns ``mixture_``, ``labels_``, ``segment_names_`` and
    ``profile_`` and returns ``self``.

    Parameters
    ----------
    n_segments
        Number of segments (three named ones; more get numbered names), or ``"auto"``: k from
        2 to 6 by the integrated completed likelihood (lowest wins; the BIC plus a charge for
        overlapping segments — the BIC alone keeps splitting a skewed behaviour into more
        classes) — ``selection_`` lists every k's BIC and ICL and says which was chosen and why.
    layout
        The columns and their shapes (default: :func:`behaviour_layout` of the table fitted).
    n_init
        EM starts; the most likely fit is kept.
    max_fit_rows
        The mixture is fitted on a random sample of at most this many customers, then every
        customer is assigned (a million customers fit in seconds; the sample pins the
        parameters far closer than the classes overlap).
    random_state
        Seed of the starts and the sample, so a run is repeatable.

    """

    def __init__(self, n_segments: int | str = 3, layout: MixtureLayout | None = None,
                 n_init: int = 3, max_fit_rows: int = 100_000, random_state: int = 0) -> None:
        self.n_segments = n_segments
        self.layout = layout
        self.n_init = n_init
        self.max_fit_rows = max_fit_rows
        self.random_state = random_state

    def _mixture(self, k: int, layout: MixtureLayout) -> LatentClassMixture:
        return LatentClassMixture(k, layout, n_init=self.n_init, random_state=self.random_state)

    def _choose_k(self, X: pd.DataFrame, layout: MixtureLayout) -> LatentClassMixture:
        """Fit k = 2…6 and keep the lowest integrated completed likelihood (ICL)."""
        fits = {k: self._mixture(k, layout).fit(X) for k in AUTO_K}
        table = pd.DataFrame({"k": list(fits), "bic": [m.bic_ for m in fits.values()],
                              "icl": [m.icl_ for m in fits.values()]})
        chosen = int(table.loc[table["icl"].idxmin(), "k"])
        self.selection_ = table.assign(
            chosen=table["k"] == chosen,
            why=np.where(table["k"] == chosen, "lowest ICL: the best fit once each extra "
                         "segment's parameters and any overlap between segments are paid for",
                         ""))
        return fits[chosen]

    def fit(self, X: pd.DataFrame, y: object = None) -> TimeSensitivitySegmenter:
        """Learn the segments from a behaviour-feature table."""
        layout = self.layout or behaviour_layout(X)
        missing = [c for c in (*layout.columns, *FEATURES) if c not in X.columns]
        if missing:
            raise ValueError(f"missing behaviour feature(s): {', '.join(missing)}")
        sample = (X.sample(self.max_fit_rows, random_state=self.random_state)
                  if len(X) > self.max_fit_rows else X)
        if self.n_segments == "auto":
            self.mixture_ = self._choose_k(sample, layout)
        elif isinstance(self.n_segments, int) and self.n_segments >= 1:
            self.mixture_ = self._mixture(self.n_segments, layout).fit(sample)
        else:
            raise ValueError(f"n_segments must be a whole number or 'auto', not "
                             f"{self.n_segments!r}")
        self.n_segments_ = self.mixture_.n_components
        self.labels_ = self.mixture_.labels_ if sample is X else self.mixture_.predict(X)
        view = make_pipeline(LogScaler(), StandardScaler()).fit_transform(
            X[list(FEATURES)].astype("float64"))
        centers = (pd.DataFrame(view, columns=list(FEATURES)).groupby(self.labels_).mean()
                   .reindex(range(self.n_segments_)).fillna(0.0))
        self.segment_names_ = self._name_clusters(centers)
        self.profile_ = centers.assign(segment=self.segment_names_)
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
        check_is_fitted(self, "mixture_")
        return np.array(self.segment_names_, dtype=object)[self.mixture_.predict(X)]

    def fit_predict(self, X: pd.DataFrame, y: object = None, **kwargs: object) -> np.ndarray:
        """Fit, then return each customer's segment name."""
        self.fit(X)
        return np.array(self.segment_names_, dtype=object)[self.labels_]


STABILITY_SAMPLE = 50_000  # customers per resample: refits on a million took 15 s each


def segment_stability(X: pd.DataFrame, segment: str = "segment", n_boot: int = 20,
                      random_state: int = 0, sample: int = STABILITY_SAMPLE,
                      layout: MixtureLayout | None = None) -> dict[str, float]:
    """Return how stable the segments are: refits on resamples against the segments found.

    Parameters
    ----------
    X
        The behaviour-feature table with each customer's ``segment`` as the segmenter assigned
        it (a build's ``behaviour``): the full fit is not repeated.
    segment
        The column holding the segments.
    n_boot, random_state
        Resamples and their seed.
    sample
        Customers drawn (with replacement) per resample: all of them up to this many. A
        smaller resample than the data is a stricter test (a refit on fewer customers varies
        more), and a refit's cost stays bounded on a large customer base.
    layout
        The mixture's layout (default: :func:`behaviour_layout` of ``X``, as the segmenter's).

    Returns
    -------
    ``mean_ari``, ``min_ari`` (adjusted Rand index of each refit's assignment of every customer
    against the segments) and ``n_boot``.

    """
    found = pd.factorize(X[segment])[0]
    layout = layout or behaviour_layout(X)
    rng = np.random.default_rng(random_state)
    scores = []
    for b in range(n_boot):  # each refit starts EM once, from its own seed: a strict test
        rows = rng.integers(0, len(X), min(len(X), sample))
        refit = LatentClassMixture(int(found.max()) + 1, layout, n_init=1, random_state=b)
        scores.append(adjusted_rand_score(found, refit.fit(X.iloc[rows]).predict(X)))
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
    # the index compares partitions: label codes give it as the names do, 10× faster
    ari = adjusted_rand_score(pd.factorize(truth)[0], pd.factorize(learned)[0])
    return pd.DataFrame([{"customers": int(known.sum()),
                          "share_correct": float((learned == truth).mean()),
                          "adjusted_rand_index": float(ari)}])
