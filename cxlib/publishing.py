"""The publishing schema: every table a run publishes, its columns, and how it is written.

Reports write their result tables through :func:`save_table`; dashboards read them through
:func:`read_table`. Both go by :data:`SCHEMA`, so no table name or column list is written twice:
a table the schema does not name, or one missing a column it promises, is refused at the cell
that writes it — never discovered later by a dashboard.

Published tables are anonymous. No table carries ``customer_id``, ``journey_id``,
``response_id`` or free text; the per-record tables a dashboard filters (``journey_facts``,
``survey_facts``) keep timestamps only to the day.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

IDENTIFIERS = ("customer_id", "journey_id", "response_id", "comment")
_ESTIMATE = ("estimate", "ci_low", "ci_high", "n", "suppressed")


@dataclass(frozen=True)
class Table:
    """One published table: the columns it always has, and what else it may have."""

    about: str
    columns: tuple[str, ...]
    optional: tuple[str, ...] = ()  # present when the spec or data provide them
    prefixes: tuple[str, ...] = ()  # spec-named columns: team_<name>_hours, promise_<name> …
    numeric_extras: bool = False  # may carry more numeric columns (a survey's measured wait)
    records: bool = False  # one row per journey or answer: timestamps cut to the day

    def check(self, frame: pd.DataFrame, name: str) -> None:
        """Raise ValueError naming the table and the columns the schema does not allow."""
        missing = [c for c in self.columns if c not in frame.columns]
        allowed = set(self.columns) | set(self.optional)
        extra = [c for c in frame.columns if c not in allowed
                 and not any(c.startswith(p) for p in self.prefixes)
                 and not (self.numeric_extras and pd.api.types.is_numeric_dtype(frame[c]))]
        if missing or extra:
            raise ValueError(f"published table {name!r} does not match the publishing schema "
                             f"(cxlib/publishing.py): missing {missing or 'nothing'}, not "
                             f"allowed {extra or 'nothing'}")


SCHEMA: dict[str, Table] = {
    # data quality
    "data_quality": Table("rows read, quarantined and kept per canonical table",
                          ("table", "file", "rows_read", "rows_quarantined",
                           "duplicates_removed", "rows_kept", "bad_share", "times_resolved")),
    "quarantine_rules": Table("why rows were quarantined, per table, column and rule",
                              ("table", "column", "rule", "rows", "first_row", "first_value")),
    "daylight_saving_times": Table("local times read by the daylight-saving rule",
                                   ("table", "column", "rule", "rows", "first_row",
                                    "first_value")),
    "sources": Table("events per source system",
                     ("source", "events", "activities", "linked_share", "first_event",
                      "last_event")),
    "unknown_activities": Table("activities the journey spec does not name",
                                ("activity", "events")),
    "stages_out_of_order": Table("team stages logged end before start",
                                 ("team", "stage", "journeys", "share")),
    # journeys
    "journey_facts": Table(
        "one de-identified row per journey, for dashboard filters",
        ("status", "censored", "start_ts", "end_ts", "cancel_ts", "e2e_hours", "e2e_days",
         "unowned_hours", "customer_hours", "n_events", "n_sources", "contacts",
         "updates_sent", "longest_wait_hours", "last_wait_hours", "stages_out_of_order",
         "repeat_contacts", "kept_informed", "region", "segment"),
        prefixes=("team_", "customer_", "promise_"), records=True),
    "clock_comparison": Table("team clocks beside hand-offs and the customer's clock",
                              ("clock", "kind", *_ESTIMATE)),
    "kpi_disconnect": Table("teams green on their own target while the promise broke",
                            ("team", "promise", "team_green", *_ESTIMATE)),
    "bottlenecks": Table("waits per transition between activities",
                         ("from_activity", "to_activity", "n", "median_hours", "p90_hours",
                          "mean_hours", "total_hours", "handoff", "against_process_order",
                          "suppressed")),
    "service_times": Table("time working on each activity (start to completion)",
                           ("activity", "n", "mean_hours", "median_hours", "suppressed")),
    "variants": Table("the most common paths of completed journeys",
                      ("path", "n", "median_e2e_days", "share", "suppressed")),
    "promise_adherence": Table("share of each promise kept", ("promise", *_ESTIMATE)),
    "promise_outcomes": Table("every journey's promise outcome, counted",
                              ("promise", "outcome", "journeys", "share", "suppressed")),
    "time_to_completion": Table("Kaplan–Meier median days to complete, by region",
                                ("region", *_ESTIMATE)),
    "customer_time": Table("the customer's own hours per completed journey",
                           ("kind", *_ESTIMATE)),
    # segments
    "segment_sizes": Table("customers per time-sensitivity segment",
                           ("segment", "customers", "share")),
    "segment_profile": Table("behaviour per segment", ("feature", "segment", *_ESTIMATE)),
    "segment_stability": Table("agreement of bootstrap refits with the segments (ARI)",
                               ("mean_ari", "min_ari", "n_boot")),
    "segment_agreement": Table("agreement with the demo's planted segments, beside the ceiling",
                               ("segments", "customers", "share_correct",
                                "adjusted_rand_index")),
    # satisfaction
    "survey_facts": Table("one de-identified row per survey answer, for dashboard filters",
                          ("region", "segment", "csat", "nps", "ces"),
                          optional=("status", "e2e_days", "kept_informed", "answered_day"),
                          numeric_extras=True, records=True),
    "survey_links": Table("how answers were joined to journeys, and the link rate",
                          ("linked_by", "answers", "share")),
    "scores_by_segment": Table("CSAT, NPS and CES per segment", ("score", "segment", *_ESTIMATE)),
    "respondent_balance": Table("journeys that answered against those that did not",
                                ("covariate", "respondents", "non_respondents",
                                 "std_difference", "differs", "n", "n_non_respondents",
                                 "suppressed")),
    "weighted_scores": Table("scores raw and weighted to stand for every journey asked",
                             ("score", "estimate_kind", *_ESTIMATE, "n_effective")),
    "cost_per_day": Table("points of each score lost per unit of waiting",
                          ("segment", *_ESTIMATE, "p_value", "outcome")),
    "value_of_time": Table("NPS points and detractor share per extra day, per segment",
                           ("segment", *_ESTIMATE, "p_value", "metric")),
    "tolerance_thresholds": Table("where satisfaction starts to fall",
                                  ("segment", *_ESTIMATE, "slope_after", "outcome")),
    "score_by_promise_outcome": Table("mean score when a promise was kept and broken",
                                      ("promise_result", *_ESTIMATE, "promise", "outcome")),
    "promise_step": Table("the step in satisfaction at a promise's deadline",
                          (*_ESTIMATE, "p_value", "slope_before", "slope_after", "promise",
                           "outcome")),
    "update_effect": Table("satisfaction per day given back by proactive updates",
                           ("segment", *_ESTIMATE, "p_value", "outcome")),
    "peak_end": Table("whether the total wait, the longest or the last one matters most",
                      ("aspect", "column", *_ESTIMATE, "p_value", "sd", "matters_most",
                       "in_words")),
    "key_drivers": Table("what drives each score: Johnson's relative weights",
                         ("driver", *_ESTIMATE, "share", "rank", "r_squared", "outcome")),
    "proportional_odds": Table("whether each predictor moves every cut-point alike (Brant)",
                               ("term", "chi2", "df", "p_value", "holds", "n", "in_words")),
    "comment_themes": Table("share of comments per theme: overall, per segment, per promise",
                            ("theme", "by", "group", *_ESTIMATE)),
    "levers": Table("save, engage or dissolve time: each lever's effect per segment",
                    ("segment", "lever", *_ESTIMATE, "p_value", "meaning")),
    "time_response": Table("whether segments respond to waiting differently (LR test)",
                           ("chi2", "df", "p_value", "n", "differs", "in_words")),
    "ordinal_fit": Table("proportional-odds model of CSAT",
                         ("term", "estimate", "ci_low", "ci_high", "p_value", "n",
                          "odds_ratio")),
}

# computed from survey answers: a run without answers publishes none of these
FROM_ANSWERS = frozenset(
    ("survey_links", "scores_by_segment", "respondent_balance", "weighted_scores",
     "cost_per_day", "value_of_time", "tolerance_thresholds", "score_by_promise_outcome",
     "promise_step", "update_effect", "peak_end", "key_drivers", "proportional_odds",
     "comment_themes", "levers", "time_response", "ordinal_fit"))


def deidentified(frame: pd.DataFrame, records: bool = False) -> pd.DataFrame:
    """Drop identifiers and free text; in per-record tables, cut timestamps to the day."""
    out = frame.drop(columns=[c for c in IDENTIFIERS if c in frame.columns])
    if records:
        for column in out.columns:
            if isinstance(out[column].dtype, pd.DatetimeTZDtype):
                out[column] = out[column].dt.floor("D")
    return out


def save_table(table: pd.DataFrame, output_dir: str | Path | None, name: str) -> None:
    """Publish a result table as ``<output_dir>/<name>.parquet`` (no-op without a folder).

    Raises ValueError for a name the schema does not know or columns it does not allow;
    identifiers are dropped first (:func:`deidentified`).
    """
    if name not in SCHEMA:
        raise ValueError(f"{name!r} is not a published table; add it to SCHEMA in "
                         "cxlib/publishing.py (known: " + ", ".join(sorted(SCHEMA)) + ")")
    spec = SCHEMA[name]
    shown = deidentified(table, spec.records)
    spec.check(shown, name)
    if not output_dir:
        return
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    shown.to_parquet(folder / f"{name}.parquet", index=False)


def read_table(run_dir: str | Path, name: str) -> pd.DataFrame:
    """Read a published table of a run folder (raises FileNotFoundError when it is absent)."""
    if name not in SCHEMA:
        raise ValueError(f"{name!r} is not a published table (cxlib/publishing.py)")
    return pd.read_parquet(Path(run_dir) / "tables" / f"{name}.parquet")
