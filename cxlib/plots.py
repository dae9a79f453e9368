"""Seaborn figures with one look: ``func(data=..., ax=None)`` returns the Axes.

Every figure is titled in plain language, with time in days or hours (never seconds). Each takes
a tidy table produced by a tested cxlib function, so a figure never computes its own numbers.
"""

from __future__ import annotations

import math

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes

PALETTE = {"team": "#4c72b0", "unowned": "#c44e52", "customer": "#55a868"}
COLOUR_STYLE = "seaborn-v0_8-deep"  # the theme's colours, one after another for each line
LINE_COLOURS = tuple(plt.style.library[COLOUR_STYLE]["axes.prop_cycle"].by_key()["color"])


def set_theme() -> None:
    """Apply cxlab's one theme (called once by every notebook).

    In a kernel it also selects the inline backend, so figures reach the report even when the
    environment says ``MPLBACKEND=Agg`` (as CI and cron environments often do).
    """
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: keep whatever backend is configured
        shell = None
    else:
        shell = get_ipython()
    if shell is not None and hasattr(shell, "kernel"):
        shell.run_line_magic("matplotlib", "inline")
    # seaborn's whitegrid look, as matplotlib ships it: no seaborn import in every kernel
    plt.style.use(["seaborn-v0_8-whitegrid", COLOUR_STYLE, "seaborn-v0_8-notebook"])
    plt.rcParams["figure.figsize"] = (8, 4.2)
    # titles sit just above their axes (no figure puts tick labels on top): matplotlib's own
    # placement measures every tick label first, a third of the time a dashboard's weekly
    # panels take to draw, for the same pixels
    plt.rcParams["axes.titley"] = 1.0


def _axes(ax: Axes | None) -> Axes:
    return ax if ax is not None else plt.subplots()[1]


def _error_bars(ax: Axes, data: pd.DataFrame, y: str) -> None:
    ax.errorbar(x=data["estimate"], y=data[y],
                xerr=[data["estimate"] - data["ci_low"], data["ci_high"] - data["estimate"]],
                fmt="none", ecolor="black", capsize=3, linewidth=1)


def team_vs_customer_clock(data: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Bar chart: each team's median clock, the unowned hand-offs, the customer's clock (days)."""
    import seaborn as sns

    ax = _axes(ax)
    sns.barplot(data=data, y="clock", x="estimate", hue="kind", palette=PALETTE, dodge=False,
                ax=ax)
    _error_bars(ax, data.reset_index(drop=True), "clock")
    ax.set(xlabel="median days per completed journey (95% CI)", ylabel="",
           title="Every team looks fast; the customer still waits")
    ax.legend(title="")
    return ax


def promise_bars(data: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Share of each promise kept, with its interval."""
    ax = _axes(ax)
    shown = data.assign(estimate=data["estimate"] * 100, ci_low=data["ci_low"] * 100,
                        ci_high=data["ci_high"] * 100).reset_index(drop=True)
    ax.barh(shown["promise"], shown["estimate"], color=PALETTE["team"])
    _error_bars(ax, shown, "promise")
    ax.invert_yaxis()  # the first promise on top
    ax.set(xlabel="% kept (95% CI)", ylabel="", xlim=(0, 100), title="Promises kept")
    return ax


def satisfaction_by_days(bands: pd.DataFrame, hue: str | None = "segment",
                         ax: Axes | None = None) -> Axes:
    """Mean score per band of days (95% CI) from :func:`cxlib.answer_summaries.score_by_band`.

    One line per ``hue``; suppressed bands are left out.
    """
    ax = _axes(ax)
    shown = bands[~bands["suppressed"]]
    groups = shown.groupby(hue, observed=True, sort=True) if hue else [(None, shown)]
    for name, g in groups:
        g = g.sort_values("band_mid")
        ax.errorbar(g["band_mid"], g["estimate"], marker="o", capsize=3, label=name,
                    yerr=[g["estimate"] - g["ci_low"], g["ci_high"] - g["estimate"]])
    outcome = str(bands["outcome"].iloc[0]).upper() if len(bands) else "SCORE"
    duration = str(bands["duration"].iloc[0]) if len(bands) else "e2e_days"
    ax.set(xlabel="end-to-end days (banded)" if duration == "e2e_days" else f"{duration} (banded)",
           ylabel=f"mean {outcome}",
           title=f"What each day costs in {outcome}")
    if hue and len(shown):
        ax.legend(fontsize="small")
    return ax


def thresholds(data: pd.DataFrame, group: str = "segment", ax: Axes | None = None) -> Axes:
    """Tolerance threshold (days) per group, with its bootstrap interval."""
    import seaborn as sns

    ax = _axes(ax)
    shown = data.dropna(subset=["estimate"]).reset_index(drop=True)
    sns.pointplot(data=shown, y=group, x="estimate", linestyle="none", ax=ax)
    _error_bars(ax, shown, group)
    ax.set(xlabel="days before satisfaction starts to fall (95% CI)", ylabel="",
           title="Tolerance threshold by segment")
    return ax


def clocks_against_targets(data: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Share of journeys within each team's target and of promises kept: green or red.

    From :func:`cxlib.headlines.clocks_against_targets`; the unowned row has no target and
    suppressed rows draw no bar.
    """
    ax = _axes(ax)
    shown = data[(data["kind"] != "unowned") & ~data["suppressed"]].reset_index(drop=True)
    shown = shown.assign(estimate=shown["estimate"] * 100, ci_low=shown["ci_low"] * 100,
                         ci_high=shown["ci_high"] * 100)
    colours = ["#55a868" if green else "#c44e52" for green in shown["green"]]
    ax.barh(shown["clock"], shown["estimate"], color=colours)
    _error_bars(ax, shown, "clock")
    ax.axvline(50, color="#777", linestyle=":", linewidth=1)
    ax.invert_yaxis()
    ax.set(xlim=(0, 100), xlabel="% of journeys within the team's target / promise kept "
           "(95% CI)", ylabel="", title="Green inside, red outside")
    return ax


def threshold_marks(thresholds: pd.DataFrame, ax: Axes, group: str = "segment") -> Axes:
    """Mark each group's tolerance threshold (a dashed line) and its interval (a band)."""
    colours = {str(c.get_label()): c.lines[0].get_color() for c in ax.containers
               if hasattr(c, "lines") and c.lines[0] is not None}
    for _, row in thresholds.dropna(subset=["estimate"]).iterrows():
        colour = colours.get(str(row[group]), "#777")
        ax.axvline(row["estimate"], color=colour, linestyle="--", linewidth=1)
        ax.axvspan(row["ci_low"], row["ci_high"], color=colour, alpha=0.08)
    return ax


def events_per_week(weekly: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Events per week, stacked by source system, from :func:`cxlib.io.events_per_week`."""
    ax = _axes(ax)
    table = weekly.pivot_table(index="week", columns="source", values="events", aggfunc="sum",
                               fill_value=0).sort_index()
    bottom = pd.Series(0.0, index=table.index)
    for source in table.columns:
        ax.bar(table.index, table[source], bottom=bottom, width=6, align="edge", label=source)
        bottom += table[source]
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    ax.set(title="Events per week by source system", xlabel="week", ylabel="events")
    if len(table.columns):
        ax.legend(fontsize="small", ncols=2)
    return ax


def unowned_by_handoff(bottlenecks: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Median hours of each hand-off between teams, from :func:`cxlib.process.bottlenecks`.

    Only hand-offs (``handoff`` named) that are not suppressed are drawn, longest on top.
    """
    ax = _axes(ax)
    shown = bottlenecks[bottlenecks["handoff"].notna() & ~bottlenecks["suppressed"]]
    shown = shown.dropna(subset=["median_hours"]).sort_values("median_hours")
    ax.barh(shown["handoff"].astype(str), shown["median_hours"], color=PALETTE["unowned"])
    ax.set(title="Unowned time by hand-off (median hours)", ylabel="",
           xlabel="median hours between the two teams' clocks")
    return ax


def segment_profile(profile: pd.DataFrame, group: str = "segment",
                    measure: str = "feature") -> plt.Figure:
    """One panel per behaviour: each group's mean with its interval (suppressed left out)."""
    shown = profile[~profile["suppressed"]].dropna(subset=["estimate"])
    measures = list(dict.fromkeys(shown[measure]))
    cols = 3
    rows = max(1, math.ceil(len(measures) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(10, 2.4 * rows), squeeze=False)
    for ax, name in zip(axes.flat, measures, strict=False):
        part = shown[shown[measure] == name].reset_index(drop=True)
        ax.barh(part[group].astype(str), part["estimate"], color=PALETTE["team"])
        _error_bars(ax, part, group)
        ax.set(title=str(name), xlabel="mean", ylabel="")
    for ax in axes.flat[len(measures):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig
