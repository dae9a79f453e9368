"""The satisfaction tables of one workbench, computed once for a report and for `cx satisfaction`.

Each table is one of the publishing schema's (:mod:`cxlib.publishing`); a table whose section
does not apply to the spec and data (no journeys, no promises, no wait) is absent, and
:meth:`cxlib.workbench.Workbench.missing` says why.
"""

from __future__ import annotations

import pandas as pd

from cxlib import satisfaction as Sat
from cxlib.comments import comment_theme_table
from cxlib.drivers import journey_drivers, key_drivers
from cxlib.levers import lever_table, time_response_differs
from cxlib.nonresponse import answer_weighting
from cxlib.privacy import MIN_GROUP_SIZE
from cxlib.survey_links import link_summary
from cxlib.workbench import Workbench

SCORES = ("csat", "nps", "ces")


def satisfaction_tables(wb: Workbench, min_group_size: int = MIN_GROUP_SIZE,
                        answer_days: float = 3.0) -> dict[str, pd.DataFrame]:
    """Compute every satisfaction table the data and spec allow.

    Parameters
    ----------
    wb
        The workbench (journeys, segments and the answers linked to them).
    min_group_size
        Smaller groups are suppressed in every table.
    answer_days
        How long after a journey ends its survey may still come (who was asked).

    Returns
    -------
    Tables by their published name: ``survey_links``, ``scores_by_segment``,
    ``respondent_balance``, ``weighted_scores``, ``cost_per_day``, ``value_of_time``,
    ``tolerance_thresholds``,
    ``score_by_promise_outcome``, ``promise_step``, ``update_effect``, ``ordinal_fit``,
    ``proportional_odds``, ``peak_end``, ``time_response``, ``levers``, ``comment_themes``,
    ``key_drivers`` and ``survey_facts`` — those that apply.

    """
    answers, groups = wb.surveys, {"min_group_size": min_group_size}
    shown = ["region", "segment", "status", wb.wait, "kept_informed", *SCORES]
    facts = answers[[c for c in dict.fromkeys(shown) if c in answers.columns]]
    if "ts" in answers.columns:  # the answer's day, for the dashboards' period filter
        facts = facts.assign(answered_day=answers["ts"])
    if wb.missing("surveys"):
        return {"survey_facts": facts}
    with_journeys, with_wait = not wb.missing("journeys"), not wb.missing("wait")
    tables = {"scores_by_segment": Sat.score_summary(answers, by="segment", **groups)}
    controls = Sat.promise_controls(answers, wb.spec)
    if with_journeys:
        tables["survey_links"] = link_summary(answers)
        tables["respondent_balance"], tables["weighted_scores"] = answer_weighting(
            wb.journeys, answers, wb.as_of, answer_days, **groups)
        tables["update_effect"] = Sat.update_effect(answers, "csat", by="segment", **groups)
        causes = journey_drivers(answers, controls)
        tables["key_drivers"] = pd.concat([key_drivers(answers, o, causes, **groups)
                                           for o in SCORES], ignore_index=True)
    if with_wait:
        tables["cost_per_day"] = pd.concat(
            [Sat.cost_per_day(answers, o, by="segment", duration=wb.wait, **groups)
             for o in SCORES], ignore_index=True)
        tables["value_of_time"] = Sat.value_of_time(answers, by="segment", duration=wb.wait,
                                                    **groups)
        tables["tolerance_thresholds"] = Sat.tolerance_threshold(
            answers, "csat", by="segment", controls=tuple(controls), duration=wb.wait, **groups)
        tables["ordinal_fit"] = Sat.ordinal_fit(answers, "csat", (wb.wait, *controls)).summary
        tables["time_response"] = pd.DataFrame([time_response_differs(
            answers, duration=wb.wait, controls=tuple(controls))])
        if with_journeys and "kept_informed" in answers.columns:
            engaged = "engaged_minutes" if "engaged_minutes" in wb.behaviour.columns else None
            levered = (answers.merge(wb.behaviour[["customer_id", engaged]], on="customer_id",
                                     how="left") if engaged else answers)
            tables["levers"] = lever_table(levered, tables["tolerance_thresholds"],
                                           engaged=engaged, controls=tuple(controls),
                                           duration=wb.wait, **groups)
        tables["proportional_odds"] = Sat.proportional_odds_check(answers, "csat",
                                                                  (wb.wait, *controls))
        waits = ("longest_wait_hours", "last_wait_hours")
        if with_journeys and set(waits) <= set(answers.columns):
            tables["peak_end"] = Sat.peak_end(answers, "csat", wb.wait, *waits,
                                              controls=tuple(controls), **groups)
    if wb.spec.promises and not wb.missing("promises"):
        names = [p.name for p in wb.spec.promises]
        tables["score_by_promise_outcome"] = pd.concat(
            [Sat.score_by_promise_outcome(answers, n, **groups) for n in names],
            ignore_index=True)
        tables["promise_step"] = pd.concat([Sat.promise_step(answers, n, **groups)
                                            for n in names], ignore_index=True)
    if wb.spec.comment_themes and "comment" in answers.columns:
        tables["comment_themes"] = comment_theme_table(
            answers, wb.spec.comment_themes, [p.name for p in wb.spec.promises], **groups)
    tables["survey_facts"] = facts
    return tables
