"""Where the journey expressions run: embedded DuckDB by default, or Spark.

The journey logic is Ibis, written once; an engine only decides where the events table lives.
A params file (or ``cx journeys --engine pyspark``) names the engine; for a cluster, set
``spark.master`` (and any other Spark setting) in ``spark_conf``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd

ENGINES = ("duckdb", "pyspark")
EVENT_COLUMNS = ["journey_id", "customer_id", "activity", "ts", "source", "source_row",
                 "activity_start_ts"]  # when an activity instance began, where the log says
SPARK_DEFAULTS = {"spark.master": "local[2]", "spark.sql.session.timeZone": "UTC",
                  "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
                  "spark.sql.shuffle.partitions": "8"}


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
    session = spark_session(spark_conf)
    # missing text must reach Spark as NULL, not as the string "NaN"
    frame = frame.astype({c: object for c in ("journey_id", "customer_id", "activity",
                                              "source")})
    frame = frame.where(frame.notna(), None)
    for column in ("ts", "activity_start_ts"):  # the session's zone is UTC
        if column in frame.columns:
            frame[column] = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
    view = "cx_events"
    session.createDataFrame(frame).createOrReplaceTempView(view)
    return ibis.pyspark.connect(session).table(view)


# Exact durations count microseconds since the epoch: `unix_micros` is Spark's builtin, and
# sqlglot writes it as `epoch_us` for DuckDB. DuckDB's `date_diff` on time-zone-aware timestamps
# goes through ICU calendars and is 2-3x slower (benchmarks/README.md).
@ibis.udf.scalar.builtin
def unix_micros(ts: dt.Timestamp(timezone="UTC")) -> dt.int64:  # type: ignore[empty-body]
    """Microseconds since 1970-01-01 UTC, on every backend."""


def to_frame(expr: ir.Table) -> pd.DataFrame:
    """Run an expression on its own backend; timestamps come back tz-aware UTC."""
    frame = expr.to_pandas()
    for column in frame.columns:
        if pd.api.types.is_datetime64_dtype(frame[column]):  # Spark hands back naive UTC
            frame[column] = frame[column].dt.tz_localize("UTC").astype("datetime64[us, UTC]")
    return frame


def execute_scalar(expr: ir.Scalar) -> Any:
    """Run a scalar expression (a count, a flag) on its own backend; return a Python value."""
    return expr.to_pyarrow().as_py()
