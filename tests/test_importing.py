"""Importing real exports: XES (streamed), CSV with a mapping; parity with PM4Py."""

from pathlib import Path

import pandas as pd
import pytest

from cxlib import journeys as J
from cxlib import process
from cxlib.config import JourneySpec
from cxlib.errors import ContractError, ParamsError
from cxlib.importing import import_source, load_mapping, read_xes
from cxlib.io import load_dataset
from tests.conftest import ROOT, run_cx

LOGS = ROOT / "tests" / "data" / "eventlogs"  # shipped with the repo: see its README
REAL_LOGS = ["running-example.xes", "interval_event_log.xes.gz",
             "interval_event_log_lifecycle.xes.gz", "08_receipt.xes.gz", "helpdesk.xes.gz",
             "07_bpic2013_incidents.xes.gz"]

TINY_XES = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
  <trace><string key="concept:name" value="T1"/>
    <event><string key="concept:name" value="open"/>
      <date key="time:timestamp" value="2026-01-01T10:00:00.000+01:00"/>
      <int key="priority" value="2"/></event>
    <event><string key="concept:name" value="close"/>
      <date key="time:timestamp" value="2026-01-01T12:30:00.000+01:00"/></event>
  </trace>
  <trace><string key="concept:name" value="T2"/>
    <event><string key="concept:name" value="open"/>
      <date key="time:timestamp" value="2026-01-02T09:00:00.000Z"/></event>
  </trace>
</log>"""


def test_xes_is_read_with_trace_and_event_attributes(tmp_path):
    path = tmp_path / "tiny.xes"
    path.write_text(TINY_XES)
    frame = read_xes(path)
    assert frame["case:concept:name"].tolist() == ["T1", "T1", "T2"]
    assert frame["concept:name"].tolist() == ["open", "close", "open"]
    assert frame["time:timestamp"].dt.strftime("%H:%M").tolist() == ["09:00", "11:30", "09:00"]
    assert frame["priority"].iloc[0] == 2


def test_xes_standard_keys_map_without_a_mapping(tmp_path):
    path = tmp_path / "tiny.xes"
    path.write_text(TINY_XES)
    counts = import_source(path, tmp_path / "data")
    assert counts == {"events": 3, "customers": 2, "surveys": 0}
    data = load_dataset(tmp_path / "data")
    assert data.rows_quarantined == 0
    assert (data.events["customer_id"] == data.events["journey_id"]).all()
    assert set(data.events["source"]) == {"tiny"}


def test_a_csv_export_with_a_mapping(tmp_path):
    pd.DataFrame({
        "Ticket": ["A", "A", "B"], "Client": ["c1", "c1", "c2"],
        "Step": ["Opened", "Fixed", "Opened"], "When": ["2026-01-01T10:00:00Z",
                                                      "2026-01-03T10:00:00Z",
                                                      "2026-01-02T10:00:00Z"],
        "Area": ["North", "North", "South"]}).to_csv(tmp_path / "export.csv", index=False)
    (tmp_path / "map.yaml").write_text(
        "columns: {journey_id: Ticket, customer_id: Client, activity: Step, ts: When}\n"
        "source: tickets\nregion: Area\nactivities: {Opened: opened, Fixed: fixed}\n")
    import_source(tmp_path / "export.csv", tmp_path / "data", tmp_path / "map.yaml")
    data = load_dataset(tmp_path / "data")
    assert sorted(data.events["activity"].unique()) == ["fixed", "opened"]
    assert data.customers.set_index("customer_id")["region"].to_dict() == {"c1": "North",
                                                                           "c2": "South"}
    spec = JourneySpec(journey="ticket", start="opened", end="fixed")
    table = J.build_journeys(data.events, spec, "2026-01-05T00:00:00Z").set_index("journey_id")
    assert table.loc["A", "e2e_hours"] == 48.0 and table.loc["B", "status"] == "open"


def test_mapping_problems_name_the_file_and_key(tmp_path):
    bad = tmp_path / "map.yaml"
    bad.write_text("colums: {journey_id: x}\n")
    with pytest.raises(ParamsError) as err:
        load_mapping(bad)
    assert err.value.key == "colums"
    pd.DataFrame({"a": [1]}).to_csv(tmp_path / "e.csv", index=False)
    (tmp_path / "m.yaml").write_text("columns: {journey_id: Ticket}\n")
    with pytest.raises(ContractError, match="Ticket"):
        import_source(tmp_path / "e.csv", tmp_path / "out", tmp_path / "m.yaml")
    (tmp_path / "broken.xes").write_text("<log><trace>")
    with pytest.raises(ContractError, match="not a readable XES"):
        import_source(tmp_path / "broken.xes", tmp_path / "out")


def test_cx_import_of_a_real_log_with_a_mapping(tmp_path):
    result = run_cx("import", str(LOGS / "helpdesk.xes.gz"), "--mapping",
                    "params/mappings/helpdesk.yaml", "--out", str(tmp_path / "helpdesk"))
    assert result.returncode == 0, result.stderr
    data = load_dataset(tmp_path / "helpdesk")
    # the real log repeats some events exactly: removed and counted, nothing else is wrong
    assert set(data.quarantine["rule"]) == {"exact duplicate of an earlier row (removed)"}
    assert data.quality.set_index("table").loc["events", "duplicates_removed"] == 127
    assert data.events["journey_id"].nunique() > data.customers["customer_id"].nunique() > 1
    assert "ticket_resolved" in set(data.events["activity"])


@pytest.mark.parametrize("name", REAL_LOGS)
def test_throughput_times_equal_pm4py_to_the_second(tmp_path, name):
    pm4py = pytest.importorskip("pm4py")
    from pm4py.statistics.traces.generic.pandas import case_statistics

    # An interval log's journeys begin when work on their first activity began: PM4Py's case
    # statistics read only completions there, but its start/complete form of the same log has
    # the starts as rows — that is the reference for both forms
    reference_log = ("interval_event_log_lifecycle.xes.gz"
                     if name.startswith("interval_event_log") else name)
    log = pm4py.read_xes(str(LOGS / reference_log))
    # PM4Py takes a case's first and last *rows*; its own format_dataframe sorts them by time
    # first (the interval log is not in time order within cases), and so do we
    log = log.sort_values(["case:concept:name", "time:timestamp"], kind="stable")
    reference = case_statistics.get_cases_description(log)
    import_source(LOGS / name, tmp_path / "data")
    data = load_dataset(tmp_path / "data")
    as_of = (data.events["ts"].max() + pd.Timedelta(seconds=1)).isoformat()
    ours = J.build_journeys(data.events, JourneySpec(journey=Path(name).stem), as_of)
    ours = ours.set_index("journey_id")["e2e_hours"] * 3600
    theirs = pd.Series({case: d["caseDuration"] for case, d in reference.items()})
    assert set(ours.index) == set(theirs.index.astype(str))
    diff = (ours - theirs.rename(index=str).reindex(ours.index)).abs()
    assert diff.max() < 1.0, diff.sort_values().tail()


@pytest.mark.parametrize("name", ["08_receipt.xes.gz", "helpdesk.xes.gz"])
def test_events_and_sources_per_journey_equal_pandas_counts_on_a_real_log(tmp_path, name):
    """The journey query aggregates per journey and source, then per journey: each count must
    still be the journey's own. A log's events spread over several sources (the first four
    letters of the activity: 1 to 12 per journey in these logs), counted again in pandas."""
    import_source(LOGS / name, tmp_path / "data")
    events = load_dataset(tmp_path / "data").events
    events = events.assign(source=events["activity"].str[:4])
    as_of = (events["ts"].max() + pd.Timedelta(seconds=1)).isoformat()
    ours = J.build_journeys(events, JourneySpec(journey="case"), as_of).set_index("journey_id")
    by_journey = events.groupby("journey_id")
    assert ours["n_events"].to_dict() == by_journey.size().to_dict()
    assert ours["n_sources"].to_dict() == by_journey["source"].nunique().to_dict()
    assert ours["n_sources"].nunique() > 2  # journeys with different numbers of sources


def test_a_table_the_import_does_not_understand_says_which_mapping_keys_fix_it(tmp_path):
    pd.DataFrame({"Order": ["A"], "Placed": ["2026-01-01T10:00:00Z"]}).to_csv(
        tmp_path / "orders.csv", index=False)
    result = run_cx("import", str(tmp_path / "orders.csv"), "--out", str(tmp_path / "data"))
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr and "orders.csv" in result.stderr
    for needed in ("journey_id, activity, ts", "--mapping", "columns:", "Order, Placed"):
        assert needed in result.stderr, needed
    assert not (tmp_path / "data").exists()


def test_a_latin1_export_imports_with_the_encoding_named_in_its_mapping(tmp_path):
    (tmp_path / "export.csv").write_bytes(
        "Ticket,Step,When\nA,Caf\xe9 visit,2026-01-01T10:00:00Z\n".encode("latin-1"))
    (tmp_path / "map.yaml").write_text(
        "columns: {journey_id: Ticket, activity: Step, ts: When}\nencoding: latin-1\n")
    import_source(tmp_path / "export.csv", tmp_path / "data", tmp_path / "map.yaml")
    assert load_dataset(tmp_path / "data").events["activity"].tolist() == ["Café visit"]
    (tmp_path / "bad.yaml").write_text("columns: {journey_id: Ticket}\nencoding: latin-9000\n")
    with pytest.raises(ParamsError, match="unknown text encoding"):
        load_mapping(tmp_path / "bad.yaml")


def test_an_import_never_writes_into_a_folder_holding_other_files(tmp_path):
    from tests.conftest import run_cx

    (tmp_path / "export.csv").write_text("Ticket,Step,When\nT1,opened,2026-07-01T10:00:00Z\n")
    (tmp_path / "map.yaml").write_text("columns: {journey_id: Ticket, activity: Step, ts: When}\n")
    project_data = tmp_path / "data"
    (project_data / "demo").mkdir(parents=True)
    (project_data / "README.md").write_text("demo worlds live here\n")
    result = run_cx("import", str(tmp_path / "export.csv"), "--mapping",
                    str(tmp_path / "map.yaml"), "--out", str(project_data))
    assert result.returncode == 2 and "holds other files (README.md, demo)" in result.stderr
    assert sorted(p.name for p in project_data.iterdir()) == ["README.md", "demo"]
    again = tmp_path / "imported"
    for _ in range(2):  # a new folder, then the same import folder again
        ok = run_cx("import", str(tmp_path / "export.csv"), "--mapping",
                    str(tmp_path / "map.yaml"), "--out", str(again))
        assert ok.returncode == 0, ok.stderr


WIDE_ORDERS = "\n".join([
    "order_id,customer_id,customer_state,customer_city,purchased_at,approved_at,carrier_at,"
    "delivered_at,estimated_delivery",
    "o1,c1,SP,Campinas,2026-03-01 10:00:00,2026-03-01 11:00:00,2026-03-02 09:00:00,"
    "2026-03-05 15:00:00,2026-03-10 00:00:00",
    "o2,c2,RJ,Niterói,2026-03-01 10:00:00,2026-03-01 12:00:00,2026-03-03 09:00:00,"
    "2026-03-12 15:00:00,2026-03-10 00:00:00",
    "o3,c3,SP,Santos,2026-03-01 10:00:00,2026-03-02 10:00:00,,,2026-03-10 00:00:00",
    "o4,c1,SP,Campinas,2026-03-01 10:00:00,2026-03-01 10:30:00,2026-03-01 09:00:00,"
    "2026-03-04 10:00:00,2026-03-10 00:00:00", ""])
WIDE_MAPPING = """columns: {journey_id: order_id, customer_id: customer_id}
region: customer_state
customer_attributes: [customer_city]
source: orders
timezone: America/Sao_Paulo
milestones: {order_placed: purchased_at, approved: approved_at, handed_to_carrier: carrier_at,
             delivered: delivered_at, delivery_promised: estimated_delivery}
"""
WIDE_SPEC = """journey: order
start: order_placed
end: delivered
promises: [{name: delivered_by_promise, event: delivered, before: delivery_promised}]
teams:
  - {team: approval, from: order_placed, to: approved}
  - {team: shipping, from: approved, to: handed_to_carrier}
"""


def test_a_wide_order_export_becomes_journeys_with_promises_and_stages(tmp_path):
    from cxlib.config import load_spec
    from cxlib.journeys import build_journeys
    from cxlib.summaries import promise_outcomes

    (tmp_path / "orders.csv").write_text(WIDE_ORDERS)
    (tmp_path / "map.yaml").write_text(WIDE_MAPPING)
    (tmp_path / "spec.yaml").write_text(WIDE_SPEC)
    counts = import_source(tmp_path / "orders.csv", tmp_path / "data", tmp_path / "map.yaml")
    assert counts["events"] == 18  # a blank milestone is not reached: no event
    data = load_dataset(tmp_path / "data")  # the mapping's zone travels with the folder
    assert data.quarantine.empty
    o1 = data.events[data.events["journey_id"] == "o1"]
    assert o1["activity"].tolist() == ["order_placed", "approved", "handed_to_carrier",
                                       "delivered", "delivery_promised"]
    assert o1["ts"].iloc[0] == pd.Timestamp("2026-03-01 13:00", tz="UTC")  # UTC−3
    assert data.customers.set_index("customer_id")["region"].to_dict() == {
        "c1": "SP", "c2": "RJ", "c3": "SP"}
    assert data.customers.set_index("customer_id")["customer_city"].to_dict() == {
        "c1": "Campinas", "c2": "Niterói", "c3": "Santos"}
    spec = load_spec(tmp_path / "spec.yaml")
    journeys = build_journeys(data.events, spec, "2026-04-01T00:00:00Z").set_index("journey_id")
    assert journeys["status"].to_dict() == {"o1": "complete", "o2": "complete", "o3": "open",
                                            "o4": "complete"}
    assert journeys.loc["o4", "team_shipping_reversed"]  # handed over before approval
    outcomes = promise_outcomes(journeys.reset_index(), spec, min_group_size=1)
    assert outcomes.set_index("outcome")["journeys"].to_dict() == {
        "kept": 2, "done late": 1, "not done by the deadline": 1, "still undecided": 0,
        "not applicable": 0}


def test_a_wide_mapping_names_a_missing_milestone_column_and_refuses_a_long_one_too(tmp_path):
    (tmp_path / "orders.csv").write_text(WIDE_ORDERS)
    (tmp_path / "typo.yaml").write_text(WIDE_MAPPING.replace("carrier_at", "carier_at"))
    with pytest.raises(ContractError) as err:
        import_source(tmp_path / "orders.csv", tmp_path / "a", tmp_path / "typo.yaml")
    assert err.value.column == "carier_at" and "handed_to_carrier" in err.value.rule
    (tmp_path / "both.yaml").write_text(WIDE_MAPPING.replace(
        "customer_id: customer_id}", "customer_id: customer_id, ts: purchased_at}"))
    with pytest.raises(ParamsError, match="milestones"):
        import_source(tmp_path / "orders.csv", tmp_path / "b", tmp_path / "both.yaml")


def _orders_folder(tmp_path):
    (tmp_path / "orders.csv").write_text(WIDE_ORDERS)
    (tmp_path / "map.yaml").write_text(WIDE_MAPPING)
    import_source(tmp_path / "orders.csv", tmp_path / "data", tmp_path / "map.yaml")
    return tmp_path / "data"


def test_a_review_export_imports_as_surveys_linked_to_the_orders(tmp_path):
    data_dir = _orders_folder(tmp_path)
    (tmp_path / "reviews.csv").write_text(
        "review_id,order_id,review_score,review_creation_date\n"
        "r1,o1,5,2026-03-06 09:00:00\n"
        "r2,o2,1,2026-03-13 09:00:00\n"
        "r2,o4,4,2026-03-05 09:00:00\n")  # the same review id for another order
    (tmp_path / "reviews.yaml").write_text(
        "columns: {response_id: review_id, journey_id: order_id, csat: review_score, "
        "ts: review_creation_date}\n")
    counts = import_source(tmp_path / "reviews.csv", data_dir, tmp_path / "reviews.yaml",
                           table="surveys")
    assert counts == {"surveys": 3, "response ids made unique": 1}
    data = load_dataset(data_dir)  # naive review times read in the folder's zone
    surveys = data.surveys.set_index("response_id")
    assert sorted(surveys.index) == ["r1", "r2", "r2~2"] and data.quarantine.empty
    assert surveys.loc["r2~2", "journey_id"] == "o4" and surveys.loc["r2~2", "customer_id"] == "c1"
    assert surveys.loc["r1", "csat"] == 5 and pd.isna(surveys.loc["r1", "nps"])
    assert surveys.loc["r1", "ts"] == pd.Timestamp("2026-03-06 12:00", tz="UTC")
    again = run_cx("import", str(tmp_path / "orders.csv"), "--mapping",
                   str(tmp_path / "map.yaml"), "--out", str(data_dir))
    assert again.returncode == 0 and len(load_dataset(data_dir).surveys) == 3  # kept


def test_labelled_answers_without_ids_or_times_take_them_from_the_journeys(tmp_path):
    data_dir = _orders_folder(tmp_path)
    (tmp_path / "survey.csv").write_text(
        "order,answer,delay_minutes\no1,satisfied,12\no2,dissatisfied,95\no4,satisfied,30\n")
    (tmp_path / "survey.yaml").write_text(
        "columns: {journey_id: order, csat: answer}\n"
        "scores: {csat: {dissatisfied: 1, satisfied: 5}}\n")
    import_source(tmp_path / "survey.csv", data_dir, tmp_path / "survey.yaml", table="surveys")
    surveys = load_dataset(data_dir).surveys.set_index("journey_id")
    assert surveys["csat"].to_dict() == {"o1": 5, "o2": 1, "o4": 5}
    assert surveys.loc["o2", "response_id"] == "survey-2"
    assert surveys.loc["o2", "ts"] == pd.Timestamp("2026-03-12 18:00", tz="UTC")  # delivered
    assert surveys["delay_minutes"].tolist() == ["12", "95", "30"]  # kept for analysis


def test_a_survey_export_without_a_score_is_bad_data_naming_what_is_missing(tmp_path):
    (tmp_path / "survey.csv").write_text("order,answer\no1,yes\n")
    (tmp_path / "survey.yaml").write_text("columns: {journey_id: order}\n")
    result = run_cx("import", str(tmp_path / "survey.csv"), "--mapping",
                    str(tmp_path / "survey.yaml"), "--out", str(tmp_path / "d"),
                    "--table", "surveys")
    assert result.returncode == 3 and "csat" in result.stderr and "answer" in result.stderr
    assert "Traceback" not in result.stderr


def _lifecycle_event(activity: str, transition: str, stamp: str) -> str:
    return (f'<event><string key="concept:name" value="{activity}"/>'
            f'<string key="lifecycle:transition" value="{transition}"/>'
            f'<date key="time:timestamp" value="2026-03-01T{stamp}"/></event>')


LIFECYCLE_XES = ('<?xml version="1.0" encoding="UTF-8"?>'
                 '<log xes.version="1.0" xmlns="http://www.xes-standard.org/">'
                 '<trace><string key="concept:name" value="T1"/>' + "".join(
                     _lifecycle_event(*event) for event in [
                         ("review", "start", "09:00:00.000+01:00"),
                         ("review", "start", "09:30:00.000+01:00"),
                         ("review", "suspend", "09:40:00.000+01:00"),
                         ("review", "complete", "10:00:00.000+01:00"),
                         ("review", "complete", "11:30:00.000+01:00"),
                         ("sign", "complete", "11:00:00.000Z"),
                         ("file", "start", "12:00:00.000Z")]) + "</trace></log>")


def test_start_and_complete_pairs_become_activity_instances_with_their_offsets(tmp_path):
    (tmp_path / "life.xes").write_text(LIFECYCLE_XES)
    counts = import_source(tmp_path / "life.xes", tmp_path / "data")
    assert counts["activity instances (start and completion)"] == 2
    data = load_dataset(tmp_path / "data")
    assert data.rows_quarantined == 0
    ev = data.events.sort_values("source_row")
    hhmm = "%H:%M"
    got = [(a, lc, ts.strftime(hhmm), None if pd.isna(st) else st.strftime(hhmm), off)
           for a, lc, ts, st, off in zip(ev["activity"], ev["lifecycle"], ev["ts"],
                                         ev["activity_start_ts"], ev["utc_offset"], strict=True)]
    assert got == [  # first come, first served: 09:00 → 10:00, 09:30 → 11:30 (UTC below)
        ("review", "suspend", "08:40", None, "+01:00"),
        ("review", "complete", "09:00", "08:00", "+01:00"),
        ("review", "complete", "10:30", "08:30", "+01:00"),
        ("sign", "complete", "11:00", None, "+00:00"),  # no start logged: an instant
        ("file", "start", "12:00", None, "+00:00"),  # begun, not finished: kept as it is
    ]
    service = process.service_times(data.events, JourneySpec(journey="t"), "2026-03-02T00:00:00Z",
                              min_group_size=2)
    service = service.set_index("activity")
    assert service["mean_hours"].to_dict() == {"review": 1.5}
    assert not service.loc["review", "suppressed"]


def test_a_lifecycle_log_and_its_interval_form_import_alike_and_match_pm4py(tmp_path):
    """PM4Py wrote its interval log as start/complete pairs; both import to one table."""
    pm4py = pytest.importorskip("pm4py")
    interval = LOGS / "interval_event_log.xes.gz"
    lifecycle = LOGS / "interval_event_log_lifecycle.xes.gz"
    tables = {}
    for name, path in (("interval", interval), ("lifecycle", lifecycle)):
        import_source(path, tmp_path / name)
        data = load_dataset(tmp_path / name)
        assert data.rows_quarantined == 0 and data.quality["duplicates_removed"].sum() == 0
        tables[name] = data.events
    columns = ["journey_id", "activity", "ts", "activity_start_ts"]
    one, other = (tables[n][columns].sort_values(columns).reset_index(drop=True)
                  for n in ("interval", "lifecycle"))
    assert len(one) == 8109 and one["activity_start_ts"].notna().all()
    pd.testing.assert_frame_equal(one, other)
    ours = process.service_times(tables["lifecycle"], JourneySpec(journey="orders"),
                           "2030-01-01T00:00:00Z", min_group_size=1
                           ).set_index("activity")["mean_hours"] * 3600
    theirs = pm4py.get_service_time(pm4py.read_xes(str(interval)),
                                    start_timestamp_key="start_timestamp")
    assert ours.to_dict() == pytest.approx(theirs, abs=1e-6)


def test_a_csv_export_names_its_lifecycle_column(tmp_path):
    pd.DataFrame({"case": ["A", "A", "A"], "step": ["fix", "fix", "close"],
                  "phase": ["start", "complete", "complete"],
                  "at": ["2026-01-01 09:00", "2026-01-01 11:00", "2026-01-01 12:00"]}
                 ).to_csv(tmp_path / "log.csv", index=False)
    (tmp_path / "map.yaml").write_text(
        "columns: {journey_id: case, activity: step, ts: at, lifecycle: phase}\n"
        "timezone: Europe/Berlin\n")
    import_source(tmp_path / "log.csv", tmp_path / "data", tmp_path / "map.yaml")
    data = load_dataset(tmp_path / "data")
    fix = data.events.set_index("activity").loc["fix"]
    assert (fix["activity_start_ts"], fix["ts"]) == (pd.Timestamp("2026-01-01 08:00", tz="UTC"),
                                            pd.Timestamp("2026-01-01 10:00", tz="UTC"))
    assert "utc_offset" not in data.events.columns  # local times: no offset was written


def test_appending_an_export_in_another_local_zone_is_refused(tmp_path):
    for name, zone in (("a", "Europe/London"), ("b", "Europe/Berlin")):
        pd.DataFrame({"case": ["X"], "step": ["s"], "at": ["2026-01-01 09:00"]}).to_csv(
            tmp_path / f"{name}.csv", index=False)
        (tmp_path / f"{name}.yaml").write_text(
            f"columns: {{journey_id: case, activity: step, ts: at}}\ntimezone: {zone}\n")
    import_source(tmp_path / "a.csv", tmp_path / "data", tmp_path / "a.yaml")
    result = run_cx("import", str(tmp_path / "b.csv"), "--mapping", str(tmp_path / "b.yaml"),
                    "--out", str(tmp_path / "data"), "--append")
    assert result.returncode == 2 and "Traceback" not in result.stderr  # the mapping's fault
    assert "'Europe/London'" in result.stderr and "'Europe/Berlin'" in result.stderr
    assert len(load_dataset(tmp_path / "data").events) == 1  # the folder is as it was


def test_a_contacts_export_without_journey_ids_names_its_customers(tmp_path):
    pd.DataFrame({"who": ["c1"], "what": ["call"], "when": ["2026-01-01T09:00:00Z"]}).to_csv(
        tmp_path / "calls.csv", index=False)
    (tmp_path / "map.yaml").write_text("columns: {customer_id: who, activity: what, ts: when}\n")
    import_source(tmp_path / "calls.csv", tmp_path / "data", tmp_path / "map.yaml")
    events = load_dataset(tmp_path / "data").events
    assert events["journey_id"].isna().all() and events["customer_id"].tolist() == ["c1"]


@pytest.mark.parametrize("name", ["interval_event_log_lifecycle.xes.gz", "08_receipt.xes.gz"])
def test_the_journey_events_a_build_keeps_give_what_the_events_give(tmp_path, name):
    """Journeys, behaviour-free process statistics: from the build's files as from the log."""
    from cxlib.workbench import build_workbench

    import_source(LOGS / name, tmp_path / "data")
    events = load_dataset(tmp_path / "data").events
    as_of = (events["ts"].max() + pd.Timedelta(seconds=1)).isoformat()
    spec = JourneySpec(journey="case")
    (tmp_path / "spec.yaml").write_text("journey: case\n")
    kept = build_workbench(tmp_path / "data", tmp_path / "spec.yaml", as_of,
                           tmp_path / "build").journey_events
    assert kept.spec == spec
    pd.testing.assert_frame_equal(J.build_journeys(kept, spec, as_of),
                                  J.build_journeys(events, spec, as_of))
    for statistic in (process.bottlenecks, process.service_times, process.variants,
                      process.activity_waits):
        pd.testing.assert_frame_equal(statistic(kept, spec, as_of),
                                      statistic(events, spec, as_of), check_exact=True)
    later = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    with pytest.raises(ValueError, match="pass the events themselves"):
        J.build_journeys(kept, spec, later)
    with pytest.raises(ValueError, match="pass the events themselves"):
        process.bottlenecks(kept, JourneySpec(journey="case", end="x"), as_of)
