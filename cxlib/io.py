"""Reading a data folder into the canonical tables, with a quality report.

A data folder holds ``events``, ``surveys`` and ``customers`` as Parquet or CSV (one file each,
named after the table). Readers are registered by file suffix in :data:`READERS`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir
import pandas as pd
import yaml

from cxlib.engines import EVENT_COLUMNS, as_events, duckdb_backend, to_frame, unix_micros
from cxlib.errors import ContractError, ParamsError
from cxlib.paths import resolve
from cxlib.schema import CONTRACT, QUARANTINE_COLUMNS, ROW, CheckedTable, check_table

TABLES = ("events", "surveys", "customers")
DATA_NOTES = "data.yaml"  # what `cx import` knows about a folder's data: its time zone


def folder_timezone(folder: Path) -> str | None:
    """Return the time zone a data folder's ``data.yaml`` declares for its naive timestamps."""
    notes = folder / DATA_NOTES
    if not notes.is_file():
        return None
    try:
        zone = (yaml.safe_load(notes.read_text()) or {}).get("timezone")
    except (yaml.YAMLError, AttributeError) as exc:
        raise ContractError(str(notes), "timezone", None, f"not a readable data.yaml: {exc}") \
            from None
    return str(zone) if zone else None


def _timezone_of(folder: Path, given: str | None) -> str | None:
    declared = folder_timezone(folder)
    if given and declared and given != declared:
        raise ContractError(str(folder / DATA_NOTES), "timezone", None,
                            f"the data folder was imported as {declared!r} local time but "
                            f"{given!r} was given; remove one of them")
    return given or declared


def data_fingerprint(data_dir: Path) -> str:
    """Return a short hash of a data folder's files, names and contents."""
    digest = hashlib.sha256()
    for path in sorted(p for p in data_dir.iterdir() if p.is_file()):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def read_csv(path: Path, encoding: str = "utf-8") -> pd.DataFrame:
    """Read a CSV table as text, for the contract to coerce (a bad cell is quarantined).

    Bytes that ``encoding`` cannot decode become U+FFFD (�), which the contract quarantines
    with the row and column it sits in, instead of refusing the whole file.
    """
    return pd.read_csv(path, dtype="str", keep_default_na=False, na_values=[""],
                       encoding=encoding, encoding_errors="replace")


READERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    ".parquet": pd.read_parquet,
    ".csv": read_csv,
}


def register_reader(suffix: str, reader: Callable[[Path], pd.DataFrame]) -> None:
    """Teach :func:`load_dataset` a new file format (``suffix`` like ``'.feather'``)."""
    READERS[suffix] = reader


def find_table_file(data_dir: Path, table: str) -> Path:
    """Return the one file in ``data_dir`` that holds ``table``, whatever its registered format."""
    found = [data_dir / f"{table}{suffix}" for suffix in READERS
             if (data_dir / f"{table}{suffix}").is_file()]
    if not found:
        raise ContractError(str(data_dir / table), "-", None,
                            f"no '{table}' file; expected one of "
                            f"{', '.join(table + s for s in READERS)} "
                            "(run `cx demo` for demo data)")
    if len(found) > 1:
        raise ContractError(str(found[1]), "-", None,
                            f"two files hold '{table}': {', '.join(p.name for p in found)}")
    return found[0]


SURVEY_ONLY = "(none: the folder holds survey answers only)"


def _survey_only(folder: Path) -> bool:
    """Whether a folder holds survey answers and nothing else (no event log, no customers)."""
    has = {table: any((folder / f"{table}{suffix}").is_file() for suffix in READERS)
           for table in TABLES}
    return has["surveys"] and not has["events"] and not has["customers"]


def _empty(table: str) -> pd.DataFrame:
    """Return a table of the contract with no rows (a survey-only folder's events)."""
    kinds = {"str": "str", "timestamp": "datetime64[us, UTC]", "score": "Int64"}
    frame = pd.DataFrame({c: pd.Series(dtype=kinds[col.kind])
                          for c, col in CONTRACT[table].items()})
    return frame.assign(source_row=pd.Series(dtype="int64"))


@dataclass(frozen=True)
class Dataset:
    """The canonical tables of one data folder, plus what failed the contract."""

    events: pd.DataFrame | ir.Table  # a run's build keeps them in DuckDB, over a Parquet file
    surveys: pd.DataFrame
    customers: pd.DataFrame
    quarantine: pd.DataFrame
    quality: pd.DataFrame
    resolved: pd.DataFrame  # values kept but read by a documented rule (daylight saving)

    @property
    def survey_only(self) -> bool:
        """Whether the data is survey answers alone, with no event log to build journeys from."""
        return bool(self.quality["file"].eq(SURVEY_ONLY).any())

    def survey_durations(self, column: str, file: str,
                         key: str = "survey_duration") -> pd.Series:
        """Return the answers' own measured wait in ``column``, as numbers.

        Raises :class:`ParamsError` (naming ``file`` and ``key``) when the answers have no such
        column, and :class:`ContractError` (naming the row) for a value that is not a number;
        an empty value is a wait not measured.
        """
        if column not in self.surveys.columns:
            raise ParamsError(file, key, f"{column!r} is not a column of the survey answers "
                              f"(columns: {', '.join(map(str, self.surveys.columns))})")
        raw = self.surveys[column]
        values = pd.to_numeric(raw, errors="coerce")
        bad = raw.notna() & (raw.astype("str").str.strip() != "") & values.isna()
        if bad.any():
            first = int(bad.to_numpy().nonzero()[0][0])
            file_of = self.quality.set_index("table")["file"].get("surveys", "surveys")
            raise ContractError(file_of, column, int(self.surveys["source_row"].iloc[first]),
                                "not a number (a measured wait must be one)",
                                str(raw.iloc[first]))
        return values.astype("float64")

    @property
    def rows_read(self) -> int:
        """Rows read across all tables."""
        return int(self.quality["rows_read"].sum())

    @property
    def rows_quarantined(self) -> int:
        """Rows quarantined across all tables (duplicates included)."""
        return int(self.quality["rows_quarantined"].sum())


@dataclass(frozen=True)
class CheckedFolder:
    """A data folder checked against the contract; its clean tables stay in DuckDB.

    ``tables`` lacks ``events`` and ``customers`` when the folder holds survey answers only.
    """

    tables: dict[str, CheckedTable]
    quality: pd.DataFrame
    quarantine: pd.DataFrame
    resolved: pd.DataFrame

    def events_table(self) -> ir.Table:
        """Return the clean events as an Ibis table on the backend that checked them."""
        if "events" not in self.tables:
            return ibis.memtable(_empty("events"))
        clean = self.tables["events"].clean_table
        return clean.select(*[c for c in EVENT_COLUMNS if c in clean.columns])

    def latest_event(self) -> str:
        """Return the time of the last clean event (ISO 8601, UTC): the default cut-off.

        Survey answers alone: the time of the last answer.
        """
        table = ("events" if "events" in self.tables else "surveys")
        latest = self.tables[table].clean_table.ts.max().to_pyarrow().as_py()
        return pd.Timestamp(latest).tz_convert("UTC").isoformat()

    def dataset(self, events: ir.Table | None = None) -> Dataset:
        """Bring the clean tables to pandas (in file order) as a :class:`Dataset`.

        ``events``: the clean events where they already are (a build's Parquet file in DuckDB),
        instead of a pandas copy of them.
        """
        frames = {name: (self.tables[name].clean if name in self.tables else _empty(name))
                  for name in TABLES if not (name == "events" and events is not None)}
        if events is not None:
            frames["events"] = events
        if "customers" not in self.tables:  # each respondent known only by their answers
            frames["customers"] = pd.DataFrame({
                "customer_id": frames["surveys"]["customer_id"].drop_duplicates().to_numpy(),
                "region": "unknown"})
        return Dataset(frames["events"], frames["surveys"], frames["customers"],
                       self.quarantine, self.quality, self.resolved)


def _read(path: Path, backend: ibis.BaseBackend) -> pd.DataFrame | ir.Table:
    """Read one table file: Parquet stays in DuckDB (rows numbered in file order)."""
    try:
        if path.suffix == ".parquet":
            table = backend.read_parquet(path, file_row_number=True)
            return table.mutate(**{ROW: table.file_row_number + 1}).drop("file_row_number")
        return READERS[path.suffix](path)
    except (OSError, ValueError, pd.errors.ParserError, duckdb.Error) as exc:
        raise ContractError(str(path), "-", None,
                            f"cannot read the file ({type(exc).__name__}: {exc})") from exc


def check_folder(data_dir: str | Path, timezone: str | None = None,
                 max_bad_share: float | None = None,
                 tables: tuple[str, ...] = TABLES) -> CheckedFolder:
    """Check the canonical tables of ``data_dir`` against the contract, in DuckDB.

    Parameters
    ----------
    data_dir
        Folder with ``events``, ``surveys`` and ``customers`` files; relative paths are taken
        from the project root.
    timezone
        Time zone of timestamps that carry no UTC offset (default: the zone the folder's
        ``data.yaml`` declares, written by ``cx import``); without one such data is refused.
    max_bad_share
        If given, raise when any table quarantines a larger share of its rows.
    tables
        The tables to check (default: all three); the others are neither read nor required.

    Returns
    -------
    The checked folder: clean tables in DuckDB, quality per table, quarantine, resolved values.

    Raises
    ------
    ContractError
        The folder or a table is missing or unreadable, a column is missing, naive timestamps
        have no zone, no events are left, or a bad share is above ``max_bad_share``.

    """
    folder = resolve(data_dir)
    if not folder.is_dir():
        raise ContractError(str(folder), "-", None, "data folder not found (for the demo data "
                            "run `cx demo --out DIR` or `make data`)")
    timezone = _timezone_of(folder, timezone)
    backend = duckdb_backend()
    checked, quality = {}, []
    survey_only = _survey_only(folder)
    for table in tables:
        if survey_only and table != "surveys":
            quality.append({"table": table, "file": SURVEY_ONLY, "rows_read": 0,
                            "rows_quarantined": 0, "duplicates_removed": 0, "rows_kept": 0,
                            "bad_share": 0.0, "times_resolved": 0})
            continue
        path = find_table_file(folder, table)
        result = check_table(_read(path, backend), table, str(path), timezone, backend)
        if table == "events" and result.rows_kept == 0:
            raise ContractError(str(path), "-", None, (
                "every row was quarantined: no events are left to build journeys from "
                "(`cx validate` lists why)") if result.rows_read else (
                "the file has no rows (a header only?): there are no events to build journeys "
                "from"))
        checked[table] = result
        n_bad = result.rows_read - result.rows_kept
        quality.append({"table": table, "file": str(path), "rows_read": result.rows_read,
                        "rows_quarantined": n_bad, "duplicates_removed": result.duplicates_removed,
                        "rows_kept": result.rows_kept,
                        "bad_share": n_bad / result.rows_read if result.rows_read else 0.0,
                        "times_resolved": len(result.resolved)})
    outcome = CheckedFolder(checked, pd.DataFrame(quality),
                            _stack([t.quarantine for t in checked.values()]),
                            _stack([t.resolved for t in checked.values()]))
    if max_bad_share is not None:
        check_bad_share(outcome, max_bad_share)
    return outcome


def load_dataset(data_dir: str | Path, timezone: str | None = None,
                 max_bad_share: float | None = None) -> Dataset:
    """Load and check the canonical tables of ``data_dir`` into pandas.

    The same as :func:`check_folder` (same parameters and errors), with the clean tables
    brought to pandas in file order.
    """
    return check_folder(data_dir, timezone, max_bad_share).dataset()


def _stack(records: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat([r for r in records if len(r)] or [pd.DataFrame(columns=QUARANTINE_COLUMNS)],
                     ignore_index=True)


def quarantine_summary(quarantine: pd.DataFrame) -> pd.DataFrame:
    """Rows per table, column and rule, most frequent first, with a first example.

    Takes the quarantine, or the values resolved by a rule (``Dataset.resolved``).
    """
    if quarantine.empty:
        return pd.DataFrame(columns=["table", "column", "rule", "rows", "first_row",
                                     "first_value"])
    ordered = quarantine.sort_values(["table", "row"], kind="stable")
    return (ordered.groupby(["table", "column", "rule"], sort=True)
            .agg(rows=("row", "size"), first_row=("row", "first"),
                 first_value=("value", "first"))
            .reset_index()
            .sort_values(["rows", "table", "column"], ascending=[False, True, True],
                         kind="stable")
            .reset_index(drop=True))


def check_bad_share(dataset: Dataset | CheckedFolder, max_bad_share: float) -> None:
    """Raise :class:`ContractError` naming the worst table when its bad share is too high."""
    worst = dataset.quality.sort_values("bad_share", ascending=False).iloc[0]
    if worst["bad_share"] > max_bad_share:
        rules = quarantine_summary(dataset.quarantine)
        top = rules[rules["table"] == worst["table"]].iloc[0]
        raise ContractError(
            worst["file"], top["column"], int(top["first_row"]),
            f"{worst['bad_share']:.1%} of rows quarantined, above max_bad_share "
            f"{max_bad_share:.1%}; most common: {top['rule']} ({int(top['rows'])} rows)",
            top["first_value"])


def source_summary(events: pd.DataFrame | ir.Table) -> pd.DataFrame:
    """Per source system: events, distinct activities, journeys linked, first and last event.

    ``events`` is a pandas frame or an Ibis table (a run's build keeps them in DuckDB).
    """
    ev = as_events(events)
    table = to_frame(ev.group_by("source").aggregate(
        events=ev.count(), activities=ev.activity.nunique(),
        linked_share=ev.journey_id.count() / ev.count(),
        first_event=ev.ts.min(), last_event=ev.ts.max()).order_by("source"))
    return table.astype({"events": "int64", "activities": "int64", "linked_share": "float64"})


DAY_US = 86_400_000_000
EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday: days since Monday 1969-12-29


def events_per_week(events: pd.DataFrame | ir.Table) -> pd.DataFrame:
    """Events per source system per week (weeks start on Monday, UTC), oldest week first.

    Weeks are counted from the instants' microseconds since the epoch, so neither pandas nor
    the database's session time zone moves a boundary; ``events`` is a frame or an Ibis table.
    """
    ev = as_events(events)
    week = ((unix_micros(ev.ts) // DAY_US + EPOCH_WEEKDAY) // 7).name("week_number")
    counts = to_frame(ev.group_by([week, ev.source]).aggregate(events=ev.count())
                      .order_by(["week_number", "source"]))
    start = pd.Timestamp("1970-01-01") + pd.to_timedelta(
        counts["week_number"].astype("int64") * 7 - EPOCH_WEEKDAY, unit="D")
    return pd.DataFrame({"week": start.astype("datetime64[us]"), "source": counts["source"],
                         "events": counts["events"].astype("int64")})
