"""The executive dashboard: KPI tiles and a filtered figure over a published run's tables.

The dashboard never reads raw data: only the result tables a run published, read through the
publishing schema (:mod:`cxlib.publishing`: ``journey_facts``, ``survey_facts``), and its
``manifest.json``.
All numbers come from the same tested functions the reports use, with small groups suppressed.
Every string that reaches the page (from a spec, params or data) is HTML-escaped.
"""

from __future__ import annotations

import html
import io
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import anywidget
import ipywidgets as widgets
import matplotlib.pyplot as plt
import pandas as pd
import traitlets

from cxlib import plots
from cxlib.journeys import promise_names
from cxlib.paths import reports_dir
from cxlib.privacy import MIN_GROUP_SIZE, suppress_small_groups
from cxlib.publishing import read_table
from cxlib.stats import km_median, mean_ci, nps_ci, proportion_ci
from cxlib.summaries import completion_curve

ALL = "All regions"
ALL_SEGMENTS = "All segments"
FILTERS = ("region", "segment", "promise")  # the filters a link (URL query) can set
DEFAULT_CHANNEL = "latest"
CHANNEL_ENV = "CXLAB_CHANNEL"  # `cx serve --channel` sets it for the dashboard's kernels
_CHANNEL = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
TABLES = ("journey_facts", "survey_facts")


@dataclass(frozen=True)
class PublishedRun:
    """A published run as the dashboard sees it: its tables and what its manifest says."""

    folder: Path
    manifest: dict
    journeys: pd.DataFrame
    surveys: pd.DataFrame

    @property
    def min_group_size(self) -> int:
        """The run's own ``min_group_size`` (the default for runs that did not record one)."""
        return int(self.manifest.get("params", {}).get("min_group_size", MIN_GROUP_SIZE))

    def describe_html(self) -> str:
        """One escaped header line: title, run id, cut-off, journeys and channel."""
        params = self.manifest.get("params", {})
        parts = [f"run {self.manifest.get('run_id', self.folder.name)}",
                 f"cut-off {params.get('as_of', 'unknown')}",
                 f"{len(self.journeys):,} journeys",
                 f"channel {self.manifest.get('channel', 'unknown')}"]
        title = self.manifest.get("title", "cxlab report")
        return (f"<div class='cx-run'><div class='cx-title' style='font-size:20px;"
                f"font-weight:600'>{html.escape(str(title))}</div><div style='font-size:12px;"
                f"color:#555'>{html.escape(' · '.join(parts))}</div></div>")


def channel_name(channel: str | None = None) -> str:
    """Return the channel a dashboard reads: ``channel``, else ``$CXLAB_CHANNEL``, else latest."""
    return channel or os.environ.get(CHANNEL_ENV) or DEFAULT_CHANNEL


def channel_folder(channel: str | None = None) -> Path:
    """Return ``reports/<channel>`` for :func:`channel_name`'s channel."""
    name = channel_name(channel)
    if not _CHANNEL.match(name):
        raise ValueError(f"not a channel name: {name!r} (letters, digits, '_', '-', '.')")
    return reports_dir() / name


def load_published(run_dir: str | Path | None = None,
                   channel: str | None = None) -> PublishedRun:
    """Read a published run: ``run_dir``, else the run the channel points to.

    Raises FileNotFoundError (saying how to publish one) when there is none.
    """
    folder = Path(run_dir) if run_dir else channel_folder(channel)
    tables = folder / "tables"
    if not tables.is_dir():
        raise FileNotFoundError(f"no published run at {folder}; run `make reports` first")
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        manifest = {}
    frames = {name: read_table(folder, name) for name in TABLES}
    return PublishedRun(folder, manifest if isinstance(manifest, dict) else {},
                        frames["journey_facts"], frames["survey_facts"])


def executive_kpis(journeys: pd.DataFrame, surveys: pd.DataFrame, promise: str,
                   min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Return the four headline numbers, each with interval and ``n`` (small n suppressed)."""
    done = journeys[journeys["status"] == "complete"]
    live = journeys[journeys["status"] != "abandoned"]
    col = f"promise_{promise}"
    decided = journeys[col].isin(["met", "breached"])
    rows = [
        {"kpi": "Median days to complete a journey", "unit": "days",
         **km_median(live["e2e_days"], live["status"] == "complete")},
        {"kpi": f"Promise kept: {promise.replace('_', ' ')}", "unit": "%",
         **{k: v * 100 if k != "n" else v for k, v in proportion_ci(
             int((journeys[col] == "met").sum()), int(decided.sum())).items()}},
        {"kpi": "Customer hours spent per journey", "unit": "hours",
         **mean_ci(done["customer_hours"])},
        {"kpi": "NPS", "unit": "", **nps_ci(surveys["nps"])},
    ]
    return suppress_small_groups(pd.DataFrame(rows), min_group_size)


def _tile_html(row: pd.Series, min_group_size: int) -> str:
    if row["suppressed"] or math.isnan(row["estimate"]):
        value, ci = "—", f"fewer than {min_group_size} to show (n={int(row['n'])})"
    else:
        value = f"{row['estimate']:.1f}{' ' + row['unit'] if row['unit'] == 'days' else ''}"
        value += "%" if row["unit"] == "%" else ""
        low, high = row["ci_low"], row["ci_high"]
        span = (f"{low:.1f}–{high:.1f}" if not (math.isnan(low) or math.isnan(high))
                else "not estimable")
        ci = f"95% CI {span} · n={int(row['n']):,}"
    return (f"<div class='cx-tile' style='border:1px solid #ccc;border-radius:6px;"
            f"padding:8px 12px;min-width:190px'><div style='font-size:12px;color:#555'>"
            f"{html.escape(str(row['kpi']))}</div><div class='cx-value' "
            f"style='font-size:26px;font-weight:600'>{html.escape(value)}</div>"
            f"<div style='font-size:11px;color:#777'>{html.escape(ci)}</div></div>")


_GUARD_ESM = """
function render({ model, el }) {
  const banner = document.createElement("div");
  banner.className = "cx-connection-lost";
  banner.setAttribute("role", "alert");
  banner.hidden = true;
  const text = document.createElement("span");
  text.textContent = model.get("message") + " ";
  const reload = document.createElement("a");
  reload.href = window.location.href;  // the same view, filters in the link kept
  reload.textContent = "Reload the page";
  banner.append(text, reload);
  document.body.appendChild(banner);
  let asked = null;  // when the oldest unanswered ping was sent
  const lost = () => { banner.hidden = false; document.body.classList.add("cx-stale"); };
  const found = () => {
    asked = null; banner.hidden = true; document.body.classList.remove("cx-stale");
  };
  const ping = () => {
    if (asked === null) asked = Date.now();
    try { model.send({ type: "ping" }); } catch (err) { lost(); }
  };
  model.on("msg:custom", (msg) => { if (msg && msg.type === "pong") found(); });
  const onChange = () => ping();  // every filter change must be answered, after its redraw
  const onVisible = () => { if (!document.hidden) ping(); };
  document.addEventListener("change", onChange, true);
  document.addEventListener("visibilitychange", onVisible);
  const timers = [
    setInterval(ping, model.get("interval_ms")),
    setInterval(() => {
      if (asked !== null && Date.now() - asked > model.get("timeout_ms")) lost();
    }, 250),
  ];
  ping();
  return () => {
    timers.forEach(clearInterval);
    document.removeEventListener("change", onChange, true);
    document.removeEventListener("visibilitychange", onVisible);
    banner.remove();
  };
}
export default { render };
"""

_GUARD_CSS = """
.cx-connection-lost { position: fixed; top: 0; left: 0; right: 0; z-index: 10000;
  background: #a00; color: #fff; padding: 10px 16px; font: 15px sans-serif; }
.cx-connection-lost a { color: #fff; font-weight: bold; text-decoration: underline; }
body.cx-stale .cx-dashboard { opacity: 0.25; filter: grayscale(1); pointer-events: none; }
"""


class ConnectionGuard(anywidget.AnyWidget):
    """Notices when the page's kernel is gone (culled, restarted, network lost) and says so.

    The page pings the kernel on every filter change and every ``interval_ms``; the kernel
    answers after it has applied any change that came before. A ping left unanswered for
    ``timeout_ms`` greys the dashboard out and shows a banner with a reload link, because
    the filters would no longer match the numbers. A late answer lifts it again.
    """

    _esm = _GUARD_ESM
    _css = _GUARD_CSS
    message = traitlets.Unicode(
        "The connection to the dashboard's server was lost, so the numbers below no longer "
        "follow the filters.").tag(sync=True)
    interval_ms = traitlets.Int(10_000).tag(sync=True)
    timeout_ms = traitlets.Int(5_000).tag(sync=True)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.on_msg(self._answer)

    def _answer(self, widget: object, content: object, buffers: object) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            self.send({"type": "pong"})


class ExecutiveDashboard:
    """Region, segment and promise filters → KPI tiles and a completion-curve figure.

    The filters are also the page's URL query (``?region=North&segment=time_savers``): a link
    opens with its filters set, and the page shows a copyable link of its current state.

    Parameters
    ----------
    run_dir
        A published run folder; when omitted, the run the channel points to.
    promise
        The promise shown on the tiles (default: the first promise in the published table).
    min_group_size
        Groups smaller than this show a dash instead of a number (default: the run's own).
    channel
        ``reports/<channel>``; default ``$CXLAB_CHANNEL``, else ``latest``.
    query
        The page's URL query; unknown filters or values are named in a notice, not applied.
    page_url
        The page's address without its query, for the copyable link.

    """

    def __init__(self, run_dir: str | Path | None = None, promise: str | None = None,
                 min_group_size: int | None = None, channel: str | None = None,
                 query: str = "", page_url: str = "") -> None:
        plots.set_theme()
        self.run = load_published(run_dir, channel)
        self.journeys, self.surveys = self.run.journeys, self.run.surveys
        promises = promise_names(self.journeys.columns)
        self.min_group_size = min_group_size or self.run.min_group_size
        self.page_url = page_url
        regions = sorted(self.journeys["region"].dropna().unique())
        segments = sorted(self.journeys["segment"].dropna().unique())
        self.region = widgets.Dropdown(options=[ALL, *regions], value=ALL,
                                       description="Region")
        self.segment = widgets.Dropdown(options=[ALL_SEGMENTS, *segments], value=ALL_SEGMENTS,
                                        description="Segment")
        self.promise_choice = widgets.Dropdown(options=promises, value=promise or promises[0],
                                               description="Promise")
        self.header = widgets.HTML(self.run.describe_html())
        self.notice = widgets.HTML()
        self.link = widgets.HTML()
        self.tiles = widgets.HTML()
        self.figure = widgets.Image(format="png", layout=widgets.Layout(max_width="820px"))
        self.guard = ConnectionGuard()
        self.notice.value = _notice_html(self.apply_query(query))
        for control in self.controls:
            control.observe(self._update, names="value")
        self.app = widgets.VBox([self.header, self.notice,
                                 widgets.HBox(list(self.controls)), self.link, self.tiles,
                                 self.figure, self.guard])
        self.app.add_class("cx-dashboard")
        self._update()

    @property
    def controls(self) -> tuple[widgets.Dropdown, ...]:
        """The filter widgets, in the order of :data:`FILTERS`."""
        return self.region, self.segment, self.promise_choice

    @property
    def promise(self) -> str:
        """The promise the tiles show."""
        return self.promise_choice.value

    def apply_query(self, query: str) -> list[str]:
        """Set the filters a URL query names; return a sentence for each one not applied."""
        problems = []
        for key, value in parse_qsl(query.lstrip("?"), keep_blank_values=True):
            if key not in FILTERS:
                problems.append(f"The link names a filter this view does not have ({key!r}); "
                                f"its filters are {', '.join(FILTERS)}.")
                continue
            control = self.controls[FILTERS.index(key)]
            if value not in control.options:
                problems.append(f"No {key} {value!r} in this run, so all are shown; choose one "
                                f"of: {', '.join(map(str, control.options))}.")
                continue
            control.value = value
        return problems

    def query(self) -> str:
        """Return the URL query of the current filters (those not at their default)."""
        defaults = (ALL, ALL_SEGMENTS, self.promise_choice.options[0])
        return urlencode([(key, control.value) for key, control, default
                          in zip(FILTERS, self.controls, defaults, strict=True)
                          if control.value != default])

    def selected(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Journeys and survey answers of the selected region and segment."""
        journeys, surveys = self.journeys, self.surveys
        for control, everyone, column in ((self.region, ALL, "region"),
                                          (self.segment, ALL_SEGMENTS, "segment")):
            if control.value == everyone:
                continue
            if control.value not in control.options:  # widget values can come from any client
                raise ValueError(f"unknown {column} {control.value!r}")
            journeys = journeys[journeys[column] == control.value]
            surveys = surveys[surveys[column] == control.value]
        return journeys, surveys

    def kpis(self) -> pd.DataFrame:
        """Return the KPI table behind the tiles, for the current filters."""
        journeys, surveys = self.selected()
        return executive_kpis(journeys, surveys, self.promise, self.min_group_size)

    def _update(self, change: object = None) -> None:
        self.tiles.value = ("<div style='display:flex;gap:10px;flex-wrap:wrap'>"
                            + "".join(_tile_html(r, self.min_group_size)
                                      for _, r in self.kpis().iterrows())
                            + "</div>")
        query = self.query()
        self.link.value = (
            "<div class='cx-link' style='font-size:12px;color:#555'>Link to this view: "
            f"<input class='cx-link-url' readonly size='70' value='"
            f"{html.escape(self.page_url + ('?' + query if query else ''), quote=True)}' "
            "onclick='this.select()'></div>")
        journeys, _ = self.selected()
        fig, ax = plt.subplots(figsize=(8, 4))
        curve = completion_curve(journeys, by="segment", min_group_size=self.min_group_size)
        plots.completion_curves(curve, by="segment", ax=ax)
        ax.set_title(f"How long customers wait — {self.region.value}, {self.segment.value}")
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        self.figure.value = png.getvalue()

    def show(self) -> widgets.VBox:
        """Return the app widget (the dashboard notebook's last line displays it)."""
        return self.app


def _notice_html(problems: list[str]) -> str:
    if not problems:
        return ""
    items = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
    return (f"<div class='cx-notice' role='status' style='background:#fff4d6;padding:6px 12px;"
            f"border-radius:4px;font-size:13px'><ul style='margin:0'>{items}</ul></div>")


def open_dashboard(run_dir: str = "", channel: str = "", query: str | None = None,
                   page_url: str | None = None) -> widgets.Widget:
    """Return the dashboard of a published run, or a plain message when there is none yet.

    What the dashboard notebook shows: never a traceback for a missing run. Under Voilà the
    page's URL query and address come from the kernel's environment (``QUERY_STRING``,
    ``VOILA_REQUEST_URL``) unless given.
    """
    if query is None:
        query = os.environ.get("QUERY_STRING", "")
    if page_url is None:
        page_url = os.environ.get("VOILA_REQUEST_URL", "").split("?", 1)[0]
    try:
        return ExecutiveDashboard(run_dir or None, channel=channel or None, query=query,
                                  page_url=page_url).show()
    except (FileNotFoundError, ValueError) as exc:
        where = html.escape(run_dir or f"channel {channel_name(channel)}")
        return widgets.HTML(
            f"<div class='cx-no-run' style='font:16px sans-serif;padding:12px'>"
            f"<b>No published run yet</b> ({where}) — run <code>make reports</code> (or "
            f"<code>cx run params/default.yaml</code>) to publish one, then reload this page."
            f"<div style='color:#777;font-size:12px'>{html.escape(str(exc))}</div></div>")
