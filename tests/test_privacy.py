import math

import pandas as pd

from cxlib.privacy import scrub_text, suppress_small_groups
from cxlib.publishing import deidentified


def test_groups_below_the_minimum_show_no_statistic_but_keep_n():
    table = pd.DataFrame({"region": ["A", "B"], "estimate": [3.2, 4.1], "ci_low": [3.0, 2.0],
                          "ci_high": [3.4, 6.0], "n": [120, 4]})
    out = suppress_small_groups(table, min_group_size=5)
    assert out["suppressed"].tolist() == [False, True]
    assert math.isnan(out.loc[1, "estimate"]) and math.isnan(out.loc[1, "ci_high"])
    assert out.loc[1, "n"] == 4 and out.loc[0, "estimate"] == 3.2


def test_comments_are_scrubbed_of_emails_and_phone_numbers():
    text = "Call me on 07700 900123 or +44 (0)20 7946 0958, mail jo.bloggs+cx@example.co.uk"
    assert scrub_text(text) == "Call me on [phone] or [phone], mail [email]"
    assert scrub_text("Waited 2 weeks, 3 calls") == "Waited 2 weeks, 3 calls"
    assert scrub_text(None) is None


def test_published_tables_carry_no_ids_or_free_text_and_records_only_days():
    frame = pd.DataFrame({"customer_id": ["C1"], "journey_id": ["J1"], "response_id": ["R1"],
                          "comment": ["x"], "csat": [5],
                          "ts": pd.to_datetime(["2026-03-01T17:45:12Z"], utc=True)})
    assert deidentified(frame).columns.tolist() == ["csat", "ts"]
    assert deidentified(frame, records=True)["ts"].iloc[0] == pd.Timestamp("2026-03-01", tz="UTC")


def test_a_group_exactly_at_the_minimum_is_shown_and_labels_are_never_blanked():
    table = pd.DataFrame({"region": ["A", "B"], "share": [0.5, 0.25], "n": [5, 4]})
    out = suppress_small_groups(table, min_group_size=5)
    assert out["suppressed"].tolist() == [False, True]
    assert out.loc[0, "share"] == 0.5 and out["region"].tolist() == ["A", "B"]


def test_a_numeric_comment_is_kept_as_text():
    assert scrub_text(3.5) == "3.5" and scrub_text(float("nan")) is None


def test_long_digit_runs_are_scrubbed_but_short_numbers_kept():
    assert scrub_text("Order 12345678, ref AB1234567") == "Order [phone], ref AB[number]"
    assert scrub_text("waited 14 days for 2 visits") == "waited 14 days for 2 visits"
