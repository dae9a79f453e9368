"""The best any segmenter can do on the demo world: each customer classified by the true model.

Part of the demo (:mod:`cxlib.synth`): it reads the demo's own activity names and draws, so it
applies to demo data only (where ``truth.json`` exists), never to a company's spec.

The demo (:mod:`cxlib.synth`) plants each customer's time-sensitivity segment and draws their
behaviour from it. :func:`ceiling_segments` turns that generating model, with the parameters
written to ``truth.json``, into a Bayes classifier: the posterior of each segment given the same
events a segmenter reads — the slot chosen, the walkthrough, status checks per day of waiting,
contacts and their channel, patience in the phone queue and talk time. Its agreement with the
planted segments is the ceiling a learned segmenter is compared with: no method that sees only
behaviour can beat it, other than by chance.

Two draws of the world are not observed and are summed over with their planted chances: whether
the activation got stuck (each adds a contact) and, where the visit is not yet decided, whether
it will be missed. Calls whose outcome falls after the cut-off add nothing.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy.special import logsumexp
from scipy.stats import gamma, norm, poisson

from cxlib.engines import as_events, is_in, to_frame
from cxlib.segments import agreement
from cxlib.synth import (
    CAPACITY_DAYS,
    MODEL_EVENTS,
    RETRY_GAP_MIN,
    SEGMENTS,
    TALK_SIGMA,
    planted_no_show,
)

DAY_S = 86400.0


def _slot_lead_cdf(days: np.ndarray, extra_lead: float) -> np.ndarray:
    """P(lead ≤ days) for lead = offset + gamma(2, θ) + exponential(mean ``extra_lead``)."""
    offset, shape, theta = CAPACITY_DAYS
    y = np.clip(np.asarray(days, dtype="float64") - offset, 0, None)
    a = 1 / theta - 1 / extra_lead
    if abs(a) < 1e-9:  # the exponential has the gamma's scale: a gamma(3, θ)
        return gamma.cdf(y, shape + 1, scale=theta)
    tail = (np.exp(-y / extra_lead) - np.exp(-y / theta) * (1 + a * y)) / (a * theta) ** 2
    return np.clip(gamma.cdf(y, shape, scale=theta) - tail, 0, 1)


def _calls(events: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Each call attempt with its outcome: abandoned after ``wait_min`` or answered after it.

    Each outcome is joined to the same customer's latest queued call before it; a call queued
    within the retry gap after an abandoned one is a retry, not a new contact.
    """
    def rows(part: str) -> pd.DataFrame:
        found = events.loc[events["activity"] == MODEL_EVENTS[part], ["customer_id", "ts"]]
        return found.sort_values("ts").rename(columns={"ts": part})

    queued, abandoned = rows("queued"), rows("abandoned")
    answered, ended = rows("answered"), rows("ended")
    outcomes = pd.concat([abandoned.rename(columns={"abandoned": "at"}).assign(
        abandoned=True), answered.rename(columns={"answered": "at"}).assign(
        abandoned=False)]).sort_values("at")
    calls = pd.merge_asof(outcomes, queued.assign(queued_at=queued["queued"]),
                          left_on="at", right_on="queued", by="customer_id",
                          direction="backward").dropna(subset=["queued_at"])
    calls["wait_min"] = (calls["at"] - calls["queued_at"]).dt.total_seconds() / 60
    talk = pd.merge_asof(calls.loc[~calls["abandoned"], ["customer_id", "at"]].reset_index(),
                         ended, left_on="at", right_on="ended", by="customer_id",
                         direction="forward").set_index("index")
    calls["talk_s"] = (talk["ended"] - talk["at"]).dt.total_seconds()
    earlier = pd.merge_asof(queued, abandoned.assign(gave_up=abandoned["abandoned"]),
                            left_on="queued", right_on="abandoned", by="customer_id",
                            direction="backward")
    gap = (earlier["queued"] - earlier["gave_up"]).dt.total_seconds() / 60
    retry = gap.between(*RETRY_GAP_MIN)
    first_calls = earlier.loc[~retry].groupby("customer_id").size().rename("first_calls")
    return calls, first_calls


def observed_behaviour(events: pd.DataFrame | ir.Table,
                       as_of: str | datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per customer, what the demo's generating model speaks about (its own activity names).

    Returns the per-customer times and counts, and one row per call attempt with its outcome.
    """
    cutoff = pd.Timestamp(as_of)
    if isinstance(events, pd.DataFrame) and "source_row" not in events.columns:
        events = events.drop_duplicates()  # raw events may repeat a row; checked ones never do
    table = as_events(events)
    # only what the model reads, counted where the events are (DuckDB: pandas took 36 s to
    # group a million customers' 20 M events by their text ids)
    seen = table.filter(table.activity.isin(sorted(set(MODEL_EVENTS.values())))
                        & (table.ts <= ibis.literal(cutoff.to_pydatetime(), "timestamp('UTC')"))
                        & table.customer_id.notnull())  # no customer's: no one's behaviour
    firsts = ("ordered", "booked", "slot", "active", "cancelled")
    counted = ("done", "walk", "updates", "checks", "chats", "missed", "windows_ended")
    a = seen.activity
    per = seen.group_by("customer_id").aggregate(
        **{p: seen.ts.min(where=a == MODEL_EVENTS[p]) for p in firsts},
        **{p: (a == MODEL_EVENTS[p]).cast("int64").sum() for p in counted})
    per = to_frame(per.filter(per.ordered.notnull()).order_by("customer_id"))
    per = per.set_index("customer_id").astype({p: "int64" for p in counted})
    call_activities = [MODEL_EVENTS[p] for p in ("queued", "abandoned", "answered", "ended")]
    calls, first_calls = _calls(to_frame(seen.filter(a.isin(call_activities))
                                         .select("customer_id", "activity", "ts")))
    per = per.join(first_calls)
    per["first_calls"] = per["first_calls"].fillna(0).astype("int64")
    end = per["active"].fillna(per["cancelled"]).fillna(cutoff).clip(upper=cutoff)
    per["wait_days"] = ((end - per["ordered"]).dt.total_seconds() / DAY_S).clip(lower=0)
    per["decided"] = (per["missed"] > 0) | (per["done"] > 0) | (per["windows_ended"] > 0)
    return per, calls


def _log_likelihood(per: pd.DataFrame, calls: pd.DataFrame, s: dict,
                    world: dict) -> pd.Series:
    """Return log P(observed behaviour | segment with planted parameters ``s``), per customer."""
    informed = per["updates"] > 0
    ll = pd.Series(np.log(s["share"]), index=per.index)
    # the slot: the window's day is the day the lead time ends, and at least the next day
    has_slot = per["slot"].notna() & per["booked"].notna() & (per["slot"] >= per["booked"])
    b = (per.loc[has_slot, "booked"] - pd.Timestamp(world["start"])).dt.total_seconds() / DAY_S
    k = np.floor((per.loc[has_slot, "slot"] - pd.Timestamp(world["start"])).dt.total_seconds()
                 / DAY_S)
    upper = _slot_lead_cdf(k + 1 - b, s["extra_lead_days"])
    lower = np.where(k <= np.floor(b) + 1, 0.0, _slot_lead_cdf(k - b, s["extra_lead_days"]))
    ll[has_slot] += np.log(np.clip(upper - lower, 1e-300, None))
    # the walkthrough, offered once the visit is done
    done = per["done"] > 0
    rate = s["walkthrough_rate"]
    ll[done] += np.where(per.loc[done, "walk"] > 0, np.log(rate), np.log1p(-rate))
    # status checks per day of waiting, halved when kept informed
    checks = s["status_checks_per_day"] * np.where(informed, 0.5, 1.0) * per["wait_days"]
    ll += poisson.logpmf(per["checks"], np.clip(checks, 1e-12, None))
    # contacts: failure demand while waiting, plus one per missed visit and stuck activation
    contacts = per["chats"] + per["first_calls"]
    demand = np.clip(s["contact_rate"] * np.where(informed, 0.4, 1.0) * per["wait_days"],
                     1e-12, None)
    no_show = planted_no_show(world)
    stuck = world["activation_stuck_rate"]
    missed = np.where(per["decided"], (per["missed"] > 0).astype(float), no_show)
    extra_terms = []
    for extra, chance in [(0, (1 - missed) * (1 - stuck)), (1, missed * (1 - stuck)
                                                            + (1 - missed) * stuck),
                          (2, missed * stuck)]:
        extra_terms.append(np.log(np.clip(chance, 1e-300, None))
                           + poisson.logpmf(contacts - extra, demand))
    ll += logsumexp(np.vstack(extra_terms), axis=0)
    # the channel of each contact (retries are calls whatever the customer prefers)
    ll += per["chats"] * np.log(s["digital_share"]) + per["first_calls"] * np.log1p(
        -s["digital_share"])
    # patience in the queue (exponential): hung up after x, or still there when answered
    patience = s["queue_patience_min"]
    call_ll = np.where(calls["abandoned"], -np.log(patience), 0.0) - calls["wait_min"] / patience
    talk = calls["talk_s"].dropna() if "talk_s" in calls else pd.Series(dtype="float64")
    talk_ll = norm.logpdf(np.log(talk.clip(lower=1)), np.log(s["talk_min"] * 60), TALK_SIGMA)
    per_call = pd.concat([pd.Series(call_ll, index=calls.index), pd.Series(
        talk_ll, index=talk.index)]).groupby(level=0).sum()
    by_customer = per_call.groupby(calls.loc[per_call.index, "customer_id"]).sum()
    return ll.add(by_customer.reindex(ll.index, fill_value=0.0))


def ceiling_segments(events: pd.DataFrame | ir.Table, truth: dict,
                     as_of: str | datetime) -> pd.DataFrame:
    """Classify each customer by the demo's true generating model (a Bayes classifier).

    Parameters
    ----------
    events
        The demo's checked event log (``customer_id``, ``activity``, ``ts``).
    truth
        The demo's ``truth.json`` (its ``world`` holds every planted parameter).
    as_of
        The cut-off: later events are not seen.

    Returns
    -------
    One row per customer: ``customer_id``, ``segment`` (the most probable) and the posterior
    probability of each segment (``p_<segment>``).

    """
    world = truth["world"]
    per, calls = observed_behaviour(events, as_of)
    names = [s for s in SEGMENTS if s in world["segments"]]
    ll = pd.concat({s: _log_likelihood(per, calls, world["segments"][s], world) for s in names},
                   axis=1)
    posterior = np.exp(ll.to_numpy() - logsumexp(ll.to_numpy(), axis=1, keepdims=True))
    out = pd.DataFrame(posterior, index=ll.index, columns=[f"p_{s}" for s in names])
    out.insert(0, "segment", np.array(names, dtype=object)[posterior.argmax(axis=1)])
    return out.rename_axis("customer_id").reset_index()


def agreement_with_ceiling(learned: pd.DataFrame, events: pd.DataFrame | ir.Table, truth: dict,
                           as_of: str | datetime) -> pd.DataFrame:
    """Agreement of the learned segments with the planted ones, beside the ceiling's.

    Parameters
    ----------
    learned
        ``customer_id`` and ``segment`` as learned from behaviour.
    events, truth, as_of
        The demo's checked events, its ``truth.json`` and the cut-off (see
        :func:`ceiling_segments`).

    Returns
    -------
    Two rows of :func:`cxlib.segments.agreement` (``customers``, ``share_correct``,
    ``adjusted_rand_index``), named by ``segments``: ``learned from behaviour`` and ``ceiling:
    the true model``, for the same customers.

    """
    ceiling = ceiling_segments(events, truth, as_of)
    ceiling = ceiling[is_in(ceiling["customer_id"], learned["customer_id"])]
    return pd.concat([
        agreement(learned, truth["segment_of_customer"]).assign(segments="learned from behaviour"),
        agreement(ceiling, truth["segment_of_customer"]).assign(segments="ceiling: the true model"),
    ], ignore_index=True)[["segments", "customers", "share_correct", "adjusted_rand_index"]]
