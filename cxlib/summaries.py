"""Summaries of the journey table: what reports and dashboards show, with interval and ``n``.

Each takes the table :func:`cxlib.journeys.build_journeys` returns (pandas) and gives a tidy,
suppressed table: clocks inside-out and outside-in, promises, time to completion, the
customer's own time, where team KPIs disagree with customers, stages logged out of order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxlib.config import JourneySpec, WindowPromise, WithinPromise
from cxlib.journey_table import STATUSES
from cxlib.privacy import MIN_GROUP_SIZE, suppress_small_groups
from cxlib.stats import grouped, kaplan_meier, km_median, mean_ci, median_ci, proportion_ci


def clock_comparison(journeys: pd.DataFrame, spec: JourneySpec,
                     min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Team clocks (inside-out) beside the hand-offs and the customer's clock (outside-in).

    Completed journeys only; one row per clock with the median in days, its interval and ``n``.
    """
    done = journeys[journeys["status"] == "complete"]
    rows = [{"clock": f"{t.team}", "kind": "team", **median_ci(done[f"team_{t.team}_hours"] / 24)}
            for t in spec.teams]
    rows.append({"clock": "hand-offs (unowned)", "kind": "unowned",
                 **median_ci(done["unowned_hours"] / 24)})
    rows.append({"clock": "customer end-to-end", "kind": "customer", **median_ci(done["e2e_days"])})
    return suppress_small_groups(pd.DataFrame(rows), min_group_size)


def promise_adherence(journeys: pd.DataFrame, spec: JourneySpec, by: str | None = None,
                      min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Share of promises kept (met ÷ met-or-breached) per promise, with a Wilson interval."""
    parts = []
    for p in spec.promises:
        col = f"promise_{p.name}"

        def kept(g: pd.DataFrame, col: str = col) -> dict[str, float]:
            decided = g[col].isin(["met", "breached"])
            return proportion_ci(int((g[col] == "met").sum()), int(decided.sum()))

        parts.append(grouped(journeys, by, kept).assign(promise=p.name))
    table = pd.concat(parts, ignore_index=True)
    table = table[["promise", *[c for c in table.columns if c != "promise"]]]
    return suppress_small_groups(table, min_group_size)


def time_to_completion(journeys: pd.DataFrame, by: str | None = None,
                       min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Kaplan–Meier median days to completion; open journeys count as censored, not dropped.

    Abandoned journeys are left out: they never complete and are not waiting any more.
    """
    live = journeys[journeys["status"] != "abandoned"]
    table = grouped(live, by, lambda g: km_median(g["e2e_days"], g["status"] == "complete"))
    return suppress_small_groups(table, min_group_size)


def completion_curve(journeys: pd.DataFrame, by: str | None = None,
                     min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Kaplan–Meier curve per group: the share of journeys still waiting, by day.

    One row per step (``day``, ``share_waiting``) with the group's ``n``, starting at day 0
    with everyone waiting; open journeys are censored, abandoned ones left out. A group smaller
    than ``min_group_size`` gets one suppressed row and no curve (each step would be a journey).
    """
    live = journeys[journeys["status"] != "abandoned"].dropna(subset=["e2e_days"])
    key = by or "group"
    groups = live.groupby(by, observed=True, sort=True) if by else [("all journeys", live)]
    parts = []
    for name, g in groups:
        done = (g["status"] == "complete").to_numpy()
        if len(g) < min_group_size or not done.any():
            parts.append(pd.DataFrame({key: [name], "day": [float("nan")],
                                       "share_waiting": [float("nan")], "n": [len(g)],
                                       "suppressed": [len(g) < min_group_size]}))
            continue
        times, surv, _ = kaplan_meier(g["e2e_days"].to_numpy(float), done)
        parts.append(pd.DataFrame({key: name, "day": np.r_[0.0, times],
                                   "share_waiting": np.r_[1.0, surv], "n": len(g),
                                   "suppressed": False}))
    columns = [key, "day", "share_waiting", "n", "suppressed"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def customer_time(journeys: pd.DataFrame, spec: JourneySpec, by: str | None = None,
                  min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Mean hours of the customer's own time per completed journey, per kind and in total."""
    done = journeys[journeys["status"] == "complete"]
    kinds = [(c.name, f"customer_{c.name}_hours") for c in spec.customer_time]
    parts = [grouped(done, by, lambda g, col=col: mean_ci(g[col])).assign(kind=name)
             for name, col in [*kinds, ("total", "customer_hours")]]
    table = pd.concat(parts, ignore_index=True)
    table = table[["kind", *[c for c in table.columns if c != "kind"]]]
    return suppress_small_groups(table, min_group_size)


def kpi_disconnect(journeys: pd.DataFrame, spec: JourneySpec, promise: str | None = None,
                   min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Where internal KPIs say green while customers say red.

    For each team with a ``target``: the share of completed journeys where that team met its own
    target (``team_green``, over journeys whose clock could be measured), and — among those
    green journeys — the share whose customer promise was broken anyway (``estimate``, with
    interval and ``n`` = green journeys). The last row, ``all teams``, takes journeys where
    *every* team was green.
    """
    within = [p for p in spec.promises if isinstance(p, WithinPromise)]
    name = promise or (within[0].name if within else None)
    if name is None:
        raise ValueError("kpi_disconnect needs a 'within' promise in the journey spec")
    done = journeys[journeys["status"] == "complete"]
    broken = done[f"promise_{name}"] == "breached"
    # a clock that cannot be measured (a stage logged out of order) is neither green nor red
    hours = {t.team: (done[f"team_{t.team}_hours"], t.target) for t in spec.teams
             if t.target is not None}
    greens = {team: h <= target for team, (h, target) in hours.items()}
    measured = {team: h.notna() for team, (h, _) in hours.items()}
    if greens:
        greens["all teams"] = pd.concat(greens.values(), axis=1).all(axis=1)
        measured["all teams"] = pd.concat(measured.values(), axis=1).all(axis=1)
    rows = [{"team": team, "promise": name,
             "team_green": float(green[measured[team]].mean()) if measured[team].any()
             else float("nan"),
             **proportion_ci(int((green & broken).sum()), int(green.sum()))}
            for team, green in greens.items()]
    return suppress_small_groups(pd.DataFrame(rows), min_group_size)


def out_of_order_stages(journeys: pd.DataFrame, spec: JourneySpec,
                        examples: int = 3) -> pd.DataFrame:
    """Per team stage: journeys whose stage end is logged before its start, and their share.

    Those journeys have no clock for the stage and no unowned time (not measurable, never
    zero). ``example_journeys`` names a few, for the analyst to trace in the source systems
    (it holds journey ids: drop it before publishing).
    """
    rows = []
    for team in spec.teams:
        flagged = journeys[journeys[f"team_{team.team}_reversed"]]
        rows.append({"team": team.team, "stage": f"{team.from_} → {' / '.join(team.to)}",
                     "journeys": len(flagged),
                     "share": len(flagged) / len(journeys) if len(journeys) else float("nan"),
                     "example_journeys": ", ".join(map(str, flagged["journey_id"].head(examples)))})
    return pd.DataFrame(rows, columns=["team", "stage", "journeys", "share", "example_journeys"])


def promise_outcomes(journeys: pd.DataFrame, spec: JourneySpec,
                     min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Every journey's promise outcome, broken down: count and share of all journeys.

    *kept*; *done early* (a window promise's event before the window opened); *done late*
    (after the deadline); *not done by the deadline* (the deadline passed without it);
    *still undecided* (open, deadline not passed); *not applicable* (e.g. cancelled first).
    The headline share kept over decided journeys is :func:`promise_adherence`'s.
    """
    rows = []
    for p in spec.promises:
        state, done = journeys[f"promise_{p.name}"], journeys[f"promise_{p.name}_done"]
        if isinstance(p, WindowPromise):
            klass = journeys[f"promise_{p.name}_class"]
            early, late, missed = klass == "early", klass == "late", klass == "missed"
        else:
            early = pd.Series(False, index=journeys.index)
            late, missed = (state == "breached") & done, (state == "breached") & ~done
        counts = {"kept": state == "met", "done early": early, "done late": late,
                  "not done by the deadline": missed, "still undecided": state == "open",
                  "not applicable": state == "not_applicable"}
        rows += [{"promise": p.name, "outcome": outcome, "journeys": int(mask.sum()),
                  "share": float(mask.mean()) if len(journeys) else float("nan")}
                 for outcome, mask in counts.items()
                 if outcome != "done early" or isinstance(p, WindowPromise)]
    table = pd.DataFrame(rows, columns=["promise", "outcome", "journeys", "share"])
    return suppress_small_groups(table, min_group_size, n_column="journeys")


def journey_overview(journeys: pd.DataFrame) -> pd.DataFrame:
    """How many journeys are complete, still open at the cut-off (censored) or abandoned."""
    counts = journeys["status"].value_counts().reindex(list(STATUSES), fill_value=0)
    return pd.DataFrame({"status": counts.index, "n": counts.to_numpy(),
                         "share": counts.to_numpy() / max(len(journeys), 1)})
