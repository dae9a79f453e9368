"""The three dashboard views — Overview, Segments, Journeys — as sections over a selection.

A section turns the filtered published facts (and the run's published model tables) into what
a manager reads: an HTML block, a figure, and a one-sentence takeaway computed from the numbers.
Every number comes from a tested cxlib function; this module only chooses, formats and draws.
Every string from a spec, params or data is HTML-escaped.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from cxlib import headlines, plots, summaries, takeaways
from cxlib.answer_summaries import score_by_band
from cxlib.config import JourneySpec
from cxlib.formatting import UNITS, estimate_text, html_table, p_value_text
from cxlib.published import PublishedRun
from cxlib.svg_figures import completion_curves_svg, weekly_trends_svg

WHOLE_RUN = "Estimated by the run over every region and week (the filters do not change it)."
NOT_MEASURED = {"customer_hours": "customer_time"}  # a headline, and the spec part it needs


def _unmeasured_html(*reasons: str) -> str:
    """Say in words what the journey spec does not measure (empty: it measures all).

    The reasons are Markdown sentences (the reports show them so); a `spec key` becomes code.
    """
    return "".join("<p class='cx-missing'>" + re.sub(r"`([^`<>]+)`", r"<code>\1</code>",
                                                     html.escape(r)) + "</p>"
                   for r in reasons if r)


def _measured(table: pd.DataFrame, spec: JourneySpec) -> pd.DataFrame:
    """Leave out the headlines the journey spec does not measure (not shown as zero)."""
    return table[[not spec.unmeasured(NOT_MEASURED[k]) if k in NOT_MEASURED else True
                  for k in table["key"]]]


@dataclass
class Selection:
    """What the filters chose: the facts they keep, and the names they chose."""

    run: PublishedRun
    spec: JourneySpec
    journeys: pd.DataFrame
    surveys: pd.DataFrame
    promise: str | None  # None: the spec states no promise
    region: str | None = None
    segment: str | None = None
    # the previous run's id and facts under the same filters, when there is one
    previous: Callable[[], tuple[str, pd.DataFrame, pd.DataFrame] | None] = lambda: None

    @property
    def min_group_size(self) -> int:
        """The run's own minimum group size."""
        return self.run.min_group_size

    def estimate(self, row: pd.Series | dict, unit: str = "", digits: int = 1,
                 scale: float = 1.0) -> str:
        """Say an estimate and its interval in one cell, ``fewer than N`` when suppressed."""
        return estimate_text(dict(row), unit, digits, self.min_group_size, scale)

    def by_segment(self, table: pd.DataFrame) -> pd.DataFrame:
        """Rows of a per-segment table for the chosen segment (all when none is chosen)."""
        return table if self.segment is None else table[table["segment"] == self.segment]


@dataclass
class Rendered:
    """A section's content: HTML, an optional figure, and the sentence that reads it."""

    html: str = ""
    figure: Figure | str | None = None  # a matplotlib figure, or an SVG document as text
    takeaway: str = ""


@dataclass(frozen=True)
class Section:
    """One block of a view: a heading and how to render it from a selection."""

    key: str
    title: str
    render: Callable[[Selection], Rendered] = field(repr=False)


def _figure(height: float = 3.6, width: float = 8.0) -> tuple[Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=(width, height))
    return fig, ax


# --- overview -------------------------------------------------------------------------------

def _tile(kpi: str, value: str, detail: str, change: str) -> str:
    return (f"<div class='cx-tile'><div class='cx-kpi'>{html.escape(kpi)}</div>"
            f"<div class='cx-value'>{html.escape(value)}</div>"
            f"<div class='cx-detail'>{html.escape(detail)}</div>"
            f"<div class='cx-change'>{html.escape(change)}</div></div>")


def _change_text(change: float, unit: str, previous_id: str | None, shown: bool) -> str:
    """Say how a headline changed since ``previous_id`` (``shown``: it has a number now)."""
    if previous_id is None:
        return "no earlier run to compare"
    if not shown:
        return ""  # the tile says why it has no number
    if math.isnan(change):
        return f"none shown in run {previous_id} (none, or too few)"
    arrow = "▲" if change > 0 else "▼" if change < 0 else "="
    unit = "points" if unit == "%" else unit
    return f"{arrow} {abs(change):.1f} {unit} vs {previous_id}"


def headline_tiles(sel: Selection) -> Rendered:
    """Show the headline numbers with interval, ``n`` and the change since the last run."""
    kpis = _measured(headlines.executive_kpis(sel.journeys, sel.surveys, sel.promise,
                                              sel.min_group_size), sel.spec)
    before = sel.previous()
    previous_id, previous = None, None
    if before is not None:
        previous_id, journeys, surveys = before
        previous = headlines.executive_kpis(journeys, surveys, sel.promise, sel.min_group_size)
    changes = headlines.kpi_changes(kpis, previous)
    tiles = []
    for (_, row), change in zip(kpis.iterrows(), changes, strict=True):
        kpi = (f"Promise kept: {sel.spec.label(sel.promise)}" if row["key"] == "promise_kept"
               else row["kpi"])
        shown = row["n"] > 0 and not row["suppressed"] and not math.isnan(row["estimate"])
        if row["n"] == 0:
            value, detail = "—", "none in this selection"
        elif not shown:
            value, detail = "—", f"fewer than {sel.min_group_size} to show"
        else:
            value = f"{row['estimate']:.1f}{UNITS.get(row['unit'], '')}"
            detail = (f"95% CI {row['ci_low']:.1f}–{row['ci_high']:.1f} · n={int(row['n']):,}"
                      if not math.isnan(row["ci_low"]) else f"n={int(row['n']):,}")
        tiles.append(_tile(kpi, value, detail,
                           _change_text(change, row["unit"], previous_id, shown)))
    return Rendered(f"<div class='cx-tiles'>{''.join(tiles)}</div>" + _unmeasured_html(
        sel.spec.unmeasured("promises"), sel.spec.unmeasured("customer_time")))


def clocks(sel: Selection) -> Rendered:
    """Each team against its own target, the customer against the promise."""
    table = headlines.clocks_against_targets(sel.journeys, sel.spec, sel.promise,
                                             sel.min_group_size)
    reasons = _unmeasured_html(sel.spec.unmeasured("team_clocks"),
                               sel.spec.unmeasured("targets"), sel.spec.unmeasured("promises"))
    if table.empty:
        return Rendered(reasons)
    fig, ax = _figure(0.5 * len(table) + 1.2)
    plots.clocks_against_targets(table, ax=ax)
    shown = table.assign(
        share=[sel.estimate(r, "%", 0, scale=100) if r["kind"] != "unowned" else ""
               for _, r in table.iterrows()],
        typical=[("fewer than " + str(sel.min_group_size)) if r["suppressed"] else
                 f"{r['median']:.1f} {r['median_unit']}" for _, r in table.iterrows()],
        verdict=table["green"].map({True: "green", False: "red"}).fillna(""))
    body = html_table(shown, {"clock": "clock", "target": "target", "typical": "median",
                              "share": "share within target (95% CI)", "verdict": "verdict"},
                      numeric=("typical", "share"))
    unowned = table[(table["kind"] == "unowned") & ~table["suppressed"]]
    note = ("" if unowned.empty else
            f"<p class='cx-note'>Hand-offs nobody owns: the median completed journey waited "
            f"{unowned['median'].iloc[0]:.1f} days between one team's last step and "
            "the next team's first — time no team's clock counts.</p>")
    return Rendered(body + note + reasons, fig, headlines.overview_sentence(table))


def weekly_trends(sel: Selection) -> Rendered:
    """Show the headlines week by week (journeys by start week, answers by answer week)."""
    weekly = _measured(headlines.weekly_kpis(sel.journeys, sel.surveys, sel.promise,
                                             sel.min_group_size), sel.spec)
    weekly = weekly[weekly.groupby("key")["n"].transform("max") > 0]  # no empty panel
    note = ("Journeys count in the week they started; a dotted line marks weeks with many "
            "journeys still open, whose numbers lean on the journeys that finished first.")
    told = "promise_kept" if sel.promise else "e2e_days"
    return Rendered("", weekly_trends_svg(weekly),
                    headlines.trend_in_words(weekly, told) + " " + note)


# --- segments -------------------------------------------------------------------------------

def segment_mix(sel: Selection) -> Rendered:
    """Share of journeys per time-sensitivity segment."""
    mix = headlines.segment_mix(sel.journeys, sel.min_group_size)
    shown = mix.assign(label=mix["segment"].map(sel.spec.label),
                       count=mix["journeys"].map(lambda n: "" if pd.isna(n) else f"{n:,}"),
                       share=[sel.estimate(r, "%", 0, scale=100) for _, r in mix.iterrows()])
    largest = mix.dropna(subset=["estimate"])
    takeaway = "Too few journeys in this selection to show the mix."
    if len(largest):
        top = largest.loc[largest["estimate"].idxmax()]
        takeaway = (f"The largest group is {sel.spec.label(top['segment'])} "
                    f"({top['estimate']:.0%} of journeys).")
    return Rendered(html_table(shown, {"label": "segment", "count": "journeys",
                                       "share": "share (95% CI)"}, numeric=("count", "share")),
                    None, takeaway)


def satisfaction_by_wait(sel: Selection) -> Rendered:
    """CSAT per band of days waited, per segment, with each segment's tolerance threshold."""
    duration = "e2e_days"
    if duration not in sel.surveys.columns:
        return Rendered("<p>The survey answers of this run are not linked to journey times, "
                        "so satisfaction cannot be shown against the wait.</p>")
    bands = score_by_band(sel.surveys, "csat", by="segment", duration=duration,
                          min_group_size=sel.min_group_size)
    thresholds = sel.by_segment(sel.run.table("tolerance_thresholds"))
    fig, ax = _figure(4.2)
    plots.satisfaction_by_days(sel.spec.relabel(bands, "segment"), ax=ax)
    plots.threshold_marks(sel.spec.relabel(thresholds, "segment"), ax=ax)
    return Rendered("", fig, takeaways.tolerance_thresholds(thresholds, sel.spec.label,
                                                           sel.min_group_size)
                    + " " + WHOLE_RUN)


def time_costs(sel: Selection) -> Rendered:
    """Per segment: the threshold, what a day costs, what updates give back."""
    thresholds = sel.by_segment(sel.run.table("tolerance_thresholds"))
    cost = sel.by_segment(sel.run.table("cost_per_day"))
    cost = cost[cost["outcome"] == "csat"].set_index("segment")
    update = sel.by_segment(sel.run.table("update_effect")).set_index("segment")
    rows = [{"segment": sel.spec.label(r["segment"]), "threshold": sel.estimate(r, "days"),
             "cost": sel.estimate(cost.loc[r["segment"]], "", 2)
             if r["segment"] in cost.index else "—",
             "update": sel.estimate(update.loc[r["segment"]], "", 2)
             if r["segment"] in update.index else "—"}
            for _, r in thresholds.iterrows()]
    body = html_table(pd.DataFrame(rows, columns=["segment", "threshold", "cost", "update"]),
                      {"segment": "segment", "threshold": "satisfaction falls after",
                       "cost": "CSAT points per extra day", "update":
                       "CSAT points per day given back by updates"},
                      numeric=("threshold", "cost", "update"))
    step = sel.run.table("promise_step")
    step = step[step["promise"] == sel.promise]
    text = ""
    if len(step):
        row = step.iloc[0]
        name = html.escape(sel.spec.label(sel.promise))
        text = (f"<p class='cx-note'>At the deadline of “{name}”"
                f" CSAT steps by {html.escape(sel.estimate(row, '', 2))} points "
                f"(p {html.escape(p_value_text(row['p_value']))}).</p>")
    return Rendered(body + text, None, WHOLE_RUN)


LEVER_WORDS = {"save": "save time", "engage": "make time worth spending",
               "dissolve": "keep them informed"}


def lever_table(sel: Selection) -> Rendered:
    """Save, engage or dissolve: each lever's effect per segment."""
    levers = sel.by_segment(sel.run.table("levers"))
    shown = levers.assign(segment=levers["segment"].map(sel.spec.label),
                          lever=levers["lever"].map(lambda v: LEVER_WORDS.get(v, v)),
                          effect=[sel.estimate(r, "", 2) for _, r in levers.iterrows()],
                          p=levers["p_value"].map(p_value_text))
    helps = levers[levers["ci_low"] > 0]
    takeaway = ("Levers that clearly help (interval above zero): " + "; ".join(
        f"{sel.spec.label(s)} — {', '.join(LEVER_WORDS.get(v, v) for v in g['lever'])}"
        for s, g in helps.groupby("segment", sort=True)) + ". " if len(helps) else
        "No lever clearly helps in this selection. ")
    return Rendered(html_table(shown, {"segment": "segment", "lever": "lever",
                                       "effect": "effect (95% CI)", "p": "p",
                                       "meaning": "what the effect measures"},
                               numeric=("effect", "p")), None, takeaway + WHOLE_RUN)


# --- journeys -------------------------------------------------------------------------------

def promises(sel: Selection) -> Rendered:
    """Share of each promise kept, over journeys where it is decided."""
    if sel.promise is None:
        return Rendered(_unmeasured_html(sel.spec.unmeasured("promises")))
    table = summaries.promise_adherence(sel.journeys, sel.spec,
                                        min_group_size=sel.min_group_size)
    labelled = sel.spec.relabel(table, "promise")
    fig, ax = _figure(0.6 * len(table) + 1.2)
    plots.promise_bars(labelled[~labelled["suppressed"]], ax=ax)
    outcomes = summaries.promise_outcomes(sel.journeys, sel.spec, sel.min_group_size)
    chosen = headlines.suppress_partition(
        outcomes[outcomes["promise"] == sel.promise].drop(columns="suppressed"),
        sel.min_group_size)
    shown = chosen.assign(
        count=chosen["journeys"].map(lambda n: "" if pd.isna(n) else f"{n:,}"),
        part=[f"fewer than {sel.min_group_size}" if r["suppressed"] else f"{r['share']:.0%}"
              for _, r in chosen.iterrows()])
    body = (f"<p class='cx-note'>Every journey's outcome for “"
            f"{html.escape(sel.spec.label(sel.promise))}”:</p>"
            + html_table(shown, {"outcome": "outcome", "count": "journeys",
                                 "part": "share of all journeys"}, numeric=("count", "part")))
    return Rendered(body, fig, takeaways.promises_kept(table, sel.spec.label,
                                                       sel.min_group_size))


def completion(sel: Selection) -> Rendered:
    """Kaplan–Meier curves: the share of journeys still waiting, by day, per segment."""
    curve = sel.spec.relabel(summaries.completion_curve(sel.journeys, by="segment",
                                                        min_group_size=sel.min_group_size),
                             "segment")
    median = summaries.time_to_completion(sel.journeys, min_group_size=sel.min_group_size)
    return Rendered("", completion_curves_svg(curve, by="segment"),
                    "Half the journeys were complete after "
                    f"{sel.estimate(median.iloc[0], 'days')} (still-open journeys counted as "
                    "waiting, not dropped).")


def bottlenecks(sel: Selection) -> Rendered:
    """Show the hand-offs between teams where journeys wait longest."""
    table = sel.run.table("bottlenecks")
    handoffs = table[table["handoff"].notna() & ~table["suppressed"]].nlargest(8, "median_hours")
    if handoffs.empty:
        return Rendered(_unmeasured_html(sel.spec.unmeasured("team_clocks") or
                                         "No journey in this run passed from one team to "
                                         "another in enough numbers to show."),
                        None, WHOLE_RUN)
    shown = handoffs.assign(
        step=[f"{sel.spec.label(a)} → {sel.spec.label(b)}"
              for a, b in zip(handoffs["from_activity"], handoffs["to_activity"], strict=True)],
        teams=handoffs["handoff"].map(lambda h: " → ".join(sel.spec.label(t.strip())
                                                           for t in str(h).split("→"))),
        median=handoffs["median_hours"].map(lambda h: f"{h:.1f} hours"),
        p90=handoffs["p90_hours"].map(lambda h: f"{h:.1f} hours"),
        count=handoffs["n"].map(lambda n: f"{n:,}"))
    takeaway = takeaways.longest_handoff(table, sel.spec.label)
    return Rendered(html_table(shown, {"step": "from → to", "teams": "hand-off",
                                       "median": "median wait", "p90": "1 in 10 wait over",
                                       "count": "waits"},
                               numeric=("median", "p90", "count")), None,
                    f"{takeaway} {WHOLE_RUN}".strip())


def top_paths(sel: Selection) -> Rendered:
    """Show the most common paths of completed journeys."""
    table = sel.run.table("variants")
    paths = table[~table["suppressed"]].head(5)
    shown = paths.assign(
        steps=paths["path"].map(lambda p: " → ".join(sel.spec.label(a.strip())
                                                     for a in str(p).split("→"))),
        share=paths["share"].map(lambda s: f"{s:.0%}"),
        days=paths["median_e2e_days"].map(lambda d: f"{d:.1f} days"))
    return Rendered(html_table(shown, {"steps": "path", "share": "share of completed journeys",
                                       "days": "median end-to-end"},
                               numeric=("share", "days")), None, WHOLE_RUN)


def contacts(sel: Selection) -> Rendered:
    """How often customers had to get in touch: failure demand."""
    if sel.spec.unmeasured("contacts"):
        return Rendered(_unmeasured_html(sel.spec.unmeasured("contacts")))
    table = headlines.contacts_per_journey(sel.journeys, sel.min_group_size)
    bands = table[table["band"] != "mean"]
    mean = table[table["band"] == "mean"].iloc[0]
    shown = bands.assign(share=[sel.estimate(r, "%", 0, scale=100)
                                for _, r in bands.iterrows()])
    return Rendered(html_table(shown, {"band": "contacts in the journey",
                                       "share": "share of journeys (95% CI)"},
                               numeric=("share",)), None,
                    f"Customers got in touch {sel.estimate(mean, '', 2)} times per journey on "
                    "average — each contact is time the journey took from them.")


def customer_ledger(sel: Selection) -> Rendered:
    """Show the customer's own hours per completed journey, by kind."""
    if sel.spec.unmeasured("customer_time"):
        return Rendered(_unmeasured_html(sel.spec.unmeasured("customer_time")))
    table = summaries.customer_time(sel.journeys, sel.spec, min_group_size=sel.min_group_size)
    shown = table.assign(kind=table["kind"].map(sel.spec.label),
                         hours=[sel.estimate(r, "hours", 2) for _, r in table.iterrows()])
    total = table[table["kind"] == "total"].iloc[0]
    return Rendered(html_table(shown, {"kind": "spent on", "hours":
                                       "hours per completed journey (95% CI)"},
                               numeric=("hours",)), None,
                    f"Each completed journey cost the customer {sel.estimate(total, 'hours', 1)} "
                    "of their own time.")


VIEWS: dict[str, tuple[str, tuple[Section, ...]]] = {
    "overview": ("Overview", (
        Section("headlines", "Headline numbers", headline_tiles),
        Section("clocks", "Team clocks against the customer's clock", clocks),
        Section("trends", "Week by week", weekly_trends),
    )),
    "segments": ("Segments", (
        Section("mix", "Who cares about time, and how", segment_mix),
        Section("curves", "Satisfaction by days waited", satisfaction_by_wait),
        Section("costs", "What a day costs, and what updates give back", time_costs),
        Section("levers", "Levers: save, engage or dissolve the wait", lever_table),
    )),
    "journeys": ("Journeys", (
        Section("promises", "Promises kept", promises),
        Section("completion", "Time to completion", completion),
        Section("bottlenecks", "Bottleneck hand-offs", bottlenecks),
        Section("paths", "Top paths", top_paths),
        Section("contacts", "Contacts per journey (failure demand)", contacts),
        Section("ledger", "The customer's time ledger", customer_ledger),
    )),
}
