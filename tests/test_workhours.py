import numpy as np
import pandas as pd
import pytest

from cxlib.config import BusinessCalendar
from cxlib.workhours import business_hours

LONDON = BusinessCalendar(timezone="Europe/London", hours="09:00-17:00",
                          holidays=["2026-01-05"])


@pytest.mark.parametrize("start, end, hours", [
    ("2026-01-02 08:00Z", "2026-01-02 12:00Z", 3.0),   # Friday, opens at 09:00
    ("2026-01-02 16:00Z", "2026-01-06 10:00Z", 2.0),   # Fri 1 h, weekend, Mon holiday, Tue 1 h
    ("2026-01-03 10:00Z", "2026-01-04 18:00Z", 0.0),   # the weekend
    ("2026-01-06 09:00Z", "2026-01-09 17:00Z", 32.0),  # Tue–Fri, four full days
    ("2026-07-01 08:30Z", "2026-07-01 09:30Z", 1.0),   # 09:30–10:30 BST
    ("2026-01-02 10:00Z", "2026-01-02 09:00Z", 0.0),   # reversed: nothing worked
])
def test_business_hours(start, end, hours):
    got = business_hours(pd.Series([pd.Timestamp(start)]), pd.Series([pd.Timestamp(end)]),
                         LONDON)
    assert got[0] == pytest.approx(hours)


def test_missing_ends_give_nan_and_a_seven_day_calendar_is_wall_clock_in_hours():
    always = BusinessCalendar(hours="00:00-24:00",
                              days=("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
    starts = pd.Series(pd.to_datetime(["2026-03-01 10:00", "2026-03-01 00:00"], utc=True))
    ends = pd.Series([pd.Timestamp("2026-03-04 16:30", tz="UTC"), pd.NaT])
    got = business_hours(starts, ends, always)
    assert got[0] == pytest.approx(78.5) and np.isnan(got[1])


def test_bad_calendars_are_refused():
    with pytest.raises(ValueError, match="forwards"):
        BusinessCalendar(hours="18:00-08:00")
    with pytest.raises(ValueError, match="time zone"):
        BusinessCalendar(timezone="Mars/Olympus")
