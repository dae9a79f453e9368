import pandas as pd
import pytest

from tests.conftest import run_cx


def test_help_documents_the_exit_codes():
    result = run_cx("--help")
    assert result.returncode == 0
    assert "2 bad params" in result.stdout and "4 another run" in result.stdout


def test_validate_lists_quarantined_rows_and_stops_above_the_bad_share(demo_ci):
    ok = run_cx("validate", str(demo_ci))
    assert ok.returncode == 0, ok.stderr
    assert "events" in ok.stdout and "quarantined rows by rule" in ok.stdout
    strict = run_cx("validate", str(demo_ci), "--max-bad-share", "0")
    assert strict.returncode == 3 and "above --max-bad-share" in strict.stderr


@pytest.mark.parametrize("customers, seed", [(50, 1), (50, 2), (73, 5), (200, 3)])
def test_every_demo_size_the_cli_accepts_passes_its_own_contract(tmp_path, customers, seed):
    out = tmp_path / "demo"
    made = run_cx("demo", "--customers", str(customers), "--seed", str(seed), "--out", str(out))
    assert made.returncode == 0, made.stderr
    checked = run_cx("validate", str(out))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_demo_too_small_to_learn_from_is_refused_with_a_reason(tmp_path):
    result = run_cx("demo", "--customers", "49", "--out", str(tmp_path / "d"))
    assert result.returncode == 2 and "at least 50" in result.stderr
    assert not (tmp_path / "d").exists()


def test_demo_data_never_overwrites_a_folder_that_is_not_a_demo(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "events.csv").write_text("precious\n")
    result = run_cx("demo", "--customers", "50", "--out", str(mine))
    assert result.returncode == 2 and "not a demo folder" in result.stderr
    assert str(mine) in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in mine.iterdir()) == ["events.csv"]
    again = tmp_path / "demo"  # an earlier demo folder may be written again
    assert run_cx("demo", "--customers", "50", "--out", str(again)).returncode == 0
    assert run_cx("demo", "--customers", "60", "--out", str(again)).returncode == 0


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
    # the events the contract left out are said, with where to find why
    assert "16 of 40755 events quarantined (8 of them exact repeats" in result.stdout
    assert f"cx validate {demo_ci}" in result.stdout


def test_journeys_need_the_events_alone(tmp_path, demo_ci):
    """Customers and survey answers are not read: a broken one does not stop the journeys."""
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "events.parquet").write_bytes((demo_ci / "events.parquet").read_bytes())
    (folder / "customers.csv").write_text("no,contract,here\n1,2,3\n")
    result = run_cx("journeys", str(folder), "--as-of", "2026-07-01T00:00:00Z",
                    "--out", str(tmp_path / "j.parquet"))
    assert result.returncode == 0, result.stderr
    assert len(pd.read_parquet(tmp_path / "j.parquet")) == 2000
    assert run_cx("validate", str(folder)).returncode == 3  # validate checks every table


def test_journeys_of_a_folder_of_survey_answers_alone_are_refused(tmp_path, demo_ci):
    folder = tmp_path / "answers"
    folder.mkdir()
    (folder / "surveys.parquet").write_bytes((demo_ci / "surveys.parquet").read_bytes())
    result = run_cx("journeys", str(folder), "--out", str(tmp_path / "j.parquet"))
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert "survey answers only: there are no events" in result.stderr
    assert not (tmp_path / "j.parquet").exists()


@pytest.mark.parametrize("option, value", [("--as-of", "2026-07-01"), ("--as-of", "yesterday"),
                                           ("--timezone", "Mars/Base"),
                                           ("--spark-conf", "nonsense")])
def test_a_bad_command_line_value_is_named_without_a_traceback(option, value, demo_ci, tmp_path):
    result = run_cx("journeys", str(demo_ci), option, value, "--out", str(tmp_path / "j.parquet"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"argument {option}" in result.stderr and value in result.stderr
    assert not (tmp_path / "j.parquet").exists()


def test_cx_satisfaction_writes_the_tables_the_run_publishes(tmp_path, published_reports):
    """The command and notebook 30 compute the same tables from the same data and cut-off."""
    from cxlib.publishing import SCHEMA, read_table

    out = tmp_path / "satisfaction"
    result = run_cx("satisfaction", "data/demo-ci", "--as-of", "2026-07-01T00:00:00Z",
                    "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    written = sorted(p.stem for p in out.glob("*.parquet"))
    assert {"tolerance_thresholds", "key_drivers", "weighted_scores", "respondent_balance",
            "ordinal_fit", "survey_facts"} <= set(written) <= set(SCHEMA)
    run = (published_reports / "ci").resolve()
    for name in written:
        pd.testing.assert_frame_equal(pd.read_parquet(out / f"{name}.parquet"),
                                      read_table(run, name), check_like=False)
    refused = run_cx("satisfaction", "data/demo-ci", "--as-of", "2026-07-01", "--out", str(out))
    assert refused.returncode == 2 and "zone" in refused.stderr


def test_cx_satisfaction_without_a_cut_off_checks_the_data_once(monkeypatch, tmp_path, capsys,
                                                                demo_ci):
    """The cut-off is the last clean event, read from the build's own check (the command used
    to check the whole folder once more just to find it)."""
    import cxlib.io
    from cxlib import cli, workbench

    check_folder, calls = cxlib.io.check_folder, []

    def counted(*args, **kwargs):
        calls.append(args)
        return check_folder(*args, **kwargs)

    monkeypatch.setattr(workbench, "check_folder", counted)
    monkeypatch.setattr(cxlib.io, "check_folder", counted)
    assert cli.main(["satisfaction", str(demo_ci), "--out", str(tmp_path / "tables")]) == 0
    assert len(calls) == 1
    assert f"(cut-off {check_folder(demo_ci).latest_event()}," in capsys.readouterr().out
