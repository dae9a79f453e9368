"""Journeys: one row per journey, as the customer lives it and as each team measures it.

The journey logic is written once as Ibis expressions (:func:`journey_expr`) and executed on
embedded DuckDB by default. Per journey it computes the end-to-end time on the customer's
(wall) clock, each team's own clock, **unowned time** (end-to-end minus the union of team
intervals: the hand-offs nobody owns), the customer's own time consumed, attributed contacts
(failure demand), proactive updates, promises kept or broken, and whether the journey was still
open at the cut-off (then its duration is *censored* at ``as_of``, never dropped).

Tie-break for identical timestamps: the spec's activity order (:meth:`JourneySpec.activities`),
then activity name, then input row (``source_row``). Every result is ordered by ``journey_id``.

This is the engine. Process statistics over the attributed events (bottlenecks, waits, service
times, paths) are in :mod:`cxlib.process`; summaries of the journey table in
:mod:`cxlib.summaries`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import ibis
import ibis.expr.types as ir
import pandas as pd

from cxlib.config import JourneySpec, TeamClock, WindowPromise, WithinPromise, parse_as_of
from cxlib.engines import as_events, events_table, execute_scalar, to_frame, unix_micros
from cxlib.localtime import calendar_deadline_us
from cxlib.workhours import business_hours

_US_PER_HOUR = 3_600_000_000


def hours_between(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    """Exact hours between two timestamps (microsecond difference, no boundary counting)."""
    return hours_of(micros_between(later, earlier))


def micros_between(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.IntegerValue:
    """Whole microseconds between two timestamps."""
    return unix_micros(later) - unix_micros(earlier)


def _total_hours(later: ir.TimestampValue, earlier: ir.TimestampValue,
                 where: ir.BooleanValue | None = None) -> ir.FloatingValue:
    """Hours of many intervals together: their microseconds summed, then made hours.

    Whole microseconds add up exactly in any order; hours (floats) summed by parallel threads
    differed in the last bit from one run to the next.
    """
    return hours_of(micros_between(later, earlier).sum(where=where))


def mean_hours(micros: ir.IntegerColumn) -> ir.FloatingValue:
    """Mean of a column of microseconds in hours, the same in every run (see _total_hours)."""
    return hours_of(micros.sum()) / micros.count()


def hours_of(micros: ir.IntegerValue) -> ir.FloatingValue:
    """Microseconds as hours."""
    return micros.cast("float64") / _US_PER_HOUR


def _cutoff(as_of: str | datetime) -> ir.TimestampValue:
    return ibis.literal(parse_as_of(as_of), type="timestamp('UTC')")


def _until_cutoff(events: pd.DataFrame | ir.Table, spec: JourneySpec,
                  as_of: str | datetime) -> tuple[ir.Table, ir.TimestampValue, bool]:
    """Events in tie-break order up to the cut-off (nothing later has happened yet).

    Also whether any event, before or after the cut-off, lacks a journey id (see
    :func:`_ordered`).
    """
    table = as_events(events)
    cutoff = _cutoff(as_of)
    ev, unlinked = _ordered(table, spec)
    return ev.filter(ev.ts <= cutoff), cutoff, unlinked


def _ordered(events: ir.Table, spec: JourneySpec) -> tuple[ir.Table, bool]:
    """Add ``activity_rank`` so identical timestamps sort by the documented tie-break.

    The rank is the activity's place in the spec's order, then by name, among the activities
    the events hold (read first: one small query, which also tells whether any event lacks a
    journey id — returned with the table): windows sort on time, rank and input row, never
    comparing names (on 10 M events that comparison was 2 s of the 10 s journey query).

    Also ``began``: when the event's activity instance started (``activity_start_ts``, where the
    log records one), else the event's own time. An activity that opens an interval (the
    journey's start, a clock's or a within promise's ``from``) opens it when work on it began;
    one that closes an interval closes it when it completed (``ts``).
    """
    order = {a: i for i, a in enumerate(spec.activities())}
    found = to_frame(events.group_by("activity").aggregate(
        unlinked=events.journey_id.isnull().any()))
    names = found["activity"].tolist()
    if any(pd.isna(a) for a in names):  # the data contract quarantines such rows
        raise ValueError("events without an activity: build journeys from checked events "
                         "(cxlib.io.load_dataset or check_folder), which quarantine them")
    ranked = sorted(names, key=lambda a: (order.get(a, len(order)), a))
    ranks = ibis.memtable(pd.DataFrame({"activity": pd.Series(ranked, dtype=object),
                                        "activity_rank": pd.Series(range(len(ranked)),
                                                                   dtype="int32")}))
    ranked_events = events.join(ranks, "activity")  # every activity has its rank
    return ranked_events.mutate(began=ranked_events.activity_start_ts.coalesce(ranked_events.ts)
                                if "activity_start_ts" in events.columns else ranked_events.ts
                                ), bool(found["unlinked"].any())


def tie_break(t: ir.Table) -> list[ir.Value]:
    """Return the sort keys of the documented tie-break (time, spec order, name, input row).

    ``activity_rank`` holds the spec's order and then the name (:func:`_ordered`).
    """
    return [t.ts, t.activity_rank, t.source_row]


def _linked(events: ir.Table) -> ir.Table:
    """Events that carry their journey id (``attributed`` marks contacts given one later)."""
    return events.filter(events.journey_id.notnull()).mutate(attributed=ibis.literal(False))


# how the partial results of an aggregate combine when a table is aggregated in two steps
Combine = str  # "min", "max" or "sum"


def _bound_aggregates(events: ir.Table, spec: JourneySpec) -> dict[str, tuple[ir.Scalar, Combine]]:
    """Per journey: customer, first event, start, end and cancel time, each with its combiner.

    Attributed contacts never start, end or cancel a journey.
    """
    a, ts, own, began = events.activity, events.ts, ~events.attributed, events.began
    return {
        "customer_id": (events.customer_id.min(), "min"),
        "first_ts": (began.min(where=own), "min"),
        "start_ts": ((began.min(where=own & (a == spec.start)) if spec.start
                      else began.min(where=own)), "min"),
        "end_ts": ((ts.min(where=own & (a == spec.end)), "min") if spec.end
                   else (ts.max(where=own), "max")),
        "cancel_ts": ((ts.min(where=own & (a == spec.cancel)), "min") if spec.cancel
                      else (None, "min")),
    }


def _aggregated(events: ir.Table, aggregates: dict[str, tuple[ir.Scalar | None, Combine]],
                within: str | None = None) -> ir.Table:
    """Aggregate per journey; an aggregate given as None is a missing timestamp.

    With ``within``, in two steps — per journey and value of that column, then per journey,
    each aggregate's partial results combined as it says — and ``n_<within>s`` counts the
    journey's distinct values of it: DuckDB reads a distinct count from a second pass over the
    events (on 10 M events the two steps take 2.6 s where one with the distinct count took 3.4).
    """
    given = {n: e for n, (e, _) in aggregates.items() if e is not None}
    missing = {n: ibis.null("timestamp('UTC')") for n, (e, _) in aggregates.items() if e is None}
    if within is None:
        out = events.group_by("journey_id").aggregate(**given)
    else:
        part = events.group_by(["journey_id", within]).aggregate(**given)
        out = part.group_by("journey_id").aggregate(
            **{n: getattr(part[n], aggregates[n][1])() for n in given},
            **{f"n_{within}s": part[within].count()})
    return out.mutate(**missing).select("journey_id", *aggregates,
                                        *([f"n_{within}s"] if within else []))


def _finish_bounds(b: ir.Table, as_of: ir.TimestampValue) -> ir.Table:
    """Add status, ``problem`` and the clock's stop time to :func:`_bound_aggregates`' columns."""
    b = b.mutate(start_ts=b.start_ts.coalesce(b.first_ts)).drop("first_ts")
    status = (ibis.cases((b.end_ts.notnull(), "complete"), (b.cancel_ts.notnull(), "abandoned"),
                         else_="open"))
    b = b.mutate(status=status,
                 problem=ibis.cases((b.end_ts < b.start_ts, "end before start"),
                                    else_=ibis.null("string")))
    return b.mutate(clock_stop=ibis.cases((b.status == "complete", b.end_ts),
                                          (b.status == "abandoned", b.cancel_ts),
                                          else_=as_of))


def _bounds(events: ir.Table, spec: JourneySpec, as_of: ir.TimestampValue) -> ir.Table:
    """Per journey: customer, start, end, cancel, status, the clock's stop time, ``problem``."""
    return _finish_bounds(_aggregated(events, _bound_aggregates(events, spec)), as_of)


def _stage_ends(events: ir.Table, team: TeamClock) -> dict[str, tuple[ir.Scalar, Combine]]:
    """Per journey: the team's first start and last end event (see :func:`_stage_reversed`)."""
    own = ~events.attributed
    return {f"_stage_started_{team.team}": (
                events.ts.min(where=own & (events.activity == team.from_)), "min"),
            f"_stage_ended_{team.team}": (
                events.ts.max(where=own & events.activity.isin(list(team.to))), "max")}


def _stage_reversed(per_journey: ir.Table, team: TeamClock) -> ir.BooleanValue:
    """Per journey: whether the team's stage ended before it started (:func:`_stage_ends`).

    True when its last end event precedes its first start event (two systems' clocks
    disagree): the stage cannot be measured — a finding, never a zero.
    """
    started = per_journey[f"_stage_started_{team.team}"]
    ended = per_journey[f"_stage_ended_{team.team}"]
    return (ended < started).fill_null(False)


def _attribute_unlinked(unlinked: ir.Table, bounds: ir.Table, spec: JourneySpec) -> ir.Table:
    """Give events without a journey id the customer's journey open at that time."""
    before = ibis.interval(seconds=int(spec.attribution.before_start * 3600))
    after = ibis.interval(seconds=int(spec.attribution.after_end * 3600))
    b = bounds.select("journey_id", "customer_id", "start_ts", "clock_stop")
    u = unlinked.drop("journey_id")
    cand = u.join(b, [u.customer_id == b.customer_id, u.ts >= b.start_ts - before,
                      u.ts <= b.clock_stop + after])
    # the journey that had started most recently wins; else the one starting soonest
    started = (cand.start_ts <= cand.ts).cast("int8")
    distance = hours_between(cand.ts, cand.start_ts).abs()
    w = ibis.window(group_by=cand.source_row,
                    order_by=[ibis.desc(started), distance, cand.journey_id])
    cand = cand.mutate(pick=ibis.row_number().over(w))
    return cand.filter(cand.pick == 0).select(*unlinked.columns)


def _intervals(events: ir.Table, kind: str, defs: list[tuple[str, str, tuple[str, ...]]],
               bounds: ir.Table) -> ir.Table:
    """Pair each ``from`` event with the first ``to`` event before the next ``from``.

    Returns one row per closed interval: journey_id, kind, name, from_ts, to_ts. An interval
    still unclosed in an open journey runs to the cut-off; in a closed journey it is dropped.
    """
    parts = []
    for name, start, ends in defs:
        sel = events.filter(events.activity.isin([start, *ends]))
        opens = sel.activity == start  # an interval opens when work on its activity began
        parts.append(sel.mutate(name=ibis.literal(name), is_from=opens,
                                ts=ibis.cases((opens, sel.began), else_=sel.ts)))
    rows = ibis.union(*parts)
    w = ibis.window(group_by=[rows.journey_id, rows.name],
                    order_by=[*tie_break(rows), ibis.desc(rows.is_from)], rows=(None, 0))
    rows = rows.mutate(pair=rows.is_from.cast("int32").sum().over(w))
    rows = rows.filter(rows.pair > 0)
    pairs = rows.group_by(["journey_id", "name", "pair"]).aggregate(
        from_ts=rows.ts.min(where=rows.is_from), to_ts=rows.ts.min(where=~rows.is_from))
    pairs = pairs.join(bounds.select("journey_id", "status", "clock_stop"), "journey_id")
    pairs = pairs.mutate(to_ts=ibis.cases((pairs.to_ts.notnull(), pairs.to_ts),
                                          (pairs.status == "open", pairs.clock_stop),
                                          else_=ibis.null("timestamp('UTC')")))
    pairs = pairs.filter(pairs.to_ts.notnull() & (pairs.to_ts >= pairs.from_ts))
    return pairs.select("journey_id", "name", "from_ts", "to_ts", kind=ibis.literal(kind))


def _covered_hours(team_intervals: ir.Table, bounds: ir.Table) -> ir.Table:
    """Hours of each journey covered by at least one team clock (union of intervals)."""
    b = bounds.select("journey_id", "start_ts", "clock_stop")
    t = team_intervals.join(b, "journey_id")
    t = t.mutate(lo=ibis.greatest(t.from_ts, t.start_ts), hi=ibis.least(t.to_ts, t.clock_stop))
    t = t.filter(t.hi > t.lo)
    w = ibis.window(group_by=t.journey_id, order_by=[t.lo, t.hi], rows=(None, -1))
    t = t.mutate(reach=t.hi.max().over(w))
    t = t.mutate(new_island=(t.reach.isnull() | (t.lo > t.reach)).cast("int32"))
    w2 = ibis.window(group_by=t.journey_id, order_by=[t.lo, t.hi], rows=(None, 0))
    t = t.mutate(island=t.new_island.sum().over(w2))
    islands = t.group_by(["journey_id", "island"]).aggregate(lo=t.lo.min(), hi=t.hi.max())
    return islands.group_by("journey_id").aggregate(
        covered_hours=_total_hours(islands.hi, islands.lo))


def _within_deadline_us(start_us: ir.IntegerValue, within: float, timezone: str | None,
                        span: Callable[[], tuple[datetime | None, datetime | None]]
                        ) -> ir.IntegerValue:
    """Return a within-promise's deadline in UTC microseconds.

    ``within`` hours after the start or — in a spec with a ``timezone`` and a whole number of
    days — that many local calendar days after it; ``span`` gives the events' first and last
    instant (asked only for calendar days).
    """
    days, rest = divmod(within, 24.0)
    if timezone is None or rest or not days:
        return start_us + round(within * _US_PER_HOUR)
    earliest, latest = span()
    if earliest is None:  # no events: nothing to compute, any deadline will do
        return start_us + round(within * _US_PER_HOUR)
    return calendar_deadline_us(start_us, int(days), timezone, earliest, latest)


def _promise_columns(linked: ir.Table, bounds: ir.Table, spec: JourneySpec,
                     as_of: ir.TimestampValue) -> ir.Table:
    """Per promise: its state, its lateness and whether the promised event happened.

    ``promise_<name>`` is met / breached / open / not_applicable; ``promise_<name>_done`` says
    the promised event happened by the cut-off, on time or not; ``promise_<name>_margin_hours``
    is when it happened relative to the deadline (negative: before it; blank: not yet).
    """
    a = linked.activity
    firsts: dict[str, ir.Value] = {}
    for act in sorted({x for p in spec.promises for x in p.activities()}):
        firsts[f"first_{act}"] = linked.ts.min(where=a == act)
    for p in spec.promises:  # a within promise runs from when work on its `from` began
        if isinstance(p, WithinPromise):
            firsts[f"began_{p.from_}"] = linked.began.min(where=a == p.from_)
    per = linked.group_by("journey_id").aggregate(**firsts) if firsts else None
    out = bounds.select("journey_id", "status", "clock_stop")
    if per is None:
        return out.drop("status", "clock_stop")
    out = out.join(per, "journey_id")

    @lru_cache(maxsize=1)
    def span() -> tuple[datetime | None, datetime | None]:  # one probe for every promise
        found = execute_scalar(ibis.struct({"earliest": linked.ts.min(),
                                            "latest": linked.ts.max()}))
        return found["earliest"], found["latest"]

    cols = {}
    for p in spec.promises:
        if isinstance(p, WithinPromise):
            start, done = out[f"began_{p.from_}"], out[f"first_{p.to}"]
            happened = done.notnull()
            now = unix_micros(ibis.least(out.clock_stop, as_of))
            deadline = _within_deadline_us(unix_micros(start), p.within, spec.timezone, span)
            past = (unix_micros(done).coalesce(now) - deadline).cast("float64") / _US_PER_HOUR
            late = ibis.greatest(past, 0.0)
            margin = ibis.cases((happened, past), else_=ibis.null("float64"))
            state = ibis.cases(
                (start.isnull(), "not_applicable"),
                (done.notnull() & (past <= 0), "met"),
                (past > 0, "breached"),
                (out.status == "open", "open"),
                else_="not_applicable")
        elif isinstance(p, WindowPromise):
            event, opens = out[f"first_{p.event}"], out[f"first_{p.after}"]
            closes = out[f"first_{p.before}"]
            happened = event.notnull()
            now = ibis.least(out.clock_stop, as_of)
            klass = ibis.cases(  # a window still in progress has opened but not closed
                (opens.isnull(), "not_applicable"),
                (event.notnull() & (event < opens), "early"),
                (event.notnull() & (closes.isnull() | (event <= closes)), "on_time"),
                (event.notnull(), "late"),
                (closes.notnull() & (closes < now), "missed"),
                (out.status == "open", "open"),
                else_="not_applicable")
            state = ibis.cases((klass == "on_time", "met"),
                               (klass.isin(["early", "late", "missed"]), "breached"),
                               (klass == "open", "open"), else_="not_applicable")
            late = ibis.greatest(hours_between(event.coalesce(now), closes), 0.0)
            margin = hours_between(event, closes)
            cols[f"promise_{p.name}_class"] = klass
            cols[f"promise_{p.name}_early_hours"] = ibis.cases(
                (klass == "early", hours_between(opens, event)), else_=ibis.null("float64"))
        else:
            event, deadline = out[f"first_{p.event}"], out[f"first_{p.before}"]
            happened = event.notnull()
            now = ibis.least(out.clock_stop, as_of)
            late = ibis.greatest(hours_between(event.coalesce(now), deadline), 0.0)
            margin = hours_between(event, deadline)
            state = ibis.cases(
                (deadline.isnull(), "not_applicable"),
                (event.notnull() & (event <= deadline), "met"),
                (event.notnull() | (deadline < as_of), "breached"),
                else_="open")
        cols[f"promise_{p.name}"] = state
        cols[f"promise_{p.name}_done"] = happened
        cols[f"promise_{p.name}_margin_hours"] = margin
        is_late = (klass.isin(["late", "missed"]) if isinstance(p, WindowPromise)
                   else state == "breached")
        cols[f"promise_{p.name}_late_hours"] = ibis.cases(
            (is_late, late), else_=ibis.null("float64"))
    return out.select("journey_id", **cols)


@dataclass(frozen=True)
class JourneyEvents:
    """Events attributed to their journeys at a cut-off, and each journey's bounds, kept.

    What :func:`journey_events_expr` computes from the events, computed once (a build keeps it
    in Parquet files, see :func:`cxlib.workbench.build_workbench`): the journey table, the
    behaviour features and the process statistics accept it in place of the events, for the
    same ``spec`` and ``as_of``, and read it instead of attributing the events again.
    """

    events: ir.Table
    bounds: ir.Table
    spec: JourneySpec
    as_of: datetime


# what a journey computation starts from: the events (a frame or an Ibis table) or the
# events a build kept attributed to journeys
JourneyInput = pd.DataFrame | ir.Table | JourneyEvents


def journey_bounds(journey_events: ir.Table, spec: JourneySpec,
                   as_of: str | datetime) -> ir.Table:
    """Return each journey's bounds from its attributed events (:func:`journey_events_expr`).

    The same table :func:`journey_events_expr` returns beside them, read from the events it
    kept: a journey's own (not attributed) events are the ones its bounds were taken from.
    """
    own = journey_events.filter(~journey_events.attributed)
    bounds = _bounds(own, spec, _cutoff(as_of))
    return bounds.filter(bounds.problem.isnull()).drop("problem")


def journey_events_expr(events: JourneyInput, spec: JourneySpec,
                        as_of: str | datetime) -> tuple[ir.Table, ir.Table]:
    """Events up to the cut-off with contacts attributed to journeys, and each journey's bounds.

    Attributed contacts are marked ``attributed``; whether any event lacks a journey id is read
    with the activities' ranks, in one small query on the events' backend (:func:`_ordered`).
    :class:`JourneyEvents` are returned as they are.

    Journeys that end before they start are left out of both (see :func:`quarantined_journeys`).

    Raises
    ------
    ValueError
        ``events`` are :class:`JourneyEvents` kept for another spec or cut-off.

    """
    if isinstance(events, JourneyEvents):
        asked = parse_as_of(as_of)
        if events.spec != spec or events.as_of != asked:
            raise ValueError(
                f"these journey events were attributed at cut-off {events.as_of:%Y-%m-%d %H:%M} "
                f"with spec '{events.spec.journey}'; asked for {asked:%Y-%m-%d %H:%M} with "
                f"'{spec.journey}': pass the events themselves to attribute them again")
        return events.events, events.bounds
    ev, as_of_lit, unlinked = _until_cutoff(events, spec, as_of)
    linked = _linked(ev)
    bounds = _bounds(linked, spec, as_of_lit)
    if spec.start and spec.end:  # else the start is the first event or the end the last
        linked = linked.anti_join(bounds.filter(bounds.problem.notnull()), "journey_id")
    bounds = bounds.filter(bounds.problem.isnull()).drop("problem")
    if not unlinked:
        return linked, bounds  # nothing to attribute: a union with nothing still costs a join
    attributed = _attribute_unlinked(ev.filter(ev.journey_id.isnull()), bounds, spec)
    return ibis.union(linked, attributed.mutate(attributed=True).select(*linked.columns)), bounds


def quarantined_journeys(events: pd.DataFrame | ir.Table, spec: JourneySpec,
                         as_of: str | datetime) -> pd.DataFrame:
    """Journeys left out of the journey table, with the rule they broke (never dropped silently).

    Today one rule: the end activity is logged before the start (clock skew between systems).
    """
    ev, as_of_lit, _ = _until_cutoff(events, spec, as_of)
    bounds = _bounds(_linked(ev), spec, as_of_lit)
    bad = bounds.filter(bounds.problem.notnull())
    return to_frame(bad.select("journey_id", "customer_id", "start_ts", "end_ts",
                              rule=bad.problem).order_by("journey_id"))


def unknown_activities(events: pd.DataFrame | ir.Table, spec: JourneySpec) -> pd.DataFrame:
    """Activities in the data that the spec never names: kept in journeys, reported here.

    Most events first (ties by name); ``events`` is a frame or an Ibis table.
    """
    ev = as_events(events)
    unknown = ev.filter(~ev.activity.isin(sorted(spec.activities())))
    counts = to_frame(unknown.group_by("activity").aggregate(events=unknown.count())
                      .order_by([ibis.desc("events"), "activity"]))
    return pd.DataFrame({"activity": counts["activity"].astype(str).to_numpy(),
                         "events": counts["events"].astype("int64").to_numpy()})


def journey_expr(events: JourneyInput, spec: JourneySpec,
                 as_of: str | datetime) -> ir.Table:
    """Build the journey table as an Ibis expression (backend-independent)."""
    as_of_lit = _cutoff(as_of)
    journey_events, bounds = journey_events_expr(events, spec, as_of)

    # stage waits: the longest gap between consecutive events, and the wait before the end
    je = journey_events
    w = ibis.window(group_by=je.journey_id, order_by=tie_break(je))
    own_ts = ibis.cases((~je.attributed, je.ts), else_=ibis.null("timestamp('UTC')"))
    gaps = je.mutate(  # an attributed contact never ends a journey (see _bounds)
        gap=hours_between(je.began, je.ts.lag().over(w)),  # working on an activity is not waiting
        is_end=~je.attributed & ((je.activity == spec.end) if spec.end else
                                 (je.ts == own_ts.max().over(w))))
    a = gaps.activity
    counted = {"contacts": spec.contacts, "updates_sent": spec.updates}
    per_journey = {  # aggregated per journey and source, then per journey
        **_bound_aggregates(gaps, spec),
        "n_events": (gaps.count(), "sum"),
        **{name: (a.isin(list(names)).sum(), "sum") for name, names in counted.items() if names},
        "longest_wait_hours": (gaps.gap.max(), "max"),
        "last_wait_hours": (gaps.gap.max(where=gaps.is_end), "max"),
        **{k: v for t in spec.teams for k, v in _stage_ends(gaps, t).items()},
    }
    out = _finish_bounds(_aggregated(gaps, per_journey, within="source"), as_of_lit)
    out = out.mutate(**{name: ibis.literal(0) for name, names in counted.items() if not names},
                     **{f"team_{t.team}_reversed": _stage_reversed(out, t) for t in spec.teams})
    # journeys with a problem are not among the journey events
    out = out.select("journey_id", "customer_id", "start_ts", "end_ts", "cancel_ts", "n_events",
                     "n_sources", *counted, "longest_wait_hours", "last_wait_hours",
                     *[f"team_{t.team}_reversed" for t in spec.teams], "status", "clock_stop")

    team_defs = [(t.team, t.from_, t.to) for t in spec.teams]
    cust_defs = [(c.name, c.from_, c.to) for c in spec.customer_time]
    clocks: dict[str, ir.Value] = {}
    if team_defs:
        teams = _intervals(journey_events, "team", team_defs, bounds)
        out = out.left_join(_covered_hours(teams, bounds), "journey_id").drop("journey_id_right")
        clocks.update({f"team_{n}_hours": _total_hours(teams.to_ts, teams.from_ts,
                                                        where=teams.name == n)
                       for n, _, _ in team_defs})
        out = out.left_join(teams.group_by("journey_id").aggregate(**clocks),
                            "journey_id").drop("journey_id_right")
    if cust_defs:
        cust = _intervals(journey_events, "customer", cust_defs, bounds)
        cclocks = {f"customer_{n}_hours": _total_hours(cust.to_ts, cust.from_ts,
                                                        where=cust.name == n)
                   for n, _, _ in cust_defs}
        out = out.left_join(cust.group_by("journey_id").aggregate(**cclocks),
                            "journey_id").drop("journey_id_right")
        clocks.update(cclocks)
    out = out.mutate(**{c: out[c].fill_null(0.0) for c in clocks})
    # a stage logged end-before-start has no clock, and the journey's unowned time is unknown
    reversed_stages = sum((out[f"team_{n}_reversed"].cast("int32") for n, _, _ in team_defs),
                          ibis.literal(0))
    out = out.mutate(stages_out_of_order=reversed_stages,
                     **{f"team_{n}_hours": ibis.cases(
                         (out[f"team_{n}_reversed"], ibis.null("float64")),
                         else_=out[f"team_{n}_hours"]) for n, _, _ in team_defs})
    e2e = hours_between(out.clock_stop, out.start_ts)
    covered = out.covered_hours.fill_null(0.0) if team_defs else ibis.literal(0.0)
    out = out.mutate(
        e2e_hours=e2e,
        e2e_days=e2e / 24,
        censored=out.status != "complete",
        unowned_hours=ibis.cases((out.stages_out_of_order > 0, ibis.null("float64")),
                                 else_=ibis.greatest(e2e - covered, 0.0)),
        customer_hours=sum((out[c] for c in clocks if c.startswith("customer_")),
                           ibis.literal(0.0)),
        repeat_contacts=ibis.greatest(out.contacts - 1, 0),
        kept_informed=out.updates_sent > 0,
    )
    if team_defs:
        out = out.drop("covered_hours")
    if spec.promises:
        out = out.join(_promise_columns(journey_events, bounds, spec, as_of_lit), "journey_id")
    first = ["journey_id", "customer_id", "status", "censored", "start_ts", "end_ts", "cancel_ts",
             "e2e_hours", "e2e_days", "unowned_hours", "customer_hours"]
    return out.select(*first, *[c for c in out.columns if c not in first and c != "clock_stop"]
                      ).order_by("journey_id")


def unattributed_contacts(events: pd.DataFrame | ir.Table, spec: JourneySpec,
                          as_of: str | datetime) -> int:
    """Count contacts without a journey id that match no journey (counted, never lost)."""
    ev, as_of_lit, _ = _until_cutoff(events, spec, as_of)
    bounds = _bounds(_linked(ev), spec, as_of_lit)
    unlinked = ev.filter(ev.journey_id.isnull() & ev.activity.isin(list(spec.contacts)))
    matched = _attribute_unlinked(unlinked, bounds, spec)
    return int(execute_scalar(unlinked.count()) - execute_scalar(matched.count()))


def build_journeys(events: JourneyInput, spec: JourneySpec,
                   as_of: str | datetime, engine: str = "duckdb",
                   spark_conf: dict[str, str] | None = None) -> pd.DataFrame:
    """Return the journey table (one row per journey), on DuckDB unless told otherwise.

    Team clocks with a ``calendar`` count working hours only (computed after the Ibis query,
    from the team intervals); every other duration is wall-clock.

    Parameters
    ----------
    events
        Canonical events (``cxlib.io.load_dataset(...).events``) or an Ibis table of them, or
        :class:`JourneyEvents` kept for ``spec`` and ``as_of``.
    spec
        The journey spec (``cxlib.config.load_spec``).
    as_of
        The cut-off: later events are ignored and open journeys are censored here.
    engine
        ``"duckdb"`` (embedded, default) or ``"pyspark"``: same expressions, same table.
    spark_conf
        Spark settings for ``engine="pyspark"``, e.g. ``{"spark.master": "spark://host:7077"}``.

    """
    if isinstance(events, pd.DataFrame):
        events = events_table(events, engine, spark_conf)
    table = to_frame(journey_expr(events, spec, as_of))
    on_calendar = [t for t in spec.teams if t.calendar]
    if on_calendar and len(table):
        names = [t.team for t in on_calendar]
        iv = team_intervals_expr(events, spec, as_of)
        iv = to_frame(iv.filter(iv.name.isin(names)))
        for team in on_calendar:
            part = iv[iv["name"] == team.team]
            worked = pd.Series(business_hours(part["from_ts"], part["to_ts"],
                                              spec.calendars[team.calendar]), index=part.index)
            per_journey = worked.groupby(part["journey_id"]).sum()
            hours = table["journey_id"].map(per_journey).fillna(0.0).astype("float64")
            table[f"team_{team.team}_hours"] = hours.where(~table[f"team_{team.team}_reversed"])
    return table


def team_intervals_expr(events: JourneyInput, spec: JourneySpec,
                        as_of: str | datetime) -> ir.Table:
    """Every team-clock interval (journey_id, name, from_ts, to_ts), wall-clock."""
    journey_events, bounds = journey_events_expr(events, spec, as_of)
    return _intervals(journey_events, "team", [(t.team, t.from_, t.to) for t in spec.teams],
                      bounds)
