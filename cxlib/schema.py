"""The data contract: the canonical tables' columns, types and rules.

:func:`check_table` coerces one raw table to its contract. Problems with a whole column
(missing, naive timestamps) raise :class:`~cxlib.errors.ContractError`; problems with single rows
send those rows to quarantine, one record per broken rule, so nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from cxlib.errors import ContractError

QUARANTINE_COLUMNS = ["table", "file", "row", "column", "rule", "value"]
UNDECODABLE = "\ufffd"  # what a reader puts where bytes were not valid in the file's encoding
# Local times at daylight-saving changes: one rule (PEP 495's fold=0, what Python's zoneinfo
# does), and every value it touched is counted, never quarantined.
REPEATED_LOCAL_TIME = ("local time occurs twice (clocks went back): read as its first "
                       "occurrence, before the change")
SKIPPED_LOCAL_TIME = ("local time does not exist (clocks went forward): read with the UTC offset "
                      "in force before the change")
UNDECODABLE_RULE = ("text is not valid UTF-8 (undecodable bytes shown as \ufffd); save the file as "
                    "UTF-8, or import it with `cx import --mapping FILE` and `encoding:` in the "
                    "mapping (e.g. encoding: latin-1)")


_OFFSET = r"(?:Z|[+-]\d\d:?\d\d)\s*$"  # a timestamp text's UTC offset


@dataclass(frozen=True)
class Column:
    """One column of the contract."""

    kind: str  # "str", "timestamp" or "score"
    nullable: bool = False
    low: int | None = None
    high: int | None = None


CONTRACT: dict[str, dict[str, Column]] = {
    "events": {
        "journey_id": Column("str", nullable=True),
        "customer_id": Column("str"),
        "activity": Column("str"),
        "ts": Column("timestamp"),
        "source": Column("str"),
    },
    "surveys": {
        "response_id": Column("str"),
        "customer_id": Column("str"),
        "journey_id": Column("str", nullable=True),
        "ts": Column("timestamp"),
        "csat": Column("score", nullable=True, low=1, high=5),
        "nps": Column("score", nullable=True, low=0, high=10),
        "ces": Column("score", nullable=True, low=1, high=7),
        "comment": Column("str", nullable=True),
    },
    "customers": {
        "customer_id": Column("str"),
        "region": Column("str"),
    },
}
UNIQUE_KEYS = {"surveys": "response_id", "customers": "customer_id"}


@dataclass(frozen=True)
class CheckedTable:
    """A table coerced to the contract, with what was quarantined or removed."""

    clean: pd.DataFrame
    quarantine: pd.DataFrame
    rows_read: int
    duplicates_removed: int
    resolved: pd.DataFrame  # values kept but read by a documented rule (same columns)


def _as_str(values: pd.Series) -> pd.Series:
    out = values.astype("str")
    return out.where(values.notna() & (out.str.strip() != ""), None).astype("str")


def local_to_utc(local: pd.Series, timezone: str) -> tuple[pd.Series, pd.Series]:
    """Read naive wall-clock times in ``timezone`` as UTC instants.

    A repeated local time (clocks went back) is its first occurrence; a skipped one (clocks
    went forward) is read with the offset before the change, so 01:30 on a night that jumps
    from 01:00 to 02:00 is 02:30 — PEP 495's ``fold=0``. Returns the instants and, per value,
    which of :data:`REPEATED_LOCAL_TIME` / :data:`SKIPPED_LOCAL_TIME` applied (else None).
    """
    utc = local.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    utc = utc.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    how = pd.Series(None, index=local.index, dtype="object")
    unresolved = local.notna() & utc.isna()
    if unresolved.any():
        zone = ZoneInfo(timezone)
        for wall in local[unresolved].unique():
            moment = wall.to_pydatetime().replace(tzinfo=zone, fold=0)
            instant = moment.astimezone(UTC)
            skipped = instant.astimezone(zone).replace(tzinfo=None) != moment.replace(tzinfo=None)
            at = unresolved & (local == wall)
            utc[at] = pd.Timestamp(instant)
            how[at] = SKIPPED_LOCAL_TIME if skipped else REPEATED_LOCAL_TIME
    return utc, how


def utc_offsets(stamps: pd.Series) -> pd.Series:
    """Return the UTC offset each timestamp text was written with (``+01:00``), else None."""
    if not (pd.api.types.is_object_dtype(stamps) or pd.api.types.is_string_dtype(stamps)):
        return pd.Series(None, index=stamps.index, dtype="object")
    found = stamps.astype("str").str.extract(f"({_OFFSET})", expand=False)
    found = found.str.strip().str.replace("Z", "+00:00")
    found = found.str.replace(r"^([+-]\d\d)(\d\d)$", r"\1:\2", regex=True)
    return found.where(stamps.notna(), None).astype("object")


def as_timestamp(values: pd.Series, file: str, column: str,
                 timezone: str | None) -> tuple[pd.Series, pd.Series]:
    """Coerce to UTC. Offsets are honoured; naive values need ``timezone``; junk becomes NaT.

    Also returns, per value, the daylight-saving rule that resolved it (see
    :func:`local_to_utc`), else None.
    """
    how = pd.Series(None, index=values.index, dtype="object")
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype("datetime64[us, UTC]"), how
    if pd.api.types.is_datetime64_dtype(values.dtype):
        text = values.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").where(values.notna(), None)
    else:
        text = values.astype("str").where(values.notna(), None)
    has_offset = text.str.contains(_OFFSET, regex=True, na=False)
    naive = text.str.match(r"^\s*\d{4}-\d\d-\d\d", na=False) & ~has_offset
    if naive.any() and timezone is None:
        row = int(np.flatnonzero(naive)[0]) + 1
        rule = ("timestamps mix values with and without a UTC offset; give every value an offset"
                if has_offset.any() else
                "timestamps have no time zone; add a UTC offset to the data, or give their "
                "zone: `timezone:` in the params file (cx run) or `--timezone` (cx validate, "
                "cx journeys), e.g. 'Europe/London'")
        raise ContractError(file, column, row, rule, text.iloc[row - 1])
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
    if has_offset.any():
        out[has_offset] = pd.to_datetime(text[has_offset], utc=True, errors="coerce",
                                         format="ISO8601")
    if naive.any():
        local = pd.to_datetime(text[naive], errors="coerce", format="ISO8601")
        out[naive], how[naive] = local_to_utc(local, timezone)
    return out, how


def _as_score(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return the scores as nullable ints and a mask of values that are not whole numbers."""
    numeric = pd.to_numeric(values, errors="coerce")
    not_number = values.notna() & numeric.isna()
    fractional = numeric.notna() & (numeric != np.round(numeric))
    return numeric.where(~fractional).round().astype("Int64"), not_number | fractional


def repeats_earlier_row(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Mark rows whose ``columns`` all equal an earlier row's (missing equals missing).

    The same as pandas' ``duplicated(keep="first")``, computed by DuckDB over the frame (a hash
    partition instead of pandas' factorising every column: about 5x faster at 10 M rows);
    pandas answers when DuckDB cannot read a column (mixed Python objects).
    """
    import duckdb

    order = pd.DataFrame({"_order": np.arange(len(frame))})
    view = pd.concat([order, frame[columns].reset_index(drop=True)], axis=1)
    keys = ", ".join('"' + str(c).replace('"', '""') + '"' for c in columns)
    try:
        with duckdb.connect() as con:
            con.register("view", view)
            later = con.sql(f"select _order from view qualify row_number() over "
                            f"(partition by {keys} order by _order) > 1").fetchnumpy()["_order"]
    except (duckdb.Error, TypeError, ValueError):
        return frame.duplicated(subset=columns, keep="first").to_numpy()
    marks = np.zeros(len(frame), bool)
    marks[later] = True
    return marks


def check_table(raw: pd.DataFrame, table: str, file: str,
                timezone: str | None = None) -> CheckedTable:
    """Coerce ``raw`` to the contract of ``table``; quarantine rows that break a rule.

    Rows are numbered from 1 in file order (header not counted). Extra columns are kept.
    Exact duplicate rows are removed and counted.
    """
    contract = CONTRACT[table]
    for column in contract:
        if column not in raw.columns:
            raise ContractError(file, column, None, f"required column of '{table}' is missing; "
                                "rename your column to it, or import the export with "
                                "`cx import --mapping FILE` and name it under `columns:` "
                                f"(columns present: {', '.join(map(str, raw.columns))})")
    df = raw.reset_index(drop=True).copy()
    df.insert(0, "_row", np.arange(1, len(df) + 1))
    records: list[pd.DataFrame] = []
    resolved: list[pd.DataFrame] = []
    bad = np.zeros(len(df), bool)

    def record(mask: np.ndarray, column: str, rule: str | np.ndarray,
               shown: pd.Series) -> pd.DataFrame:
        return pd.DataFrame({"table": table, "file": file, "row": df["_row"].to_numpy()[mask],
                             "column": column, "rule": rule,
                             "value": shown[mask].astype("str").to_numpy()})

    def flag(mask: pd.Series | np.ndarray, column: str, rule: str, shown: pd.Series) -> None:
        nonlocal bad
        mask = np.asarray(mask, bool) & ~bad
        if mask.any():
            records.append(record(mask, column, rule, shown))
            bad |= mask

    for column, spec in contract.items():
        original = df[column]
        if spec.kind == "str":
            df[column] = _as_str(original)
            flag(df[column].str.contains(UNDECODABLE, regex=False, na=False), column,
                 UNDECODABLE_RULE, original)
        elif spec.kind == "timestamp":
            df[column], how = as_timestamp(original, file, column, timezone)
            flag(original.notna() & df[column].isna(), column, "not a valid timestamp", original)
            kept = how.notna().to_numpy()
            if kept.any():
                resolved.append(record(kept, column, how[kept].to_numpy(), original))
        else:
            df[column], not_whole = _as_score(original)
            flag(not_whole, column, "not a whole number", original)
            out = df[column].notna() & ~df[column].between(spec.low, spec.high)
            flag(out.fillna(False), column, f"outside {spec.low}–{spec.high}", original)
        if not spec.nullable:
            flag(df[column].isna(), column, "required value is missing", original)

    data_cols = [c for c in df.columns if c != "_row"]
    dupes = repeats_earlier_row(df, data_cols) & ~bad
    n_dupes = int(dupes.sum())
    flag(dupes, "*", "exact duplicate of an earlier row (removed)", df["_row"])
    key = UNIQUE_KEYS.get(table)
    if key:
        flag(df[key].duplicated(keep="first") & df[key].notna(), key,
             f"{key} repeated with different values", df[key])
    quarantine = (pd.concat(records, ignore_index=True) if records
                  else pd.DataFrame(columns=QUARANTINE_COLUMNS))
    clean = df[~bad].rename(columns={"_row": "source_row"}).reset_index(drop=True)
    notes = (pd.concat(resolved, ignore_index=True) if resolved
             else pd.DataFrame(columns=QUARANTINE_COLUMNS))
    notes = notes[~notes["row"].isin(quarantine["row"])]  # a quarantined row is not kept
    return CheckedTable(clean, quarantine.astype({"row": "int64"}), len(df), n_dupes,
                        notes.astype({"row": "int64"}).reset_index(drop=True))
