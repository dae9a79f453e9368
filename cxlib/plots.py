"""Seaborn figures with one look: ``func(data=..., ax=None)`` returns the Axes.

Every figure is titled in plain language, with time in days or hours (never seconds). Each takes
a tidy table produced by a tested cxlib function, so a figure never computes its own numbers.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from statsmodels.duration.survfunc import SurvfuncRight

PALETTE = {"team": "#4c72b0", "unowned": "#c44e52", "customer": "#55a868"}


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
    sns.set_theme(style="whitegrid", context="notebook", rc={"figure.figsize": (8, 4.2)})


def _axes(ax: Axes | None) -> Axes:
    return ax if ax is not None else plt.subplots()[1]


def _error_bars(ax: Axes, data: pd.DataFrame, y: str) -> None:
    ax.errorbar(x=data["estimate"], y=data[y],
                xerr=[data["estimate"] - data["ci_low"], data["ci_high"] - data["estimate"]],
                fmt="none", ecolor="black", capsize=3, linewidth=1)


def team_vs_customer_clock(data: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Bar chart: each team's median clock, the unowned hand-offs, the customer's clock (days)."""
    ax = _axes(ax)
    sns.barplot(data=data, y="clock", x="estimate", hue="kind", palette=PALETTE, dodge=False,
                ax=ax)
    _error_bars(ax, data.reset_index(drop=True), "clock")
    ax.set(xlabel="median days per completed journey (95% CI)", ylabel="",
           title="Every team looks fast; the customer still waits")
    ax.legend(title="")
    return ax


def completion_curves(data: pd.DataFrame, by: str | None = None,
                      ax: Axes | None = None) -> Axes:
    """Kaplan–Meier curves: share of journeys not yet complete by day (open ones censored)."""
    ax = _axes(ax)
    live = data[data["status"] != "abandoned"]
    groups = live.groupby(by, observed=True) if by else [("all journeys", live)]
    for name, g in groups:
        sf = SurvfuncRight(g["e2e_days"].to_numpy(float), (g["status"] == "complete").to_numpy())
        ax.step(np.r_[0, sf.surv_times], np.r_[1, sf.surv_prob], where="post",
                label=f"{name} (n={len(g)})")
    ax.set(xlabel="days since the order", ylabel="share still waiting",
           title="How long customers wait for their journey to complete", xlim=(0, None))
    ax.legend(fontsize="small")
    return ax


def promise_bars(data: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Share of each promise kept, with its interval."""
    ax = _axes(ax)
    shown = data.assign(estimate=data["estimate"] * 100, ci_low=data["ci_low"] * 100,
                        ci_high=data["ci_high"] * 100).reset_index(drop=True)
    sns.barplot(data=shown, y="promise", x="estimate", color=PALETTE["team"], ax=ax)
    _error_bars(ax, shown, "promise")
    ax.set(xlabel="% kept (95% CI)", ylabel="", xlim=(0, 100), title="Promises kept")
    return ax


DAY_BANDS = (0, 3, 5, 7, 10, 14, 21, 30, 45, 60, 90, 180, 365)


def satisfaction_by_days(data: pd.DataFrame, outcome: str = "csat", hue: str | None = "segment",
                         bins: tuple[float, ...] = DAY_BANDS,
                         ax: Axes | None = None) -> Axes:
    """Mean score per band of end-to-end days (95% CI), one line per ``hue``.

    The last band is open-ended, so no journey is left off however long it took.
    """
    ax = _axes(ax)
    done = data[data["status"] == "complete"].dropna(subset=[outcome, "e2e_days"])
    longest = done["e2e_days"].max() if len(done) else 0.0
    edges = [b for b in bins if b < longest] or [0.0]
    mids = pd.cut(done["e2e_days"], bins=[*edges, float("inf")], include_lowest=True)
    centre = mids.map(lambda iv: (iv.left + min(iv.right, iv.left + 7)) / 2).astype(float)
    sns.lineplot(data=done.assign(days=centre), x="days", y=outcome, hue=hue, marker="o",
                 errorbar=("ci", 95), ax=ax)
    ax.set(xlabel="end-to-end days (banded)", ylabel=f"mean {outcome.upper()}",
           title=f"What each day costs in {outcome.upper()}")
    return ax


def thresholds(data: pd.DataFrame, group: str = "segment", ax: Axes | None = None) -> Axes:
    """Tolerance threshold (days) per group, with its bootstrap interval."""
    ax = _axes(ax)
    shown = data.dropna(subset=["estimate"]).reset_index(drop=True)
    sns.pointplot(data=shown, y=group, x="estimate", linestyle="none", ax=ax)
    _error_bars(ax, shown, group)
    ax.set(xlabel="days before satisfaction starts to fall (95% CI)", ylabel="",
           title="Tolerance threshold by segment")
    return ax
