"""Process statistics over journey events: where the time goes between activities.

Per transition (:func:`bottlenecks`), per activity (:func:`activity_waits`,
:func:`service_times`) and per path (:func:`variants`) — Ibis expressions over the events the
journey engine (:mod:`cxlib.journeys`) attributes to journeys — here, or once in a build
(:class:`cxlib.journeys.JourneyEvents`) — run on the events' backend.
Small groups are suppressed.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir
import pandas as pd

from cxlib.config import JourneySpec
from cxlib.engines import to_frame
from cxlib.journeys import (
    JourneyInput,
    hours_between,
    hours_of,
    journey_events_expr,
    mean_hours,
    micros_between,
    tie_break,
)
from cxlib.privacy import MIN_GROUP_SIZE


def _path_events(events: JourneyInput, spec: JourneySpec, as_of: str | datetime,
                 activities: list[str] | None) -> tuple[ir.Table, ir.Table]:
    """Journey events on the path (``activities``, or all), and each journey's bounds."""
    ev, bounds = journey_events_expr(events, spec, as_of)
    return (ev.filter(ev.activity.isin(activities)) if activities else ev), bounds


def _stage_positions(spec: JourneySpec) -> dict[str, int]:
    """Each team activity's place in the process: team by team in spec order, start then end."""
    positions: dict[str, int] = {}
    for i, team in enumerate(spec.teams):
        positions.setdefault(team.from_, 2 * i)
        for end in team.to:
            positions.setdefault(end, 2 * i + 1)
    return positions


def bottlenecks(events: JourneyInput, spec: JourneySpec, as_of: str | datetime,
                activities: list[str] | None = None,
                min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Per transition (activity → next activity): count, median, p90 and mean wait in hours.

    ``activities`` restricts the path (e.g. ``spec.milestones()``, leaving calls and updates
    out); by default every activity counts. Sorted by total hours spent in the transition.
    ``handoff`` names the two teams when the transition leaves one team's clock for the next's:
    the unowned time, by hand-off. ``against_process_order`` marks a transition that runs
    backwards through the teams' stages (logged out of order), so it is never read as a hand-off.
    """
    ev, _ = _path_events(events, spec, as_of, activities)
    w = ibis.window(group_by=ev.journey_id, order_by=tie_break(ev))
    t = ev.mutate(from_activity=ev.activity.lag().over(w),
                  waited=micros_between(ev.ts, ev.ts.lag().over(w)))
    t = t.filter(t.from_activity.notnull())
    t = t.mutate(wait=hours_of(t.waited))
    table = to_frame(t.group_by(["from_activity", "activity"]).aggregate(
        n=t.count(), quantiles=t.wait.quantile([0.5, 0.9]),  # one sort for both
        mean_hours=mean_hours(t.waited), total_hours=hours_of(t.waited.sum())))
    quantiles = table.pop("quantiles")
    for position, (name, i) in enumerate([("median_hours", 0), ("p90_hours", 1)], start=3):
        table.insert(position, name, pd.array([q[i] for q in quantiles], dtype="float64"))
    table = table.rename(columns={"activity": "to_activity"})
    handoff = {(end, b.from_): f"{a.team} → {b.team}" for a in spec.teams for b in spec.teams
               if a.team != b.team for end in a.to}
    table["handoff"] = [handoff.get(pair) for pair in
                        zip(table["from_activity"], table["to_activity"], strict=True)]
    stage = _stage_positions(spec)
    table["against_process_order"] = [  # e.g. a hand-over logged before the approval
        a in stage and b in stage and stage[b] < stage[a]
        for a, b in zip(table["from_activity"], table["to_activity"], strict=True)]
    table = table.sort_values(["total_hours", "from_activity", "to_activity"],
                              ascending=[False, True, True]).reset_index(drop=True)
    small = table["n"] < min_group_size  # a total beside n would give the mean back
    table.loc[small, ["median_hours", "p90_hours", "mean_hours", "total_hours"]] = float("nan")
    return table.assign(suppressed=small)


def activity_waits(events: JourneyInput, spec: JourneySpec, as_of: str | datetime,
                   activities: list[str] | None = None) -> pd.DataFrame:
    """Per activity: how many times it happened and the mean and median wait before it (hours).

    Where the log gives an activity instance's start (``activity_start_ts``), the wait runs from the
    previous event to that start: the time working on it is its service time
    (:func:`service_times`), not waiting.
    """
    ev, _ = _path_events(events, spec, as_of, activities)
    w = ibis.window(group_by=ev.journey_id, order_by=tie_break(ev))
    t = ev.mutate(waited=micros_between(ev.began, ev.ts.lag().over(w)))
    t = t.filter(t.waited.notnull())
    t = t.mutate(wait=hours_of(t.waited))
    return to_frame(t.group_by("activity").aggregate(
        n=t.count(), mean_hours=mean_hours(t.waited), median_hours=t.wait.median()
    ).order_by([ibis.desc("mean_hours"), "activity"]))


def service_times(events: JourneyInput, spec: JourneySpec, as_of: str | datetime,
                  activities: list[str] | None = None,
                  min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Per activity: instances with a logged start, and their mean and median service hours.

    Service time is from an activity instance's start (``activity_start_ts``: a lifecycle start
    paired with its completion, or an interval log's start) to its completion. Empty when the log
    gives no starts; activities with fewer than ``min_group_size`` instances are suppressed.
    """
    ev, _ = _path_events(events, spec, as_of, activities)
    if "activity_start_ts" not in ev.columns:
        table = pd.DataFrame({"activity": pd.Series(dtype="str"), "n": pd.Series(dtype="int64"),
                              "mean_hours": pd.Series(dtype="float64"),
                              "median_hours": pd.Series(dtype="float64")})
    else:
        t = ev.filter(ev.activity_start_ts.notnull())
        t = t.mutate(served=micros_between(t.ts, t.began))
        t = t.mutate(service=hours_of(t.served))
        table = to_frame(t.group_by("activity").aggregate(
            n=t.count(), mean_hours=mean_hours(t.served), median_hours=t.service.median()
        ).order_by([ibis.desc("mean_hours"), "activity"]))
    small = table["n"] < min_group_size
    table.loc[small, ["mean_hours", "median_hours"]] = float("nan")
    return table.assign(suppressed=small)


def variants(events: JourneyInput, spec: JourneySpec, as_of: str | datetime,
             activities: list[str] | None = None, top: int = 10,
             min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Return the ``top`` most common paths: share of journeys and median end-to-end days.

    Completed journeys only; ``activities`` as in :func:`bottlenecks`.
    """
    ev, bounds = _path_events(events, spec, as_of, activities)
    done = bounds.filter(bounds.status == "complete")
    # sort each journey's steps by the tie-break fields, then keep the activity (Ibis' Spark
    # backend has no order-sensitive aggregation, so no collect(order_by=...))
    step = ibis.struct({**dict(zip(["ts", "rank", "row"], tie_break(ev), strict=True)),
                        "activity": ev.activity})  # (ts, rank, row) is unique: sorts the steps
    paths = ev.group_by("journey_id").aggregate(steps=step.collect())
    paths = paths.select("journey_id", path=paths.steps.sort().map(
        lambda s: s.activity).join(" → "))
    paths = paths.join(done, "journey_id")
    paths = paths.mutate(days=hours_between(paths.clock_stop, paths.start_ts) / 24)
    per_path = paths.group_by("path").aggregate(n=paths.count(),
                                                median_e2e_days=paths.days.median())
    per_path = per_path.mutate(share=per_path.n.cast("float64")
                               / per_path.n.sum().over(ibis.window()))
    table = to_frame(per_path.order_by([ibis.desc("n"), "path"]).limit(top))
    small = table["n"] < min_group_size
    table.loc[small, ["median_e2e_days"]] = float("nan")
    return table.assign(suppressed=small)


# --- summaries of the journey table (every number a report shows) ----------------------------
