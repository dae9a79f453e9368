"""Numbers for people: an estimate and its interval in one cell, p-values, escaped HTML tables."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping

import pandas as pd

UNITS = {"days": " days", "hours": " hours", "%": "%", "points": "", "": ""}


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def suppressed_text(min_group_size: int | None) -> str:
    """Say what a suppressed group shows: ``"fewer than N"`` (N unknown: ``"too few to show"``)."""
    return f"fewer than {min_group_size}" if min_group_size else "too few to show"


def signed(value: float, digits: int) -> str:
    """Say a number with ``digits`` decimals and a true minus sign (never ``"−0.0"``)."""
    rounded = round(value, digits) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{rounded:,.{digits}f}".replace("-", "−")


def estimate_text(row: Mapping[str, object], unit: str = "", digits: int = 1,
                  min_group_size: int | None = None, scale: float = 1.0) -> str:
    """Say an estimate with its 95% interval in one cell: ``"7.2 days (6.9–7.5)"``.

    Negative numbers carry a true minus sign, and an interval below zero reads
    ``"(−0.2 to −0.1)"``. A suppressed row (``suppressed`` true) reads ``"fewer than N"``; an
    estimate without an interval reads alone; a missing estimate reads ``"not estimable"``.
    """
    flag = row.get("suppressed")
    if not _missing(flag) and bool(flag):
        return suppressed_text(min_group_size)
    estimate = row.get("estimate")
    if _missing(estimate):
        return "not estimable"
    def number(value: object) -> str:
        return signed(float(value) * scale, digits)  # type: ignore[arg-type]

    text = number(estimate) + UNITS.get(unit, f" {unit}")
    low, high = row.get("ci_low"), row.get("ci_high")
    if not (_missing(low) or _missing(high)):
        gap = " to " if float(low) < 0 else "–"  # type: ignore[arg-type]  # "−0.2 to −0.1"
        text += f" ({number(low)}{gap}{number(high)})"
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


def _integral(values: pd.Series) -> bool:
    present = values.dropna()
    return bool(len(present)) and bool((present == present.round()).all())


def _is_share(name: str) -> bool:
    return name == "share" or name.startswith("share_") or name.endswith("_share")


def _cell_texts(name: str, values: pd.Series, digits: int, percent: bool = False) -> pd.Series:
    """One column said for people: counts with separators, shares in %, p-values, yes/no."""
    def each(say):  # noqa: ANN001, ANN202 - a local formatter
        return values.map(lambda v: "—" if _missing(v) else say(v))

    if name == "p_value" or name.endswith("_p_value"):
        return values.map(p_value_text)
    if pd.api.types.is_bool_dtype(values) or (
            values.dtype == object and values.notna().any()
            and values.dropna().map(lambda v: isinstance(v, bool)).all()):
        return each(lambda v: "yes" if v else "no")
    if pd.api.types.is_datetime64_any_dtype(values):
        midnight = (values.dropna() == values.dropna().dt.normalize()).all()
        return each(lambda v: v.strftime("%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M"))
    if pd.api.types.is_numeric_dtype(values):
        if percent or _is_share(name):
            return each(lambda v: f"{float(v):.1%}")
        if _integral(values):
            return each(lambda v: f"{int(v):,}")
        return each(lambda v: signed(float(v), max(digits, 2)))
    return values.map(lambda v: "—" if _missing(v) else str(v))


class PeopleTable:
    """A finished table said for people; shown as HTML without an index, or as plain text."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def _repr_html_(self) -> str:
        numeric = tuple(c for c in self.frame.columns
                        if self.frame[c].str.match(r"^[<−\-]?\s?[\d.,]").any())
        return html_table(self.frame, {c: c for c in self.frame.columns}, numeric=numeric)

    def __repr__(self) -> str:
        return self.frame.to_string(index=False)


def for_people(table: pd.DataFrame, min_group_size: int | None = None, unit: str = "",
               digits: int = 1, scale: float = 1.0,
               percent: tuple[str, ...] = ()) -> PeopleTable:
    """Say a published table the way a report's reader expects it.

    No index; the ``estimate`` and its interval in one cell (``"7.2 days (7.1–7.3)"``, in
    ``unit``, multiplied by ``scale``); p-values as ``"< 0.001"``; shares in %; counts with
    thousands separators; yes/no for flags; headings without underscores. A ``suppressed`` row
    reads ``"fewer than N"`` and shows no other number, and the ``suppressed`` column goes.

    Parameters
    ----------
    table : a finished table (one of the run's published tables, or shaped like one).
    min_group_size : the run's minimum group size, named in the suppression mark.
    unit, digits, scale : how the ``estimate`` column is said (see :func:`estimate_text`).
    percent : further columns holding shares (0–1) said in %, beside those named ``share``.

    Returns
    -------
    PeopleTable
        Every cell as text, in the table's row order.
    """
    suppressed = (table["suppressed"].fillna(False).astype(bool) if "suppressed" in table
                  else pd.Series(False, index=table.index))
    mark = suppressed_text(min_group_size)
    said: dict[str, pd.Series] = {}
    stats = [c for c in table.columns if c != "suppressed"
             and (pd.api.types.is_numeric_dtype(table[c]) or pd.api.types.is_bool_dtype(table[c]))]
    has_interval = {"ci_low", "ci_high"} <= set(table.columns)
    # a suppressed row says the mark once: in its estimate, else its count, else its first number
    first_stat = ("estimate" if "estimate" in table else "n" if "n" in table
                  else stats[0] if stats else None)
    for name in table.columns:
        if name == "suppressed" or (name in ("ci_low", "ci_high") and has_interval
                                    and "estimate" in table):
            continue
        if name == "estimate":
            heading = "estimate (95% CI)" if has_interval else "estimate"
            said[heading] = pd.Series([estimate_text(dict(row), unit, digits, min_group_size,
                                                     scale) for _, row in table.iterrows()],
                                      index=table.index, dtype=str)
            continue
        text = _cell_texts(name, table[name], digits, name in percent)
        if name in stats:
            text = text.where(~suppressed, mark if name == first_stat else "—")
        said[name.replace("_", " ")] = text.astype(str)
    return PeopleTable(pd.DataFrame(said, index=table.index).reset_index(drop=True))
