"""The data contract: the canonical tables' columns, types and rules.

:func:`check_table` coerces one raw table to its contract as Ibis expressions, so the checks run
where the data already is — DuckDB reading the file by default, any Ibis backend (Spark) when
one machine is outgrown — and the clean rows stay there for the journey engine. Problems with
a whole column (missing, naive timestamps without a zone) raise
:class:`~cxlib.errors.ContractError`; a row that breaks a rule goes to quarantine with the first
rule it breaks, so nothing is dropped silently. Only the quarantine and the values read by a
documented rule come back to pandas, with each value as pandas prints it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC
from functools import cached_property

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from cxlib.engines import duckdb_backend, spark_view
from cxlib.errors import ContractError
from cxlib.localtime import REPEATED_LOCAL_TIME, SKIPPED_LOCAL_TIME, wall_clock_to_utc

__all__ = ["CONTRACT", "QUARANTINE_COLUMNS", "REPEATED_LOCAL_TIME", "SKIPPED_LOCAL_TIME",
           "CheckedTable", "Column", "as_timestamp", "check_table", "utc_offsets"]

QUARANTINE_COLUMNS = ["table", "file", "row", "column", "rule", "value"]
ROW = "_row"  # a raw table's row number, from 1 in file order (header not counted)
UNDECODABLE = "\ufffd"  # what a reader puts where bytes were not valid in the file's encoding
UNDECODABLE_RULE = ("text is not valid UTF-8 (undecodable bytes shown as \ufffd); save the file as "
                    "UTF-8, or import it with `cx import --mapping FILE` and `encoding:` in the "
                    "mapping (e.g. encoding: latin-1)")
MISSING = "required value is missing"
NOT_A_TIMESTAMP = "not a valid timestamp"
NOT_WHOLE = "not a whole number"
DUPLICATE = "exact duplicate of an earlier row (removed)"

_OFFSET = r"(?:Z|[+-]\d\d:?\d\d)\s*$"  # a timestamp text's UTC offset
_DATE_FIRST = r"^\s*\d{4}-\d\d-\d\d"  # a timestamp text without an offset: local time
_BLANK = r"^[\s\x{0B}\x{1C}-\x{1F}\x{85}\pZ]*$"  # what Python's str.strip() removes
_SPACES = [c for c in range(0x3001) if chr(c).isspace()]  # none from 33 to 132
_UTC = dt.Timestamp(timezone="UTC")


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
    """A table coerced to the contract, with what was quarantined or removed.

    ``clean_table`` stays on the backend that checked it (rows in no particular order, each
    with its ``source_row``); :attr:`clean` brings it to pandas in file order.
    """

    name: str
    clean_table: ir.Table
    backend: ibis.BaseBackend
    quarantine: pd.DataFrame
    rows_read: int
    duplicates_removed: int
    resolved: pd.DataFrame  # values kept but read by a documented rule (same columns)

    @property
    def rows_kept(self) -> int:
        """Rows that passed the contract."""
        return self.rows_read - int(self.quarantine["row"].nunique())

    @cached_property
    def clean(self) -> pd.DataFrame:
        """The clean rows as pandas, in file order, with the contract's column types."""
        frame = _fetch(self.backend, self.clean_table.order_by("source_row"))
        kinds = {"str": "str", "timestamp": "datetime64[us, UTC]", "score": "Int64"}
        return frame.astype({c: kinds[col.kind] for c, col in CONTRACT[self.name].items()}
                            ).astype({"source_row": "int64"})


def _python_objects_as_text(values: pd.Series) -> pd.Series:
    """Return a column of mixed Python objects as text, as pandas prints each.

    A missing value becomes None, which every backend reads as NULL (Spark reads pandas'
    missing text, NaN, as the string "NaN").
    """
    if values.dtype != object and not pd.api.types.is_string_dtype(values.dtype):
        return values
    return values.map(lambda v: v if v is None or isinstance(v, str) else
                      None if pd.isna(v) else str(v)).astype("object")


def raw_table(frame: pd.DataFrame, backend: ibis.BaseBackend | None = None) -> ir.Table:
    """Put a raw pandas table where the contract can check it, numbering its rows from 1.

    On Spark it becomes a temporary view; elsewhere an in-memory table.
    """
    frame = frame.reset_index(drop=True)
    frame = frame.assign(**{str(c): _python_objects_as_text(frame[c]) for c in frame.columns})
    frame.insert(0, ROW, np.arange(1, len(frame) + 1, dtype="int64"))
    if backend is not None and backend.name == "pyspark":
        view = spark_view(frame, f"cx_raw_{uuid.uuid4().hex}")
        instants = [c for c in frame.columns if isinstance(frame[c].dtype, pd.DatetimeTZDtype)]
        return view.mutate(**{c: view[c].cast(_UTC) for c in instants})  # Ibis sees no zone
    return ibis.memtable(frame)


def _text(value: ir.Value) -> ir.StringValue:
    """Return a column as text, with blank values (empty or whitespace only) missing."""
    text = value.cast("string")
    first = text.ascii_str()  # the code point of the first character
    blank = ibis.cases((text == "", True),
                       # most text starts with a printable ASCII character, never a space: one
                       # range test instead of a lookup in the list of spaces (3× faster)
                       (first.between(33, 132), False),
                       # only text starting with a space can be all spaces
                       (first.isin(_SPACES), text.re_search(_BLANK)), else_=False)
    return ibis.cases((blank, ibis.null("string")), else_=text)


def _fetch(backend: ibis.BaseBackend, expr: ir.Table) -> pd.DataFrame:
    """Run ``expr`` on ``backend`` (memtables go where they are run); return pandas."""
    table = backend.to_pyarrow(expr)
    frame = table.to_pandas()
    for column, kind in zip(table.column_names, table.schema.types, strict=True):
        if pa.types.is_timestamp(kind) and kind.tz is None:  # Spark hands back naive UTC
            frame[column] = frame[column].dt.tz_localize("UTC")
    return frame


def _first(backend: ibis.BaseBackend, probe: ir.Table) -> dict:
    return backend.to_pyarrow(probe).to_pylist()[0]


def _instants(source: ir.Table, column: str, file: str, timezone: str | None,
              backend: ibis.BaseBackend) -> tuple[ir.TimestampValue, ir.StringValue | None]:
    """Coerce a column to UTC instants: offsets honoured, naive values read in ``timezone``.

    Returns the instants (NULL where the text is no timestamp) and, per value, the
    daylight-saving rule that read it (see :func:`cxlib.localtime.wall_clock_to_utc`), or None
    when no value is local time. Raises :class:`ContractError` at the first naive value when no
    zone is given.
    """
    value = source[column]
    kind = value.type()
    if kind.is_timestamp() and kind.timezone is not None:
        return value.cast(_UTC), None
    if kind.is_timestamp():  # typed wall-clock times: every value is local time
        text = value.strftime("%Y-%m-%d") + "T" + value.strftime("%H:%M:%S.%f")
        wall = value
        never = value.isnull() & value.notnull()  # a column of False (a literal cannot aggregate)
        has_offset, naive, with_offset = never, value.notnull(), None
    else:
        text = value.cast("string")
        has_offset = text.re_search(_OFFSET)
        naive = text.re_search(_DATE_FIRST) & ~has_offset
        wall, with_offset = text.try_cast(dt.Timestamp()), text.try_cast(_UTC)
    probe = _first(backend, source.aggregate(
        naive=naive.sum(), any_offset=has_offset.any(), first_row=source[ROW].min(where=naive),
        first_text=text.argmin(source[ROW], where=naive),
        earliest=wall.min(where=naive), latest=wall.max(where=naive)))
    if not probe["naive"]:
        return with_offset, None
    if timezone is None:
        rule = ("timestamps mix values with and without a UTC offset; give every value an offset"
                if probe["any_offset"] else
                "timestamps have no time zone; add a UTC offset to the data, or give their "
                "zone: `timezone:` in the params file (cx run) or `--timezone` (cx validate, "
                "cx journeys), e.g. 'Europe/London'")
        raise ContractError(file, column, int(probe["first_row"]), rule, probe["first_text"])
    if probe["earliest"] is None:  # dates, but none a real moment
        return ibis.cases((has_offset, with_offset), else_=ibis.null(_UTC)), None
    local, how = wall_clock_to_utc(wall.cast(_UTC), timezone,
                                   probe["earliest"].replace(tzinfo=UTC),
                                   probe["latest"].replace(tzinfo=UTC))
    instants = ibis.cases((has_offset, with_offset), (naive, local), else_=ibis.null(_UTC))
    return instants, ibis.cases((naive, how), else_=ibis.null("string"))


def as_timestamp(values: pd.Series, file: str, column: str,
                 timezone: str | None) -> tuple[pd.Series, pd.Series]:
    """Coerce a pandas column to UTC as the contract does (junk becomes NaT).

    Returns the instants and, per value, the daylight-saving rule that read it, else None.
    """
    source = raw_table(pd.DataFrame({column: values.reset_index(drop=True)}))
    backend = duckdb_backend()
    instants, how = _instants(source, column, file, timezone, backend)
    read = source.select(ROW, ts=instants,
                         how=how if how is not None else ibis.null("string")).order_by(ROW)
    frame = _fetch(backend, read)
    return (frame["ts"].astype("datetime64[us, UTC]").set_axis(values.index),
            frame["how"].astype("object").set_axis(values.index))


def _score(value: ir.Value, spec: Column) -> tuple[ir.IntegerValue, ir.BooleanValue,
                                                  ir.BooleanValue]:
    """Return scores as whole numbers, which values are not whole numbers, which are off scale.

    A missing value is neither.
    """
    number = (value.cast("float64") if value.type().is_numeric()
              else value.cast("string").try_cast("float64"))
    given = value.notnull() & ~number.isnan().fill_null(False)
    number = ibis.cases((number.isnan(), ibis.null("float64")), else_=number)
    not_whole = (given & number.isnull()) | number.isinf() | (number != number.round())
    in_scale = number.between(spec.low, spec.high)
    score = ibis.cases((~not_whole & in_scale, number.round().cast("int64")),
                       else_=ibis.null("int64"))
    return score, not_whole, number.notnull() & ~in_scale


def utc_offsets(stamps: pd.Series) -> pd.Series:
    """Return the UTC offset each timestamp text was written with (``+01:00``), else None."""
    if not (pd.api.types.is_object_dtype(stamps) or pd.api.types.is_string_dtype(stamps)):
        return pd.Series(None, index=stamps.index, dtype="object")
    found = stamps.astype("str").str.extract(f"({_OFFSET})", expand=False)
    found = found.str.strip().str.replace("Z", "+00:00")
    found = found.str.replace(r"^([+-]\d\d)(\d\d)$", r"\1:\2", regex=True)
    return found.where(stamps.notna(), None).astype("object")


def _records(table: str, file: str, rows: np.ndarray, column: str, rule: str,
             shown: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"table": table, "file": file, "row": rows, "column": column,
                         "rule": rule, "value": shown.astype("str").to_numpy()})


def _stacked(records: list[pd.DataFrame]) -> pd.DataFrame:
    frame = (pd.concat(records, ignore_index=True) if records
             else pd.DataFrame(columns=QUARANTINE_COLUMNS))
    return frame.astype({"row": "int64"})


def _kept(backend: ibis.BaseBackend, expr: ir.Table) -> ir.Table:
    """Keep a (small) result on ``backend``: a temporary table, or a view where none exist."""
    name = f"cx_quarantined_{uuid.uuid4().hex}"
    if backend.name == "duckdb":
        return backend.create_table(name, expr, temp=True)
    return backend.create_view(name, expr, overwrite=True)


def _row_hash(t: ir.Table, columns: list[str]) -> ir.IntegerValue:
    """Return a hash of ``columns``' values in each row."""
    return (ibis.struct({c: t[c] for c in columns}) if len(columns) > 1
            else t[columns[0]]).hash()


def _rebound(value: ir.Value, table: ir.Table, to: ir.Table) -> ir.Value:
    """Return ``value``, an expression over the columns of ``table``, over those of ``to``."""
    return value.op().replace({table.op(): to.op()}).to_expr()


def _sharing_a_hash(t: ir.Table, hashes: dict[str, ir.IntegerValue], by_sorting: bool,
                    carry: tuple[str, ...] = ()) -> ir.Table:
    """Return ``t``'s row numbers, columns ``carry`` and, per hash, whether rows share it.

    ``_shared_<name>`` says whether another row has the same ``hashes[name]`` (a column of
    ``t``; NULL is shared with none), found ``by_sorting`` the hashes (a row whose neighbour
    has its hash: DuckDB sorts 10 M hashes in a third of the time it takes to group them) or
    by grouping them (Spark would sort on one worker).
    """
    hashed = t.select(ROW, *carry, **{f"_hash_{name}": h for name, h in hashes.items()})
    shared = {}
    for name in hashes:
        h = hashed[f"_hash_{name}"]
        if by_sorting:
            order = ibis.window(order_by=h)
            shared[name] = (h == h.lag().over(order)) | (h == h.lead().over(order))
        else:
            repeated = (hashed.group_by(_h=h).aggregate(_n=ibis._.count())
                        .filter(ibis._["_n"] > 1))
            shared[name] = h.isin(repeated["_h"])
    return hashed.select(ROW, *carry, **{f"_shared_{name}": is_shared.fill_null(False)
                                         for name, is_shared in shared.items()})


def _repeats(candidates: ir.Table, columns: list[str], code: int) -> ir.Table:
    """Rows whose ``columns`` all equal an earlier row's (missing equals missing), as ``code``.

    ``candidates``: the rows sharing a hash of ``columns`` with another row, with their values
    (:func:`_sharing_a_hash`): the exact comparison, a window over every column, runs on a
    handful of rows, not the table.
    """
    rank = ibis.row_number().over(group_by=[candidates[c] for c in columns],
                                  order_by=candidates[ROW])
    return (candidates.mutate(_rank=rank).filter(ibis._["_rank"] > 0)
            .select(ROW, _rule=ibis.literal(code, "int64")))


def _originals(raw: pd.DataFrame | ir.Table, source: ir.Table, rows: np.ndarray,
               backend: ibis.BaseBackend) -> pd.DataFrame:
    """Return the raw values of some rows, as pandas reads them, indexed by row number."""
    if isinstance(raw, pd.DataFrame):
        return raw.reset_index(drop=True).iloc[rows - 1].set_axis(rows)
    wanted = ibis.memtable({ROW: rows.astype("int64")})
    picked = _fetch(backend, source.semi_join(wanted, ROW).order_by(ROW))
    return picked.set_index(ROW)


def check_table(raw: pd.DataFrame | ir.Table, table: str, file: str,
                timezone: str | None = None, backend: ibis.BaseBackend | None = None
                ) -> CheckedTable:
    """Coerce a raw table to the contract of ``table``; quarantine rows that break a rule.

    Parameters
    ----------
    raw
        The table as read: a pandas frame, or an Ibis table with its row numbers in ``_row``
        (from 1 in file order, header not counted).
    table
        ``"events"``, ``"surveys"`` or ``"customers"``.
    file
        The file it came from, named in every quarantine record and error.
    timezone
        Zone of timestamps written without a UTC offset.
    backend
        Where the clean table is kept: ``raw``'s own backend for an Ibis table, else a new
        DuckDB connection.

    Returns
    -------
    The clean rows (extra columns kept, exact duplicate rows removed and counted) and one
    quarantine record per broken row: the first rule it breaks, in contract order.

    Raises
    ------
    ContractError
        A required column is missing, or timestamps without an offset have no zone.

    """
    backend = backend or (ibis.get_backend(raw) if isinstance(raw, ir.Table)
                          else duckdb_backend())
    source = raw if isinstance(raw, ir.Table) else raw_table(raw, backend)
    present = [c for c in source.columns if c != ROW]
    for column in CONTRACT[table]:
        if column not in present:
            raise ContractError(file, column, None, f"required column of '{table}' is missing; "
                                "rename your column to it, or import the export with "
                                "`cx import --mapping FILE` and name it under `columns:` "
                                f"(columns present: {', '.join(map(str, present))})")
    coerced: dict[str, ir.Value] = {}
    checks: list[tuple[str, str]] = []  # (column, rule), in the order rows are checked
    broken: list[ir.BooleanValue] = []
    read_by_rule: dict[str, ir.StringValue] = {}
    for column, spec in CONTRACT[table].items():
        value = source[column]
        if spec.kind == "str":
            coerced[column] = _text(value)
            checks.append((column, UNDECODABLE_RULE))
            broken.append(value.cast("string").contains(UNDECODABLE))
        elif spec.kind == "timestamp":
            coerced[column], how = _instants(source, column, file, timezone, backend)
            checks.append((column, NOT_A_TIMESTAMP))
            broken.append(value.notnull() & coerced[column].isnull())
            if how is not None:
                read_by_rule[column] = how
        else:
            coerced[column], not_whole, off_scale = _score(value, spec)
            checks += [(column, NOT_WHOLE), (column, f"outside {spec.low}–{spec.high}")]
            broken += [not_whole, off_scale]
        if not spec.nullable:
            checks.append((column, MISSING))
            broken.append(coerced[column].isnull())
    # two steps, so each coercion is computed once and each rule reads its flag
    flags = source.select(ROW, *[coerced.get(c, source[c]).name(c) for c in present],
                          **{f"_broken_{i}": b for i, b in enumerate(broken)},
                          **{f"_how_{c}": how for c, how in read_by_rule.items()})
    key = UNIQUE_KEYS.get(table)
    t = flags.select(ROW, *present, *[f"_how_{c}" for c in read_by_rule], _rule=ibis.cases(
        *[(flags[f"_broken_{i}"], i) for i in range(len(broken))], else_=ibis.null("int64")),
        _row_hash=_row_hash(flags, present),
        **({"_key_hash": ibis.cases((flags[key].notnull(), _row_hash(flags, [key])),
                                    else_=ibis.null("int64"))} if key else {}))
    checked_values = {c: coerced.get(c, source[c]) for c in present}

    def values_of(rows: ir.Table) -> ir.Table:
        """Return some rows (``rows``) with their values, read again and coerced as in ``t``.

        For the handful of rows compared exactly: keeping every row's values for them cost
        DuckDB more than reading the file a second time.
        """
        picked = source.filter(source[ROW].isin(rows[ROW]))
        read = picked.select(ROW, **{c: _rebound(v, source, picked)
                                     for c, v in checked_values.items()})
        return read.join(rows, ROW)

    checks.append(("*", DUPLICATE))
    by_sorting = backend.name == "duckdb"
    # one pass over the rows: the rules each breaks and whether another shares its hash
    hashes = {"row": t["_row_hash"], **({"key": t["_key_hash"]} if key else {})}
    marks = _sharing_a_hash(t, hashes, by_sorting, carry=("_rule",))
    marks = marks.mutate(_shared=(marks["_shared_row"] | marks["_shared_key"]) if key
                         else marks["_shared_row"])
    marked = marks.filter(marks["_rule"].notnull() | marks["_shared"])
    candidates = values_of(marked.filter(marked["_shared"]))
    found = [marked.filter(marked["_rule"].notnull()).select(ROW, "_rule"),
             _repeats(candidates.filter(candidates["_shared_row"]), present, len(checks) - 1)]
    if key:
        checks.append((key, f"{key} repeated with different values"))
        found.append(_repeats(candidates.filter(candidates["_shared_key"]), [key],
                              len(checks) - 1))
    # a row's quarantine rule is the first it breaks: row rules, then repeats, then the key
    bad = _kept(backend, ibis.union(*found).group_by(ROW).aggregate(
        _rule=ibis._["_rule"].min()))
    # the key a repeated key shows, where the table has one (a join that reads every row): a
    # repeated key is never blank, so it is the text as read
    flagged = bad.join(source.select(ROW, **{key: source[key].cast("string")}), ROW) if key \
        else bad
    flagged = _fetch(backend, flagged.order_by(["_rule", ROW]))
    notes = {c: _fetch(backend, t.filter(t[f"_how_{c}"].notnull()).anti_join(bad, ROW)
                       .select(ROW, how=f"_how_{c}").order_by(ROW))
             for c in read_by_rule}
    # a repeated row shows its row number, a repeated key the key: only the other rules (and
    # the notes) show a value as the file holds it, looked up again in the file
    repeats = [i for i, (column, rule) in enumerate(checks)
               if column == "*" or rule.endswith("different values")]
    looked_up = np.unique(np.concatenate([
        flagged.loc[~flagged["_rule"].isin(repeats), ROW].to_numpy(dtype="int64"),
        *[n[ROW].to_numpy(dtype="int64") for n in notes.values()]]))
    originals = _originals(raw, source, looked_up, backend) if len(looked_up) else None
    records = []
    for code, rows in flagged.groupby("_rule", sort=True):
        column, rule = checks[int(code)]
        row_numbers = rows[ROW].to_numpy(dtype="int64")
        shown = (rows[ROW] if column == "*" else rows[key] if rule.endswith("different values")
                 else originals.loc[row_numbers, column])
        records.append(_records(table, file, row_numbers, column, rule, shown))
    resolved = [_records(table, file, n[ROW].to_numpy(dtype="int64"), column, n["how"],
                         originals.loc[n[ROW].to_numpy(dtype="int64"), column])
                for column, n in notes.items() if len(n)]
    # a kept row's required text is not blank (else it broke a rule): it is the text as read,
    # and the clean table (read again by every query on it) need not test it for blanks
    as_read = [c for c, spec in CONTRACT[table].items() if spec.kind == "str" and not spec.nullable]
    kept = source.select(ROW, **{c: source[c].cast("string") if c in as_read
                                 else checked_values[c] for c in present})
    clean = kept.anti_join(bad, ROW).select(kept[ROW].name("source_row"), *present)
    rows_read = _first(backend, source.aggregate(rows=source.count()))["rows"]
    duplicates = int((flagged["_rule"] == checks.index(("*", DUPLICATE))).sum())
    return CheckedTable(table, clean, backend, _stacked(records), int(rows_read), duplicates,
                        _stacked(resolved))
