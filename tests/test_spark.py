"""The same journey expressions on local Spark give the same table as on DuckDB."""

import importlib.util
import os
import shutil

import pandas as pd
import pytest

from cxlib import journeys as J
from cxlib import process
from cxlib.errors import ParamsError
from cxlib.params import load_params
from tests.conftest import AS_OF, ROOT, run_cx

pytestmark = pytest.mark.spark


def _require_spark() -> None:
    missing = ("pyspark is not installed" if importlib.util.find_spec("pyspark") is None
               else "Spark needs a Java runtime (java on PATH)" if not shutil.which("java")
               else None)
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)


def test_spark_and_duckdb_build_identical_journey_tables(ci_dataset, spec):
    _require_spark()
    on_duckdb = J.build_journeys(ci_dataset.events, spec, AS_OF)
    on_spark = J.build_journeys(ci_dataset.events, spec, AS_OF, engine="pyspark")
    on_spark = on_spark.sort_values("journey_id").reset_index(drop=True)
    assert len(on_spark) == len(on_duckdb) == ci_dataset.events["journey_id"].nunique()
    pd.testing.assert_frame_equal(on_spark, on_duckdb, check_dtype=False, atol=1e-6)


def test_bottlenecks_waits_and_paths_are_identical_on_spark(ci_dataset, spec):
    _require_spark()
    from cxlib.engines import events_table

    on_spark = events_table(ci_dataset.events, "pyspark")
    path = spec.milestones()
    for analysis in (lambda ev: process.bottlenecks(ev, spec, AS_OF, path),
                     lambda ev: process.activity_waits(ev, spec, AS_OF, path),
                     lambda ev: process.variants(ev, spec, AS_OF, path)):
        expected = analysis(ci_dataset.events)
        assert len(expected) > 5
        pd.testing.assert_frame_equal(analysis(on_spark), expected, check_dtype=False,
                                      atol=1e-6)


def test_cx_journeys_on_spark_matches_duckdb(tmp_path, demo_ci):
    _require_spark()
    outputs = {}
    for engine in ("duckdb", "pyspark"):
        out = tmp_path / f"{engine}.parquet"
        result = run_cx("journeys", str(demo_ci), "--as-of", "2026-07-01T00:00:00Z",
                        "--engine", engine, "--spark-conf", "spark.master=local[1]",
                        "--out", str(out))
        assert result.returncode == 0, result.stderr[-2000:]
        outputs[engine] = pd.read_parquet(out).sort_values("journey_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(outputs["pyspark"], outputs["duckdb"], check_dtype=False,
                                  atol=1e-6)


def test_a_params_file_names_the_engine_for_every_notebook(tmp_path, demo_ci):
    params = tmp_path / "spark.yaml"
    params.write_text(f"data_dir: {demo_ci}\nas_of: '2026-07-01T00:00:00Z'\nengine: pyspark\n"
                      "spark_conf: {spark.master: 'spark://cluster:7077'}\n")
    given = load_params(params).notebook_parameters(tmp_path)
    assert given["engine"] == "pyspark"
    assert given["spark_conf"] == {"spark.master": "spark://cluster:7077"}
    params.write_text(f"data_dir: {demo_ci}\nas_of: '2026-07-01T00:00:00Z'\nengine: polars\n")
    with pytest.raises(ParamsError, match="engine"):
        load_params(params)


def test_local_calendar_day_promises_are_identical_on_spark():
    _require_spark()
    from cxlib.engines import events_table
    from tests import test_localtime as local

    log = local.events(*local.AUTUMN, *local.AUTUMN_LATE, *local.SPRING, *local.OPEN)
    spec = local._sixty_days("Europe/Berlin")
    on_duckdb = J.build_journeys(log, spec, local.LATER)
    on_spark = J.build_journeys(events_table(log, "pyspark"), spec, local.LATER)
    assert on_duckdb["promise_in_60_days"].tolist() == ["met", "breached", "met", "breached"]
    pd.testing.assert_frame_equal(on_spark.sort_values("journey_id").reset_index(drop=True),
                                  on_duckdb, check_dtype=False)


def test_service_times_of_activity_instances_are_identical_on_spark(tmp_path):
    _require_spark()
    from cxlib.engines import events_table
    from cxlib.importing import import_source
    from cxlib.io import load_dataset
    from tests.test_importing import LIFECYCLE_XES

    (tmp_path / "life.xes").write_text(LIFECYCLE_XES)
    import_source(tmp_path / "life.xes", tmp_path / "data")
    log = load_dataset(tmp_path / "data").events
    spec, as_of = J.JourneySpec(journey="t"), "2026-03-02T00:00:00Z"
    on_duckdb = process.service_times(log, spec, as_of, min_group_size=2)
    assert on_duckdb["mean_hours"].tolist() == [1.5]
    pd.testing.assert_frame_equal(process.service_times(events_table(log, "pyspark"), spec, as_of,
                                                  min_group_size=2), on_duckdb, check_dtype=False)
    pd.testing.assert_frame_equal(process.activity_waits(events_table(log, "pyspark"), spec, as_of),
                                  process.activity_waits(log, spec, as_of), check_dtype=False)


@pytest.mark.parametrize("name", ["csv", "parquet", "naive_local", "naive_parquet"])
def test_the_data_contract_quarantines_and_keeps_the_same_rows_on_spark(tmp_path, name):
    _require_spark()
    import ibis

    from cxlib.engines import spark_session
    from cxlib.io import READERS
    from cxlib.schema import check_table
    from tests.contract_faults import FAULTS

    spark = ibis.pyspark.connect(spark_session({"spark.master": "local[1]"}))
    build, zone = FAULTS[name]
    build(tmp_path)
    quarantined = 0
    for table in ("events", "surveys", "customers"):
        path = next(tmp_path.glob(f"{table}.*"))
        raw = READERS[path.suffix](path)
        on_duckdb = check_table(raw, table, path.name, zone)
        on_spark = check_table(raw, table, path.name, zone, backend=spark)
        assert on_spark.rows_read == on_duckdb.rows_read == len(raw)
        quarantined += len(on_spark.quarantine)
        for part in ("quarantine", "resolved", "clean"):
            pd.testing.assert_frame_equal(getattr(on_spark, part), getattr(on_duckdb, part))
    assert quarantined > 0  # every fault folder breaks some rule


def test_a_build_on_spark_is_the_build_on_duckdb(tmp_path, demo_ci):
    """A report's build with ``engine: pyspark``: same journeys, segments and linked answers."""
    _require_spark()
    from cxlib.workbench import build_workbench

    spec = ROOT / "params/journeys/broadband.yaml"
    on_duckdb = build_workbench(demo_ci, spec, AS_OF, tmp_path / "duckdb")
    on_spark = build_workbench(demo_ci, spec, AS_OF, tmp_path / "spark", engine="pyspark")
    assert len(on_spark.journeys) > 1000
    for name in ("journeys", "behaviour", "surveys"):
        pd.testing.assert_frame_equal(getattr(on_spark, name), getattr(on_duckdb, name),
                                      check_dtype=False, atol=1e-6)
