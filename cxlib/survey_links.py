"""Survey answers joined to the journeys they rate: by journey id, else by time.

A step of the build (:func:`cxlib.workbench.build_workbench`): it needs no model, so the
build does not import statsmodels for it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LINK_WINDOW_DAYS = 30.0  # how long after a journey ends an answer without its id still rates it


def survey_journeys(surveys: pd.DataFrame, journeys: pd.DataFrame,
                    customers: pd.DataFrame | None = None,
                    segments: pd.DataFrame | None = None,
                    window_days: float = LINK_WINDOW_DAYS) -> pd.DataFrame:
    """Join each survey answer to its journey (and the customer's region and segment).

    An answer without ``journey_id`` rates the same customer's journey that ended (completed or
    was cancelled) most recently before it, at most ``window_days`` earlier. ``linked_by`` says
    how each answer was joined: ``journey id``, ``unknown journey id``, ``time`` or ``none``.
    Answers that match no journey are kept with empty journey columns (never dropped): they count
    for score-only statistics; the duration models leave them out and report their ``n``.
    """
    j = journeys.drop(columns=["customer_id"])
    given = surveys[surveys["journey_id"].notna()]
    linked = given.merge(j, on="journey_id", how="left", indicator=True)
    linked["linked_by"] = np.where(linked.pop("_merge") == "both", "journey id",
                                   "unknown journey id")
    loose = surveys[surveys["journey_id"].isna()]
    if len(loose):
        ended = journeys["end_ts"] if "end_ts" in journeys else pd.Series(pd.NaT, journeys.index)
        if "cancel_ts" in journeys:
            ended = ended.fillna(journeys["cancel_ts"])
        done = journeys.assign(_ended=ended).dropna(subset=["_ended"]).sort_values("_ended")
        matched = pd.merge_asof(
            loose.drop(columns=["journey_id"]).sort_values("ts"), done,
            left_on="ts", right_on="_ended", by="customer_id", direction="backward",
            tolerance=pd.Timedelta(days=window_days)).drop(columns=["_ended"])
        matched["linked_by"] = np.where(matched["journey_id"].notna(), "time", "none")
        linked = pd.concat([linked, matched], ignore_index=True)
    out = linked.sort_values("response_id").reset_index(drop=True)
    if customers is not None:
        out = out.merge(customers, on="customer_id", how="left")
    if segments is not None:
        out = out.merge(segments[["customer_id", "segment"]], on="customer_id", how="left")
    return out


def link_summary(linked: pd.DataFrame) -> pd.DataFrame:
    """How survey answers were joined to journeys: answers and share per way, and the link rate.

    Rows: ``journey id``, ``time``, ``unknown journey id``, ``none``, then ``linked`` (the first
    two together: the link rate).
    """
    ways = ["journey id", "time", "unknown journey id", "none"]
    counts = linked["linked_by"].value_counts().reindex(ways, fill_value=0)
    counts["linked"] = counts["journey id"] + counts["time"]
    total = len(linked)
    return pd.DataFrame({"linked_by": counts.index, "answers": counts.to_numpy(),
                         "share": counts.to_numpy() / total if total else np.nan})
