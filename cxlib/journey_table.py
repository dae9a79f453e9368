"""The journey table's vocabulary: its statuses, promise states and promise columns.

What every reader of a journey table needs (summaries, dashboards) without the engine that
builds it (:mod:`cxlib.journeys`, which imports Ibis and DuckDB).
"""

from __future__ import annotations

import pandas as pd

STATUSES = ("complete", "open", "abandoned")
PROMISE_STATES = ("met", "breached", "open", "not_applicable")
PROMISE_DETAILS = ("_late_hours", "_early_hours", "_class", "_done", "_margin_hours")


def promise_names(columns: list[str] | pd.Index) -> list[str]:
    """Return the promises of a journey table, from its ``promise_<name>`` state columns."""
    return [c.removeprefix("promise_") for c in columns
            if c.startswith("promise_") and not c.endswith(PROMISE_DETAILS)]
