"""Local calendar arithmetic inside journey expressions, on every backend.

A promise such as "live within 60 days, in local time" ends on the same wall-clock time 60
calendar days later, which across a daylight-saving change is 1439 or 1441 hours, not 1440.
Backends disagree on time-zone functions, so the zone's UTC offsets are written into the
expression as plain integer comparisons: the offset changes of the zone between two instants,
found with :mod:`zoneinfo`, become one ``CASE`` over microseconds since the epoch.

A local time that does not exist (clocks went forward) or exists twice (clocks went back) is
read by one rule, here and in the data contract's reading of naive timestamps
(:func:`wall_clock_to_utc`, PEP 495's ``fold=0``): a repeated time is its first occurrence, a
skipped one is read with the offset before the change.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir

from cxlib.engines import unix_micros

_US = 1_000_000


class OffsetChange(NamedTuple):
    """The zone's UTC offset changes at ``at_us`` (UTC, microseconds) from ``before_us``."""

    at_us: int
    before_us: int
    after_us: int


def _offset_us(zone: ZoneInfo, seconds: int) -> int:
    offset = datetime.fromtimestamp(seconds, UTC).astimezone(zone).utcoffset()
    return int(offset.total_seconds()) * _US


@lru_cache(maxsize=64)
def offset_changes(zone: str, first_day: datetime, last_day: datetime
                   ) -> tuple[OffsetChange, ...]:
    """Every change of the zone's UTC offset between two UTC midnights.

    Changes fall on whole seconds, found by bisection between days whose offsets differ.
    """
    tz = ZoneInfo(zone)
    day = int(first_day.timestamp())
    last = int(last_day.timestamp())
    offset = _offset_us(tz, day)
    changes = []
    while day < last:
        following = day + 86_400
        if _offset_us(tz, following) != offset:
            lo, hi = day, following  # offset at lo is the old one, at hi the new one
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if _offset_us(tz, mid) == offset else (lo, mid)
            new = _offset_us(tz, hi)
            changes.append(OffsetChange(hi * _US, offset, new))
            offset = new
        day = following
    return tuple(changes)


REPEATED_LOCAL_TIME = ("local time occurs twice (clocks went back): read as its first "
                       "occurrence, before the change")
SKIPPED_LOCAL_TIME = ("local time does not exist (clocks went forward): read with the UTC offset "
                      "in force before the change")


def _offset_local(local_us: ir.IntegerValue, changes: tuple[OffsetChange, ...]
                  ) -> ir.IntegerValue:
    """Return the UTC offset of each wall-clock reading.

    The earlier offset holds until the later of the two readings of a change has passed: a
    repeated time is its first occurrence, a skipped one is read with the offset before it.
    """
    return ibis.cases(
        *[(local_us < c.at_us + max(c.before_us, c.after_us), c.before_us) for c in changes],
        else_=changes[-1].after_us)


def wall_clock_to_utc(wall: ir.TimestampValue, zone: str, earliest: datetime,
                      latest: datetime) -> tuple[ir.TimestampValue, ir.StringValue]:
    """Read wall-clock times in ``zone`` as UTC instants, by PEP 495's ``fold=0``.

    Parameters
    ----------
    wall
        The wall-clock readings, typed as UTC timestamps (their digits are the local time).
    zone
        An IANA time zone, e.g. ``"Europe/London"``.
    earliest, latest
        Bounds of the readings; the zone's offset changes between them (a day's margin either
        side) are written into the expression.

    Returns
    -------
    The instants, and per value :data:`REPEATED_LOCAL_TIME` or :data:`SKIPPED_LOCAL_TIME` where
    a daylight-saving change made the reading ambiguous or impossible (else NULL).

    """
    changes = offset_changes(zone, _day(earliest, -1), _day(latest, 2))
    if not changes:
        first = int(_day(earliest, 0).timestamp())
        return wall - ibis.interval(microseconds=_offset_us(ZoneInfo(zone), first)), \
            ibis.null("string")
    local_us = unix_micros(wall)
    offsets = sorted({c.before_us for c in changes} | {changes[-1].after_us})
    offset = _offset_local(local_us, changes)
    instant = ibis.cases(*[(offset == o, wall - ibis.interval(microseconds=o))
                           for o in offsets])
    rule = ibis.cases(*[
        (local_us.between(c.at_us + min(c.before_us, c.after_us),
                          c.at_us + max(c.before_us, c.after_us) - 1),
         REPEATED_LOCAL_TIME if c.after_us < c.before_us else SKIPPED_LOCAL_TIME)
        for c in changes], else_=ibis.null("string"))
    return instant, rule


def _day(moment: datetime, pad_days: int) -> datetime:
    start = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start + timedelta(days=pad_days)


def calendar_deadline_us(start_us: ir.IntegerValue, days: int, zone: str,
                         earliest: datetime, latest: datetime) -> ir.IntegerValue:
    """Return the instant ``days`` local calendar days after each start, in UTC microseconds.

    ``earliest`` and ``latest`` bound the starts (their offset changes are written into the
    expression, with a year's margin either side and the ``days`` after the last).
    """
    changes = offset_changes(zone, _day(earliest, -366), _day(latest, days + 366))
    span = days * 86_400 * _US
    if not changes:  # a zone without daylight saving in this range: days are 24 hours
        return start_us + span
    offset_at = ibis.cases(*[(start_us < c.at_us, c.before_us) for c in changes],
                           else_=changes[-1].after_us)
    local = start_us + offset_at + span
    return (local - _offset_local(local, changes)).cast("int64")
