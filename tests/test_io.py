import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxlib.errors import ContractError, ParamsError
from cxlib.io import events_per_week, load_dataset, quarantine_summary, source_summary
from cxlib.schema import check_table


def _events(**overrides):
    frame = pd.DataFrame({
        "journey_id": ["J1", "J1", None],
        "customer_id": ["C1", "C1", "C1"],
        "activity": ["order_placed", "service_active", "call_queued"],
        "ts": ["2026-01-01T10:00:00Z", "2026-01-03T10:00:00Z", "2026-01-02T09:00:00Z"],
        "source": ["crm", "netops", "telephony"],
    })
    for col, values in overrides.items():
        frame[col] = values
    return frame


def test_a_missing_column_names_file_and_column():
    with pytest.raises(ContractError) as err:
        check_table(_events().drop(columns=["source"]), "events", "exports/events.csv")
    assert (err.value.file, err.value.column, err.value.row) == ("exports/events.csv", "source",
                                                                 None)
    assert "required column" in err.value.rule


def test_bad_rows_are_quarantined_with_file_row_column_and_rule():
    raw = _events(customer_id=["C1", None, "C1"],
                  ts=["2026-01-01T10:00:00Z", "2026-01-03T10:00:00Z", "not a date"])
    checked = check_table(raw, "events", "events.csv")
    q = checked.quarantine.sort_values("row")
    assert q[["row", "column", "rule"]].values.tolist() == [
        [2, "customer_id", "required value is missing"],
        [3, "ts", "not a valid timestamp"],
    ]
    assert q["file"].unique().tolist() == ["events.csv"]
    assert len(checked.clean) == 1  # kept + quarantined == read: nothing silently dropped
    assert checked.rows_read == len(checked.clean) + q["row"].nunique()


def test_exact_duplicates_are_removed_and_counted():
    raw = pd.concat([_events(), _events().iloc[[0]]], ignore_index=True)
    checked = check_table(raw, "events", "e.csv")
    assert checked.duplicates_removed == 1
    assert len(checked.clean) == 3
    assert checked.quarantine["row"].tolist() == [4]


@pytest.mark.parametrize("column, value, rule", [
    ("csat", 6, "outside 1–5"), ("nps", 11, "outside 0–10"), ("ces", 0, "outside 1–7"),
    ("csat", 3.5, "not a whole number"), ("nps", "ten", "not a whole number"),
])
def test_scores_outside_their_scale_are_quarantined(column, value, rule):
    surveys = pd.DataFrame({"response_id": ["R1", "R2"], "customer_id": ["C1", "C2"],
                            "journey_id": ["J1", None], "ts": ["2026-01-05T00:00:00Z"] * 2,
                            "csat": [4, 5], "nps": [9, 10], "ces": [6, 7],
                            "comment": [None, "ok"]}).astype(object)
    surveys.loc[1, column] = value
    checked = check_table(surveys, "surveys", "s.csv")
    assert checked.quarantine[["row", "column", "rule"]].values.tolist() == [[2, column, rule]]
    assert str(checked.clean[column].dtype) == "Int64"


def test_mixed_utc_offsets_are_normalised_to_utc():
    raw = _events(ts=["2026-01-01T11:00:00+01:00", "2026-01-03T10:00:00Z",
                      "2026-01-02T04:00:00-05:00"])
    ts = check_table(raw, "events", "e.csv").clean["ts"]
    assert str(ts.dtype) == "datetime64[us, UTC]"
    assert ts.dt.strftime("%Y-%m-%d %H:%M").tolist() == ["2026-01-01 10:00", "2026-01-03 10:00",
                                                         "2026-01-02 09:00"]


def test_naive_timestamps_are_refused_unless_a_timezone_is_given():
    raw = _events(ts=["2026-07-01 10:00:00", "2026-07-03 10:00:00", "2026-07-02 09:00:00"])
    with pytest.raises(ContractError) as err:
        check_table(raw, "events", "e.csv")
    assert err.value.column == "ts" and err.value.row == 1 and "time zone" in err.value.rule
    ts = check_table(raw, "events", "e.csv", timezone="Europe/London").clean["ts"]
    assert ts.iloc[0] == pd.Timestamp("2026-07-01 09:00:00", tz="UTC")  # BST is UTC+1


def test_a_mix_of_naive_and_offset_timestamps_names_the_first_naive_row():
    raw = _events(ts=["2026-07-01T10:00:00Z", "2026-07-03 10:00:00", "2026-07-02T09:00:00Z"])
    with pytest.raises(ContractError) as err:
        check_table(raw, "events", "e.csv")
    assert err.value.row == 2


def test_csv_and_parquet_folders_load_alike(tmp_path):
    raw = _events()
    (tmp_path / "csv").mkdir()
    raw.to_csv(tmp_path / "csv/events.csv", index=False)
    pd.DataFrame({"customer_id": ["C1"], "region": ["North"]}).to_csv(
        tmp_path / "csv/customers.csv", index=False)
    pd.DataFrame({"response_id": ["R1"], "customer_id": ["C1"], "journey_id": ["J1"],
                  "ts": ["2026-01-05T00:00:00Z"], "csat": [5], "nps": [""], "ces": [6],
                  "comment": [""]}).to_csv(tmp_path / "csv/surveys.csv", index=False)
    data = load_dataset(tmp_path / "csv")
    assert data.rows_quarantined == 0
    assert data.events["journey_id"].isna().tolist() == [False, False, True]
    assert pd.isna(data.surveys["nps"].iloc[0]) and data.surveys["csat"].iloc[0] == 5


def test_a_folder_without_a_table_says_what_is_missing(tmp_path):
    with pytest.raises(ContractError, match="no 'events' file"):
        load_dataset(tmp_path)
    with pytest.raises(ContractError, match="data folder not found"):
        load_dataset(tmp_path / "absent")


def test_demo_quarantine_counts_equal_the_planted_bad_rows(demo_ci, ci_dataset):
    planted = json.loads((demo_ci / "truth.json").read_text())["bad_rows"]
    q = ci_dataset.quarantine
    assert (q["rule"] == "required value is missing").sum() == planted["events_missing_customer"]
    assert ci_dataset.quality.set_index("table").loc["events", "duplicates_removed"] == \
        planted["events_duplicated"]
    assert ((q["table"] == "surveys") & (q["column"] == "csat")).sum() == \
        planted["surveys_csat_out_of_range"]
    for row in ci_dataset.quality.itertuples():
        assert row.rows_read == row.rows_kept + row.rows_quarantined


def test_too_many_bad_rows_stop_with_the_worst_table_and_rule(demo_ci, ci_dataset):
    with pytest.raises(ContractError) as err:
        load_dataset(demo_ci, max_bad_share=0.0001)
    assert "surveys" in err.value.file and err.value.column == "csat"
    assert "max_bad_share" in err.value.rule
    bad = ci_dataset.quarantine
    first = bad[(bad["table"] == "surveys") & (bad["column"] == "csat")]["row"].min()
    assert err.value.row == first  # the example row broke the rule the message names


def test_quarantine_summary_counts_rows_per_rule_with_a_first_example():
    q = pd.DataFrame({"table": ["events"] * 3 + ["surveys"], "file": "f",
                      "row": [7, 3, 5, 2], "column": ["ts", "customer_id", "ts", "csat"],
                      "rule": ["not a valid timestamp", "required value is missing",
                               "not a valid timestamp", "outside 1–5"],
                      "value": ["x", "None", "y", "9"]})
    summary = quarantine_summary(q)
    assert summary[["table", "column", "rows", "first_row", "first_value"]].values.tolist() == [
        ["events", "ts", 2, 5, "y"], ["events", "customer_id", 1, 3, "None"],
        ["surveys", "csat", 1, 2, "9"]]
    assert quarantine_summary(q.iloc[:0]).empty


def test_source_summary_lists_every_source_system(ci_dataset):
    table = source_summary(ci_dataset.events)
    expected = {"crm", "backoffice", "fieldforce", "netops", "telephony", "chat"}
    assert expected <= set(table["source"])
    assert table["events"].sum() == len(ci_dataset.events)
    assert table.set_index("source").loc["telephony", "linked_share"] == 0.0


def test_every_hint_names_a_setting_that_exists_with_its_exact_spelling(tmp_path):
    from cxlib.cli import build_parser
    from cxlib.importing import Mapping
    from cxlib.params import RunParams

    naive = _events(ts=["2026-07-01 10:00:00"] * 3)
    with pytest.raises(ContractError) as err:
        check_table(naive, "events", "e.csv")
    assert "`timezone:` in the params file" in err.value.rule
    assert "`--timezone` (cx validate, cx journeys)" in err.value.rule
    assert "timezone" in RunParams.model_fields
    commands = build_parser()._subparsers._group_actions[0].choices
    for command in ("validate", "journeys"):
        assert "--timezone" in commands[command]._option_string_actions
    with pytest.raises(ContractError) as err:
        check_table(_events().drop(columns=["activity"]), "events", "e.csv")
    assert "`cx import --mapping FILE`" in err.value.rule and "`columns:`" in err.value.rule
    assert "columns" in Mapping.model_fields and "--mapping" in \
        commands["import"]._option_string_actions
    assert "params file" not in err.value.rule  # params files map no columns


def test_a_params_timezone_reads_naive_local_timestamps(tmp_path, demo_ci):
    from cxlib.params import load_params

    params = tmp_path / "p.yaml"
    params.write_text(f"data_dir: {demo_ci}\nas_of: '2026-07-01T00:00:00Z'\n"
                      "timezone: Europe/London\n")
    given = load_params(params).notebook_parameters(tmp_path)
    assert given["timezone"] == "Europe/London"
    raw = _events(ts=["2026-07-01 10:00:00", "2026-01-03 10:00:00", "2026-07-02 09:00:00"])
    ts = check_table(raw, "events", "e.csv", timezone=given["timezone"]).clean["ts"]
    assert ts.dt.strftime("%H:%M").tolist() == ["09:00", "10:00", "08:00"]  # BST, GMT, BST


def _csv_folder(tmp_path, events_bytes: bytes):
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "events.csv").write_bytes(events_bytes)
    pd.DataFrame({"customer_id": ["C1"], "region": ["North"]}).to_csv(
        folder / "customers.csv", index=False)
    pd.DataFrame(columns=["response_id", "customer_id", "journey_id", "ts", "csat", "nps",
                          "ces", "comment"]).to_csv(folder / "surveys.csv", index=False)
    return folder


def test_a_byte_that_is_not_utf8_quarantines_its_row_and_names_it(tmp_path):
    folder = _csv_folder(tmp_path, (
        "journey_id,customer_id,activity,ts,source\n"
        "J1,C1,order_placed,2026-01-01T10:00:00Z,crm\n"
        "J1,C1,caf\xe9_visit,2026-01-02T10:00:00Z,crm\n"
        "J1,C1,service_active,2026-01-03T10:00:00Z,netops\n").encode("latin-1"))
    data = load_dataset(folder)
    q = data.quarantine
    assert q[["table", "row", "column"]].values.tolist() == [["events", 2, "activity"]]
    assert "not valid UTF-8" in q["rule"].iloc[0] and "encoding:" in q["rule"].iloc[0]
    assert q["value"].iloc[0] == "caf\ufffd_visit"
    assert data.events["activity"].tolist() == ["order_placed", "service_active"]


def test_a_header_only_events_file_is_bad_data_naming_the_file(tmp_path):
    folder = _csv_folder(tmp_path, b"journey_id,customer_id,activity,ts,source\n")
    with pytest.raises(ContractError) as err:
        load_dataset(folder)
    assert err.value.file.endswith("events.csv") and "no rows" in err.value.rule


def test_both_daylight_saving_changes_are_resolved_by_one_rule_and_counted(tmp_path):
    from cxlib.config import JourneySpec
    from cxlib.journeys import build_journeys
    from cxlib.schema import REPEATED_LOCAL_TIME, SKIPPED_LOCAL_TIME

    # Europe/London 2026: 29 March 01:00 → 02:00 (01:30 never happens); 25 October
    # 02:00 → 01:00 (01:30 happens twice)
    folder = _csv_folder(tmp_path, (
        b"journey_id,customer_id,activity,ts,source\n"
        b"S,C1,a,2026-03-29 00:30:00,crm\n"
        b"S,C1,b,2026-03-29 01:30:00,crm\n"
        b"S,C1,z,2026-03-29 02:45:00,crm\n"
        b"A,C1,a,2026-10-25 00:30:00,crm\n"
        b"A,C1,b,2026-10-25 01:30:00,crm\n"
        b"A,C1,z,2026-10-25 02:30:00,crm\n"))
    data = load_dataset(folder, timezone="Europe/London")
    assert data.quarantine.empty and len(data.events) == 6
    assert data.quality.set_index("table").loc["events", "times_resolved"] == 2
    assert data.resolved[["row", "column", "rule", "value"]].values.tolist() == [
        [2, "ts", SKIPPED_LOCAL_TIME, "2026-03-29 01:30:00"],
        [5, "ts", REPEATED_LOCAL_TIME, "2026-10-25 01:30:00"]]
    utc = data.events.set_index(["journey_id", "activity"])["ts"].dt.strftime("%m-%d %H:%M")
    assert utc.to_dict() == {
        ("S", "a"): "03-29 00:30", ("S", "b"): "03-29 01:30",  # 01:30 GMT = 02:30 BST
        ("S", "z"): "03-29 01:45",
        ("A", "a"): "10-24 23:30", ("A", "b"): "10-25 00:30",  # the first 01:30 (BST)
        ("A", "z"): "10-25 02:30"}
    summary = quarantine_summary(data.resolved)
    assert summary["rows"].tolist() == [1, 1]
    spec = JourneySpec.model_validate({"journey": "j", "start": "a", "end": "z"})
    hours = build_journeys(data.events, spec, "2026-12-01T00:00:00Z").set_index(
        "journey_id")["e2e_hours"]
    assert hours.to_dict() == {"A": 3.0, "S": 1.25}  # real time, across both changes


def test_a_folder_imported_with_a_timezone_reads_its_local_times_in_it(tmp_path):
    from cxlib.importing import import_source

    (tmp_path / "export.csv").write_text(
        "Ticket,Step,When\nT1,opened,2026-07-01 10:00:00\nT1,closed,2026-01-02 10:00:00\n")
    (tmp_path / "map.yaml").write_text(
        "columns: {journey_id: Ticket, activity: Step, ts: When}\ntimezone: Europe/Berlin\n")
    data_dir = tmp_path / "data"
    import_source(tmp_path / "export.csv", data_dir, tmp_path / "map.yaml")
    assert "Europe/Berlin" in (data_dir / "data.yaml").read_text()
    ts = load_dataset(data_dir).events["ts"].dt.strftime("%m-%d %H:%M").tolist()
    assert ts == ["07-01 08:00", "01-02 09:00"]  # CEST, CET
    assert load_dataset(data_dir, timezone="Europe/Berlin").events["ts"].notna().all()
    with pytest.raises(ContractError, match="imported as 'Europe/Berlin'"):
        load_dataset(data_dir, timezone="Europe/London")
    (tmp_path / "map.yaml").write_text("columns: {journey_id: Ticket, activity: Step, ts: When}\n")
    import_source(tmp_path / "export.csv", data_dir, tmp_path / "map.yaml")
    assert not (data_dir / "data.yaml").exists()
    with pytest.raises(ContractError, match="no time zone"):
        load_dataset(data_dir)
    (tmp_path / "mars.yaml").write_text("columns: {journey_id: Ticket}\ntimezone: Mars/Olympus\n")
    with pytest.raises(ParamsError, match="timezone"):
        import_source(tmp_path / "export.csv", data_dir, tmp_path / "mars.yaml")


def test_a_folder_of_survey_answers_alone_loads_with_no_events(tmp_path):
    pd.DataFrame({"response_id": ["R1", "R2"], "customer_id": ["R1", "R2"],
                  "journey_id": ["", ""], "ts": ["2026-01-05T00:00:00Z"] * 2, "csat": [5, 2],
                  "nps": ["", ""], "ces": ["", ""], "comment": ["", ""]}).to_csv(
        tmp_path / "surveys.csv", index=False)
    data = load_dataset(tmp_path)
    assert data.survey_only and data.events.empty and len(data.surveys) == 2
    assert data.customers["region"].tolist() == ["unknown", "unknown"]
    pd.DataFrame({"customer_id": ["R1"], "region": ["North"]}).to_csv(
        tmp_path / "customers.csv", index=False)
    with pytest.raises(ContractError, match="no 'events' file"):  # customers but no events
        load_dataset(tmp_path)


def test_a_survey_wait_that_is_not_a_number_is_named_with_its_row(tmp_path):
    pd.DataFrame({"response_id": ["R1", "R2", "R3"], "customer_id": ["R1", "R2", "R3"],
                  "journey_id": [""] * 3, "ts": ["2026-01-05T00:00:00Z"] * 3, "csat": [5, 2, 4],
                  "nps": [""] * 3, "ces": [""] * 3, "comment": [""] * 3,
                  "delay": ["12.5", "", "about 10"]}).to_csv(tmp_path / "surveys.csv",
                                                              index=False)
    data = load_dataset(tmp_path)
    with pytest.raises(ContractError) as err:
        data.survey_durations("delay", "params.yaml")
    assert (err.value.column, err.value.row, err.value.violation.value) == ("delay", 3, "about 10")
    assert err.value.file.endswith("surveys.csv")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", None, "ü \"q\""]),
                          st.sampled_from([1.0, 2.5, float("nan"), None]),
                          st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"])),
                min_size=1, max_size=40))
def test_exact_repeats_are_the_rows_pandas_calls_duplicated(rows):
    frame = pd.DataFrame(rows, columns=["journey_id", "number", "ts"]).assign(
        customer_id="C1", activity="a", source="s")
    frame["number"] = frame["number"].astype("float64")  # an extra column: compared too
    expected = (frame.index[frame.duplicated(keep="first")] + 1).tolist()
    checked = check_table(frame, "events", "e.csv")
    assert checked.quarantine["row"].tolist() == expected
    assert set(checked.quarantine["rule"]) <= {"exact duplicate of an earlier row (removed)"}
    assert checked.duplicates_removed == len(expected) == len(frame) - len(checked.clean)


@pytest.mark.parametrize("blank", ["", " ", "\t", "\xa0", "\u3000 ", "\n\r"])
def test_text_of_spaces_alone_is_a_missing_value_as_python_strips_it(blank):
    raw = _events(customer_id=["C1", blank, "C1"], source=["crm", "netops", f"{blank}tel"])
    checked = check_table(raw, "events", "e.csv")
    assert checked.quarantine[["row", "column", "rule"]].values.tolist() == [
        [2, "customer_id", "required value is missing"]]
    assert checked.clean["source"].tolist() == ["crm", f"{blank}tel"]  # kept as written


def test_events_per_week_start_on_monday_in_utc_and_count_every_event():
    events = pd.DataFrame({"ts": pd.to_datetime(["2026-03-01T23:30:00-02:00",  # Mon 01:30 UTC
                                                 "2026-03-08T12:00:00Z", "2026-03-09T00:00:00Z",
                                                 "2026-03-09T08:00:00Z"], utc=True),
                           "source": ["crm", "crm", "web", "crm"]})
    weekly = events_per_week(events)
    assert weekly.to_dict("list") == {
        "week": [pd.Timestamp("2026-03-02"), pd.Timestamp("2026-03-09"),
                 pd.Timestamp("2026-03-09")],
        "source": ["crm", "crm", "web"], "events": [2, 1, 1]}
    assert weekly["events"].sum() == len(events)


def test_each_duckdb_connection_keeps_to_the_memory_budget(monkeypatch):
    from cxlib.engines import DUCKDB_MEMORY_ENV, duckdb_backend

    def settings() -> tuple[str, str]:
        return duckdb_backend().raw_sql("select current_setting('memory_limit'), "
                                        "current_setting('temp_directory')").fetchone()

    monkeypatch.delenv(DUCKDB_MEMORY_ENV, raising=False)
    limit, spill = settings()
    assert limit == "3.7 GiB"  # 4GB, not DuckDB's 80 % of the machine
    assert str(os.getpid()) in spill and not spill.startswith(".")  # never ./.tmp
    monkeypatch.setenv(DUCKDB_MEMORY_ENV, "1GB")
    assert settings()[0] == "953.6 MiB"
    monkeypatch.setenv(DUCKDB_MEMORY_ENV, "lots")
    with pytest.raises(ParamsError, match="CX_DUCKDB_MEMORY.*'lots' is not a memory size"):
        duckdb_backend()


def test_duckdb_connections_print_no_progress_bar():
    """DuckDB draws a bar on standard output for a query over two seconds (cx journeys at 10 M
    events printed dozens of them); cxlab's connections have it off. Checked in a process of
    its own, as the cx command runs (DuckDB's default differs under pytest)."""
    script = ("import duckdb; from cxlib.engines import duckdb_backend\n"
              "ask = \"select current_setting('enable_progress_bar')\"\n"
              "print(duckdb.connect().execute(ask).fetchone()[0], "
              "duckdb_backend().con.execute(ask).fetchone()[0])")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["True", "False"]  # DuckDB's default; cxlab's


def test_is_in_matches_pandas_isin_for_keys_and_never_matches_a_missing_one():
    from cxlib.engines import is_in

    values = pd.Series(["C1", "C2", None, "C4", "C1"], dtype="str")
    allowed = pd.Series(["C1", "C4", None, "C9"], dtype="str")
    assert is_in(values, allowed).tolist() == [True, False, False, True, True]
    assert is_in(values, {"C2"}).tolist() == [False, True, False, False, False]
    assert is_in(values.astype(object), ["C4"]).tolist() == [False, False, False, True, False]
    assert is_in(values, []).tolist() == [False] * 5


def test_write_parquet_reads_back_as_pandas_own_write_and_encodes_only_repeating_text(
        tmp_path, ci_dataset):
    """The journey table's writer: the same frame as ``to_parquet`` on every column type."""
    import numpy as np
    import pyarrow.parquet as pq

    from cxlib.engines import write_parquet

    n = 1000
    frame = pd.DataFrame({
        "journey_id": pd.Series([f"J{i:05d}" for i in range(n)], dtype="str"),
        "status": pd.Series(np.where(np.arange(n) % 3, "complete", None), dtype="str"),
        "region": pd.Categorical(np.where(np.arange(n) % 2, "north", "south")),
        "note": pd.Series([None if i % 7 else f"free text {i}" for i in range(n)], dtype=object),
        "n_events": np.arange(n, dtype="int64"),
        "contacts": pd.array([None if i % 5 == 0 else i % 4 for i in range(n)], dtype="Int64"),
        "hours": np.where(np.arange(n) % 11, np.arange(n) / 7, np.nan),
        "censored": np.arange(n) % 2 == 0,
        "start_ts": pd.Series(pd.date_range("2026-01-01", periods=n, freq="37min", tz="UTC")
                              ).where(np.arange(n) % 13 != 0).astype("datetime64[us, UTC]"),
    })
    empty = ci_dataset.events.head(0)  # an empty frame keeps its columns and types
    for name, table in {"mixed": frame, "events": ci_dataset.events, "empty": empty}.items():
        ours, theirs = tmp_path / f"{name}_ours.parquet", tmp_path / f"{name}_pandas.parquet"
        write_parquet(table, ours)
        table.to_parquet(theirs, index=False)
        pd.testing.assert_frame_equal(pd.read_parquet(ours), pd.read_parquet(theirs),
                                      check_exact=True)
    meta = pq.ParquetFile(tmp_path / "mixed_ours.parquet").metadata.row_group(0)
    encoded = {meta.column(i).path_in_schema: "RLE_DICTIONARY" in meta.column(i).encodings
               for i in range(meta.num_columns)}
    assert encoded["status"] and encoded["region"]  # two values over 1000 rows
    assert not encoded["journey_id"] and not encoded["note"] and not encoded["hours"]
