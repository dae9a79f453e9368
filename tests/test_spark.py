"""The same journey expressions on local Spark give the same table as on DuckDB."""

import importlib.util
import os
import shutil

import pandas as pd
import pytest

from cxlib import journeys as J
from tests.conftest import AS_OF

pytestmark = pytest.mark.spark


def test_spark_and_duckdb_build_identical_journey_tables(ci_dataset, spec):
    missing = ("pyspark is not installed" if importlib.util.find_spec("pyspark") is None
               else "Spark needs a Java runtime (java on PATH)" if not shutil.which("java")
               else None)
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)
    on_duckdb = J.build_journeys(ci_dataset.events, spec, AS_OF)
    on_spark = J.build_journeys(ci_dataset.events, spec, AS_OF, engine="pyspark")
    on_spark = on_spark.sort_values("journey_id").reset_index(drop=True)
    assert len(on_spark) == len(on_duckdb) == ci_dataset.events["journey_id"].nunique()
    pd.testing.assert_frame_equal(on_spark, on_duckdb, check_dtype=False, atol=1e-6)
