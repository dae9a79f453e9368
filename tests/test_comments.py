"""What customers say: themes by the spec's words, linked to promises — checked on the demo."""

import pandas as pd
import pytest

from cxlib import satisfaction as Sat
from cxlib import synth
from cxlib.comments import comment_theme_table, theme_change_sentences, theme_shares, themes_of
from cxlib.survey_links import survey_journeys

THEMES = {"waiting": ("too long", "weeks"), "praise": ("quick", "on time")}


def test_a_comment_is_about_every_theme_whose_words_it_holds_as_whole_words():
    comments = pd.Series(["Took far TOO LONG, weeks!", "quickly done", "Quick and on time.",
                          None, "call 07700 900123 weeks"])
    marks = themes_of(comments, THEMES)
    assert marks["waiting"].tolist()[:3] == [True, False, False]
    assert marks["praise"].tolist()[:3] == [False, False, True]  # "quickly" is not "quick"
    assert marks.iloc[3].isna().all()  # no comment: about nothing, counted nowhere
    assert marks.loc[4, "waiting"]


def test_shares_count_comments_only_and_suppress_small_groups():
    answers = pd.DataFrame({"comment": ["weeks"] * 6 + ["quick"] * 4 + [None] * 5 + ["weeks"] * 2,
                            "team": ["a"] * 15 + ["b"] * 2})
    table = theme_shares(answers, THEMES, by="team").set_index(["theme", "team"])
    assert table.loc[("waiting", "a"), "n"] == 10  # the five without a comment are not in n
    assert table.loc[("waiting", "a"), "estimate"] == pytest.approx(0.6)
    assert table.loc[("waiting", "b"), "suppressed"]
    assert pd.isna(table.loc[("waiting", "b"), "estimate"])


@pytest.fixture(scope="module")
def answers(full_world):
    return survey_journeys(full_world.data.surveys, full_world.journeys,
                               full_world.data.customers)


def test_the_spec_themes_find_the_kind_of_comment_the_demo_planted(answers, spec):
    planted = {**dict.fromkeys(synth._COMMENTS_SLOW, "waiting"),
               **dict.fromkeys(synth._COMMENTS_WINDOW, "appointment"),
               **dict.fromkeys(synth._COMMENTS_GOOD, "praise")}
    commented = answers[answers["comment"].notna()]
    kind = commented["comment"].map(lambda c: next(k for t, k in planted.items()
                                                   if c.startswith(t)))
    marks = themes_of(commented["comment"], spec.comment_themes).astype(bool)
    assert (marks["appointment"] == (kind == "appointment")).all()
    assert (marks["praise"] == (kind == "praise")).all()
    assert marks.loc[kind == "waiting", "waiting"].all()


def test_comments_about_waiting_rise_where_the_promise_broke_and_missed_visits_are_named(
        answers, spec):
    table = comment_theme_table(answers, spec.comment_themes, ["live_within_7_days"])
    promise = table[table["by"] == "promise live_within_7_days"]
    rows = promise.set_index(["theme", "group"])
    assert rows.loc[("waiting", "broken"), "ci_low"] > 2 * rows.loc[("waiting", "kept"),
                                                                    "ci_high"]
    assert rows.loc[("praise", "broken"), "ci_high"] < rows.loc[("praise", "kept"), "ci_low"]
    said = theme_change_sentences(promise, "group", "kept", "broken")
    assert said[0].startswith("comments about waiting:") and "(kept) →" in said[0]
    window = answers.assign(missed=Sat.late_or_missed(answers, "technician_in_window"))
    by_window = theme_shares(window, spec.comment_themes, by="missed").set_index(
        ["theme", "missed"])
    assert by_window.loc[("appointment", 1.0), "ci_low"] > 0.99  # every such comment planted
    assert by_window.loc[("appointment", 0.0), "estimate"] < 0.01
    assert set(table["by"]) == {"all", "promise live_within_7_days"}  # no segment column here
