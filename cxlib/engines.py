"""Where the journey expressions run: embedded DuckDB by default, or Spark.

The journey logic is Ibis, written once; an engine only decides where the events table lives.
A params file (or ``cx journeys --engine pyspark``) names the engine; for a cluster, set
``spark.master`` (and any other Spark setting) in ``spark_conf``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cxlib.errors import ParamsError

ENGINES = ("duckdb", "pyspark")
EVENT_COLUMNS = ["journey_id", "customer_id", "activity", "ts", "source", "source_row",
                 "activity_start_ts"]  # when an activity instance began, where the log says
SPARK_DEFAULTS = {"spark.master": "local[2]", "spark.sql.session.timeZone": "UTC",
                  "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
                  "spark.sql.shuffle.partitions": "8"}


DUCKDB_MEMORY_ENV = "CX_DUCKDB_MEMORY"  # a DuckDB size ("8GB") for each connection cxlab opens
DUCKDB_MEMORY_DEFAULT = "4GB"


def duckdb_backend() -> ibis.BaseBackend:
    """Return a new embedded DuckDB connection within cxlab's memory budget.

    DuckDB lets each connection take 80 % of the machine's memory by default, and a run has
    several at once (the build, then one per notebook running): on a 20 M-event build the
    journey query alone took 7.6 GB. Each connection gets ``CX_DUCKDB_MEMORY`` from the
    environment (a DuckDB size such as ``8GB``; default 4GB — there the same query takes
    4.2 GB and 17 % longer) and spills beyond it to a temporary folder of its own process, not
    to ``.tmp`` in the working folder. DuckDB's progress bar is off: it wrote a line of bars
    to the standard output of ``cx journeys`` (and a scheduler's log) for every query that
    took more than two seconds.

    Raises
    ------
    ParamsError
        ``CX_DUCKDB_MEMORY`` is not a size DuckDB reads.
    """
    import duckdb

    limit = os.environ.get(DUCKDB_MEMORY_ENV) or DUCKDB_MEMORY_DEFAULT
    spill = Path(tempfile.gettempdir()) / f"cxlab-duckdb-{os.getpid()}"
    try:
        backend = ibis.duckdb.connect(memory_limit=limit, temp_directory=str(spill))
    except duckdb.Error as exc:
        raise ParamsError("the environment", DUCKDB_MEMORY_ENV,
                          f"{limit!r} is not a memory size DuckDB reads, such as 8GB ({exc})"
                          ) from exc
    backend.con.execute("SET enable_progress_bar = false")  # a setting of the connection's own
    return backend


def spark_session(conf: Mapping[str, str] | None = None):  # -> pyspark.sql.SparkSession
    """Return a Spark session with cxlab's defaults (UTC session time zone) and ``conf``."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("cxlab")
    for key, value in {**SPARK_DEFAULTS, **(conf or {})}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def events_table(events: pd.DataFrame, engine: str = "duckdb",
                 spark_conf: Mapping[str, str] | None = None) -> ir.Table:
    """Put canonical events where ``engine`` computes, as an Ibis table."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    frame = events[[c for c in EVENT_COLUMNS if c in events.columns]].copy()
    if "source_row" not in frame.columns:
        frame["source_row"] = range(1, len(frame) + 1)
    if engine == "duckdb":
        return ibis.memtable(frame)
    return spark_view(frame, "cx_events", spark_conf)


def as_events(events: pd.DataFrame | ir.Table) -> ir.Table:
    """Return events as an Ibis table: a table where it already lives, a frame on DuckDB."""
    return events if isinstance(events, ir.Table) else events_table(events)


def spark_view(frame: pd.DataFrame, name: str, conf: Mapping[str, str] | None = None
               ) -> ir.Table:
    """Put a pandas table into Spark as temporary view ``name``; return it as an Ibis table.

    Column types are the frame's Arrow types; missing values reach Spark as NULL (not the
    string "NaN" pandas' text columns would give) and instants keep their UTC time.
    """
    from pyspark.sql.pandas.types import from_arrow_schema

    session = spark_session(conf)
    arrow = pa.Table.from_pandas(frame, preserve_index=False).schema
    schema = from_arrow_schema(pa.schema(
        [f.with_type(pa.string()) if pa.types.is_large_string(f.type) else f for f in arrow]))
    # rows, not an Arrow relation: Spark would evaluate whole plans on a local relation in the
    # driver (its optimizer's ConvertToLocalRelation), out of memory on a real log
    rows = frame.copy()
    for column in rows.columns:
        values = rows[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):  # the session's zone is UTC
            rows[column] = values.dt.tz_convert("UTC").dt.tz_localize(None)
        elif values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            rows[column] = values.astype(object).where(values.notna(), None)
    session.createDataFrame(rows, schema=schema).createOrReplaceTempView(name)
    return ibis.pyspark.connect(session).table(name)


# Exact durations count microseconds since the epoch: `unix_micros` is Spark's builtin, and
# sqlglot writes it as `epoch_us` for DuckDB. DuckDB's `date_diff` on time-zone-aware timestamps
# goes through ICU calendars and is 2-3x slower (benchmarks/README.md).
@ibis.udf.scalar.builtin
def unix_micros(ts: dt.Timestamp(timezone="UTC")) -> dt.int64:  # type: ignore[empty-body]
    """Microseconds since 1970-01-01 UTC, on every backend."""


def to_frame(expr: ir.Table) -> pd.DataFrame:
    """Run an expression on its own backend; timestamps come back tz-aware UTC.

    From DuckDB through Arrow: the same frame as Ibis' ``to_pandas`` for the engine's column
    types (numbers, text, booleans, instants, with or without missing values), without its
    per-column conversion (1.4 s of a 500,000-journey table).
    """
    frame = (expr.to_pyarrow().to_pandas() if ibis.get_backend(expr).name == "duckdb"
             else expr.to_pandas())
    for column in frame.columns:
        if pd.api.types.is_datetime64_dtype(frame[column]):  # Spark hands back naive UTC
            frame[column] = frame[column].dt.tz_localize("UTC").astype("datetime64[us, UTC]")
    return frame


def write_parquet(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a frame to Parquet as ``to_parquet(index=False)`` does, faster for unique values.

    pyarrow starts a dictionary for every column and abandons it once it outgrows a page; on
    a 500,000-journey table building those dictionaries (ids, hours, instants) was half the
    write (0.35 → 0.19 s; the file ≈ 8 % larger). Only categoricals and text columns whose
    values repeat (at most one distinct value in two given) are dictionary-encoded here. Reads
    back the same.
    """
    table = pa.Table.from_pandas(frame, preserve_index=False)
    repeating = [name for name, column in zip(table.column_names, table.columns, strict=True)
                 if pa.types.is_dictionary(column.type)  # pandas' categoricals
                 or ((pa.types.is_string(column.type) or pa.types.is_large_string(column.type))
                     and pc.count_distinct(column).as_py() * 2 <= len(column) - column.null_count)]
    pq.write_table(table, path, use_dictionary=repeating)


def is_in(values: pd.Series, allowed: Iterable[object]) -> np.ndarray:
    """Return, per value, whether it is among ``allowed`` (a missing value never is).

    pandas' ``isin`` on its Arrow-backed text took 10 s to match a million customer ids
    against a million (pandas 3.1); Arrow's own ``is_in`` takes 0.25 s, with the same answer.
    """
    keys = pa.array(values.to_numpy(dtype=object, na_value=None), type=pa.string()) \
        if values.dtype == object else pa.array(values)
    wanted = pd.Series(list(allowed) if not isinstance(allowed, pd.Series) else allowed)
    wanted = wanted.dropna()
    found = pc.is_in(keys, value_set=pa.array(wanted.to_numpy(dtype=object), type=keys.type))
    return found.fill_null(False).to_numpy(zero_copy_only=False)


def execute_scalar(expr: ir.Scalar) -> Any:
    """Run a scalar expression (a count, a flag) on its own backend; return a Python value."""
    return expr.to_pyarrow().as_py()
