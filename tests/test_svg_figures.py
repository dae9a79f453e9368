"""The week-by-week panels as SVG: they draw the numbers they are given, gaps and all."""

import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from cxlib.headlines import weekly_kpis
from cxlib.plots import LINE_COLOURS as COLOURS
from cxlib.svg_figures import completion_curves_svg, weekly_trends_svg
from tests.test_headlines import answers, journeys

SVG = "{http://www.w3.org/2000/svg}"


def _parsed(weekly: pd.DataFrame) -> ET.Element:
    return ET.fromstring(weekly_trends_svg(weekly))  # well-formed XML, or this raises


def _panels(root: ET.Element) -> list[dict]:
    """Each panel's frame, tick labels (value, y), title and drawn shapes, in order."""
    panels = []
    for rect in root.iter(f"{SVG}rect"):
        if rect.get("stroke") != "#ccc":
            continue
        left, top = float(rect.get("x")), float(rect.get("y"))
        right, bottom = left + float(rect.get("width")), top + float(rect.get("height"))
        panels.append({"left": left, "right": right, "top": top, "bottom": bottom})

    def inside(panel: dict, x: float, y: float) -> bool:
        return panel["left"] - 0.5 <= x <= panel["right"] + 0.5 and \
            panel["top"] - 0.5 <= y <= panel["bottom"] + 0.5

    for panel in panels:
        panel["y_ticks"] = [(float(t.text.replace("−", "-")), float(t.get("y")) - 4)
                            for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"
                            and abs(float(t.get("x")) - (panel["left"] - 5)) < 0.01
                            and panel["top"] - 1 <= float(t.get("y")) - 4 <= panel["bottom"] + 1]
        panel["dates"] = [t.text for t in root.iter(f"{SVG}text")
                          if t.get("text-anchor") == "middle"
                          and panel["bottom"] < float(t.get("y")) <= panel["bottom"] + 20
                          and panel["left"] - 1 <= float(t.get("x")) <= panel["right"] + 1]
        panel["dots"] = [(float(c.get("cx")), float(c.get("cy"))) for c in root.iter(f"{SVG}circle")
                         if inside(panel, float(c.get("cx")), float(c.get("cy")))]
        lines = [p for p in root.iter(f"{SVG}polyline")
                 if inside(panel, *map(float, p.get("points").split()[0].split(",")))]
        panel["solid"] = [p.get("points") for p in lines if not p.get("stroke-dasharray")]
        panel["dotted"] = [p.get("points") for p in lines if p.get("stroke-dasharray")]
    return panels


def _values(panel: dict, ys: list[float]) -> np.ndarray:
    """Read values back from their heights, by the panel's own tick labels."""
    (v0, y0), (v1, y1) = panel["y_ticks"][0], panel["y_ticks"][-1]
    return v0 + (np.array(ys) - y0) / (y1 - y0) * (v1 - v0)


def test_each_headline_panel_draws_its_weekly_estimates_where_its_axis_says():
    weekly = weekly_kpis(journeys(40), answers(), "paid_in_10_days", min_group_size=5)
    root = _parsed(weekly)
    panels = _panels(root)
    keys = list(dict.fromkeys(weekly["key"]))
    assert len(panels) == len(keys)
    for panel, key in zip(panels, keys, strict=True):
        rows = weekly[(weekly["key"] == key) & ~weekly["suppressed"]].sort_values("week")
        assert len(panel["dots"]) == len(rows)  # every shown, settled week has its marker
        drawn = _values(panel, [y for _, y in sorted(panel["dots"])])
        assert drawn == pytest.approx(rows["estimate"].to_numpy(), abs=0.02 * (
            panel["y_ticks"][-1][0] - panel["y_ticks"][0][0])), key
        ticks = [v for v, _ in panel["y_ticks"]]
        assert ticks[0] <= rows["ci_low"].min() and rows["ci_high"].max() <= ticks[-1]
    titles = " ".join(t.text for t in root.iter(f"{SVG}text"))
    assert "Promise kept (%)" in titles and "NPS (points)" in titles


def test_a_suppressed_week_is_a_gap_and_weeks_not_settled_are_dotted_without_markers():
    data = journeys(60)  # fifteen journeys a week, four weeks
    data = data[(data.index % 4 != 1) | (data.index < 12)].copy()  # week two: three journeys
    last = data["start_ts"] >= pd.Timestamp("2026-03-23", tz="UTC")
    data.loc[last & (data.index // 4 % 2 == 0), "status"] = "open"  # half: not settled
    weekly = weekly_kpis(data, None, None, min_group_size=5)
    rows = weekly[weekly["key"] == "e2e_days"].sort_values("week")
    assert rows["suppressed"].tolist() == [False, True, False, False]
    assert rows["settled"].tolist() == [True, True, True, False]
    panel = _panels(_parsed(weekly))[0]
    assert len(panel["dots"]) == 2  # weeks one and three: the others are a gap or not settled
    assert [len(p.split()) for p in panel["solid"]] == [1, 1]  # broken by the gap
    assert [len(p.split()) for p in panel["dotted"]] == [1, 2]  # on to the last, dotted


def test_names_from_the_spec_are_text_in_the_drawing_never_markup():
    weekly = weekly_kpis(journeys(40), None, None, min_group_size=5)
    hostile = "<script>alert(1)</script> & hours"
    weekly["kpi"] = weekly["kpi"].where(weekly["key"] != "customer_hours", hostile)
    svg = weekly_trends_svg(weekly)
    assert "<script" not in svg and "&lt;script&gt;" in svg
    titles = " ".join(t.text for t in ET.fromstring(svg).iter(f"{SVG}text"))
    assert "<script>alert(1)</script> &" in titles  # shown as written


def test_every_panel_shows_the_same_weeks_with_at_most_four_dates():
    data = journeys(400)
    data["start_ts"] = pd.Timestamp("2010-01-04", tz="UTC") + pd.to_timedelta(
        pd.RangeIndex(400) * (4 * 365) // 400, unit="D")
    panels = _panels(_parsed(weekly_kpis(data, None, None, min_group_size=1)))
    assert len(panels) == 2
    assert panels[0]["dates"] == panels[1]["dates"]
    assert 2 <= len(panels[0]["dates"]) <= 4
    assert any(d.isdigit() and len(d) == 4 for d in panels[0]["dates"])  # years, over four
    assert panels[0]["dots"] == [] and panels[0]["solid"]  # weeks a pixel apart: the line alone


def _curve_paths(svg: str) -> dict[str, list[tuple[float, float]]]:
    """Each curve's colour and its corners (x, y) in pixels, from the path's M/H/V steps."""
    root = ET.fromstring(svg)
    curves = {}
    for path in root.iter(f"{SVG}path"):
        moves = re.findall(r"([MHV])([-\d.]+)(?:,([-\d.]+))?", path.get("d"))
        x, y, corners = 0.0, 0.0, []
        for command, first, second in moves:
            if command == "M":
                x, y = float(first), float(second)
            elif command == "H":
                x = float(first)
            else:
                y = float(first)
                corners.append((x, y))
            if command == "M":
                corners.append((x, y))
        curves[path.get("stroke")] = corners
    return curves


def _share_axis(svg: str) -> tuple[float, float]:
    """The pixel heights of 0% and 100% on the share axis, by its tick labels."""
    labels = {t.text: float(t.get("y")) - 4 for t in ET.fromstring(svg).iter(f"{SVG}text")
              if t.get("text-anchor") == "end"}
    return labels["0%"], labels["100%"]


def test_completion_curves_step_down_to_each_share_and_name_the_groups_too_few_to_show():
    curve = pd.DataFrame({
        "segment": ["a"] * 4 + ["b"] * 2,
        "day": [0.0, 1.0, 2.0, 5.0, 0.0, 3.0],
        "share_waiting": [1.0, 0.75, 0.5, 0.25, 1.0, 0.5],
        "n": [4] * 4 + [2] * 2, "suppressed": [False] * 4 + [True] * 2})
    svg = completion_curves_svg(curve, by="segment")
    curves = _curve_paths(svg)
    assert list(curves) == [COLOURS[0]]  # the small group draws no line
    zero, full = _share_axis(svg)
    shares = [(y - zero) / (full - zero) for _, y in curves[COLOURS[0]]]
    assert shares == pytest.approx([1.0, 0.75, 0.5, 0.25], abs=0.005)
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert "a (n=4)" in texts and "b (too few to show)" in texts
    shown_alone = completion_curves_svg(curve.assign(suppressed=False), by="segment")
    assert list(_curve_paths(shown_alone)) == [COLOURS[0], COLOURS[1]]  # a keeps its colour


def test_a_curve_of_thousands_of_steps_is_drawn_at_the_figures_resolution_and_ends_right():
    rng = np.random.default_rng(7)
    days = np.sort(rng.exponential(8.0, 20_000))
    curve = pd.DataFrame({"group": "all", "day": np.concatenate([[0.0], days]),
                          "share_waiting": 1.0 - np.arange(20_001) / 20_000, "n": 20_000,
                          "suppressed": False})
    svg = completion_curves_svg(curve)
    corners = _curve_paths(svg)[COLOURS[0]]
    assert len(corners) < 2 * 800  # first and last of each pixel column, at most
    zero, full = _share_axis(svg)
    ys = [y for _, y in corners]
    assert ys == sorted(ys)  # still waiting only ever falls
    assert (ys[0] - zero) / (full - zero) == pytest.approx(1.0)
    assert (ys[-1] - zero) / (full - zero) == pytest.approx(0.0, abs=0.005)
    for x, y in corners[:: len(corners) // 50]:  # on the true curve wherever it is drawn
        day = (x - corners[0][0]) / (_x_of_day(svg, 10.0) - corners[0][0]) * 10.0
        true = 1.0 - np.searchsorted(days, day, side="right") / 20_000
        assert (y - zero) / (full - zero) == pytest.approx(true, abs=0.02)


def _x_of_day(svg: str, day: float) -> float:
    """The pixel of ``day`` on the days axis, by its tick label."""
    for t in ET.fromstring(svg).iter(f"{SVG}text"):
        if t.get("text-anchor") == "middle" and t.text == f"{day:g}":
            return float(t.get("x"))
    raise AssertionError(f"no tick at {day}")


def test_group_names_in_the_curves_legend_are_text_never_markup():
    curve = pd.DataFrame({"group": ["<img src=x onerror=alert(1)>"] * 2, "day": [0.0, 1.0],
                          "share_waiting": [1.0, 0.0], "n": 2, "suppressed": False})
    svg = completion_curves_svg(curve)
    assert "<img" not in svg
    assert "<img src=x onerror=alert(1)> (n=2)" in [t.text for t in
                                                    ET.fromstring(svg).iter(f"{SVG}text")]
