"""What customers say: the themes of their comments, and how often each comes up per group.

Comments are scrubbed first (:func:`cxlib.privacy.scrub_text`); a theme is the spec's list of
words or phrases (``comment_themes``), matched as whole words in any case — transparent rules a
manager can read and change. Only shares over groups of at least ``min_group_size`` comments
are reported; no comment itself is ever published.
"""

from __future__ import annotations

import re

import pandas as pd

from cxlib.privacy import MIN_GROUP_SIZE, scrub_text, suppress_small_groups
from cxlib.satisfaction import promise_result
from cxlib.stats import grouped, proportion_ci


def themes_of(comments: pd.Series, themes: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    """Mark which themes each comment is about (a comment may be about several, or none).

    Parameters
    ----------
    comments
        Free text, one per answer (missing: no comment).
    themes
        Each theme's words or phrases (a journey spec's ``comment_themes``).

    Returns
    -------
    One boolean column per theme, aligned with ``comments``; missing where there is no comment.

    """
    text = comments.map(scrub_text)
    marks = {}
    for theme, words in themes.items():
        pattern = r"\b(?:" + "|".join(re.escape(w.strip()) for w in words if w.strip()) + r")\b"
        found = text.str.contains(pattern, case=False, regex=True, na=False)
        marks[theme] = found.astype("boolean").where(text.notna())
    return pd.DataFrame(marks, index=comments.index)


def theme_shares(answers: pd.DataFrame, themes: dict[str, tuple[str, ...]],
                 by: str | None = None, min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Share of comments about each theme, overall or per group, with a Wilson interval.

    Parameters
    ----------
    answers
        Survey answers with a ``comment`` column (and ``by``).
    themes
        Each theme's words or phrases.
    by
        A column to compare groups by (a promise kept or broken, a segment); ``None``: overall.
    min_group_size
        Groups with fewer comments are suppressed.

    Returns
    -------
    One row per theme (and group): ``estimate`` (share of the group's comments), ``ci_low``,
    ``ci_high``, ``n`` (comments in the group) and ``suppressed``.

    """
    marks = themes_of(answers["comment"], themes)
    commented = marks.notna().all(axis=1) & bool(themes)
    keys = [by] if by else []
    parts = []
    for theme in themes:
        frame = answers.loc[commented, keys].assign(about=marks.loc[commented, theme].astype(bool))
        table = grouped(frame, by, lambda g: proportion_ci(int(g["about"].sum()), len(g)))
        parts.append(table.assign(theme=theme))
    if not parts:
        return pd.DataFrame(columns=["theme", *keys, "estimate", "ci_low", "ci_high", "n",
                                     "suppressed"])
    table = pd.concat(parts, ignore_index=True)
    table = table[["theme", *keys, *[c for c in table.columns if c not in ("theme", *keys)]]]
    return suppress_small_groups(table, min_group_size)


def comment_theme_table(answers: pd.DataFrame, themes: dict[str, tuple[str, ...]],
                        promises: list[str], min_group_size: int = MIN_GROUP_SIZE
                        ) -> pd.DataFrame:
    """Share of comments per theme: overall, per segment and per promise kept or broken.

    Returns
    -------
    :func:`theme_shares` rows with ``by`` (``all``, ``segment`` or ``promise <name>``) and
    ``group`` (the segment, ``kept`` or ``broken``) in place of the grouping column.

    """
    parts = [theme_shares(answers, themes, None, min_group_size).assign(by="all", group="all")]
    if "segment" in answers.columns:
        parts.append(theme_shares(answers, themes, "segment", min_group_size)
                     .rename(columns={"segment": "group"}).assign(by="segment"))
    for name in promises:
        decided = answers.assign(group=promise_result(answers, name)).dropna(subset=["group"])
        parts.append(theme_shares(decided, themes, "group", min_group_size)
                     .assign(by=f"promise {name}"))
    table = pd.concat(parts, ignore_index=True)
    return table[["theme", "by", "group", *[c for c in table.columns
                                            if c not in ("theme", "by", "group")]]]


def theme_change_sentences(shares: pd.DataFrame, by: str, before: str, after: str) -> list[str]:
    """Say, per theme, how its share moves from one group to another, in one sentence each.

    E.g. "comments about waiting: 17% (kept) → 43% (broken)", from the rows of ``shares``
    whose ``by`` column holds ``before`` and ``after``. Themes where either group is suppressed
    or absent are left out.
    """
    said = []
    for theme, rows in shares.groupby("theme", sort=False):
        share = rows.set_index(by)["estimate"]
        if before in share.index and after in share.index and share[[before, after]].notna().all():
            said.append(f"comments about {theme}: {share[before]:.0%} ({before}) → "
                        f"{share[after]:.0%} ({after})")
    return said
