import pandas as pd

from tests.conftest import run_cx


def test_help_documents_the_exit_codes():
    result = run_cx("--help")
    assert result.returncode == 0
    assert "2 bad params" in result.stdout and "4 another run" in result.stdout


def test_demo_then_validate(tmp_path):
    out = tmp_path / "demo"
    assert run_cx("demo", "--customers", "200", "--seed", "3", "--out", str(out)).returncode == 0
    ok = run_cx("validate", str(out))
    assert ok.returncode == 0, ok.stderr
    assert "events" in ok.stdout and "quarantined rows by rule" in ok.stdout
    strict = run_cx("validate", str(out), "--max-bad-share", "0")
    assert strict.returncode == 3 and "above --max-bad-share" in strict.stderr


def test_validate_names_a_missing_column(tmp_path, demo_ci):
    for name in ("events", "surveys", "customers"):
        frame = pd.read_parquet(demo_ci / f"{name}.parquet")
        if name == "customers":
            frame = frame.drop(columns=["region"])
        frame.to_parquet(tmp_path / f"{name}.parquet")
    result = run_cx("validate", str(tmp_path))
    assert result.returncode == 3
    assert "customers.parquet" in result.stderr and "'region'" in result.stderr


def test_journeys_command_writes_the_table(tmp_path, demo_ci):
    out = tmp_path / "j.parquet"
    result = run_cx("journeys", str(demo_ci), "--as-of", "2026-07-01T00:00:00Z",
                    "--out", str(out))
    assert result.returncode == 0, result.stderr
    table = pd.read_parquet(out)
    assert table["journey_id"].is_unique and len(table) == 2000
    assert "unowned_hours" in table.columns
