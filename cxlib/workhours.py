"""Working hours between two instants on a business calendar (vectorised).

A team clock on a calendar counts only its working time: the hours of working days, minus
holidays, in the calendar's time zone. The customer's clock never does — it is always wall-clock.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxlib.config import BusinessCalendar

_WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _hour_of_day(local: pd.Series) -> np.ndarray:
    return ((local - local.dt.normalize()).dt.total_seconds() / 3600).to_numpy(float)


def business_hours(starts: pd.Series, ends: pd.Series, calendar: BusinessCalendar) -> np.ndarray:
    """Working hours between each ``starts[i]`` and ``ends[i]`` (tz-aware), on ``calendar``.

    Missing or reversed intervals give NaN and 0.0 respectively.
    """
    open_h, close_h = (int(t[:2]) + int(t[3:]) / 60 for t in calendar.hours.split("-"))
    per_day = close_h - open_h
    weekmask = "".join("1" if d in calendar.days else "0" for d in _WEEK)
    holidays = np.array(calendar.holidays, dtype="datetime64[D]")
    s = pd.to_datetime(starts, utc=True).dt.tz_convert(calendar.timezone).dt.tz_localize(None)
    e = pd.to_datetime(ends, utc=True).dt.tz_convert(calendar.timezone).dt.tz_localize(None)
    missing = (s.isna() | e.isna()).to_numpy()
    s, e = s.fillna(pd.Timestamp(0)), e.fillna(pd.Timestamp(0))
    s_day = s.dt.normalize().to_numpy("datetime64[D]")
    e_day = e.dt.normalize().to_numpy("datetime64[D]")
    worked_before = {  # working hours already past in the day, at that instant
        "s": np.clip(_hour_of_day(s), open_h, close_h) - open_h,
        "e": np.clip(_hour_of_day(e), open_h, close_h) - open_h,
    }
    s_open = np.is_busday(s_day, weekmask=weekmask, holidays=holidays)
    e_open = np.is_busday(e_day, weekmask=weekmask, holidays=holidays)
    same_day = s_day == e_day
    between = np.where(same_day, 0, np.busday_count(
        np.where(same_day, s_day, s_day + 1), e_day, weekmask=weekmask, holidays=holidays))
    hours = np.where(
        same_day,
        (worked_before["e"] - worked_before["s"]) * s_open,
        (per_day - worked_before["s"]) * s_open + worked_before["e"] * e_open
        + per_day * np.maximum(between, 0))
    hours = np.where(e < s, 0.0, np.maximum(hours, 0.0))
    return np.where(missing, np.nan, hours)
