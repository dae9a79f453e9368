"""Privacy rules for everything a report shows: minimum group size and scrubbed text.

What a published table may carry (no identifiers, no free text) is :mod:`cxlib.publishing`.
"""

from __future__ import annotations

import re

import pandas as pd

MIN_GROUP_SIZE = 5
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\w)\+?\d[\d\s().-]{6,}\d(?!\w)")
_DIGITS = re.compile(r"\d{6,}")  # an account, order or card number left after the phones


def suppress_small_groups(table: pd.DataFrame, min_group_size: int = MIN_GROUP_SIZE,
                          n_column: str = "n", labels: tuple[str, ...] = ()) -> pd.DataFrame:
    """Blank every statistic of a row whose group is smaller than ``min_group_size``.

    Adds a boolean ``suppressed`` column; the group's ``n`` stays visible so readers know why,
    and so do numeric ``labels`` that name the group (a band's bounds).
    """
    out = table.copy()
    small = out[n_column] < min_group_size
    stat_cols = [c for c in out.columns if c != n_column and c not in labels
                 and pd.api.types.is_float_dtype(out[c])]
    out.loc[small, stat_cols] = float("nan")
    out["suppressed"] = small
    return out


def scrub_text(text: str | None) -> str | None:
    """Replace e-mail addresses, phone numbers and long digit runs (6 or more) in free text."""
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return None
    return _DIGITS.sub("[number]", _PHONE.sub("[phone]", _EMAIL.sub("[email]", str(text))))
