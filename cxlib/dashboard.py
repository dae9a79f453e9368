"""The manager's dashboards: one page frame — filters, link bar, copyable link — around a view.

The views (:mod:`cxlib.dashboard_views`: Overview, Segments, Journeys) read only what a run
published (:mod:`cxlib.published`). Filters — period (week range), region, segment and
promise — are also the page's URL query (``?region=North&segment=time_savers&from=2026-03-02``):
a link opens with its filters set, the link bar keeps them when moving between views, and each
view shows a copyable link of its current state. Unknown filters or values are named in a
notice, never a traceback. Every string that reaches the page is HTML-escaped.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import io
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pandas as pd
from ipywidgets.widgets.widget_description import DescriptionStyle
from ipywidgets.widgets.widget_string import HTMLStyle

import cxlib
from cxlib import plots
from cxlib.dashboard_guard import ConnectionGuard
from cxlib.dashboard_views import VIEWS, Rendered, Section, Selection
from cxlib.headlines import week_start
from cxlib.journey_table import promise_names
from cxlib.published import (
    PUBLIC_URL_ENV,
    PublishedRun,
    TableMissing,
    channel_folder,
    channel_name,
    load_published,
)

log = logging.getLogger("cxlib.dashboard")
ALL_REGIONS = "All regions"
ALL_SEGMENTS = "All segments"
FILTERS = ("from", "to", "region", "segment", "promise")  # what a link (URL query) can set
DEFAULT_VIEW = "overview"
DRAWINGS_KEPT = 12  # filter states a page keeps drawn (≈ 0.2 MB each): going back is instant
# filter states drawn by any page of a run, kept in the run's views/drawn/ for every viewer
# (≈ 0.2 MB each; the least recently shown beyond this are removed; 0: none shared)
SHARED_DRAWINGS_KEPT = 400
SHARED_DRAWINGS = "drawn"
STYLE = """<style>
.cx-tiles { display:flex; gap:10px; flex-wrap:wrap }
.cx-tile { border:1px solid #ccc; border-radius:6px; padding:8px 12px; min-width:180px }
.cx-kpi { font-size:12px; color:#555 } .cx-value { font-size:26px; font-weight:600 }
.cx-detail, .cx-change { font-size:11px; color:#777 }
.cx-table { border-collapse:collapse; font-size:13px; margin:4px 0 }
.cx-table th { text-align:left; border-bottom:2px solid #999; padding:3px 10px }
.cx-table td { border-bottom:1px solid #ddd; padding:3px 10px }
.cx-table td.num { text-align:right }
.cx-takeaway { font-size:13px; color:#333; margin:2px 0 10px } .cx-note { font-size:13px }
.cx-views a { margin-right:14px; font-size:15px } .cx-views a.cx-here { font-weight:700;
  text-decoration:none; color:#000 }
h3.cx-section { margin:18px 0 4px; font-size:17px }
</style>"""


def _week_label(monday: str) -> str:
    return f"week of {date.fromisoformat(monday):%d %b %Y}"


class Filters:
    """The filter widgets of every view, their URL query, and the facts they keep."""

    def __init__(self, run: PublishedRun, promise: str | None = None) -> None:
        spec = run.spec
        weeks = sorted(f"{d:%Y-%m-%d}" for d in week_start(run.journeys["start_ts"])
                       .dropna().unique())
        promises = promise_names(run.journeys.columns)
        regions = sorted(run.journeys["region"].dropna().unique())
        segments = sorted(run.journeys["segment"].dropna().unique())
        label = spec.label if spec is not None else str
        look = {"layout": widgets.Layout(), "style": DescriptionStyle()}  # shared
        self.start = widgets.Dropdown(options=[(_week_label(w), w) for w in weeks],
                                      value=weeks[0] if weeks else None, description="From",
                                      **look)
        self.end = widgets.Dropdown(options=[(_week_label(w), w) for w in weeks],
                                    value=weeks[-1] if weeks else None, description="To", **look)
        self.region = widgets.Dropdown(options=[ALL_REGIONS, *regions], value=ALL_REGIONS,
                                       description="Region", **look)
        self.segment = widgets.Dropdown(
            options=[(ALL_SEGMENTS, ALL_SEGMENTS), *((label(s), s) for s in segments)],
            value=ALL_SEGMENTS, description="Segment", **look)
        self.promise = widgets.Dropdown(  # the spec states no promise: nothing to choose
            options=[(label(p), p) for p in promises],
            value=promise or (promises[0] if promises else None), description="Promise",
            **{**look, "layout": look["layout"] if promises else widgets.Layout(display="none")})
        self.defaults = {key: control.value for key, control in self.controls.items()}
        self.defaults["promise"] = promises[0] if promises else None

    @property
    def controls(self) -> dict[str, widgets.Dropdown]:
        """The filter widgets by their URL name (:data:`FILTERS`)."""
        return {"from": self.start, "to": self.end, "region": self.region,
                "segment": self.segment, "promise": self.promise}

    def _allowed(self, key: str) -> list[str | None]:
        """Return the values a filter can take (None only for a filter with no options)."""
        control = self.controls[key]
        return [o[1] if isinstance(o, tuple) else o for o in control.options] or [None]

    def apply_query(self, query: str) -> list[str]:
        """Set the filters a URL query names; return a sentence for each one not applied."""
        problems = []
        for key, value in parse_qsl(query.lstrip("?"), keep_blank_values=True):
            if key not in FILTERS:
                problems.append(f"The link names a filter the dashboards do not have ({key!r});"
                                f" their filters are {', '.join(FILTERS)}.")
                continue
            if key in ("from", "to"):
                try:
                    day = date.fromisoformat(value)
                except ValueError:
                    problems.append(f"{key}={value!r} is not a date (write it as 2026-03-02); "
                                    "all weeks are shown.")
                    continue
                value = (day - timedelta(days=day.weekday())).isoformat()
                if value not in self._allowed(key):
                    problems.append(f"No journeys started in the week of {day:%d %b %Y} in this "
                                    f"run, so {key} is left at {_week_label(self.defaults[key])}.")
                    continue
            elif self._allowed(key) == [None]:
                problems.append(f"This run measures no {key}, so the link's {key} {value!r} "
                                "is left out.")
                continue
            elif value not in self._allowed(key):
                shown = ", ".join(str(o) for o in self._allowed(key))
                problems.append(f"No {key} {value!r} in this run, so all are shown; choose one "
                                f"of: {shown}.")
                continue
            self.controls[key].value = value
        if self.start.value and self.end.value and self.start.value > self.end.value:
            problems.append("The period starts after it ends, so all weeks are shown.")
            self.start.value, self.end.value = self.defaults["from"], self.defaults["to"]
        return problems

    def query(self) -> str:
        """Return the URL query of the current filters (those not at their default)."""
        return urlencode([(key, control.value) for key, control in self.controls.items()
                          if control.value != self.defaults[key]])

    def select(self, journeys: pd.DataFrame,
               surveys: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Keep the journeys (by start week) and answers (by answer week) the filters choose.

        Raises
        ------
        ValueError
            For a value no widget offers (a client can send any value over the comm).
        """
        for key, control in self.controls.items():
            if control.value not in self._allowed(key):
                raise ValueError(f"unknown {key} {control.value!r}")
        if self.start.value and (self.start.value, self.end.value) != (self.defaults["from"],
                                                                       self.defaults["to"]):
            first = pd.Timestamp(self.start.value)
            last = pd.Timestamp(self.end.value)
            journeys = journeys[week_start(journeys["start_ts"]).between(first, last)]
            if "answered_day" in surveys.columns:
                surveys = surveys[week_start(surveys["answered_day"]).between(first, last)]
        for control, everyone, column in ((self.region, ALL_REGIONS, "region"),
                                          (self.segment, ALL_SEGMENTS, "segment")):
            if control.value != everyone:
                journeys = journeys[journeys[column] == control.value]
                surveys = surveys[surveys[column] == control.value]
        return journeys, surveys

    def describe(self) -> str:
        """Say in words what the filters chose."""
        period = (f"{_week_label(self.start.value)} to {_week_label(self.end.value)}"
                  if self.start.value else "every week")
        promise = f" · promise: {self.promise.label}" if self.promise.value else ""
        return f"{period} · {self.region.label} · {self.segment.label}{promise}"


class Dashboard:
    """One view of a published run inside the page frame: header, filters, link bar, sections.

    Parameters
    ----------
    view
        ``overview``, ``segments`` or ``journeys`` (:data:`cxlib.dashboard_views.VIEWS`).
    run_dir
        A published run folder, or one already read (:class:`PublishedRun`, shared by the
        views a run writes); when omitted, the run the channel points to.
    channel
        ``reports/<channel>``; default ``$CXLAB_CHANNEL``, else ``latest``.
    query
        The page's URL query; unknown filters or values are named in a notice, not applied.
    page_url
        The page's address without its query, for the copyable link.
    min_group_size
        Groups smaller than this are suppressed (default: the run's own).

    Raises
    ------
    FileNotFoundError
        When there is no published run; ``TableMissing`` when the run lacks its facts or spec.
    """

    def __init__(self, view: str = DEFAULT_VIEW,
                 run_dir: str | Path | PublishedRun | None = None,
                 channel: str | None = None, query: str = "", page_url: str = "",
                 min_group_size: int | None = None) -> None:
        if view not in VIEWS:
            raise ValueError(f"no dashboard view {view!r} (views: {', '.join(VIEWS)})")
        plots.set_theme()
        self.view, self.page_url = view, page_url
        self.run = (run_dir if isinstance(run_dir, PublishedRun)
                    else load_published(run_dir, channel))
        if self.run.spec is None:
            raise TableMissing("journey_spec", "the journey spec it measured by")
        if min_group_size:
            self.run.manifest.setdefault("params", {})["min_group_size"] = min_group_size
        self.filters = Filters(self.run)
        self._holding = False  # while a link's filters are applied: one redraw at the end
        self._drawn: OrderedDict[str, dict[str, dict[str, str]]] = OrderedDict()
        self._sharing_failed = False
        self.redraws = 0  # filter states this page drew itself (not shown from a drawing)
        # one layout and one style shared by every HTML widget: each is a model more the
        # browser builds and Voilà relays per viewer (the overview: 44 models a page before, 22 now)
        text = {"layout": widgets.Layout(), "style": HTMLStyle()}
        self.header = widgets.HTML(STYLE + self.run.describe_html(), **text)
        self.views = widgets.HTML(**text)
        self.notice = widgets.HTML(_notice_html(self.filters.apply_query(query)), **text)
        self.link = widgets.HTML(**text)
        self.sections = {s.key: _SectionWidgets(s, text) for s in VIEWS[view][1]}
        self.guard = ConnectionGuard(layout=text["layout"])
        for control in self.filters.controls.values():
            control.observe(self._update, names="value")
        row = widgets.Layout()
        boxes = [widgets.HBox([self.filters.start, self.filters.end], layout=row),
                 widgets.HBox([self.filters.region, self.filters.segment, self.filters.promise],
                              layout=row)]
        self.app = widgets.VBox([self.header, self.views, self.notice, *boxes, self.link,
                                 *(s.box for s in self.sections.values()), self.guard])
        self.app.add_class("cx-dashboard")
        if self.filters.query() or min_group_size or not self._restore():
            self._update()
        else:
            self._update_links()

    @cached_property
    def previous_run(self) -> PublishedRun | None:
        """The run this one is compared with (read once)."""
        return self.run.previous()

    def _previous_facts(self) -> tuple[str, pd.DataFrame, pd.DataFrame] | None:
        before = self.previous_run
        if before is None:
            return None
        return (before.run_id, *self.filters.select(before.journeys, before.surveys))

    def selection(self) -> Selection:
        """Return the facts and names the filters choose now."""
        journeys, surveys = self.filters.select(self.run.journeys, self.run.surveys)
        region, segment = self.filters.region.value, self.filters.segment.value
        return Selection(self.run, self.run.spec, journeys, surveys, self.filters.promise.value,
                         None if region == ALL_REGIONS else region,
                         None if segment == ALL_SEGMENTS else segment, self._previous_facts)

    def render(self) -> dict[str, Rendered]:
        """Render every section of the view for the current filters (what the page shows)."""
        chosen = self.selection()
        return {key: _render(part.section, chosen) for key, part in self.sections.items()}

    def follow_link(self, query: str, page_url: str) -> None:
        """Show the view a link asks for: apply its filters, then redraw once.

        What a preheated kernel does when its page's request arrives (the view was built
        before anyone asked, in the default state).
        """
        self.page_url = page_url
        drawn_for = self.filters.query()
        self._holding = True
        try:
            self.notice.value = _notice_html(self.filters.apply_query(query))
        finally:
            self._holding = False
        if self.filters.query() == drawn_for:  # the view already shows what the link asks for
            self._update_links()
        else:
            self._update()

    def set_filters(self, values: Mapping[str, object]) -> None:
        """Set the filters to ``values`` (by URL name), the others to their defaults; redraw once.

        Raises
        ------
        KeyError
            For a name that is not a filter (:data:`FILTERS`).
        """
        unknown = set(values) - set(FILTERS)
        if unknown:
            raise KeyError(f"not a filter: {', '.join(sorted(unknown))} (filters: "
                           f"{', '.join(FILTERS)})")
        self._holding = True
        try:
            for key, control in self.filters.controls.items():
                control.value = values.get(key, self.filters.defaults[key])
        finally:
            self._holding = False
        self._update()

    def _update(self, change: object = None) -> None:
        if self._holding:
            return
        self._update_links()
        query = self.filters.query()
        if query in self._drawn:  # drawn before in this page: shown again, not redrawn
            self._drawn.move_to_end(query)
            self._show_drawings(self._drawn[query])
            return
        shared = self._shared_drawing(query)
        if shared is not None:  # drawn before by another page of the run
            self._show_drawings(shared)
            self._remember(query)
            return
        for key, rendered in self.render().items():
            self.sections[key].show(rendered)
        self.redraws += 1
        self._remember(query)
        self._share(query)

    def _show_drawings(self, drawings: Mapping[str, Mapping[str, str]]) -> None:
        for key, drawing in drawings.items():
            self.sections[key].show_drawing(drawing)

    def _remember(self, query: str) -> None:
        """Keep what the sections show for ``query`` (the newest :data:`DRAWINGS_KEPT`)."""
        self._drawn[query] = {key: part.drawing() for key, part in self.sections.items()}
        while len(self._drawn) > DRAWINGS_KEPT:
            self._drawn.popitem(last=False)

    def _update_links(self) -> None:
        query = self.filters.query()
        suffix = "?" + query if query else ""
        self.views.value = ("<nav class='cx-views'>" + "".join(
            f"<a class='{'cx-here' if name == self.view else ''}' "
            f"href='{html.escape(name + '.ipynb' + suffix, quote=True)}'>{html.escape(title)}</a>"
            for name, (title, _) in VIEWS.items()) + "</nav>")
        self.link.value = (
            "<div class='cx-link' style='font-size:12px;color:#555'>"
            f"{html.escape(self.filters.describe())} — link to this view: "
            f"<input class='cx-link-url' readonly size='70' value='"
            f"{html.escape(self.page_url + suffix, quote=True)}' onclick='this.select()'></div>")

    def show(self) -> widgets.VBox:
        """Return the app widget (the dashboard notebook's last line displays it)."""
        return self.app

    def _snapshot_key(self) -> dict[str, object]:
        """Return what a drawing of the default view depends on.

        The code that draws it, the run's tables, its minimum group size and the run it is
        compared with.
        """
        tables = sorted((p.name, p.stat().st_size) for p in (self.run.folder / "tables")
                        .glob("*.parquet"))
        previous = self.previous_run
        return {"view": self.view, "code": cxlib.code_fingerprint(), "tables": tables,
                "min_group_size": self.run.min_group_size,
                "previous": previous.run_id if previous else None}

    @cached_property
    def _shared_key(self) -> str:
        return json.dumps(self._snapshot_key(), sort_keys=True)

    def _shared_file(self, query: str) -> Path:
        """Where any page of the run keeps its drawing of ``query`` (named by its key)."""
        digest = hashlib.sha256(f"{self._shared_key}?{query}".encode()).hexdigest()[:40]
        return self.run.folder / "views" / SHARED_DRAWINGS / f"{self.view}-{digest}.json"

    def _shared_drawing(self, query: str) -> dict[str, dict[str, str]] | None:
        """Return the sections another page of the run drew for ``query``, if still valid.

        The default state (``query`` empty): the run's own drawing first.
        """
        own = None if query else self._runs_own_drawing()
        if own is not None:
            return own
        if not SHARED_DRAWINGS_KEPT:
            return None
        path = self._shared_file(query)
        sections = self._saved_sections(path, key=self._shared_key, query=query)
        if sections is not None:
            with contextlib.suppress(OSError):  # a run this server can only read is still read
                os.utime(path)  # shown again: the last to be removed
        return sections

    def _share(self, query: str) -> None:
        """Keep what the sections show for ``query`` in the run for every page (best effort).

        Written whole then renamed, so a page never reads half a drawing; beyond
        :data:`SHARED_DRAWINGS_KEPT` the least recently shown are removed. A run folder the
        server cannot write to only loses the sharing (logged once per page).
        """
        if not SHARED_DRAWINGS_KEPT or self._sharing_failed:
            return
        path = self._shared_file(query)
        part = path.with_name(f".{path.name}.{os.getpid()}")
        try:
            path.parent.mkdir(exist_ok=True)
            part.write_text(json.dumps({"key": self._shared_key, "query": query,
                                        "sections": self._drawn[query]}), encoding="utf-8")
            os.replace(part, path)
            kept = sorted(path.parent.glob("*.json"), key=_last_shown, reverse=True)
            for old in kept[SHARED_DRAWINGS_KEPT:]:
                old.unlink(missing_ok=True)
        except OSError as exc:
            self._sharing_failed = True
            with contextlib.suppress(OSError):
                part.unlink(missing_ok=True)
            log.info("dashboard drawings are not shared with other pages: %s", exc)

    def snapshot(self) -> dict[str, object]:
        """Return what the sections show now, with the key it is valid for (JSON-ready)."""
        return {"key": self._snapshot_key(),
                "sections": {key: part.drawing() for key, part in self.sections.items()}}

    def _saved_sections(self, path: Path, **expected: object) -> dict[str, dict[str, str]] | None:
        """Return the sections of a saved drawing whose fields match ``expected``, else None.

        None too for a file that cannot be read, is not JSON or lacks one of the view's sections.
        """
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if (not isinstance(saved, dict) or any(saved.get(k) != v for k, v in expected.items())
                or set(saved.get("sections", {})) != set(self.sections)):
            return None
        return saved["sections"]

    def _runs_own_drawing(self) -> dict[str, dict[str, str]] | None:
        """Return the run's own drawing of the default view (``views/<view>.json``) if valid."""
        return self._saved_sections(self.run.folder / "views" / f"{self.view}.json",
                                    key=json.loads(self._shared_key))  # the key as JSON reads it

    def _restore(self) -> bool:
        """Show the run's own drawing of the default view, if valid; tell whether it did."""
        saved = self._runs_own_drawing()
        if saved is None:
            return False
        self._show_drawings(saved)
        self._remember(self.filters.query())
        return True


class _SectionWidgets:
    """One section of a page: a single HTML widget with heading, HTML, figure and takeaway.

    One widget, not four: every widget is a model the browser builds and Voilà relays, and
    ten managers opening a view at once paid for each (``benchmarks/README.md``). The figure
    is an image embedded in the HTML (PNG, or SVG text a section wrote itself), as in the
    static copy.
    """

    def __init__(self, section: Section, look: Mapping[str, widgets.Widget]) -> None:
        self.section = section
        self._drawing = {"body": "", "takeaway": "", "figure": ""}
        self.box = widgets.HTML(section_html(section, self._drawing), **look)
        self.box.add_class(f"cx-section-{section.key}")

    def show(self, rendered: Rendered) -> None:
        self.show_drawing({
            "body": rendered.html, "figure": _image_address(rendered),
            "takeaway": (f"<p class='cx-takeaway'>{html.escape(rendered.takeaway)}</p>"
                         if rendered.takeaway else "")})

    def drawing(self) -> dict[str, str]:
        """Return what the section shows: HTML, takeaway, figure (a data URL; empty: none)."""
        return dict(self._drawing)

    def show_drawing(self, drawing: Mapping[str, str]) -> None:
        """Show a drawing :meth:`drawing` returned (or the run's saved copy of one)."""
        self._drawing = {key: str(drawing[key]) for key in ("body", "takeaway", "figure")}
        self.box.value = section_html(self.section, self._drawing)


def _last_shown(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed by another page meanwhile
        return 0.0


def section_html(section: Section, drawing: Mapping[str, str]) -> str:
    """Return a section as HTML: heading, body, figure (an embedded image, if any), takeaway.

    ``drawing`` holds the section's escaped ``body`` and ``takeaway`` HTML and its figure as
    a data URL (``figure``, empty when it has none); the dashboards and the static copies
    show sections with it.
    """
    figure = ""
    if drawing["figure"]:
        figure = (f"<img class='cx-figure' alt='{html.escape(section.title, quote=True)}' "
                  f"style='display:block;max-width:min(900px,100%)' "
                  f"src='{html.escape(drawing['figure'], quote=True)}'>")
    return (f"<h3 class='cx-section'>{html.escape(section.title)}</h3>{drawing['body']}"
            f"{figure}{drawing['takeaway']}")


def _image_address(rendered: Rendered) -> str:
    """Return a rendered figure as a data URL: SVG text as it is, a matplotlib figure as PNG."""
    if rendered.figure is None:
        return ""
    if isinstance(rendered.figure, str):
        return "data:image/svg+xml;base64," + base64.b64encode(rendered.figure.encode()).decode()
    return "data:image/png;base64," + base64.b64encode(_png(rendered.figure)).decode()


def _png(figure: plt.Figure) -> bytes:
    png = io.BytesIO()
    # zlib's fastest level: a third less time saving a figure, a few per cent more bytes
    figure.savefig(png, format="png", dpi=100, bbox_inches="tight",
                   pil_kwargs={"compress_level": 1})
    plt.close(figure)
    return png.getvalue()


def static_view(board: Dashboard) -> str:
    """Return a view as one self-contained HTML page, as its sections show now.

    No code and no script: figures are embedded PNG images, the link bar points at the sibling
    pages (``overview.html`` …), so the page works opened from a file, offline.
    """
    view = board.view
    title, sections = VIEWS[view]
    nav = "".join(f"<a class='{'cx-here' if name == view else ''}' href='{name}.html'>"
                  f"{html.escape(label)}</a>" for name, (label, _) in VIEWS.items())
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>"
             f"{html.escape(str(board.run.manifest.get('title', 'cxlab')))} — {title}</title>"
             f"{STYLE}<style>body{{font-family:sans-serif;margin:18px 28px}}</style></head>"
             f"<body class='cx-static'>{board.run.describe_html()}<nav class='cx-views'>{nav}"
             f"</nav><p class='cx-note'>A copy of the {html.escape(title.lower())} view as "
             f"published, for {html.escape(board.filters.describe())}; "
             "the live dashboard (<code>make serve</code>) filters it.</p>"]
    shown = board.snapshot()["sections"]
    parts += [f"<section class='cx-section-{section.key}'>"
              f"{section_html(section, shown[section.key])}</section>" for section in sections]
    return "".join(parts) + "</body></html>"


def write_static_views(run_dir: str | Path, part: int = 0, parts: int = 1) -> list[Path]:
    """Write each view in its default state; return the HTML pages.

    ``views/<view>.html`` is a self-contained page; ``views/<view>.json`` is the drawing a
    dashboard kernel shows instead of redrawing the default view. ``part`` of ``parts``:
    every ``parts``-th view from the ``part``-th, so that processes can share the views.
    """
    folder = Path(run_dir) / "views"
    folder.mkdir(exist_ok=True)
    run = load_published(run_dir)  # read once for the views
    written = []
    for view in list(VIEWS)[part::parts]:
        board = Dashboard(view, run)
        page = folder / f"{view}.html"
        page.write_text(static_view(board), encoding="utf-8")
        (folder / f"{view}.json").write_text(json.dumps(board.snapshot()), encoding="utf-8")
        written.append(page)
    return written


WARMED_FILTERS = ("region", "segment", "promise")  # changed one at a time by warm_drawings
WARMED_PAIRS = (("region", "segment"),)  # then changed together


def _changed_states(filters: Filters, names: tuple[str, ...]) -> list[dict[str, object]]:
    """Every state with each of ``names`` set to a value other than its default."""
    states: list[dict[str, object]] = [{}]
    for name in names:
        values = [v for v in filters._allowed(name) if v not in (None, filters.defaults[name])]
        states = [{**state, name: value} for state in states for value in values]
    return states


def warm_drawings(run_dir: str | Path, before_each: Callable[[], object] | None = None) -> int:
    """Draw every view with a filter or two changed from its default into the shared drawings.

    First each region, each segment and each promise alone (:data:`WARMED_FILTERS`), in every
    view; then each region with each segment (:data:`WARMED_PAIRS`). States another page drew
    already are read, not drawn again. ``before_each`` is called before each state (``cx
    serve``'s warmer waits there while the machine is busy). Returns how many states were
    drawn. What ``cx serve`` does for each run it shows (:mod:`cxlib.drawing_warmer`).
    """
    run = load_published(run_dir)
    boards = [Dashboard(view, run) for view in VIEWS]
    for names in [(name,) for name in WARMED_FILTERS] + list(WARMED_PAIRS):
        for board in boards:
            for state in _changed_states(board.filters, names):
                if before_each is not None:
                    before_each()
                board.set_filters(state)
            board.set_filters({})
    return sum(board.redraws for board in boards)


def _render(section: Section, chosen: Selection) -> Rendered:
    """Render one section; a table the run did not publish becomes a sentence saying so."""
    try:
        return section.render(chosen)
    except TableMissing as missing:
        return Rendered(f"<p class='cx-missing'>{html.escape(str(missing))}</p>")
    except Exception:  # a manager never sees a traceback or stale numbers: say so, log why
        log.exception("dashboard section %r could not be drawn", section.key)
        return Rendered("<p class='cx-missing'>This part could not be drawn for these filters; "
                        "the reason is in the dashboard server's log.</p>")


def _notice_html(problems: list[str]) -> str:
    if not problems:
        return ""
    items = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
    return (f"<div class='cx-notice' role='status' style='background:#fff4d6;padding:6px 12px;"
            f"border-radius:4px;font-size:13px'><ul style='margin:0'>{items}</ul></div>")


def open_dashboard(run_dir: str = "", channel: str = "", view: str = DEFAULT_VIEW,
                   query: str | None = None, page_url: str | None = None) -> widgets.Widget:
    """Return a dashboard view of a published run, or a plain message when there is none yet.

    What the dashboard notebooks show: never a traceback. Under Voilà the page's URL query and
    address come from the kernel's environment (``QUERY_STRING``, ``VOILA_REQUEST_URL``)
    unless given.
    """
    if query is None and os.environ.get("VOILA_PREHEAT") == "True":
        return _open_preheated(run_dir, channel, view)
    if query is None:
        query = os.environ.get("QUERY_STRING", "")
    if page_url is None:
        page_url = page_address(os.environ)
    try:
        return Dashboard(view, run_dir or None, channel or None, query, page_url).show()
    except (FileNotFoundError, ValueError, TableMissing) as exc:
        log.warning("dashboard %s not shown: %s", view, exc)
        where = html.escape(run_dir or f"channel {channel_name(channel)}")
        headline = ("No published run yet" if isinstance(exc, FileNotFoundError)
                    else "This run cannot be shown")
        return widgets.HTML(
            f"<div class='cx-no-run' style='font:16px sans-serif;padding:12px'>"
            f"<b>{headline}</b> ({where}) — run <code>make reports</code> (or "
            f"<code>cx run params/default.yaml</code>) to publish one, then reload this page."
            f"<div style='color:#777;font-size:12px'>{html.escape(str(exc))}</div></div>")


def page_address(env: Mapping[str, str]) -> str:
    """Return the page's address without its query, from the request Voilà describes.

    ``VOILA_REQUEST_URL`` when Voilà gives it; a preheated kernel learns only the CGI-style
    ``SERVER_NAME``, ``SERVER_PORT`` and ``SCRIPT_NAME`` (the scheme is taken as http). Behind
    a proxy, ``CXLAB_PUBLIC_URL`` (``cx serve --public-url``) is the address managers use for
    the server's root: the link is it followed by the page's path.
    """
    if env.get("VOILA_REQUEST_URL"):
        address = env["VOILA_REQUEST_URL"].split("?", 1)[0]
        path = "/" + address.split("://", 1)[-1].partition("/")[2]
    elif env.get("SERVER_NAME"):
        port = f":{env['SERVER_PORT']}" if env.get("SERVER_PORT") else ""
        path = env.get("SCRIPT_NAME", "/")
        address = f"http://{env['SERVER_NAME']}{port}{path}"
    else:
        return ""
    public = env.get(PUBLIC_URL_ENV, "").rstrip("/")
    return public + path if public else address


def _open_preheated(run_dir: str, channel: str, view: str) -> widgets.Widget:
    """Build the view before its page is asked for, then follow the page's link.

    Under Voilà's preheated kernels the notebook runs before any request: the imports and
    the default view are done while the kernel waits in the pool, and the link's filters are
    applied when the request arrives (``voila.utils.wait_for_request``). A run published in
    between is not missed: the view is rebuilt from the run the channel points to now.
    """
    from voila.utils import wait_for_request

    try:
        board: Dashboard | None = Dashboard(view, run_dir or None, channel or None)
    except (FileNotFoundError, ValueError, TableMissing):
        board = None  # said in plain words once the page is asked for
    wait_for_request()
    query, page_url = os.environ.get("QUERY_STRING", ""), page_address(os.environ)
    if board is None or board.run.folder.resolve() != (
            Path(run_dir) if run_dir else channel_folder(channel or None)).resolve():
        return open_dashboard(run_dir, channel, view, query, page_url)
    board.follow_link(query, page_url)
    return board.show()
