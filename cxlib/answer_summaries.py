"""Plain summaries of survey answers, no model fitted: scores per band of waiting.

Kept apart from :mod:`cxlib.satisfaction` (ordinal and regression fits) so the dashboards,
which only summarise, do not import the model libraries into every viewer's kernel.
"""

from __future__ import annotations

import pandas as pd

from cxlib.privacy import MIN_GROUP_SIZE, suppress_small_groups
from cxlib.stats import grouped, mean_ci

DAY_BANDS = (0, 3, 5, 7, 10, 14, 21, 30, 45, 60, 90, 180, 365)


def completed_answers(data: pd.DataFrame) -> pd.DataFrame:
    """Answers about completed journeys: an open journey's duration is censored, not known."""
    return data[data["status"] == "complete"] if "status" in data.columns else data


def score_by_band(data: pd.DataFrame, outcome: str = "csat", by: str | None = "segment",
                  bands: tuple[float, ...] = DAY_BANDS, duration: str = "e2e_days",
                  min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Mean ``outcome`` (interval, ``n``) per band of ``duration``, overall or per group.

    Completed journeys only. Bands run from each edge to the next; the last is open-ended, so no
    answer is left off however long the wait (its ``band_end`` is infinite). ``band_mid``
    places a band on a figure (an open band at its start plus half a week). Bands smaller than
    ``min_group_size`` are suppressed.
    """
    done = completed_answers(data).dropna(subset=[outcome, duration])
    longest = done[duration].max() if len(done) else 0.0
    edges = [b for b in bands if b < longest] or [0.0]
    cut = pd.cut(done[duration], bins=[*edges, float("inf")], include_lowest=True, right=True)
    framed = done.assign(band_start=cut.map(lambda iv: iv.left).astype(float).clip(lower=0),
                         band_end=cut.map(lambda iv: iv.right).astype(float),
                         band_mid=cut.map(lambda iv: (iv.left + min(iv.right, iv.left + 7)) / 2)
                         .astype(float))
    keys = [*([by] if by else []), "band_start", "band_end", "band_mid"]
    table = grouped(framed, keys, lambda g: mean_ci(g[outcome]))
    return suppress_small_groups(table.assign(outcome=outcome, duration=duration),
                                 min_group_size, labels=("band_start", "band_end", "band_mid"))
