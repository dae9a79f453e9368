"""What the manager's front page says: headline numbers, weekly trends, clocks against targets.

Each function takes the de-identified per-journey and per-answer tables a run publishes
(``journey_facts``, ``survey_facts``) after the dashboard's filters, and returns a tidy table
with interval and ``n``, small groups suppressed — the dashboards only format and draw these.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from cxlib.config import JourneySpec
from cxlib.formatting import UNITS
from cxlib.privacy import MIN_GROUP_SIZE, suppress_small_groups
from cxlib.stats import km_median, mean_ci, median_ci, nps_ci, proportion_ci, share_ci

KPIS = {  # key: (what the tile says, unit)
    "e2e_days": ("Median days to complete a journey", "days"),
    "promise_kept": ("Promise kept", "%"),
    "customer_hours": ("Customer hours spent per journey", "hours"),
    "nps": ("NPS", "points"),
    "csat_top2_box": ("CSAT: share satisfied (4–5)", "%"),
}
CONTACT_BANDS = ("none", "1", "2", "3 or more")
UNSETTLED_SHARE = 0.05  # a week whose journeys are more open than this is not settled yet


def week_start(days: pd.Series) -> pd.Series:
    """Return the Monday (a timezone-free date) of each timestamp's week."""
    stamps = pd.to_datetime(days)
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_localize(None)
    day = stamps.dt.normalize()
    return day - pd.to_timedelta(day.dt.day_of_week, unit="D")


def _percent(row: dict[str, float]) -> dict[str, float]:
    return {k: v * 100 if k != "n" else v for k, v in row.items()}


def _columns(table: pd.DataFrame, names: dict[str, str]) -> dict[str, np.ndarray]:
    """Return the named columns as plain numpy arrays (text as objects, numbers as floats).

    The headlines are computed per week and per filter change: on NumPy arrays the slicing
    costs microseconds, on Arrow-backed pandas columns milliseconds.
    """
    out = {}
    for key, column in names.items():
        values = table[column]
        out[key] = (values.to_numpy(dtype="float64", na_value=np.nan)
                    if pd.api.types.is_numeric_dtype(values)
                    else values.to_numpy(dtype=object, na_value=None))  # None: compares False
    return out


def _journey_columns(journeys: pd.DataFrame, promise: str | None) -> dict[str, np.ndarray]:
    names = {"status": "status", "e2e_days": "e2e_days", "customer_hours": "customer_hours"}
    if promise is not None:
        names["promise"] = f"promise_{promise}"
    return _columns(journeys, names)


def _answer_columns(surveys: pd.DataFrame) -> dict[str, np.ndarray]:
    return _columns(surveys, {"nps": "nps", "csat": "csat"})


def _kpi_values(journeys: dict[str, np.ndarray],
                answers: dict[str, np.ndarray] | None) -> dict[str, dict[str, float]]:
    """Compute the headline numbers of some journeys and answers (arrays by column).

    The promise kept only when ``journeys`` hold a promise's states.
    """
    complete = journeys["status"] == "complete"
    live = journeys["status"] != "abandoned"
    values = {"e2e_days": km_median(journeys["e2e_days"][live], complete[live])}
    if "promise" in journeys:
        state = journeys["promise"]
        values["promise_kept"] = _percent(proportion_ci(
            int((state == "met").sum()), int(((state == "met") | (state == "breached")).sum())))
    values["customer_hours"] = mean_ci(journeys["customer_hours"][complete])
    if answers is not None:
        values["nps"] = nps_ci(answers["nps"])
        values["csat_top2_box"] = _percent(share_ci(answers["csat"], 4, 5))
    return values


def executive_kpis(journeys: pd.DataFrame, surveys: pd.DataFrame | None, promise: str | None,
                   min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Return the headline numbers, each with its 95% interval and ``n``.

    Parameters
    ----------
    journeys, surveys
        Published ``journey_facts`` and ``survey_facts`` rows (``surveys`` may be None).
    promise
        The promise whose share kept is shown (over journeys where it is decided); None when
        the spec states none (no such row).
    min_group_size
        A number resting on fewer journeys or answers is suppressed.

    Returns
    -------
    One row per :data:`KPIS` key: ``key``, ``kpi``, ``unit``, estimate, interval, ``n`` and
    ``suppressed``.
    """
    answers = None if surveys is None else _answer_columns(surveys)
    rows = [{"key": key, "kpi": KPIS[key][0], "unit": KPIS[key][1], **value}
            for key, value in _kpi_values(_journey_columns(journeys, promise), answers).items()]
    return suppress_small_groups(pd.DataFrame(rows), min_group_size)


def kpi_changes(current: pd.DataFrame, previous: pd.DataFrame | None) -> pd.Series:
    """Return each headline's change against an earlier run's (NaN where either is not shown)."""
    if previous is None:
        return pd.Series(float("nan"), index=current.index)
    before = previous.set_index("key")["estimate"]
    return current["estimate"] - current["key"].map(before)


def _by_week(columns: dict[str, np.ndarray], weeks: pd.Series
             ) -> dict[pd.Timestamp, dict[str, np.ndarray]]:
    """Split arrays into the rows of each week (weeks ascending)."""
    codes, labels = pd.factorize(weeks, sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(labels) + 1))
    return {pd.Timestamp(week): {key: values[order[bounds[i]:bounds[i + 1]]]
                                 for key, values in columns.items()}
            for i, week in enumerate(labels)}


def weekly_kpis(journeys: pd.DataFrame, surveys: pd.DataFrame | None, promise: str | None,
                min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Return the headline numbers per week.

    Journeys count in the week they started, answers in the week they were given (when
    ``answered_day`` is published). Weeks with fewer than ``min_group_size`` journeys or
    answers are suppressed. A week is ``settled`` for a journey headline when at most
    :data:`UNSETTLED_SHARE` of its journeys are still open (for the promise: still undecided);
    the latest weeks are not, and their numbers lean on the journeys that finished first
    (promises kept early count, those still running do not).
    """
    per_week = _by_week(_journey_columns(journeys, promise), week_start(journeys["start_ts"]))
    answered = surveys is not None and "answered_day" in surveys.columns
    answers = (_by_week(_answer_columns(surveys), week_start(surveys["answered_day"]))
               if answered else {})
    no_answers = _answer_columns(surveys.iloc[:0]) if answered else None
    rows = []
    for week, group in per_week.items():
        still_open = (group["status"] == "open").mean()
        unsettled = {"e2e_days": still_open, "customer_hours": still_open}
        if "promise" in group:
            unsettled["promise_kept"] = (group["promise"] == "open").mean()
        chosen = answers.get(week, no_answers)
        for key, value in _kpi_values(group, chosen).items():
            rows.append({"week": week, "key": key, "kpi": KPIS[key][0],
                         "unit": KPIS[key][1], **value,
                         "settled": bool(unsettled.get(key, 0.0) <= UNSETTLED_SHARE)})
    columns = ["week", "key", "kpi", "unit", "estimate", "ci_low", "ci_high", "n", "settled"]
    return suppress_small_groups(pd.DataFrame(rows, columns=columns), min_group_size)


def trend_in_words(weekly: pd.DataFrame, key: str) -> str:
    """Say how one headline moved from the first settled week to the last.

    Suppressed weeks and weeks not yet settled (too many journeys still open) are left out;
    the sentence says how many recent weeks that leaves out.
    """
    rows = weekly[(weekly["key"] == key) & ~weekly["suppressed"]].dropna(subset=["estimate"])
    settled = rows[rows["settled"]]
    if len(settled) < 2:
        return f"Too few settled weeks with enough journeys to show a trend in " \
               f"{KPIS[key][0].lower()}."
    later = rows[rows["week"] > settled["week"].max()]
    first, last = settled.iloc[0], settled.iloc[-1]
    unit = UNITS.get(KPIS[key][1], "")
    words = (f"{KPIS[key][0]}: {first['estimate']:.1f}{unit} in the week of "
             f"{first['week']:%d %b %Y}, {last['estimate']:.1f}{unit} in the week of "
             f"{last['week']:%d %b %Y}.")
    if len(later):
        words += (f" The last {len(later)} weeks are left out: more than "
                  f"{UNSETTLED_SHARE:.0%} of their journeys are still open." if len(later) > 1
                  else f" The last week is left out: more than {UNSETTLED_SHARE:.0%} of its "
                  "journeys are still open.")
    return words


def clocks_against_targets(journeys: pd.DataFrame, spec: JourneySpec, promise: str | None,
                           min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Each team against its own target, the hand-offs nobody owns, the customer's promise.

    Completed journeys. A team row's ``estimate`` is the share of journeys its clock stayed
    within its target, and the team is ``green`` when its median clock is within the target
    (most journeys inside it, as a team KPI reads). The customer row is the share of decided
    promises kept, ``green`` by the same rule (most customers got the promise); there is none
    when ``promise`` is None (the spec states no promise). The unowned row holds the median
    hand-off days and has no target; there is none when the spec names no team clock.

    Returns
    -------
    Columns ``clock``, ``kind`` (team, unowned, customer), ``target``, ``median``,
    ``median_unit``, estimate, interval, ``n``, ``green`` and ``suppressed``.
    """
    done = journeys[journeys["status"] == "complete"]
    rows = []
    for team in spec.teams:
        if team.target is None:
            continue
        hours = done[f"team_{team.team}_hours"].dropna()
        rows.append({"clock": spec.label(team.team), "kind": "team",
                     "target": f"{team.target:g} hours", "median": median_ci(hours)["estimate"],
                     "median_unit": "hours",
                     **proportion_ci(int((hours <= team.target).sum()), len(hours))})
    if spec.teams:  # with no team clock, nothing is owned: the whole journey is no hand-off
        unowned = median_ci(done["unowned_hours"].dropna() / 24)
        rows.append({"clock": "hand-offs nobody owns", "kind": "unowned", "target": "",
                     "median": unowned["estimate"], "median_unit": "days",
                     **{**unowned, "estimate": math.nan, "ci_low": math.nan,
                        "ci_high": math.nan}})
    if promise is not None:
        state = journeys[f"promise_{promise}"]
        rows.append({"clock": f"customer: {spec.label(promise)}", "kind": "customer",
                     "target": "the promise", "median": median_ci(done["e2e_days"])["estimate"],
                     "median_unit": "days",
                     **proportion_ci(int((state == "met").sum()),
                                     int(state.isin(["met", "breached"]).sum()))})
    table = pd.DataFrame(rows, columns=["clock", "kind", "target", "median", "median_unit",
                                        "estimate", "ci_low", "ci_high", "n"])
    table["green"] = (table["estimate"] >= 0.5).where(table["kind"] != "unowned")
    table = suppress_small_groups(table, min_group_size)
    table.loc[table["suppressed"], "green"] = None
    return table


def overview_sentence(clocks: pd.DataFrame) -> str:
    """Say in one line what :func:`clocks_against_targets` shows: teams green, customers not."""
    teams = clocks[(clocks["kind"] == "team") & ~clocks["suppressed"]]
    customer = clocks[(clocks["kind"] == "customer") & ~clocks["suppressed"]]
    unowned = clocks[(clocks["kind"] == "unowned") & ~clocks["suppressed"]]
    parts = []
    if len(teams):
        green = int(teams["green"].astype(bool).sum())
        parts.append(f"{green} of {len(teams)} teams met their own target")
    if len(customer):
        parts.append(f"{customer['estimate'].iloc[0]:.0%} of customers got the promise")
    if len(unowned) and not math.isnan(unowned["median"].iloc[0]):
        parts.append(f"the median journey spent {unowned['median'].iloc[0]:.1f} days in "
                     "hand-offs nobody owns")
    if not parts:
        return "Too few journeys in this selection to say how the clocks compare."
    return "; ".join(parts).capitalize() + "."


def _partition(journeys: pd.DataFrame, column: str, labels: Callable[[pd.Series], pd.Series],
               min_group_size: int) -> pd.DataFrame:
    """Shares of a partition of the journeys, each with its interval, small parts hidden."""
    groups = labels(journeys[column])
    counts = groups.value_counts()
    rows = [{"group": name, "journeys": int(count), **proportion_ci(int(count), len(journeys))}
            for name, count in counts.sort_index().items()]
    table = pd.DataFrame(rows, columns=["group", "journeys", "estimate", "ci_low", "ci_high",
                                        "n"])
    return suppress_partition(table, min_group_size)


def suppress_partition(table: pd.DataFrame, min_group_size: int = MIN_GROUP_SIZE,
                       count: str = "journeys") -> pd.DataFrame:
    """Suppress the parts of a whole smaller than ``min_group_size``, and one more if needed.

    The parts' counts add up to the whole (shown beside them), so one suppressed part could be
    recovered by subtraction: the next-smallest part is suppressed with it (complementary
    suppression). A suppressed part keeps no count and no statistic (no float column).
    """
    out = table.copy()
    small = out[count] < min_group_size
    if small.sum() == 1 and len(out) > 1:
        small.loc[out.loc[~small, count].idxmin()] = True
    stats = [c for c in out.columns if pd.api.types.is_float_dtype(out[c])]
    out.loc[small, stats] = math.nan
    out[count] = out[count].astype("Int64").mask(small)
    out["suppressed"] = small
    return out


def segment_mix(journeys: pd.DataFrame, min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """Share of journeys per time-sensitivity segment (customers without one: 'no segment')."""
    return _partition(journeys, "segment", lambda s: s.fillna("no segment"),
                      min_group_size).rename(columns={"group": "segment"})


def contacts_per_journey(journeys: pd.DataFrame,
                         min_group_size: int = MIN_GROUP_SIZE) -> pd.DataFrame:
    """How many times customers had to get in touch per journey (failure demand).

    Shares of journeys with no contact, one, two, three or more (``band``), and the mean
    contacts per journey with its interval as the row ``band = 'mean'``.
    """
    def band(contacts: pd.Series) -> pd.Series:
        return pd.Categorical(contacts.clip(upper=3).map(dict(enumerate(CONTACT_BANDS))),
                              categories=CONTACT_BANDS)

    shares = _partition(journeys, "contacts", lambda s: pd.Series(band(s), index=s.index),
                        min_group_size).rename(columns={"group": "band"})
    shares["band"] = shares["band"].astype(str)
    mean = suppress_small_groups(pd.DataFrame([{"band": "mean",
                                                **mean_ci(journeys["contacts"])}]),
                                 min_group_size)
    return pd.concat([shares, mean], ignore_index=True)
