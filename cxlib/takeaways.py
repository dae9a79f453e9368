"""One sentence under each figure, computed from the finished table the figure draws.

Every function reads a published (already suppressed) table and says what a reader should take
from it, with the numbers; a suppressed group is never named with a number. ``label`` turns the
names of a spec into words (``JourneySpec.label``); the default leaves them as they are.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from cxlib.formatting import estimate_text, signed

Label = Callable[[str], str]


def _name(value: object) -> str:
    return str(value).replace("_", " ")


def _shown(table: pd.DataFrame) -> pd.DataFrame:
    """Rows with a number to show: not suppressed, estimate present."""
    kept = table[~table["suppressed"].fillna(False).astype(bool)] if "suppressed" in table \
        else table
    return kept.dropna(subset=["estimate"]) if "estimate" in kept else kept


def clock_comparison(clocks: pd.DataFrame, label: Label = _name) -> str:
    """Say the customer's clock against the teams' clocks and the unowned hand-off time.

    ``clocks`` is :func:`cxlib.summaries.clock_comparison` (median days per completed journey of
    each ``team`` clock, the ``unowned`` hand-offs and the ``customer``'s end to end).
    """
    shown = _shown(clocks).reset_index(drop=True)
    kinds = {kind: rows.iloc[0] for kind, rows in shown.groupby("kind")}
    if "customer" not in kinds:
        return "Too few completed journeys to compare the clocks."
    customer = kinds["customer"]
    words = [f"The median completed journey took {estimate_text(customer, 'days')} end to end"]
    teams = shown[shown["kind"] == "team"]
    if len(teams):
        slowest = teams.loc[teams["estimate"].idxmax()]
        words.append(f"no team's own clock ran longer than {slowest['estimate']:.1f} days "
                     f"({label(slowest['clock'])})")
    if "unowned" in kinds:
        unowned = kinds["unowned"]
        share = unowned["estimate"] / customer["estimate"] if customer["estimate"] else 0.0
        words.append(f"{unowned['estimate']:.1f} days ({share:.0%}) went by in hand-offs "
                     "no team owns")
    return "; ".join(words) + "."


def longest_handoff(bottlenecks: pd.DataFrame, label: Label = _name) -> str:
    """Name the hand-off between two teams where journeys waited longest (median hours).

    ``bottlenecks`` is :func:`cxlib.process.bottlenecks`; empty when no hand-off is shown. Its
    count is of waits, not journeys: a journey that passed the hand-off twice counts twice.
    """
    handoffs = _shown(bottlenecks[bottlenecks["handoff"].notna()]).dropna(
        subset=["median_hours"])
    if handoffs.empty:
        return ""
    row = handoffs.loc[handoffs["median_hours"].idxmax()]
    teams = " → ".join(label(t.strip()) for t in str(row["handoff"]).split("→"))
    return (f"The longest hand-off wait: {label(row['from_activity'])} → "
            f"{label(row['to_activity'])} ({teams}), median {row['median_hours']:.1f} hours "
            f"over {int(row['n']):,} waits.")  # a journey that went round twice waited twice


def promises_kept(adherence: pd.DataFrame, label: Label = _name,
                  min_group_size: int | None = None) -> str:
    """Say each promise's share kept over decided journeys, lowest first.

    ``adherence`` is :func:`cxlib.summaries.promise_adherence`.
    """
    if adherence.empty:
        return "No promise is decided yet."
    order = adherence.assign(_order=adherence["estimate"].fillna(2.0)).sort_values("_order")
    return "; ".join(
        f"{label(r['promise'])}: {estimate_text(r, '%', 0, min_group_size, scale=100)} kept"
        for _, r in order.iterrows()) + "."


def completion_by_group(completion: pd.DataFrame, by: str, label: Label = _name) -> str:
    """Say the shortest and longest median time to completion across the groups of ``by``.

    ``completion`` is :func:`cxlib.summaries.time_to_completion` (Kaplan–Meier medians).
    """
    shown = _shown(completion)
    if shown.empty:
        return f"Too few journeys in any {_name(by)} to say how long they took."
    fast = shown.loc[shown["estimate"].idxmin()]
    slow = shown.loc[shown["estimate"].idxmax()]
    if len(shown) == 1 or fast["estimate"] == slow["estimate"]:
        return (f"Half the journeys were complete after {estimate_text(fast, 'days')} "
                f"in every {_name(by)} shown.")
    overlap = fast["ci_high"] >= slow["ci_low"]
    return (f"Half the journeys were complete after {estimate_text(fast, 'days')} in "
            f"{label(fast[by])} and after {estimate_text(slow, 'days')} in {label(slow[by])}"
            + (" — the intervals overlap, so the difference may be chance." if overlap
               else "."))


def widest_difference(profile: pd.DataFrame, label: Label = _name,
                      group: str = "segment", measure: str = "feature") -> str:
    """Name the measure on which the groups differ most (highest over lowest group mean).

    ``profile`` is :func:`cxlib.segments.segment_profile` (mean per ``measure`` and ``group``).
    """
    shown = _shown(profile)
    spreads = []
    for name, g in shown.groupby(measure, sort=True):
        low, high = g.loc[g["estimate"].idxmin()], g.loc[g["estimate"].idxmax()]
        if len(g) > 1 and low["estimate"] > 0:
            spreads.append((high["estimate"] / low["estimate"], name, low, high))
    if not spreads:
        return "Too few customers in the groups to compare them."
    ratio, name, low, high = max(spreads, key=lambda s: s[0])
    return (f"The {_name(group)}s differ most in {label(name)}: {signed(high['estimate'], 2)} "
            f"for {label(high[group])} against {signed(low['estimate'], 2)} for "
            f"{label(low[group])} ({ratio:.1f}×).")


def _band_words(band: pd.Series) -> str:
    if band["band_end"] == float("inf"):
        return f"{band['band_start']:g} days or more"
    return f"{band['band_start']:g}–{band['band_end']:g} days"


def score_by_band(bands: pd.DataFrame, by: str | None = "segment",
                  label: Label = _name) -> str:
    """Say how far the mean score falls from the shortest band of waiting to the longest shown.

    ``bands`` is :func:`cxlib.answer_summaries.score_by_band`; one clause per group of ``by``.
    """
    shown = _shown(bands)
    if shown.empty:
        return "Too few answers in any band of waiting to show the scores."
    outcome = str(shown["outcome"].iloc[0]).upper()
    groups = shown.groupby(by, sort=True) if by else [(None, shown)]
    clauses = []
    for name, g in groups:
        g = g.sort_values("band_start")
        ends = [_band_words(g.iloc[0])] + ([_band_words(g.iloc[-1])] if len(g) > 1 else [])
        clauses.append((f"{label(name)}: " if by else "") + " → ".join(
            f"{r['estimate']:.1f} for {words}"
            for r, words in zip([g.iloc[0], g.iloc[-1]], ends, strict=False)))
    return f"Mean {outcome} — " + "; ".join(clauses) + "."


def tolerance_thresholds(thresholds: pd.DataFrame, label: Label = _name,
                         min_group_size: int | None = None, unit: str = "days",
                         group: str = "segment") -> str:
    """Say after how long satisfaction starts to fall, per group, with the interval.

    ``thresholds`` is :func:`cxlib.satisfaction.tolerance_thresholds`.
    """
    if thresholds.empty:
        return "No tolerance threshold could be estimated."
    order = thresholds.assign(_order=thresholds["estimate"].fillna(float("inf")))
    words = [f"{label(r[group])}: {estimate_text(r, unit, 1, min_group_size)}"
             for _, r in order.sort_values("_order").iterrows()]
    return "Satisfaction starts to fall after (95% CI) — " + "; ".join(words) + "."


def events_per_week(weekly: pd.DataFrame) -> str:
    """Say how many events arrived from how many sources, and the busiest week.

    ``weekly`` is :func:`cxlib.io.events_per_week` (``week``, ``source``, ``events``).
    """
    if weekly.empty:
        return "No events were read."
    totals = weekly.groupby("week")["events"].sum()
    busiest = totals.idxmax()
    return (f"{int(totals.sum()):,} events from {weekly['source'].nunique()} source systems over "
            f"{len(totals)} weeks; the busiest week began {busiest:%Y-%m-%d} "
            f"({int(totals.max()):,} events).")


def say(sentence: str) -> None:
    """In a notebook: show the figure drawn so far, then its takeaway under it (escaped)."""
    import html

    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display

    if plt.get_fignums():
        plt.show()
    display(Markdown(f"**Takeaway.** {html.escape(sentence)}"))
