"""Numbers for people: an estimate and its interval in one cell, p-values, escaped HTML tables."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping

import pandas as pd

UNITS = {"days": " days", "hours": " hours", "%": "%", "points": "", "": ""}


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def estimate_text(row: Mapping[str, object], unit: str = "", digits: int = 1,
                  min_group_size: int | None = None, scale: float = 1.0) -> str:
    """Say an estimate with its 95% interval in one cell: ``"7.2 days (6.9–7.5)"``.

    A suppressed row (``suppressed`` true) reads ``"fewer than N"``; an estimate without an
    interval reads alone; a missing estimate reads ``"not estimable"``.
    """
    flag = row.get("suppressed")
    if not _missing(flag) and bool(flag):
        return f"fewer than {min_group_size}" if min_group_size else "too few to show"
    estimate = row.get("estimate")
    if _missing(estimate):
        return "not estimable"
    suffix = UNITS.get(unit, f" {unit}")
    text = f"{float(estimate) * scale:.{digits}f}{suffix}"
    low, high = row.get("ci_low"), row.get("ci_high")
    if not (_missing(low) or _missing(high)):
        text += f" ({float(low) * scale:.{digits}f}–{float(high) * scale:.{digits}f})"
    return text


def p_value_text(p: object) -> str:
    """Say a p-value the way a reader expects: ``"< 0.001"``, ``"0.034"``, ``"0.41"``."""
    if _missing(p):
        return "—"
    p = float(p)  # type: ignore[arg-type]
    return "< 0.001" if p < 0.001 else f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


def html_table(frame: pd.DataFrame, columns: Mapping[str, str], css_class: str = "cx-table",
               numeric: tuple[str, ...] = ()) -> str:
    """Return ``frame`` as an escaped HTML table of ``columns`` (name → heading), no index."""
    head = "".join(f"<th>{html.escape(title)}</th>" for title in columns.values())
    body = "".join(
        "<tr>" + "".join(
            f"<td{' class=num' if name in numeric else ''}>"
            f"{html.escape('' if _missing(value) else str(value))}</td>"
            for name, value in zip(columns, row, strict=True)) + "</tr>"
        for row in frame[list(columns)].itertuples(index=False))
    return (f"<table class='{html.escape(css_class)}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")
