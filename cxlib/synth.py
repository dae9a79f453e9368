"""A deterministic broadband-installation world with planted truth.

``generate`` builds the three canonical tables (events, surveys, customers) of a company whose
departments each keep their own clock, and writes down every parameter it planted — each
customer's true time-sensitivity segment, the satisfaction response to end-to-end duration per
segment (a tolerance threshold and a slope), the penalty of a broken technician-window promise,
a cliff when the "live within 7 days" promise is broken, the softening effect of proactive
updates, and the journeys whose back-office stage is logged out of order — so tests can check
the analyses recover it.

Source systems (``source`` column): ``crm`` (retail order), ``backoffice``, ``fieldforce``
(4-hour appointment windows, early / on-time / late / no-show technicians, repeat visits),
``netops`` (activation), ``telephony`` (queue, abandonment, talk), ``chat``, ``web`` (order
status checks) and ``sms`` (proactive updates).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cxlib.errors import ParamsError, RefusedWrite

SEGMENTS = ("time_savers", "time_engagers", "informed_waiters")
REGIONS = ("North", "South", "East", "West", "Central")
PLANS = ("fibre_100", "fibre_500", "fibre_1000")
# how the demo company hands its data over (cxlib.demo_exports writes it so)
LOCAL_ZONE = "Europe/London"  # its exports' local time, without an offset
ORDER_SYSTEM = "crm"  # exports one row per order …
ORDER_MILESTONES = {"order_placed": "placed_at", "order_confirmed": "confirmed_at",
                    "order_cancelled": "cancelled_at"}  # … a timestamp column per milestone
CUSTOMER_ATTRIBUTES = ("plan",)  # beside the region, in the orders export
HOUR = 3600.0
DAY = 24 * HOUR
# the activities this demo writes for each part of its generating model (what synth_ceiling reads)
MODEL_EVENTS = {
    "ordered": "order_placed", "booked": "appointment_booked", "slot": "window_start",
    "active": "service_active", "cancelled": "order_cancelled", "done": "technician_done",
    "walk": "walkthrough_started", "updates": "update_sent", "checks": "status_checked",
    "chats": "chat_started", "missed": "visit_missed", "windows_ended": "window_end",
    "queued": "call_queued", "abandoned": "call_abandoned", "answered": "call_answered",
    "ended": "call_ended",
}
# draws every segment shares (read back by cxlib.synth_ceiling, the demo's model as classifier)
CAPACITY_DAYS = (0.5, 2.0, 1.2)  # days to the earliest free slot: offset + gamma(shape, scale)
RETRY_GAP_MIN = (10.0, 60.0)  # an abandoned call is retried this many minutes later
TALK_SIGMA = 0.5  # log-scale spread of call talk time around a segment's median


@dataclass(frozen=True)
class SegmentTruth:
    """Behaviour and satisfaction response planted for one time-sensitivity segment."""

    share: float
    queue_patience_min: float  # mean time a caller waits in the queue before hanging up
    digital_share: float  # probability a contact is a chat rather than a call
    extra_lead_days: float  # mean days chosen beyond the earliest appointment slot
    walkthrough_rate: float  # share who take the voluntary set-up walkthrough
    talk_min: float  # median call talk time (voluntary advisory time)
    status_checks_per_day: float  # web order-status checks per waiting day, not kept informed
    contact_rate: float  # failure-demand contacts per waiting day, not kept informed
    threshold_days: float  # tolerance threshold: satisfaction falls after this many days
    slope_per_day: float  # latent satisfaction lost per day beyond the threshold
    informed_softening: float  # share of the slope removed when kept informed


def _default_segments() -> dict[str, SegmentTruth]:
    return {
        "time_savers": SegmentTruth(
            share=0.35, queue_patience_min=2.0, digital_share=0.75, extra_lead_days=0.25,
            walkthrough_rate=0.06, talk_min=3.5, status_checks_per_day=0.08, contact_rate=0.12,
            threshold_days=5.0, slope_per_day=0.55, informed_softening=0.0),
        "time_engagers": SegmentTruth(
            share=0.30, queue_patience_min=15.0, digital_share=0.20, extra_lead_days=4.0,
            walkthrough_rate=0.80, talk_min=14.0, status_checks_per_day=0.08, contact_rate=0.08,
            threshold_days=10.0, slope_per_day=0.25, informed_softening=0.0),
        "informed_waiters": SegmentTruth(
            share=0.35, queue_patience_min=6.0, digital_share=0.45, extra_lead_days=1.5,
            walkthrough_rate=0.10, talk_min=6.0, status_checks_per_day=1.20, contact_rate=0.25,
            threshold_days=7.0, slope_per_day=0.55, informed_softening=0.7),
    }


@dataclass(frozen=True)
class DemoWorld:
    """Every planted parameter of the demo world (written to ``truth.json``)."""

    start: str = "2026-01-01T00:00:00Z"
    cutoff: str = "2026-07-01T00:00:00Z"
    segments: dict[str, SegmentTruth] = field(default_factory=_default_segments)
    region_weights: tuple[float, ...] = (0.25, 0.2, 0.2, 0.2, 0.15)
    informed_share: float = 0.5  # journeys enrolled (at random) in proactive SMS updates
    cancel_rate: float = 0.02
    technician_outcome: dict[str, float] = field(
        default_factory=lambda: {"early": 0.06, "on_time": 0.78, "late": 0.09, "no_show": 0.07}
    )
    activation_stuck_rate: float = 0.10
    survey_rate: float = 0.33  # answer rate of a journey live on the promised day …
    response_odds_per_day: float = 0.06  # … and its log-odds gained per day slower (bias)
    answer_days: float = 3.0  # the survey goes out up to this long after activation
    satisfaction_base: float = 2.4  # latent satisfaction of an on-time, promise-kept journey
    window_breach_penalty: float = 1.2  # latent loss when the technician misses the window
    csat_cuts: tuple[float, ...] = (-2.0, -0.6, 0.8, 2.2)  # latent → CSAT 1..5
    promise_days: float = 7.0  # the promise "live within 7 days" of the order …
    promise_cliff: float = 0.8  # … and the latent loss, all at once, when it is broken
    backoffice_misstamped_rate: float = 0.015  # receipt logged after the booking it led to


@dataclass(frozen=True)
class DemoTables:
    """The three canonical tables and the truth planted in them."""

    events: pd.DataFrame
    surveys: pd.DataFrame
    customers: pd.DataFrame
    truth: dict


def _lognormal(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return median * np.exp(sigma * rng.standard_normal(n))


class _EventLog:
    """Collects event columns as arrays; turns them into one DataFrame at the end."""

    def __init__(self, journey_ids: np.ndarray, customer_ids: np.ndarray, origin: np.datetime64):
        self.journey_ids, self.customer_ids, self.origin = journey_ids, customer_ids, origin
        self.parts: list[pd.DataFrame] = []

    def add(self, activity: str, source: str, seconds: np.ndarray, journeys: np.ndarray,
            with_journey_id: bool = True, resolution_s: int = 1) -> None:
        secs = np.floor(np.asarray(seconds, dtype=float) / resolution_s) * resolution_s
        ts = self.origin + secs.astype("int64").astype("timedelta64[s]")
        jid = self.journey_ids[journeys] if with_journey_id else np.full(len(journeys), None)
        self.parts.append(pd.DataFrame({
            "journey_id": jid, "customer_id": self.customer_ids[journeys],
            "activity": activity, "ts": ts, "source": source,
        }))

    def frame(self, cutoff: np.datetime64) -> pd.DataFrame:
        events = pd.concat(self.parts, ignore_index=True)
        events = events[events["ts"] <= cutoff]
        # each source system exports its own file, in its own time order
        events = events.sort_values(["source", "ts", "journey_id", "activity"], kind="stable")
        events["ts"] = pd.to_datetime(events["ts"]).dt.tz_localize("UTC").astype(
            "datetime64[us, UTC]")
        for col in ("journey_id", "customer_id", "activity", "source"):
            events[col] = events[col].astype("str")  # missing journey ids stay missing
        return events.reset_index(drop=True)


def generate(customers: int = 20_000, seed: int = 42, world: DemoWorld | None = None,
             dirty: bool = True) -> DemoTables:
    """Generate the demo world.

    Parameters
    ----------
    customers
        Number of customers; each orders one broadband installation.
    seed
        Random seed; the same seed gives identical tables.
    world
        Planted parameters; :class:`DemoWorld` defaults when omitted.
    dirty
        Add a few broken rows (missing ids, duplicates, out-of-range scores), as real exports
        have; their counts are written to the truth (``bad_rows``) so quarantine can be checked.

    """
    world = world or DemoWorld()
    rng = np.random.default_rng(seed)
    n = customers
    origin = np.datetime64(world.start.replace("Z", ""), "s")
    cutoff = np.datetime64(world.cutoff.replace("Z", ""), "s")
    horizon = float((cutoff - origin) / np.timedelta64(1, "s"))
    seg_names = list(world.segments)
    seg_truth = [world.segments[s] for s in seg_names]
    seg = rng.choice(len(seg_names), size=n, p=[s.share for s in seg_truth])
    attr = {k: np.array([getattr(s, k) for s in seg_truth])[seg] for k in asdict(seg_truth[0])}
    region = rng.choice(len(REGIONS), size=n, p=world.region_weights)
    informed = rng.random(n) < world.informed_share
    cust_ids = np.array([f"C{i:06d}" for i in range(n)], dtype=object)
    jids = np.array([f"J{i:06d}" for i in range(n)], dtype=object)
    idx = np.arange(n)
    log = _EventLog(jids, cust_ids, origin)

    # --- retail order (crm) and the first hand-off to the back office ------------------------
    day = np.floor(rng.random(n) * (horizon / DAY - 1))
    t_order = day * DAY + rng.uniform(8, 21, n) * HOUR
    t_confirmed = t_order + _lognormal(rng, 1.5, 0.8, n) * HOUR
    t_bo_received = t_confirmed + _lognormal(rng, 14, 0.9, n) * HOUR  # unowned hand-off
    t_booked = t_bo_received + _lognormal(rng, 20, 0.8, n) * HOUR
    # the back office's system sometimes stamps a receipt when it is keyed in, after the
    # booking it led to: a stage logged out of order (its own stream, so the rest of the
    # world stays as it was)
    plants = np.random.default_rng([seed, 1])
    misstamped = plants.random(n) < world.backoffice_misstamped_rate
    t_bo_logged = np.where(misstamped, t_booked + plants.uniform(1, 6, n) * HOUR, t_bo_received)

    # --- appointment: earliest slot depends on field capacity; segments choose differently ---
    offset, shape, scale = CAPACITY_DAYS
    capacity_crunch = offset + rng.gamma(shape, scale, n)  # days to the earliest free slot
    lead_days = capacity_crunch + rng.exponential(attr["extra_lead_days"])
    slot_hour = rng.choice([8, 12, 16], n)
    t_window = (np.floor((t_booked + lead_days * DAY) / DAY)) * DAY + slot_hour * HOUR
    t_window = np.maximum(t_window, np.floor(t_booked / DAY + 1) * DAY + slot_hour * HOUR)
    outcome_names = list(world.technician_outcome)
    outcome = rng.choice(len(outcome_names), n, p=list(world.technician_outcome.values()))
    no_show = outcome == outcome_names.index("no_show")
    early, late = outcome == outcome_names.index("early"), outcome == outcome_names.index("late")
    t_arrive = np.where(early, t_window - rng.uniform(10, 40, n) * 60,
                        np.where(late, t_window + 4 * HOUR + rng.exponential(60, n) * 60,
                                 t_window + rng.uniform(0, 3.9, n) * HOUR))
    # a no-show means a second booking and a second at-home window
    t_rebooked = t_window + 4 * HOUR + _lognormal(rng, 6, 0.6, n) * HOUR
    t_window2 = np.floor((t_rebooked + (1.5 + rng.exponential(1.0, n)) * DAY) / DAY) * DAY \
        + slot_hour * HOUR
    t_arrive2 = t_window2 + rng.uniform(0, 3.9, n) * HOUR
    t_visit = np.where(no_show, t_arrive2, t_arrive)
    t_done = t_visit + _lognormal(rng, 1.5, 0.4, n) * HOUR
    walkthrough = rng.random(n) < attr["walkthrough_rate"]
    t_walk_end = t_done + rng.uniform(20, 45, n) * 60

    # --- network activation (netops), after a second unowned hand-off -----------------------
    t_act_req = np.where(walkthrough, t_walk_end, t_done) + _lognormal(rng, 5, 1.2, n) * HOUR
    stuck = rng.random(n) < world.activation_stuck_rate
    t_active = t_act_req + _lognormal(rng, 3, 1.0, n) * HOUR + stuck * rng.exponential(3, n) * DAY

    # --- cancellations: some customers give up before the first visit ------------------------
    cancelled = rng.random(n) < world.cancel_rate
    t_cancel = t_booked + rng.uniform(0.1, 0.9, n) * (t_window - t_booked)
    t_end = np.where(cancelled, t_cancel, t_active)

    def logged(t: np.ndarray) -> np.ndarray:
        """Whether an event at ``t`` is in the data: before the cut-off and any cancellation."""
        return (t <= horizon) & (~cancelled | (t <= t_cancel))

    def keep(mask: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Events that happen, for journeys in ``mask``, before any cancellation."""
        m = mask & (~cancelled | (t <= t_cancel))
        return t[m], idx[m]

    all_j = np.ones(n, bool)
    for activity, source, t, mask, res in [
        ("order_placed", "crm", t_order, all_j, 1),
        ("order_confirmed", "crm", t_confirmed, all_j, 1),
        ("backoffice_received", "backoffice", t_bo_logged, all_j, 1),
        ("appointment_booked", "backoffice", t_booked, all_j, 1),
        ("window_start", "fieldforce", t_window, all_j, 60),
        ("window_end", "fieldforce", t_window + 4 * HOUR, all_j, 60),
        ("technician_dispatched", "fieldforce", t_window - rng.uniform(30, 90, n) * 60, all_j, 60),
        ("technician_arrived", "fieldforce", t_arrive, ~no_show, 60),
        ("visit_missed", "fieldforce", t_window + 4 * HOUR, no_show, 60),
        ("appointment_booked", "backoffice", t_rebooked, no_show, 1),
        ("technician_dispatched", "fieldforce", t_window2 - rng.uniform(30, 90, n) * 60,
         no_show, 60),
        ("window_start", "fieldforce", t_window2, no_show, 60),
        ("window_end", "fieldforce", t_window2 + 4 * HOUR, no_show, 60),
        ("technician_arrived", "fieldforce", t_arrive2, no_show, 60),
        ("technician_done", "fieldforce", t_done, all_j, 60),
        ("walkthrough_started", "fieldforce", t_done, walkthrough, 60),
        ("walkthrough_ended", "fieldforce", t_walk_end, walkthrough, 60),
        ("activation_requested", "netops", t_act_req, all_j, 1),
        ("service_active", "netops", t_active, all_j, 1),
    ]:
        tt, jj = keep(mask, t)
        log.add(activity, source, tt, jj, resolution_s=res)
    log.add("order_cancelled", "crm", t_cancel[cancelled], idx[cancelled])

    # --- proactive SMS updates for the enrolled half --------------------------------------
    for t in (t_booked + 300, t_window - DAY, t_done + 600, t_active + 120):
        tt, jj = keep(informed, t)
        log.add("update_sent", "sms", tt, jj)
    wait_days = (np.minimum(t_end, horizon) - t_order) / DAY
    n_progress = np.where(informed, np.floor(np.maximum(wait_days - 1, 0) / 2), 0).astype(int)
    pj = np.repeat(idx, n_progress)
    pt = t_order[pj] + (np.concatenate([np.arange(k) for k in n_progress]) + 1) * 2 * DAY
    pt, pj = pt[pt < t_end[pj]], pj[pt < t_end[pj]]
    log.add("update_sent", "sms", pt, pj)

    # --- web order-status checks: the informed-waiters want to know --------------------------
    check_rate = attr["status_checks_per_day"] * np.where(informed, 0.5, 1.0)
    n_checks = rng.poisson(check_rate * np.maximum(wait_days, 0))
    cj = np.repeat(idx, n_checks)
    ct = t_order[cj] + rng.random(len(cj)) * (np.minimum(t_end, horizon) - t_order)[cj]
    log.add("status_checked", "web", ct, cj)

    # --- contacts (failure demand): calls and chats, logged without a journey id -----------
    contact_rate = attr["contact_rate"] * np.where(informed, 0.4, 1.0)
    n_contacts = rng.poisson(contact_rate * np.maximum(wait_days, 0)) + no_show + stuck
    kj = np.repeat(idx, n_contacts)
    kt = t_order[kj] + rng.random(len(kj)) * (np.minimum(t_end, horizon) - t_order)[kj]
    is_chat = rng.random(len(kj)) < attr["digital_share"][kj]
    chat_j, chat_t = kj[is_chat], kt[is_chat]
    log.add("chat_started", "chat", chat_t, chat_j, with_journey_id=False)
    log.add("chat_ended", "chat", chat_t + rng.uniform(5, 20, len(chat_j)) * 60, chat_j,
            with_journey_id=False)
    call_j, call_t = kj[~is_chat], kt[~is_chat]
    for attempt in range(3):  # an abandoned call is often retried
        m = len(call_j)
        queue = rng.exponential(5.0, m) * 60
        patience = rng.exponential(attr["queue_patience_min"][call_j]) * 60
        abandoned = queue > patience
        log.add("call_queued", "telephony", call_t, call_j, with_journey_id=False)
        log.add("call_abandoned", "telephony", (call_t + patience)[abandoned], call_j[abandoned],
                with_journey_id=False)
        ans = ~abandoned
        talk = _lognormal(rng, 1.0, TALK_SIGMA, int(ans.sum())) * attr["talk_min"][call_j[ans]] * 60
        log.add("call_answered", "telephony", (call_t + queue)[ans], call_j[ans],
                with_journey_id=False)
        log.add("call_ended", "telephony", (call_t + queue)[ans] + talk, call_j[ans],
                with_journey_id=False)
        retry = abandoned & (rng.random(m) < 0.6) & (attempt < 2)
        call_j, call_t = call_j[retry], (call_t + patience)[retry] + rng.uniform(
            *RETRY_GAP_MIN, retry.sum()) * 60

    events = log.frame(cutoff)

    # --- satisfaction: planted response to end-to-end days, per segment ----------------------
    e2e_days = (t_active - t_order) / DAY
    window_breached = late | no_show
    slope = attr["slope_per_day"] * np.where(informed, 1 - attr["informed_softening"], 1.0)
    latent = (world.satisfaction_base
              - slope * np.maximum(0.0, e2e_days - attr["threshold_days"])
              - world.window_breach_penalty * window_breached
              - world.promise_cliff * (e2e_days > world.promise_days)
              + rng.logistic(0, 1, n))
    csat = 1 + np.searchsorted(np.array(world.csat_cuts), latent)
    nps = np.clip(np.round(6.8 + 1.5 * latent + rng.normal(0, 1.0, n)), 0, 10)
    contacts_made = n_contacts.astype(float)
    ces = np.clip(np.round(6.3 - 0.45 * contacts_made - 0.6 * no_show + rng.normal(0, 0.8, n)),
                  1, 7)
    t_survey = t_active + rng.uniform(1, world.answer_days * 24, n) * HOUR
    # slow journeys answer more often: respondents are not the customers (see `nonresponse`)
    logit = (np.log(world.survey_rate / (1 - world.survey_rate))
             + world.response_odds_per_day * (e2e_days - world.promise_days))
    answer_rate = 1 / (1 + np.exp(-logit))
    responds = (~cancelled) & (rng.random(n) < answer_rate) & (t_survey <= horizon)
    asked = (~cancelled) & (t_active + world.answer_days * DAY <= horizon)
    # the answers' own draws (comments, gaps) on their own stream: who answers leaves the rest
    # of the world (customers, broken rows) as it is
    surveys = _surveys(np.random.default_rng([seed, 2]), idx[responds], t_survey, csat, nps, ces,
                       e2e_days, window_breached, cust_ids, jids, origin)

    customers_df = pd.DataFrame({
        "customer_id": cust_ids.astype(str),
        "region": np.array(REGIONS, dtype=object)[region].astype(str),
        "plan": rng.choice(np.array(PLANS, dtype=object), n).astype(str),
        "tenure_years": np.round(rng.exponential(4.0, n), 1),
    })
    customers_df["customer_id"] = customers_df["customer_id"].astype("str")

    bad_rows = dict.fromkeys(("events_missing_customer", "events_duplicated",
                              "surveys_csat_out_of_range"), 0)
    if dirty:
        events, surveys, bad_rows = _add_bad_rows(rng, events, surveys)
    truth = {
        "world": asdict(world),
        "bad_rows": bad_rows,  # the broken rows planted, so quarantine counts can be checked
        "seed": seed,
        "customers": n,
        "segment_of_customer": dict(zip(cust_ids.tolist(), np.array(seg_names)[seg].tolist(),
                                        strict=True)),
        "kept_informed_journeys": int(informed.sum()),
        "cancelled_journeys": int(cancelled.sum()),
        "open_journeys_at_cutoff": int(((~cancelled) & (t_active > horizon)).sum()),
        # journeys whose back-office stage is logged end before start, as the data shows it
        # (a rebooking after a missed visit is a later end, so that stage reads forwards)
        "backoffice_out_of_order": jids[
            misstamped & logged(t_bo_logged) & ~(no_show & logged(t_rebooked))].tolist(),
        "surveys": int(len(surveys)),
        # every journey asked to answer, whether or not it did: what respondents stand for
        "asked": {"journeys": int(asked.sum()), "mean_csat": float(csat[asked].mean()),
                  "csat_top2_box": float((csat[asked] >= 4).mean())},
    }
    return DemoTables(events, surveys, customers_df, truth)


_COMMENTS_GOOD = ("Quick and easy, thanks.", "Engineer was on time and friendly.",
                  "Up and running faster than I expected.", "Smooth from order to install.")
_COMMENTS_SLOW = ("Took far too long to get connected.", "Waited nearly two weeks for a line.",
                  "Nobody told me what was happening.", "Had to chase you several times.")
_COMMENTS_WINDOW = ("Engineer never turned up, I took a day off for nothing.",
                    "Waited in all morning and the technician was late.")


def _surveys(rng: np.random.Generator, who: np.ndarray, t_survey: np.ndarray, csat: np.ndarray,
             nps: np.ndarray, ces: np.ndarray, e2e_days: np.ndarray, window_breached: np.ndarray,
             cust_ids: np.ndarray, jids: np.ndarray, origin: np.datetime64) -> pd.DataFrame:
    m = len(who)
    comment = np.where(
        window_breached[who], rng.choice(_COMMENTS_WINDOW, m),
        np.where(csat[who] <= 3, rng.choice(_COMMENTS_SLOW, m), rng.choice(_COMMENTS_GOOD, m)))
    comment = comment.astype(object)
    # some customers write contact details into free text; reports must scrub them
    pii = rng.random(m) < 0.02
    comment[pii] = [f"{c} Call me on 07700 900{rng.integers(100, 999)} or mail "
                    f"cust{rng.integers(1000, 9999)}@example.com" for c in comment[pii]]
    comment[rng.random(m) < 0.4] = None

    def maybe_null(values: np.ndarray, share: float) -> pd.Series:
        s = pd.Series(values.astype(float))
        s[rng.random(m) < share] = np.nan
        return s.astype("Int64")

    secs = np.floor(t_survey[who]).astype("int64").astype("timedelta64[s]")
    surveys = pd.DataFrame({
        "response_id": [f"R{i:07d}" for i in range(m)],
        "customer_id": cust_ids[who].astype(str),
        "journey_id": jids[who].astype(str),
        "ts": pd.to_datetime(origin + secs).tz_localize("UTC").astype("datetime64[us, UTC]"),
        "csat": maybe_null(csat[who], 0.03),
        "nps": maybe_null(nps[who], 0.05),
        "ces": maybe_null(ces[who], 0.08),
        "comment": pd.Series(comment, dtype="str").where(pd.notna(comment), None),
    })
    order = np.argsort(surveys["ts"].to_numpy(), kind="stable")
    surveys = surveys.iloc[order].reset_index(drop=True)
    surveys["response_id"] = [f"R{i:07d}" for i in range(m)]
    for col in ("response_id", "customer_id", "journey_id"):
        surveys[col] = surveys[col].astype("str")
    return surveys


def _add_bad_rows(rng: np.random.Generator, events: pd.DataFrame,
                  surveys: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Break a few rows the way real exports break, and count them."""
    # one broken row per 5,000 events and per 500 answers (none in a smaller world), so any
    # world stays well inside the contract's default max_bad_share of 2 %
    k = len(events) // 5000
    events = events.copy()
    missing = rng.choice(len(events), k, replace=False)
    events.loc[missing, "customer_id"] = None
    dupes = events.iloc[rng.choice(len(events), k, replace=False)]
    dupes = dupes[dupes["customer_id"].notna()]
    events = pd.concat([events, dupes], ignore_index=True)
    surveys = surveys.copy()
    ks = len(surveys) // 500
    out_of_range = rng.choice(len(surveys), ks, replace=False)
    surveys.loc[out_of_range, "csat"] = 9
    return events, surveys, {
        "events_missing_customer": int(k),
        "events_duplicated": int(len(dupes)),
        "surveys_csat_out_of_range": int(ks),
    }


MIN_CUSTOMERS = 50  # fewer leave segments and thresholds with nothing to learn from


def check_demo_target(out: Path) -> None:
    """Refuse to write demo data into a folder that holds anything but an earlier demo."""
    if out.exists() and not out.is_dir():
        raise RefusedWrite(f"{out}: not a folder; demo data needs a folder of its own")
    if out.is_dir() and any(out.iterdir()) and not (out / "truth.json").is_file():
        held = ", ".join(sorted(p.name for p in out.iterdir())[:5])
        raise RefusedWrite(f"{out}: refusing to write demo data into a folder that is not a demo "
                      f"folder (it holds {held}); choose an empty or new folder")


def write_demo(out: str | Path, customers: int = 20_000, seed: int = 42) -> Path:
    """Generate the demo world and write ``events``, ``surveys``, ``customers`` and ``truth.json``.

    The same ``customers`` and ``seed`` give byte-identical files. ``out`` must be new, empty or
    an earlier demo folder (one with ``truth.json``); anything else raises
    :class:`~cxlib.errors.RefusedWrite`; a world smaller than :data:`MIN_CUSTOMERS` raises
    :class:`~cxlib.errors.ParamsError`.
    """
    out = Path(out).resolve()
    if customers < MIN_CUSTOMERS:
        raise ParamsError("cx demo", "--customers", f"at least {MIN_CUSTOMERS}: a smaller world "
                          "leaves segments and tolerance thresholds nothing to learn from")
    check_demo_target(out)
    out.mkdir(parents=True, exist_ok=True)
    data = generate(customers=customers, seed=seed)
    for name in ("events", "surveys", "customers"):
        getattr(data, name).to_parquet(out / f"{name}.parquet", index=False,
                                       compression="zstd")
    (out / "truth.json").write_text(json.dumps(data.truth, indent=1, sort_keys=True))
    return out


def read_truth(data_dir: str | Path) -> dict:
    """Read the planted truth written beside a demo data set."""
    return json.loads((Path(data_dir) / "truth.json").read_text())


def planted_no_show(world: dict) -> float:
    """Return the planted chance that a booked visit does not happen (from ``truth.json``)."""
    return float(world["technician_outcome"]["no_show"])
