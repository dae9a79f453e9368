"""`cx run` end to end: real papermill runs of the real notebooks, published atomically."""

import json
import shutil
import time

import nbformat
import pandas as pd
import pytest

from cxlib.runner import run_lock
from tests.conftest import ROOT, run_cx

pytestmark = pytest.mark.e2e
NOTEBOOKS = ["00_data_quality", "10_journey_times", "20_time_segments",
             "30_satisfaction_vs_time"]


def test_a_run_publishes_notebooks_html_tables_and_manifest(published_reports):
    latest = published_reports / "latest"
    assert latest.is_symlink() and latest.resolve().parent == published_reports / "runs"
    for name in NOTEBOOKS:
        book = nbformat.read(latest / f"{name}.ipynb", 4)
        errors = [o for c in book.cells for o in c.get("outputs", [])
                  if o["output_type"] == "error"]
        assert errors == [], name
        page = (latest / f"{name}.html").read_text()
        assert "open_workbench(" not in page and "<img" in page  # no code, real figures
    tables = {p.stem for p in (latest / "tables").glob("*.parquet")}
    assert {"journey_facts", "survey_facts", "clock_comparison", "tolerance_thresholds",
            "segment_profile", "data_quality"} <= tables
    manifest = json.loads((latest / "manifest.json").read_text())
    assert manifest["status"] == "ok"
    assert [nb["notebook"] for nb in manifest["notebooks"]] == NOTEBOOKS
    assert all(nb["status"] == "ok" and nb["seconds"] > 0 for nb in manifest["notebooks"])
    assert manifest["rows"]["read"] > manifest["rows"]["quarantined"] > 0
    assert {"pandas", "duckdb", "papermill"} <= set(manifest["packages"])
    assert len(manifest["input_fingerprint"]) == 16 and manifest["params"]["as_of"]
    index = (published_reports / "index.html").read_text()
    assert latest.resolve().name in index and "(latest)" in index


def test_published_tables_hold_no_customer_ids(published_reports):
    for path in (published_reports / "latest/tables").glob("*.parquet"):
        columns = pd.read_parquet(path).columns
        assert "customer_id" not in columns and "comment" not in columns, path.name


def test_a_misspelled_key_stops_the_run_within_seconds(tmp_path):
    params = tmp_path / "typo.yaml"
    params.write_text((ROOT / "params/ci.yaml").read_text().replace("timeout_seconds",
                                                                     "timeout_secs"))
    started = time.monotonic()
    result = run_cx("run", str(params), "--reports-dir", str(tmp_path / "reports"))
    assert result.returncode == 2
    assert "timeout_secs" in result.stderr and str(params) in result.stderr
    assert time.monotonic() - started < 20
    assert not (tmp_path / "reports/runs").exists()  # no kernel started, nothing written


def _failing_project(tmp_path, demo_ci):
    """A copy of the project's notebooks and params plus one notebook that raises."""
    root = tmp_path / "project"
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    shutil.copytree(ROOT / "params", root / "params")
    (root / "cxlib").mkdir()
    (root / "pyproject.toml").write_text("")
    good = nbformat.read(root / "notebooks/00_data_quality.ipynb", 4)
    good.cells = [*good.cells[:2],
                  nbformat.v4.new_code_cell("raise RuntimeError('planted failure')")]
    nbformat.write(good, root / "notebooks/99_planted_failure.ipynb")
    params = root / "params/failing.yaml"
    params.write_text(f"data_dir: {demo_ci}\nas_of: '2026-07-01T00:00:00Z'\n"
                      "notebooks: [00_data_quality, 99_planted_failure]\n")
    return root, params


def test_a_failing_notebook_never_replaces_the_last_good_run(tmp_path, demo_ci,
                                                             published_reports):
    before = (published_reports / "latest").resolve()
    root, params = _failing_project(tmp_path, demo_ci)
    result = run_cx("run", str(params), "--reports-dir", str(published_reports),
                    env={"CXLAB_ROOT": str(root)})
    assert result.returncode == 1
    assert "99_planted_failure" in result.stderr and "planted failure" in result.stderr
    assert "cell" in result.stderr and "raise RuntimeError" in result.stderr
    assert (published_reports / "latest").resolve() == before
    failed = list((published_reports / "runs").glob("*.failed"))
    assert len(failed) == 1
    manifest = json.loads((failed[0] / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert [nb["status"] for nb in manifest["notebooks"]] == ["ok", "failed"]
    assert not list((published_reports / "runs").glob(".*partial"))
    assert "failed" in (published_reports / "index.html").read_text()


def test_a_second_run_of_the_same_params_is_refused_while_one_holds_the_lock(tmp_path):
    with run_lock(tmp_path, "ci"):
        result = run_cx("run", "params/ci.yaml", "--reports-dir", str(tmp_path))
    assert result.returncode == 4 and "another `cx run`" in result.stderr


def test_a_corrupt_input_file_is_bad_data_before_any_kernel(tmp_path, demo_ci):
    data = tmp_path / "data"
    shutil.copytree(demo_ci, data)
    (data / "surveys.parquet").write_bytes(b"this is not parquet")
    params = tmp_path / "p.yaml"
    params.write_text(f"data_dir: {data}\nas_of: '2026-07-01T00:00:00Z'\n")
    result = run_cx("run", str(params), "--reports-dir", str(tmp_path / "reports"))
    assert result.returncode == 3
    assert "surveys.parquet" in result.stderr and "cannot read" in result.stderr
    assert not list((tmp_path / "reports/runs").glob("*"))
