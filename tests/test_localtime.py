"""Local calendar days in journey expressions agree with zoneinfo, on DuckDB and on Spark."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import ibis
import pandas as pd
import pytest

from cxlib import journeys as J
from cxlib.config import JourneySpec
from cxlib.engines import to_frame, unix_micros
from cxlib.localtime import calendar_deadline_us, offset_changes
from tests.conftest import events


def _by_zoneinfo(start: datetime, days: int, zone: str) -> datetime:
    """The truth: same wall-clock time ``days`` later, PEP 495 fold=0 (as the data contract)."""
    tz = ZoneInfo(zone)
    wall = start.astimezone(tz).replace(tzinfo=None) + timedelta(days=days)
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                                  "America/Sao_Paulo", "Asia/Tokyo"])
@pytest.mark.parametrize("days", [1, 60])
def test_calendar_deadlines_equal_zoneinfo_on_every_hour_around_the_changes(zone, days):
    """Starts every 20 minutes over two years, landing on and around every DST change."""
    first = datetime(2018, 1, 1, tzinfo=UTC)
    starts = [first + timedelta(minutes=20 * i) for i in range(2 * 365 * 72)]
    starts += [datetime(2018, 3, 25, 0, 59, 59, 999_999, tzinfo=UTC)]  # the microsecond before
    table = ibis.memtable(pd.DataFrame({"start": pd.to_datetime(starts, utc=True)}))
    deadline = calendar_deadline_us(unix_micros(table.start), days, zone, min(starts),
                                    max(starts))
    got = to_frame(table.select(deadline=deadline))["deadline"]
    expected = [int(_by_zoneinfo(s, days, zone).timestamp() * 1_000_000) for s in starts]
    mismatched = [(s, g, e) for s, g, e in zip(starts, got, expected, strict=True) if g != e]
    assert not mismatched, mismatched[:3]


def test_offset_changes_are_the_zone_s_daylight_saving_changes():
    changes = offset_changes("Europe/Berlin", datetime(2026, 1, 1, tzinfo=UTC),
                             datetime(2027, 1, 1, tzinfo=UTC))
    hour = 3_600_000_000
    assert [(datetime.fromtimestamp(c.at_us / 1e6, UTC), c.before_us // hour,
             c.after_us // hour) for c in changes] == [
        (datetime(2026, 3, 29, 1, tzinfo=UTC), 1, 2), (datetime(2026, 10, 25, 1, tzinfo=UTC), 2, 1)]
    assert offset_changes("Asia/Tokyo", datetime(2026, 1, 1, tzinfo=UTC),
                          datetime(2027, 1, 1, tzinfo=UTC)) == ()


def _sixty_days(timezone: str | None) -> JourneySpec:
    fields = {"timezone": timezone} if timezone else {}
    return JourneySpec.model_validate({
        "journey": "notice", "start": "notice", "end": "done", **fields,
        "promises": [{"name": "in_60_days", "from": "notice", "to": "done", "within": "60d"}]})


# 10:00 in Berlin on both days, across the autumn change (1441 h) and the spring one (1439 h)
AUTUMN = (("A", "C1", "notice", "2026-09-15T10:00:00+02:00", "s"),
          ("A", "C1", "done", "2026-11-14T10:00:00+01:00", "s"))
AUTUMN_LATE = (("B", "C2", "notice", "2026-09-15T10:00:00+02:00", "s"),
               ("B", "C2", "done", "2026-11-14T10:00:01+01:00", "s"))
SPRING = (("C", "C3", "notice", "2026-02-15T10:00:00+01:00", "s"),
          ("C", "C3", "done", "2026-04-16T10:00:00+02:00", "s"))
OPEN = (("D", "C4", "notice", "2026-09-15T10:00:00+02:00", "s"),)
LATER = "2027-01-01T00:00:00Z"


def test_a_sixty_local_day_promise_is_kept_at_exactly_sixty_days_across_dst():
    log = events(*AUTUMN, *AUTUMN_LATE, *SPRING, *OPEN)
    local = J.build_journeys(log, _sixty_days("Europe/Berlin"), LATER).set_index("journey_id")
    assert local.loc["A", "promise_in_60_days"] == "met"
    assert local.loc["A", "promise_in_60_days_margin_hours"] == 0.0
    assert local.loc["B", "promise_in_60_days"] == "breached"
    assert local.loc["B", "promise_in_60_days_late_hours"] == pytest.approx(1 / 3600)
    assert local.loc["C", "promise_in_60_days"] == "met"
    assert local.loc["C", "promise_in_60_days_margin_hours"] == 0.0
    assert local.loc["D", "promise_in_60_days"] == "breached"
    # the end-to-end clock is wall-clock time either way
    assert local.loc["A", "e2e_hours"] == 1441.0
    assert local.loc["C", "e2e_hours"] == 1439.0

    exact = J.build_journeys(log, _sixty_days(None), LATER).set_index("journey_id")
    assert exact.loc["A", "promise_in_60_days"] == "breached"  # 1441 h > 1440 h
    assert exact.loc["A", "promise_in_60_days_late_hours"] == 1.0
    assert exact.loc["C", "promise_in_60_days_margin_hours"] == -1.0


@pytest.mark.parametrize("as_of, zone, state", [
    ("2026-11-14T09:00:00Z", "Europe/Berlin", "open"),  # the local deadline itself
    ("2026-11-14T09:00:01Z", "Europe/Berlin", "breached"),
    ("2026-11-14T09:00:00Z", None, "breached"),  # 1440 h ran out at 08:00 UTC
])
def test_an_open_journey_is_breached_only_after_the_local_deadline(as_of, zone, state):
    row = J.build_journeys(events(*OPEN), _sixty_days(zone), as_of).iloc[0]
    assert row["promise_in_60_days"] == state


def test_hours_that_are_not_whole_days_stay_exact_hours_in_a_spec_with_a_zone():
    spec = JourneySpec.model_validate({
        "journey": "notice", "start": "notice", "end": "done", "timezone": "Europe/Berlin",
        "promises": [{"name": "quick", "from": "notice", "to": "done", "within": "36h"}]})
    log = events(("A", "C1", "notice", "2026-10-24T12:00:00+02:00", "s"),
                 ("A", "C1", "done", "2026-10-25T23:00:00+01:00", "s"))  # 36 h on the clock
    row = J.build_journeys(log, spec, LATER).iloc[0]
    assert (row["promise_quick"], row["promise_quick_margin_hours"]) == ("met", 0.0)


def test_a_spec_time_zone_must_be_a_known_one():
    with pytest.raises(ValueError, match="unknown time zone 'Europe/Berlinn'"):
        _sixty_days("Europe/Berlinn")
