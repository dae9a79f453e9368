"""The headlines week by week as small multiples, written as SVG text (no plotting library).

A dashboard redraws them at every filter change: matplotlib took ≈ 0.4 s to lay out and save
the overview's six panels, this takes milliseconds, and the browser draws the lines. The look
follows :mod:`cxlib.plots` (one colour, a light band for the 95 % interval, dotted weeks not yet
settled); the ticks come from matplotlib's own locators, so the axes read as the other figures.
The SVG carries no script and no link: it is shown as an image.
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

from cxlib.plots import PALETTE

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

    parts = [f"<rect x='{left}' y='{top}' width='{width}' height='{PLOT_HEIGHT}' fill='#fff' "
             "stroke='#ccc'/>"]
    for tick in ticks:
        y = float(y_of(np.array(tick)))
        parts.append(f"<line x1='{left}' x2='{left + width}' y1='{y:.1f}' y2='{y:.1f}' "
                     "stroke='#e5e5e5'/>"
                     f"<text x='{left - 5}' y='{y + 4:.1f}' text-anchor='end'>"
                     f"{_number(tick)}</text>")
    for position, label in zip(*dates, strict=True):
        x = float(x_of(np.array(position)))
        parts.append(f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{top}' y2='{top + PLOT_HEIGHT}' "
                     "stroke='#e5e5e5'/>"
                     f"<text x='{x:.1f}' y='{top + PLOT_HEIGHT + 17}' text-anchor='middle'>"
                     f"{html.escape(label)}</text>")
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
    parts += [f"<circle cx='{x:.1f}' cy='{y:.1f}' r='2.5' fill='{colour}'/>"
              for x, y in zip(xs[np.isfinite(firm)], y_of(firm[np.isfinite(firm)]), strict=True)]
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
