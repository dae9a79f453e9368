"""The executive dashboard: KPI tiles and a filtered figure over a published run's tables.

The dashboard never reads raw data: only the result tables a run published
(``tables/journey_facts.parquet``, ``tables/survey_facts.parquet``). All numbers come from the
same tested functions the reports use, with small groups suppressed.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pandas as pd

from cxlib import plots
from cxlib.paths import latest_run
from cxlib.privacy import MIN_GROUP_SIZE, suppress_small_groups
from cxlib.stats import km_median, mean_ci, nps_ci, proportion_ci

ALL = "All regions"


def load_published(run_dir: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """Read the dashboard tables of a published run (default: ``reports/latest``)."""
    folder = Path(run_dir) if run_dir else latest_run()
    tables = folder / "tables"
    if not tables.is_dir():
        raise FileNotFoundError(f"no published run at {folder}; run `make reports` first")
    return {name: pd.read_parquet(tables / f"{name}.parquet")
            for name in ("journey_facts", "survey_facts")}


def executive_kpis(journeys: pd.DataFrame, surveys: pd.DataFrame, promise: str,
                   min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Return the four headline numbers, each with interval and ``n`` (small n suppressed)."""
    done = journeys[journeys["status"] == "complete"]
    live = journeys[journeys["status"] != "abandoned"]
    col = f"promise_{promise}"
    decided = journeys[col].isin(["met", "breached"])
    rows = [
        {"kpi": "Median days, order to working service", "unit": "days",
         **km_median(live["e2e_days"], live["status"] == "complete")},
        {"kpi": f"Promise kept: {promise.replace('_', ' ')}", "unit": "%",
         **{k: v * 100 if k != "n" else v for k, v in proportion_ci(
             int((journeys[col] == "met").sum()), int(decided.sum())).items()}},
        {"kpi": "Customer hours spent per journey", "unit": "hours",
         **mean_ci(done["customer_hours"])},
        {"kpi": "NPS", "unit": "", **nps_ci(surveys["nps"])},
    ]
    return suppress_small_groups(pd.DataFrame(rows), min_group_size)


def _tile_html(row: pd.Series) -> str:
    if row["suppressed"] or math.isnan(row["estimate"]):
        value, ci = "—", f"too few to show (n={int(row['n'])})"
    else:
        value = f"{row['estimate']:.1f}{' ' + row['unit'] if row['unit'] == 'days' else ''}"
        value += "%" if row["unit"] == "%" else ""
        low, high = row["ci_low"], row["ci_high"]
        span = (f"{low:.1f}–{high:.1f}" if not (math.isnan(low) or math.isnan(high))
                else "not estimable")
        ci = f"95% CI {span} · n={int(row['n']):,}"
    return (f"<div class='cx-tile' style='border:1px solid #ccc;border-radius:6px;"
            f"padding:8px 12px;min-width:190px'><div style='font-size:12px;color:#555'>"
            f"{row['kpi']}</div><div class='cx-value' style='font-size:26px;font-weight:600'>"
            f"{value}</div><div style='font-size:11px;color:#777'>{ci}</div></div>")


class ExecutiveDashboard:
    """Region filter → KPI tiles and a completion-curve figure, for managers.

    Parameters
    ----------
    run_dir
        A published run folder; ``reports/latest`` when omitted.
    promise
        The promise shown on the tiles (default: the first promise in the published table).
    min_group_size
        Groups smaller than this show a dash instead of a number.

    """

    def __init__(self, run_dir: str | Path | None = None, promise: str | None = None,
                 min_group_size: int = MIN_GROUP_SIZE) -> None:
        plots.set_theme()
        tables = load_published(run_dir)
        self.journeys, self.surveys = tables["journey_facts"], tables["survey_facts"]
        promises = [c.removeprefix("promise_") for c in self.journeys.columns
                    if c.startswith("promise_") and not c.endswith("_late_hours")]
        self.promise = promise or promises[0]
        self.min_group_size = min_group_size
        regions = sorted(self.journeys["region"].dropna().unique())
        self.region = widgets.Dropdown(options=[ALL, *regions], value=ALL,
                                       description="Region")
        self.tiles = widgets.HTML()
        self.figure = widgets.Image(format="png", layout=widgets.Layout(max_width="820px"))
        self.region.observe(self._update, names="value")
        self.app = widgets.VBox([self.region, self.tiles, self.figure])
        self._update()

    def selected(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Journeys and survey answers of the selected region."""
        region = self.region.value
        if region == ALL:
            return self.journeys, self.surveys
        if region not in self.region.options:  # widget values can come from any client
            raise ValueError(f"unknown region {region!r}")
        return (self.journeys[self.journeys["region"] == region],
                self.surveys[self.surveys["region"] == region])

    def kpis(self) -> pd.DataFrame:
        """Return the KPI table behind the tiles, for the current filter."""
        journeys, surveys = self.selected()
        return executive_kpis(journeys, surveys, self.promise, self.min_group_size)

    def _update(self, change: object = None) -> None:
        self.tiles.value = ("<div style='display:flex;gap:10px;flex-wrap:wrap'>"
                            + "".join(_tile_html(r) for _, r in self.kpis().iterrows())
                            + "</div>")
        journeys, _ = self.selected()
        fig, ax = plt.subplots(figsize=(8, 4))
        plots.completion_curves(journeys, by="segment", ax=ax)
        ax.set_title(f"How long customers wait — {self.region.value}")
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        self.figure.value = png.getvalue()

    def show(self) -> widgets.VBox:
        """Return the app widget (the dashboard notebook's last line displays it)."""
        return self.app
