"""Figures a dashboard redraws at every filter change, written as SVG text (no plotting library).

matplotlib took ≈ 0.4 s to lay out and save the overview's six weekly panels and ≈ 0.1 s for
the completion curves; writing them as SVG takes milliseconds, and the browser draws the lines.
The look follows :mod:`cxlib.plots` (seaborn's colours, a light band for a 95 % interval); the
ticks come from matplotlib's own locators, so the axes read as the other figures. Every name is
escaped and the SVG carries no script and no link: a dashboard shows it as an image, a notebook
as SVG output.
"""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Iterator

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from cxlib.plots import LINE_COLOURS, PALETTE

COLUMNS = 3
PANEL_WIDTH, PLOT_HEIGHT = 300, 150  # pixels: three panels fill the 900-pixel figure width
LEFT, RIGHT, TICKS_BELOW, LINE_HEIGHT = 44, 22, 26, 15
TITLE_WIDTH = 32  # characters per title line, as the panel is wide
FONT = "font-family='DejaVu Sans, Arial, sans-serif'"


def _number(value: float) -> str:
    """Write a tick value as people do: no trailing ``.0``, a true minus sign."""
    text = f"{value:.10g}"
    return text.replace("-", "−")


def _runs(values: np.ndarray) -> Iterator[np.ndarray]:
    """Yield the positions of each run of consecutive finite values (gaps break a line)."""
    finite = np.isfinite(values)
    start = None
    for i, ok in enumerate([*finite, False]):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            yield np.arange(start, i)
            start = None


def _points(xs: np.ndarray, ys: np.ndarray) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))


def _frame(left: float, top: float, width: float, height: float,
           y_ticks: list[tuple[float, str]], x_ticks: list[tuple[float, str]]) -> list[str]:
    """Draw a plot area: white, framed, grid lines and labels at the ticks' pixel positions."""
    parts = [f"<rect x='{left}' y='{top}' width='{width}' height='{height}' fill='#fff' "
             "stroke='#ccc'/>"]
    for y, label in y_ticks:
        parts.append(f"<line x1='{left}' x2='{left + width}' y1='{y:.1f}' y2='{y:.1f}' "
                     f"stroke='#e5e5e5'/><text x='{left - 5}' y='{y + 4:.1f}' "
                     f"text-anchor='end'>{html.escape(label)}</text>")
    for x, label in x_ticks:
        parts.append(f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{top}' y2='{top + height}' "
                     f"stroke='#e5e5e5'/><text x='{x:.1f}' y='{top + height + 17}' "
                     f"text-anchor='middle'>{html.escape(label)}</text>")
    return parts


def _y_ticks(values: np.ndarray) -> np.ndarray:
    """Round ticks that cover the values (0 and 1 when there are none to show)."""
    values = values[np.isfinite(values)]
    if not len(values):
        return np.array([0.0, 1.0])
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-9:  # one value: a unit either side
        low, high = low - 1, high + 1
    return MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high)


def _panel(rows: pd.DataFrame, title: str, x0: float, y0: float, title_lines: int,
           span: tuple[float, float], dates: tuple[np.ndarray, list[str]]) -> list[str]:
    """One headline's panel, its top-left corner at (x0, y0)."""
    top = y0 + title_lines * LINE_HEIGHT + 8
    left, width = x0 + LEFT, PANEL_WIDTH - LEFT - RIGHT
    shown = ~rows["suppressed"].astype(bool).to_numpy()
    estimate = np.where(shown, rows["estimate"].astype(float), np.nan)
    ci_low = np.where(shown, rows["ci_low"].astype(float), np.nan)
    ci_high = np.where(shown, rows["ci_high"].astype(float), np.nan)
    settled = rows["settled"].astype(bool).to_numpy()
    ticks = _y_ticks(np.concatenate([estimate, ci_low, ci_high]))
    low, high = float(ticks.min()), float(ticks.max())

    def x_of(days: np.ndarray) -> np.ndarray:
        return left + (days - span[0]) / max(span[1] - span[0], 1e-9) * width

    def y_of(value: np.ndarray) -> np.ndarray:
        return top + (high - value) / (high - low) * PLOT_HEIGHT

    parts = _frame(left, top, width, PLOT_HEIGHT,
                   [(float(y_of(np.array(t))), _number(t)) for t in ticks],
                   [(float(x_of(np.array(p))), label) for p, label in zip(*dates, strict=True)])
    days = mdates.date2num(rows["week"].to_numpy())
    xs, colour = x_of(days), PALETTE["team"]
    band = np.where(np.isfinite(ci_low) & np.isfinite(ci_high), ci_low, np.nan)
    for run in _runs(band):
        outline = np.concatenate([xs[run], xs[run][::-1]])
        heights = np.concatenate([y_of(ci_high[run]), y_of(ci_low[run])[::-1]])
        parts.append(f"<polygon points='{_points(outline, heights)}' fill='{colour}' "
                     "fill-opacity='0.2'/>")
    for run in _runs(estimate):  # every shown week, dotted; the settled ones drawn over it
        parts.append(f"<polyline points='{_points(xs[run], y_of(estimate[run]))}' fill='none' "
                     f"stroke='{colour}' stroke-width='2' stroke-dasharray='2 3'/>")
    firm = np.where(settled, estimate, np.nan)
    for run in _runs(firm):
        parts.append(f"<polyline points='{_points(xs[run], y_of(firm[run]))}' fill='none' "
                     f"stroke='{colour}' stroke-width='2'/>")
    # a marker per settled week while weeks are apart (27 weeks: 2.5 px); four years of weeks
    # are a pixel apart, where markers would only blot the line
    radius = min(2.5, 0.3 * width / max(len(rows), 1))
    if radius >= 1:
        parts += [f"<circle cx='{x:.1f}' cy='{y:.1f}' r='{radius:.1f}' fill='{colour}'/>"
                  for x, y in zip(xs[np.isfinite(firm)], y_of(firm[np.isfinite(firm)]),
                                  strict=True)]
    parts += [f"<text x='{x0 + LEFT + width / 2:.1f}' y='{y0 + LINE_HEIGHT * (i + 1)}' "
              f"text-anchor='middle' font-size='13'>{html.escape(line)}</text>"
              for i, line in enumerate(title.split("\n"))]
    return parts


def weekly_trends_svg(weekly: pd.DataFrame) -> str:
    """Draw :func:`cxlib.headlines.weekly_kpis` as small multiples: one panel per headline.

    Suppressed weeks are gaps; the band is the 95% interval; weeks not yet settled (too many
    journeys still open) are drawn dotted, without markers. Three panels a row, every panel
    on the same weeks, at most four dates under each.

    Parameters
    ----------
    weekly
        One row per week and headline: ``week``, ``key``, ``kpi``, ``unit``, ``estimate``,
        ``ci_low``, ``ci_high``, ``settled``, ``suppressed``.

    Returns
    -------
    An SVG document (text), with its width and height in pixels.

    """
    keys = list(dict.fromkeys(weekly["key"]))
    titles = {key: textwrap.fill(kpi + (f" ({unit})" if unit else ""), TITLE_WIDTH)
              for key, kpi, unit in weekly[["key", "kpi", "unit"]].drop_duplicates("key")
              .itertuples(index=False)}
    lines = max([t.count("\n") + 1 for t in titles.values()] or [1])
    panel_height = lines * LINE_HEIGHT + 8 + PLOT_HEIGHT + TICKS_BELOW
    rows = max(math.ceil(len(keys) / COLUMNS), 1)
    width, height = COLUMNS * PANEL_WIDTH, rows * panel_height
    days = mdates.date2num(weekly["week"].to_numpy()) if len(weekly) else np.array([0.0, 7.0])
    span = (float(days.min()) - 3.5, float(days.max()) + 3.5)  # half a week either side
    locator = mdates.AutoDateLocator(minticks=2, maxticks=4)
    positions = np.array([p for p in locator.tick_values(*mdates.num2date(span))
                          if span[0] <= p <= span[1]])
    labels = mdates.ConciseDateFormatter(locator).format_ticks(positions)
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' font-size='11' {FONT} fill='#333'>",
             f"<rect width='{width}' height='{height}' fill='#fff'/>"]
    for i, key in enumerate(keys):
        row, column = divmod(i, COLUMNS)
        parts += _panel(weekly[weekly["key"] == key].sort_values("week"), titles[key],
                        column * PANEL_WIDTH, row * panel_height, lines, span,
                        (positions, labels))
    return "".join(parts) + "</svg>"


def _thinned(xs: np.ndarray) -> np.ndarray:
    """Which steps of a curve to keep: the first and last of each pixel column (all it shows)."""
    column = np.round(xs)
    keep = np.ones(len(xs), dtype=bool)
    keep[1:-1] = (column[1:-1] != column[:-2]) | (column[1:-1] != column[2:])
    return keep


def completion_curves_svg(curve: pd.DataFrame, by: str = "group") -> str:
    """Draw :func:`cxlib.summaries.completion_curve` as step lines, one per group.

    The share of journeys still waiting, by day since they started; suppressed groups draw no
    line and the legend says they are too few to show. A group keeps its colour whatever the
    others are (by its place among the names in order). Steps closer than a pixel are drawn
    as one (a curve of 20,000 journeys has ≈ 19,000 steps and 700 pixels).

    Parameters
    ----------
    curve
        ``by``, ``day``, ``share_waiting``, ``n`` and ``suppressed`` per step.
    by
        The column naming each curve's group.

    Returns
    -------
    An SVG document (text), 800 by 380 pixels.

    """
    width, height = 800, 380
    left, top, right, bottom = 62, 34, 20, 48
    plot_width, plot_height = width - left - right, height - top - bottom
    groups = sorted(curve[by].dropna().unique(), key=str)
    days = curve.loc[~curve["suppressed"].astype(bool), "day"].astype(float)
    x_ticks = MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]).tick_values(
        0.0, max(float(days.max()) if len(days) else 1.0, 1e-9))
    x_ticks = x_ticks[x_ticks >= 0]
    last_day = float(x_ticks.max())

    def x_of(day: np.ndarray) -> np.ndarray:
        return left + day / last_day * plot_width

    def y_of(share: np.ndarray) -> np.ndarray:
        return top + (1.0 - share) * plot_height

    shares = np.linspace(0.0, 1.0, 6)
    title = "How long customers wait for their journey to complete"
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' font-size='12' {FONT} fill='#333'>",
             f"<title>{html.escape(title)}</title>",
             f"<rect width='{width}' height='{height}' fill='#fff'/>",
             *_frame(left, top, plot_width, plot_height,
                     [(float(y_of(s)), f"{s:.0%}") for s in shares],
                     [(float(x_of(d)), _number(d)) for d in x_ticks]),
             f"<text x='{left + plot_width / 2}' y='20' text-anchor='middle' font-size='14'>"
             f"{html.escape(title)}</text>",
             f"<text x='{left + plot_width / 2}' y='{height - 8}' text-anchor='middle'>"
             "days since the journey started</text>",
             f"<text transform='translate(16,{top + plot_height / 2}) rotate(-90)' "
             "text-anchor='middle'>share still waiting</text>"]
    legend = []
    for i, name in enumerate(groups):
        colour = LINE_COLOURS[i % len(LINE_COLOURS)]
        rows = curve[curve[by] == name].sort_values("day", kind="stable")
        if rows["suppressed"].astype(bool).any():
            legend.append((f"{name} (too few to show)", None))
            continue
        legend.append((f"{name} (n={int(rows['n'].iloc[0]):,})", colour))
        xs = x_of(rows["day"].to_numpy(dtype=float))
        ys = y_of(rows["share_waiting"].to_numpy(dtype=float))
        keep = _thinned(xs)
        xs, ys = xs[keep], ys[keep]
        steps = "".join(f"H{x:.1f}V{y:.1f}" for x, y in zip(xs[1:], ys[1:], strict=True))
        parts.append(f"<path d='M{xs[0]:.1f},{ys[0]:.1f}{steps}' fill='none' "
                     f"stroke='{colour}' stroke-width='2'/>")
    if legend:
        box_x, box_y, line = left + plot_width - 250, top + 8, 17
        parts.append(f"<rect x='{box_x}' y='{box_y}' width='242' height='{line * len(legend) + 8}'"
                     " fill='#fff' fill-opacity='0.85' stroke='#ddd'/>")
        for k, (label, colour) in enumerate(legend):
            y = box_y + 4 + line * (k + 0.5)
            if colour is not None:
                parts.append(f"<line x1='{box_x + 8}' x2='{box_x + 30}' y1='{y:.1f}' "
                             f"y2='{y:.1f}' stroke='{colour}' stroke-width='2'/>")
            parts.append(f"<text x='{box_x + 36}' y='{y + 4:.1f}' font-size='11'>"
                         f"{html.escape(label)}</text>")
    return "".join(parts) + "</svg>"
