"""Params files and journey specs: typed, validated, with errors that name file, key and reason.

Both are YAML. Unknown keys are errors (a typo must never be silently ignored).
"""

from __future__ import annotations

import difflib
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from cxlib.errors import ParamsError
from cxlib.paths import resolve

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_HOURS_PER_UNIT = {"s": 1 / 3600, "m": 1 / 60, "h": 1.0, "d": 24.0, "w": 168.0}


def parse_duration_hours(value: object) -> float:
    """Parse ``'5d'``, ``'4h'``, ``'30m'``, ``'90s'``, ``'2w'`` or a number of hours, to hours."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like '5d' or '4h', got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"expected a duration like '5d', '4h', '30m', got {value!r}")
    return float(match.group(1)) * _HOURS_PER_UNIT[match.group(2)]


Hours = Annotated[float, BeforeValidator(parse_duration_hours)]


class StrictModel(BaseModel):
    """A model whose unknown keys are errors (a typo must never be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


Activities = Annotated[tuple[str, ...], BeforeValidator(_as_list)]


class WithinPromise(StrictModel):
    """``to`` must follow ``from`` within a duration (e.g. live within 5 days of the order).

    Done exactly at ``from`` + ``within`` is kept; undone at the cut-off before then is open.
    When the spec names a ``timezone``, a whole number of days counts local calendar days:
    the deadline is the same wall-clock time that many days later (see :mod:`cxlib.localtime`).
    """

    name: str
    from_: str = Field(alias="from")
    to: str
    within: Hours

    def activities(self) -> tuple[str, ...]:
        """Activities this promise reads."""
        return (self.from_, self.to)


class BeforePromise(StrictModel):
    """``event`` must happen no later than the ``before`` event (e.g. delivered by the date).

    An ``event`` at the very instant of ``before`` is kept.
    """

    name: str
    event: str
    before: str

    def activities(self) -> tuple[str, ...]:
        """Activities this promise reads."""
        return (self.event, self.before)


class WindowPromise(StrictModel):
    """``event`` must fall in a window: classified early, on time, late or missed.

    The window includes both ends: arriving at ``after`` or at ``before`` is on time; a window
    closing exactly at the cut-off is still open, not missed.
    """

    name: str
    event: str
    after: str
    before: str

    def activities(self) -> tuple[str, ...]:
        """Activities this promise reads."""
        return (self.event, self.after, self.before)


def _promise_kind(value: object) -> str:
    """Tell the promise kind from its keys, so a typo is reported against one kind only."""
    if isinstance(value, BaseModel):
        return type(value).__name__
    keys = set(value) if isinstance(value, dict) else set()
    if keys & {"within", "from", "to"}:
        return "WithinPromise"
    return "WindowPromise" if "after" in keys else "BeforePromise"


Promise = Annotated[
    Annotated[WithinPromise, Tag("WithinPromise")]
    | Annotated[BeforePromise, Tag("BeforePromise")]
    | Annotated[WindowPromise, Tag("WindowPromise")],
    Discriminator(_promise_kind)]


def known_time_zone(zone: str) -> str:
    """Return ``zone`` if it is an IANA time zone (``Europe/London``); raise ValueError if not."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {zone!r} (use an IANA name such as "
                         "'Europe/London')") from None
    return zone


TimeZone = Annotated[str, BeforeValidator(known_time_zone)]


class BusinessCalendar(StrictModel):
    """Working time for a team clock: hours on working days, minus holidays, in a time zone."""

    timezone: TimeZone = "UTC"
    hours: str = Field("09:00-17:00", pattern=r"^\d\d:\d\d-\d\d:\d\d$")
    days: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = (
        "mon", "tue", "wed", "thu", "fri")
    holidays: tuple[date, ...] = ()

    @field_validator("hours")
    @classmethod
    def _ordered(cls, hours: str) -> str:
        start, end = hours.split("-")
        if not "00:00" <= start < end <= "24:00":
            raise ValueError(f"working hours {hours!r} must run forwards within one day")
        return hours


class TeamClock(StrictModel):
    """A department's own clock: from its first activity to its last (inside-out view)."""

    team: str
    from_: str = Field(alias="from")
    to: Activities
    target: Hours | None = None  # the team's own KPI target, if it has one
    calendar: str | None = None  # measure in working hours of this calendar (see calendars)


class CustomerTime(StrictModel):
    """An interval that consumes the customer's own time (hold, call, at-home window)."""

    name: str
    from_: str = Field(alias="from")
    to: Activities


class Attribution(StrictModel):
    """How far before a journey's start and after its end a contact still belongs to it."""

    before_start: Hours = 24.0
    after_end: Hours = 14 * 24.0


class Behaviour(StrictModel):
    """Which activities reveal how a customer treats time (for time-sensitivity segments)."""

    booking: str  # the appointment is booked …
    slot: str  # … for a slot starting here: the lead time the customer chose
    digital_contacts: Activities = ()
    phone_contacts: Activities = ()
    abandoned: Activities = ()  # gave up waiting in a queue
    status_checks: Activities = ()  # looked up where their order stands
    engaged_time: Activities = ()  # customer_time names the customer spends by choice


class JourneySpec(StrictModel):
    """One journey type: where the customer's clock starts and stops, and what to measure."""

    journey: str
    title: str | None = None  # how reports name the journey, in people's words
    labels: dict[str, str] = {}  # human wording for activities, teams, promises, intervals
    timezone: TimeZone | None = None  # promises of whole days count local calendar days here
    start: str | None = None  # default: the journey's first event
    end: str | None = None  # default: its last event (every journey then counts as complete)
    cancel: str | None = None
    calendars: dict[str, BusinessCalendar] = {}
    promises: tuple[Promise, ...] = ()
    teams: tuple[TeamClock, ...] = ()
    customer_time: tuple[CustomerTime, ...] = ()
    contacts: tuple[str, ...] = ()
    updates: tuple[str, ...] = ()
    attribution: Attribution = Attribution()
    behaviour: Behaviour | None = None
    activity_order: tuple[str, ...] = ()
    # what customers write about: each theme's words or phrases (whole words, any case)
    comment_themes: dict[str, tuple[str, ...]] = {}

    @model_validator(mode="after")
    def _calendars_exist(self) -> JourneySpec:
        for i, team in enumerate(self.teams):
            if team.calendar is not None and team.calendar not in self.calendars:
                raise ValueError(f"teams.{i}.calendar: no calendar {team.calendar!r} under "
                                 f"'calendars' ({', '.join(self.calendars) or 'none defined'})")
        return self

    @field_validator("comment_themes")
    @classmethod
    def _themes_have_words(cls, themes: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        empty = sorted(t for t, words in themes.items() if not [w for w in words if w.strip()])
        if empty:
            raise ValueError(f"themes need at least one word or phrase: {', '.join(empty)}")
        return themes

    @field_validator("promises", "teams", "customer_time")
    @classmethod
    def _unique_names(cls, items: tuple[Any, ...]) -> tuple[Any, ...]:
        names = [getattr(i, "name", None) or getattr(i, "team", None) for i in items]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"names must be unique, repeated: {', '.join(dupes)}")
        return items

    @property
    def heading(self) -> str:
        """Return how reports name this journey: its ``title``, else its name in words."""
        return self.title or self.label(self.journey)

    def unmeasured(self, part: str) -> str:
        """Say in one sentence why this spec does not measure ``part``; empty when it does.

        Parameters
        ----------
        part
            ``team_clocks``, ``targets`` (of team clocks), ``team_targets`` (and a ``within``
            promise), ``promises``, ``window_promises``, ``customer_time``, ``contacts`` or
            ``behaviour``.

        Raises
        ------
        ValueError
            For another ``part``.
        """
        targets = [t for t in self.teams if t.target is not None]
        within = [p for p in self.promises if isinstance(p, WithinPromise)]
        reasons = {
            "team_clocks": "" if self.teams else
            "The journey spec names no team clocks (`teams:`), so there is no inside-out clock "
            "to set beside the customer's.",
            "team_targets": "" if targets and within else
            "Comparing teams' own targets with the customer's promise needs team `target`s and "
            f"a `within` promise in the journey spec; this one has {len(targets)} target(s) "
            f"and {len(within)} `within` promise(s).",
            "targets": "" if targets or not self.teams else
            "No team clock in the journey spec has a `target`, so no team is green or red on "
            "its own clock.",
            "promises": "" if self.promises else
            "The journey spec states no promises (`promises:`), so there is nothing to keep.",
            "window_promises": "" if any(isinstance(p, WindowPromise) for p in self.promises)
            else "The journey spec has no window promise, so no answer is adjusted for one.",
            "customer_time": "" if self.customer_time else
            "The journey spec names no intervals of the customer's own time (`customer_time:`).",
            "contacts": "" if self.contacts else
            "The journey spec names no contact activities (`contacts:`), so the customer's "
            "contacts are not counted.",
            "behaviour": "" if self.behaviour is not None else
            "The journey spec has no `behaviour:` section, so customers are not segmented by "
            "how they treat time; every customer is in one group.",
        }
        if part not in reasons:
            raise ValueError(f"unknown part of a journey spec {part!r}; one of "
                             f"{', '.join(reasons)}")
        return reasons[part]

    def label(self, name: str) -> str:
        """Return the human wording for a name of the spec (``labels``, else the name in words)."""
        return self.labels.get(name) or name.replace("_", " ")

    def relabel(self, table: pd.DataFrame, *columns: str) -> pd.DataFrame:
        """Return ``table`` with the names in ``columns`` in human wording (figures, tables)."""
        return table.assign(**{column: table[column].map(self.label) for column in columns})

    def milestones(self) -> list[str]:
        """Return the process skeleton: start, end, cancel, team and promise activities."""
        names: dict[str, None] = {}
        for name in (self.start, *(a for t in self.teams for a in (t.from_, *t.to)),
                     *(a for p in self.promises for a in p.activities()), self.end,
                     self.cancel):
            if name:
                names.setdefault(name)
        return list(names)

    def activities(self) -> list[str]:
        """Every activity the spec names, in the documented tie-break order.

        Events with identical timestamps are ordered by this list (``activity_order`` first,
        then the order activities appear in the spec), then by activity name, then input row.
        """
        seen: dict[str, None] = dict.fromkeys(self.activity_order)
        if self.start:
            seen.setdefault(self.start)
        for team in self.teams:
            seen.setdefault(team.from_)
            seen.update(dict.fromkeys(team.to))
        for ct in self.customer_time:
            seen.setdefault(ct.from_)
            seen.update(dict.fromkeys(ct.to))
        for p in self.promises:
            seen.update(dict.fromkeys(p.activities()))
        seen.update(dict.fromkeys(self.contacts))
        seen.update(dict.fromkeys(self.updates))
        if self.behaviour:
            b = self.behaviour
            seen.update(dict.fromkeys([b.booking, b.slot, *b.digital_contacts, *b.phone_contacts,
                                       *b.abandoned, *b.status_checks]))
        if self.end:
            seen.setdefault(self.end)
        if self.cancel:
            seen.setdefault(self.cancel)
        return list(seen)


def as_utc(value: object) -> object:
    """Return a tz-aware timestamp (or ISO text) as a UTC datetime; refuse a naive one."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("as_of needs a time zone, e.g. '2026-07-01T00:00:00Z'")
        return value.astimezone(UTC)
    return value


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping; raise :class:`ParamsError` naming the file when it is not one."""
    if not path.is_file():
        raise ParamsError(str(path), "-", "file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(str(path), "-", f"not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ParamsError(str(path), "-", "expected a mapping of keys to values at the top")
    return data


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _known_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """Return the keys a file may hold at ``loc`` (whose last part is the key itself)."""
    models = [model]
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if any(m.__name__ == part for m in models):  # a tagged union's choice: any kind may
            continue                                  # be meant (a typo picks the kind)
        below = [sub for m in models for name, f in m.model_fields.items()
                 if part in (name, f.alias) for sub in _models_in(f.annotation)]
        models = below or models  # no field of that name: a key of a mapping (a calendar)
    return sorted({f.alias or name for m in models for name, f in m.model_fields.items()})


def _problem(model: type[BaseModel], err: dict[str, Any]) -> tuple[str, str]:
    """Return one validation error as (key, reason), with the nearest known key for a typo."""
    classes = {m.__name__ for m in _models_in(Promise)}
    loc = tuple(p for p in err["loc"] if p not in classes)
    key = ".".join(str(p) for p in loc) or "-"
    if err["type"] == "extra_forbidden":
        known = _known_keys(model, tuple(err["loc"]))
        near = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        hint = f" — did you mean '{near[0]}'?" if near else f" (known keys: {', '.join(known)})"
        return key, "unknown key" + hint
    if err["type"] == "missing":
        return key, "required key is missing"
    return key, err["msg"].removeprefix("Value error, ")


def params_error(path: Path | str, model: type[BaseModel], exc: ValidationError) -> ParamsError:
    """Turn a pydantic error into a :class:`ParamsError` that lists every problem."""
    problems = [_problem(model, err) for err in exc.errors()]
    (key, reason), *more = problems
    return ParamsError(str(path), key, reason, tuple(more))


def load_spec(path: str | Path) -> JourneySpec:
    """Read and validate a journey spec YAML file."""
    p = resolve(path)
    try:
        return JourneySpec.model_validate(read_yaml(p))
    except ValidationError as exc:
        raise params_error(p, JourneySpec, exc) from None


def parse_as_of(value: str | datetime) -> datetime:
    """Parse a tz-aware cut-off timestamp (naive values are refused, never guessed)."""
    result = as_utc(value)
    if not isinstance(result, datetime):
        raise ValueError(f"not a timestamp: {value!r}")
    return result


__all__ = [
    "BeforePromise",
    "CustomerTime",
    "JourneySpec",
    "TeamClock",
    "WithinPromise",
    "known_time_zone",
    "load_spec",
    "params_error",
    "parse_as_of",
    "parse_duration_hours",
    "read_yaml",
]
