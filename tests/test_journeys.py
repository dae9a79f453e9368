import ibis
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxlib import journeys as J
from cxlib import process, summaries
from cxlib.config import JourneySpec
from cxlib.journey_table import promise_names
from cxlib.synth import read_truth
from tests.conftest import AS_OF, events

STORY = events(
    # J1: a complete journey, every promise kept
    ("J1", "C1", "order_placed", "2026-01-01T10:00:00Z", "crm"),
    ("J1", "C1", "order_confirmed", "2026-01-01T12:00:00Z", "crm"),
    ("J1", "C1", "backoffice_received", "2026-01-02T10:00:00Z", "backoffice"),
    ("J1", "C1", "appointment_booked", "2026-01-02T16:00:00Z", "backoffice"),
    ("J1", "C1", "technician_dispatched", "2026-01-05T07:00:00Z", "fieldforce"),
    ("J1", "C1", "window_start", "2026-01-05T08:00:00Z", "fieldforce"),
    ("J1", "C1", "technician_arrived", "2026-01-05T09:00:00Z", "fieldforce"),
    ("J1", "C1", "technician_done", "2026-01-05T11:00:00Z", "fieldforce"),
    ("J1", "C1", "window_end", "2026-01-05T12:00:00Z", "fieldforce"),
    ("J1", "C1", "activation_requested", "2026-01-05T15:00:00Z", "netops"),
    ("J1", "C1", "service_active", "2026-01-05T18:00:00Z", "netops"),
    ("J1", "C1", "update_sent", "2026-01-02T16:05:00Z", "sms"),
    # contacts come without a journey id: one answered call, one abandoned
    (None, "C1", "call_queued", "2026-01-03T09:00:00Z", "telephony"),
    (None, "C1", "call_answered", "2026-01-03T09:10:00Z", "telephony"),
    (None, "C1", "call_ended", "2026-01-03T09:30:00Z", "telephony"),
    (None, "C1", "call_queued", "2026-01-03T12:00:00Z", "telephony"),
    (None, "C1", "call_abandoned", "2026-01-03T12:05:00Z", "telephony"),
    # … and one long after J1 ended, and one from a customer with no journey: counted, not lost
    (None, "C1", "chat_started", "2026-03-01T12:00:00Z", "chat"),
    (None, "C9", "call_queued", "2026-02-01T12:00:00Z", "telephony"),
    # J2: still open at the cut-off
    ("J2", "C2", "order_placed", "2026-06-28T10:00:00Z", "crm"),
    ("J2", "C2", "order_confirmed", "2026-06-28T11:00:00Z", "crm"),
    # J3: cancelled
    ("J3", "C3", "order_placed", "2026-06-01T00:00:00Z", "crm"),
    ("J3", "C3", "order_cancelled", "2026-06-02T00:00:00Z", "crm"),
    # J4: late technician, late service
    ("J4", "C4", "order_placed", "2026-03-01T00:00:00Z", "crm"),
    ("J4", "C4", "window_start", "2026-03-05T08:00:00Z", "fieldforce"),
    ("J4", "C4", "window_end", "2026-03-05T12:00:00Z", "fieldforce"),
    ("J4", "C4", "technician_arrived", "2026-03-05T13:30:00Z", "fieldforce"),
    ("J4", "C4", "service_active", "2026-03-10T00:00:00Z", "netops"),
    # after the cut-off: has not happened yet
    ("J2", "C2", "service_active", "2026-07-02T00:00:00Z", "netops"),
)


@pytest.fixture(scope="module")
def story(spec):
    return J.build_journeys(STORY, spec, AS_OF).set_index("journey_id")


def test_complete_journey_clocks_by_hand(story):
    j1 = story.loc["J1"]
    assert j1["status"] == "complete" and not j1["censored"]
    assert j1["e2e_hours"] == pytest.approx(104.0)
    assert (j1["team_retail_hours"], j1["team_backoffice_hours"], j1["team_field_hours"],
            j1["team_network_hours"]) == pytest.approx((2.0, 6.0, 4.0, 3.0))
    assert j1["unowned_hours"] == pytest.approx(104.0 - 15.0)


def test_customer_time_and_contacts_attributed_by_time(story):
    j1 = story.loc["J1"]
    assert j1["customer_on_hold_hours"] == pytest.approx(15 / 60)  # 10 min + 5 min abandoned
    assert j1["customer_on_call_hours"] == pytest.approx(20 / 60)
    assert j1["customer_at_home_hours"] == pytest.approx(4.0)
    assert j1["customer_hours"] == pytest.approx(4.0 + 35 / 60)
    assert (j1["contacts"], j1["repeat_contacts"], j1["updates_sent"]) == (2, 1, 1)
    assert bool(j1["kept_informed"])
    assert j1["n_sources"] == 6 and j1["n_events"] == 17


def test_contacts_matching_no_journey_are_counted(spec):
    assert J.unattributed_contacts(STORY, spec, AS_OF) == 2


@pytest.mark.parametrize("journey, promise, state, late", [
    ("J1", "live_within_7_days", "met", None),
    ("J1", "technician_in_window", "met", None),
    ("J2", "live_within_7_days", "open", None),
    ("J2", "technician_in_window", "not_applicable", None),
    ("J4", "live_within_7_days", "breached", 48.0),
    ("J4", "technician_in_window", "breached", 1.5),
])
def test_promise_states(story, journey, promise, state, late):
    row = story.loc[journey]
    assert row[f"promise_{promise}"] == state
    if late is None:
        assert pd.isna(row[f"promise_{promise}_late_hours"])
    else:
        assert row[f"promise_{promise}_late_hours"] == pytest.approx(late)


def test_open_journeys_are_censored_at_the_cutoff_and_cancelled_ones_abandoned(story):
    j2, j3 = story.loc["J2"], story.loc["J3"]
    assert j2["status"] == "open" and j2["censored"]
    assert j2["e2e_hours"] == pytest.approx(62.0)  # 28 Jun 10:00 → cut-off 1 Jul 00:00
    assert pd.isna(j2["end_ts"])  # the service_active after the cut-off has not happened
    assert j3["status"] == "abandoned" and j3["e2e_hours"] == pytest.approx(24.0)


def test_overlapping_team_clocks_are_counted_once_in_unowned_time():
    spec = JourneySpec.model_validate({
        "journey": "j", "start": "a", "end": "z",
        "teams": [{"team": "x", "from": "a", "to": "b"}, {"team": "y", "from": "c", "to": "d"}]})
    log = events(("J", "C", "a", "2026-01-01T00:00:00Z", "s"),
                 ("J", "C", "c", "2026-01-01T05:00:00Z", "s"),
                 ("J", "C", "b", "2026-01-01T10:00:00Z", "s"),
                 ("J", "C", "d", "2026-01-01T15:00:00Z", "s"),
                 ("J", "C", "z", "2026-01-02T00:00:00Z", "s"))
    row = J.build_journeys(log, spec, AS_OF).iloc[0]
    assert (row["team_x_hours"], row["team_y_hours"]) == pytest.approx((10.0, 10.0))
    assert row["unowned_hours"] == pytest.approx(24.0 - 15.0)  # union is 0–15 h


def test_identical_timestamps_follow_the_spec_order(spec):
    log = events(("J", "C", "service_active", "2026-01-01T10:00:00Z", "n"),
                 ("J", "C", "activation_requested", "2026-01-01T10:00:00Z", "n"),
                 ("J", "C", "order_placed", "2026-01-01T08:00:00Z", "c"),
                 ("J", "C", "walkthrough_ended", "2026-01-01T09:00:00Z", "f"),
                 ("J", "C", "walkthrough_started", "2026-01-01T09:00:00Z", "f"))
    row = J.build_journeys(log, spec, AS_OF).iloc[0]
    # the spec puts the 'from' first, so each interval closes (zero length) instead of dangling
    assert row["team_network_hours"] == 0.0
    assert row["customer_walkthrough_hours"] == 0.0
    assert row["last_wait_hours"] == 0.0


@settings(max_examples=15, deadline=None)
@given(st.randoms(use_true_random=False))
def test_row_order_never_changes_the_result(spec, random):
    order = list(range(len(STORY)))
    random.shuffle(order)
    shuffled = STORY.iloc[order].copy()
    shuffled["source_row"] = STORY["source_row"].iloc[order].to_numpy()
    pd.testing.assert_frame_equal(J.build_journeys(shuffled, spec, AS_OF),
                                  J.build_journeys(STORY, spec, AS_OF))


@pytest.fixture(scope="module")
def ci_journeys(ci_dataset, spec):
    return J.build_journeys(ci_dataset.events, spec, AS_OF)


def test_demo_journeys_hold_the_clock_invariants(ci_journeys, spec, ci_dataset):
    done = ci_journeys[ci_journeys["status"] == "complete"]
    for team in spec.teams:  # a clock logged out of order is blank, and only then
        clock = done[f"team_{team.team}_hours"]
        assert (clock.isna() == done[f"team_{team.team}_reversed"]).all()
        assert not (done["e2e_hours"] + 1e-9 < clock).any()
    unowned = ci_journeys["unowned_hours"]
    assert (unowned.isna() == (ci_journeys["stages_out_of_order"] > 0)).all()
    assert not (unowned < 0).any() and not (unowned > ci_journeys["e2e_hours"] + 1e-9).any()
    assert ci_journeys["journey_id"].is_unique
    assert set(ci_journeys["journey_id"]) == set(ci_dataset.events["journey_id"].dropna())
    assert set(ci_journeys["status"]) == {"complete", "open", "abandoned"}


def test_same_input_same_table_every_run(ci_dataset, spec, ci_journeys):
    again = J.build_journeys(ci_dataset.events.sample(frac=1, random_state=3), spec, AS_OF)
    pd.testing.assert_frame_equal(again, ci_journeys)


def test_clock_hours_are_whole_microseconds_summed_then_made_hours(ci_journeys, spec,
                                                                  ci_dataset):
    """Exact in any summation order, so a clock is the same to the bit in every run (hours
    summed as floats by DuckDB's threads differed in the last bit from run to run)."""
    from cxlib.engines import to_frame

    iv = to_frame(J.team_intervals_expr(ci_dataset.events, spec, AS_OF))
    field = iv[iv["name"] == "field"]
    micros = ((field["to_ts"] - field["from_ts"]) // pd.Timedelta(microseconds=1)).astype("int64")
    expected = micros.groupby(field["journey_id"]).sum() / 3_600_000_000
    found = ci_journeys.set_index("journey_id")["team_field_hours"].dropna()
    shared = found.index.intersection(expected.index)
    assert len(shared) > 1000
    assert (found[shared] == expected[shared]).all()  # to the bit
    again = J.build_journeys(ci_dataset.events, spec, AS_OF)
    hours = [c for c in ci_journeys.columns if c.endswith("_hours")]
    pd.testing.assert_frame_equal(again[hours], ci_journeys[hours], check_exact=True)


def test_summaries_carry_estimate_interval_and_n(ci_journeys, spec):
    clocks = summaries.clock_comparison(ci_journeys, spec)
    assert clocks["clock"].tolist() == ["retail", "backoffice", "field", "network",
                                        "hand-offs (unowned)", "customer end-to-end"]
    assert (clocks["ci_low"] <= clocks["estimate"]).all()
    assert (clocks["estimate"] <= clocks["ci_high"]).all()
    e2e = clocks.set_index("clock").loc["customer end-to-end", "estimate"]
    assert (clocks.set_index("clock").drop("customer end-to-end")["estimate"] < e2e).all()
    promises = summaries.promise_adherence(ci_journeys, spec, by="status")
    assert promises["suppressed"].any()  # open journeys decide too few promises to show
    assert promises["estimate"].dropna().between(0, 1).all()


def test_time_to_completion_counts_open_journeys_as_censored(ci_journeys):
    km = summaries.time_to_completion(ci_journeys).iloc[0]
    done = ci_journeys[ci_journeys["status"] == "complete"]
    assert km["n"] == (ci_journeys["status"] != "abandoned").sum()
    assert km["estimate"] >= done["e2e_days"].median()


def test_customer_time_is_the_mean_per_completed_journey(story, spec):
    table = summaries.customer_time(story.reset_index(), spec, min_group_size=1).set_index("kind")
    # complete: J1 (4 h at home, 15 min on hold, 20 min on call) and J4 (4 h at home only)
    assert table.loc["at_home", "estimate"] == pytest.approx(4.0)
    assert table.loc["on_hold", "estimate"] == pytest.approx(15 / 60 / 2)
    assert table.loc["total", "estimate"] == pytest.approx((4.0 + 35 / 60 + 4.0) / 2)
    assert (table["n"] == 2).all()
    assert summaries.customer_time(story.reset_index(), spec)["suppressed"].all()  # n=2 < 5


def test_kpi_disconnect_on_the_story(story, spec):
    table = summaries.kpi_disconnect(story.reset_index(), spec, min_group_size=1).set_index("team")
    # J1 and J4 are complete. J4 has no team events, so its clocks are zero: every team
    # "green" — yet its customer promise was broken. J1: green and kept.
    assert table.loc["all teams", "n"] == 2
    assert table.loc["all teams", "estimate"] == pytest.approx(0.5)
    assert table.loc["retail", "team_green"] == 1.0


def test_journey_overview_counts_every_status(story):
    overview = summaries.journey_overview(story.reset_index()).set_index("status")
    assert overview["n"].to_dict() == {"complete": 2, "open": 1, "abandoned": 1}


def _spec(**fields) -> JourneySpec:
    return JourneySpec.model_validate({"journey": "j", **fields})


@pytest.mark.parametrize("arrived, klass, state, late, early", [
    ("2026-01-01T07:30:00Z", "early", "breached", None, 0.5),
    ("2026-01-01T09:00:00Z", "on_time", "met", None, None),
    ("2026-01-01T12:00:00Z", "on_time", "met", None, None),  # the window's last moment
    ("2026-01-01T13:00:00Z", "late", "breached", 1.0, None),
    (None, "missed", "breached", 36.0, None),                # never came; closed at the end
])
def test_window_promises_are_classified(arrived, klass, state, late, early):
    spec = _spec(start="a", end="z", promises=[
        {"name": "w", "event": "arrive", "after": "w_open", "before": "w_close"}])
    rows = [("J", "C", "a", "2025-12-31T00:00:00Z", "s"),
            ("J", "C", "w_open", "2026-01-01T08:00:00Z", "s"),
            ("J", "C", "w_close", "2026-01-01T12:00:00Z", "s"),
            ("J", "C", "z", "2026-01-03T00:00:00Z", "s")]
    if arrived:
        rows.append(("J", "C", "arrive", arrived, "s"))
    row = J.build_journeys(events(*rows), spec, AS_OF).iloc[0]
    assert (row["promise_w_class"], row["promise_w"]) == (klass, state)
    for column, expected in (("promise_w_late_hours", late), ("promise_w_early_hours", early)):
        if expected is None:
            assert pd.isna(row[column])
        else:
            assert row[column] == pytest.approx(expected)


def test_a_window_still_ahead_is_open():
    spec = _spec(start="a", end="z", promises=[
        {"name": "w", "event": "arrive", "after": "w_open", "before": "w_close"}])
    log = events(("J", "C", "a", "2026-06-29T00:00:00Z", "s"),
                 ("J", "C", "w_open", "2026-06-30T20:00:00Z", "s"),
                 ("J", "C", "w_close", "2026-06-30T23:59:00Z", "s"))
    row = J.build_journeys(log, spec, "2026-06-30T22:00:00Z").iloc[0]
    assert (row["promise_w_class"], row["promise_w"]) == ("open", "open")


def test_delivered_before_the_promised_date():
    spec = _spec(start="ordered", end="delivered",
                 promises=[{"name": "on_date", "event": "delivered",
                            "before": "promised_delivery"}])
    log = events(("A", "C1", "ordered", "2026-01-01T00:00:00Z", "shop"),
                 ("A", "C1", "promised_delivery", "2026-01-05T18:00:00Z", "shop"),
                 ("A", "C1", "delivered", "2026-01-05T10:00:00Z", "carrier"),
                 ("B", "C2", "ordered", "2026-01-01T00:00:00Z", "shop"),
                 ("B", "C2", "promised_delivery", "2026-01-05T18:00:00Z", "shop"),
                 ("B", "C2", "delivered", "2026-01-06T20:00:00Z", "carrier"))
    table = J.build_journeys(log, spec, AS_OF).set_index("journey_id")
    assert table.loc["A", "promise_on_date"] == "met"
    assert table.loc["B", "promise_on_date"] == "breached"
    assert table.loc["B", "promise_on_date_late_hours"] == pytest.approx(26.0)


def test_team_clocks_on_a_business_calendar_count_working_hours_only():
    spec = _spec(start="a", end="z", calendars={"office": {"hours": "09:00-17:00"}},
                 teams=[{"team": "office", "from": "a", "to": "b", "calendar": "office"},
                        {"team": "always", "from": "a", "to": "b"}])
    log = events(("J", "C", "a", "2026-01-02T16:00:00Z", "s"),   # Friday 16:00
                 ("J", "C", "b", "2026-01-05T10:00:00Z", "s"),   # Monday 10:00
                 ("J", "C", "z", "2026-01-05T12:00:00Z", "s"))
    row = J.build_journeys(log, spec, AS_OF).iloc[0]
    assert row["team_office_hours"] == pytest.approx(2.0)
    assert row["team_always_hours"] == pytest.approx(66.0)
    assert row["e2e_hours"] == pytest.approx(68.0)  # the customer's clock is wall-clock
    assert row["unowned_hours"] == pytest.approx(2.0)


def test_a_team_on_an_unknown_calendar_is_refused():
    with pytest.raises(ValueError, match="no calendar 'office'"):
        _spec(start="a", end="z", teams=[{"team": "t", "from": "a", "to": "b",
                                          "calendar": "office"}])


def test_end_before_start_is_quarantined_not_dropped(spec):
    log = events(("J1", "C1", "order_placed", "2026-01-02T00:00:00Z", "crm"),
                 ("J1", "C1", "service_active", "2026-01-01T00:00:00Z", "netops"),
                 ("J2", "C2", "order_placed", "2026-01-01T00:00:00Z", "crm"),
                 ("J2", "C2", "service_active", "2026-01-03T00:00:00Z", "netops"))
    assert J.build_journeys(log, spec, AS_OF)["journey_id"].tolist() == ["J2"]
    bad = J.quarantined_journeys(log, spec, AS_OF)
    assert bad[["journey_id", "rule"]].values.tolist() == [["J1", "end before start"]]


def test_a_single_event_journey_is_open_and_censored(spec):
    log = events(("J", "C", "order_placed", "2026-06-30T00:00:00Z", "crm"))
    row = J.build_journeys(log, spec, AS_OF).iloc[0]
    assert (row["status"], row["e2e_hours"], row["n_events"]) == ("open", 24.0, 1)
    # retail's clock started and has not stopped: the order sits with retail, not unowned
    assert (row["team_retail_hours"], row["unowned_hours"]) == (24.0, 0.0)
    assert pd.isna(row["longest_wait_hours"])


def test_without_start_and_end_the_first_and_last_events_bound_the_journey():
    log = events(("J", "C", "x", "2026-01-01T00:00:00Z", "s"),
                 ("J", "C", "y", "2026-01-01T05:00:00Z", "s"),
                 ("J", "C", "w", "2026-01-01T03:00:00Z", "s"))
    row = J.build_journeys(log, _spec(), AS_OF).iloc[0]
    assert (row["status"], row["e2e_hours"]) == ("complete", 5.0)
    assert row["last_wait_hours"] == pytest.approx(2.0)


def test_an_attributed_contact_never_moves_a_journey_s_default_start_or_end():
    log = events(("J", "C", "x", "2026-01-01T01:00:00Z", "s"),
                 ("J", "C", "y", "2026-01-01T05:00:00Z", "s"),
                 (None, "C", "call", "2026-01-01T00:30:00Z", "phone"),  # before the start
                 (None, "C", "call", "2026-01-01T07:00:00Z", "phone"))  # after the end
    row = J.build_journeys(log, _spec(contacts=["call"]), AS_OF).iloc[0]
    assert (row["contacts"], row["n_events"], row["n_sources"]) == (2, 4, 2)
    assert str(row["start_ts"]) == "2026-01-01 01:00:00+00:00"
    assert (row["status"], row["e2e_hours"]) == ("complete", 4.0)
    assert row["last_wait_hours"] == 4.0  # the wait before y, not before the later call


def test_durations_are_exact_to_the_microsecond_on_a_connection_cxlib_never_saw(tmp_path):
    log = events(("J", "C", "x", "2026-01-01T00:00:00Z", "s"),
                 ("J", "C", "y", "2026-03-01T00:00:00.000001Z", "s"))  # across two months
    log.to_parquet(tmp_path / "log.parquet")
    table = ibis.duckdb.connect().read_parquet(str(tmp_path / "log.parquet"))
    row = J.journey_expr(table, _spec(), AS_OF).to_pandas().iloc[0]  # plain Ibis, not execute
    assert row["e2e_hours"] == (59 * 24 * 3600 * 10**6 + 1) / 3_600_000_000
    assert row["longest_wait_hours"] == row["e2e_hours"]


def test_activities_the_spec_does_not_name_are_kept_and_reported(spec):
    log = events(("J", "C", "order_placed", "2026-01-01T00:00:00Z", "crm"),
                 ("J", "C", "loyalty_points_added", "2026-01-01T01:00:00Z", "crm"),
                 ("J", "C", "service_active", "2026-01-01T02:00:00Z", "netops"))
    assert J.build_journeys(log, spec, AS_OF).iloc[0]["n_events"] == 3
    report = J.unknown_activities(log, spec)
    assert report.values.tolist() == [["loyalty_points_added", 1]]


def test_bottlenecks_name_the_handoffs_and_their_waits(spec):
    table = process.bottlenecks(STORY, spec, AS_OF, spec.milestones(), min_group_size=1)
    row = table.set_index(["from_activity", "to_activity"]).loc[
        ("order_confirmed", "backoffice_received")]
    assert row["handoff"] == "retail → backoffice"
    assert (row["n"], row["median_hours"]) == (1, pytest.approx(22.0))
    assert table["total_hours"].is_monotonic_decreasing
    assert "call_queued" not in set(table["from_activity"])  # contacts are not milestones
    suppressed = process.bottlenecks(STORY, spec, AS_OF, spec.milestones(), min_group_size=5)
    assert suppressed["suppressed"].all() and suppressed["median_hours"].isna().all()


def test_bottleneck_statistics_equal_pandas_on_the_same_journey_events(spec, ci_dataset):
    from cxlib.engines import to_frame

    path = spec.milestones()
    table = process.bottlenecks(ci_dataset.events, spec, AS_OF, path, min_group_size=1)
    ev = to_frame(J.journey_events_expr(ci_dataset.events, spec, AS_OF)[0])
    ev = ev[ev["activity"].isin(path)].sort_values(
        ["journey_id", "ts", "activity_rank", "activity", "source_row"])
    by_journey = ev.groupby("journey_id")
    ev = ev.assign(from_activity=by_journey["activity"].shift(),
                   wait=by_journey["ts"].diff().dt.total_seconds() / 3600)
    expected = ev.dropna(subset=["from_activity"]).groupby(["from_activity", "activity"])["wait"]
    expected = pd.DataFrame({"n": expected.size(), "median_hours": expected.median(),
                             "p90_hours": expected.quantile(0.9), "mean_hours": expected.mean()})
    got = table.set_index(["from_activity", "to_activity"])[expected.columns]
    got.index.names = expected.index.names
    pd.testing.assert_frame_equal(got.sort_index(), expected.sort_index(), check_dtype=False)
    assert len(table) > 10 and (table["p90_hours"] > table["median_hours"]).any()


def test_variants_count_paths_of_completed_journeys(spec, ci_dataset):
    story = process.variants(STORY, spec, AS_OF, ["order_placed", "service_active"],
                       min_group_size=1)
    assert story["path"].tolist() == ["order_placed → service_active"]
    assert (story["n"].iloc[0], story["share"].iloc[0]) == (2, 1.0)  # J1 and J4
    assert story["median_e2e_days"].iloc[0] == pytest.approx((104 / 24 + 9) / 2)
    top = process.variants(ci_dataset.events, spec, AS_OF, spec.milestones(), top=5)
    assert len(top) == 5 and top["n"].is_monotonic_decreasing
    assert 0 < top["share"].sum() <= 1


def test_activity_waits_on_the_story(spec):
    table = process.activity_waits(STORY, spec, AS_OF, spec.milestones()).set_index("activity")
    # J1 waited 22 h for the back office to receive the order
    assert table.loc["backoffice_received", "n"] == 1
    assert table.loc["backoffice_received", "mean_hours"] == pytest.approx(22.0)
    assert table.loc["service_active", "n"] == 2  # J1 and J4


def test_the_attribution_window_is_configurable(spec):
    # the chat of 1 March is 55 days after J1 ended: outside the default 14 days, inside 60
    wide = spec.model_copy(update={"attribution": spec.attribution.model_copy(
        update={"after_end": 60 * 24.0})})
    assert J.unattributed_contacts(STORY, spec, AS_OF) == 2
    assert J.unattributed_contacts(STORY, wide, AS_OF) == 1
    j1 = J.build_journeys(STORY, wide, AS_OF).set_index("journey_id").loc["J1"]
    assert j1["contacts"] == 3


# --- promise boundaries, pinned at the exact instant (documented in the README's spec section) --

T0 = "2026-01-01T00:00:00Z"


def _one(spec: JourneySpec, *rows: tuple[str, str], as_of: str = AS_OF) -> pd.Series:
    return J.build_journeys(events(*(("J", "C", a, ts, "s") for a, ts in rows)), spec,
                            as_of).iloc[0]


WITHIN = _spec(start="a", end="z", promises=[{"name": "p", "from": "a", "to": "z",
                                              "within": "5d"}])


@pytest.mark.parametrize("done, state", [
    ("2026-01-06T00:00:00Z", "met"),             # exactly at the deadline: kept
    ("2026-01-06T00:00:00.000001Z", "breached"),  # one microsecond later: broken
])
def test_a_within_promise_done_exactly_at_its_deadline_is_kept(done, state):
    row = _one(WITHIN, ("a", T0), ("z", done))
    assert row["promise_p"] == state
    assert pd.isna(row["promise_p_late_hours"]) if state == "met" else \
        row["promise_p_late_hours"] == pytest.approx(1 / 3_600_000_000)


@pytest.mark.parametrize("as_of, state", [
    ("2026-01-06T00:00:00Z", "open"),             # the deadline is now: it can still be kept
    ("2026-01-06T00:00:00.000001Z", "breached"),  # past it, not done: broken already
])
def test_a_within_promise_still_undone_at_the_cutoff(as_of, state):
    assert _one(WITHIN, ("a", T0), as_of=as_of)["promise_p"] == state


BEFORE = _spec(start="a", end="z", promises=[{"name": "p", "event": "z", "before": "due"}])


@pytest.mark.parametrize("done, state", [
    ("2026-01-05T00:00:00Z", "met"),             # at the promised instant: kept
    ("2026-01-05T00:00:00.000001Z", "breached"),
])
def test_a_before_promise_done_at_the_deadline_instant_is_kept(done, state):
    assert _one(BEFORE, ("a", T0), ("due", "2026-01-05T00:00:00Z"), ("z", done))[
        "promise_p"] == state


@pytest.mark.parametrize("as_of, state", [
    ("2026-01-05T00:00:00Z", "open"),
    ("2026-01-05T00:00:00.000001Z", "breached"),
])
def test_a_before_promise_whose_deadline_is_the_cutoff_is_still_open(as_of, state):
    assert _one(BEFORE, ("a", T0), ("due", "2026-01-05T00:00:00Z"), as_of=as_of)[
        "promise_p"] == state


WINDOW = _spec(start="a", end="z", promises=[{"name": "w", "event": "arrive", "after": "open",
                                              "before": "close"}])


@pytest.mark.parametrize("arrived, klass", [
    ("2026-01-02T07:59:59.999999Z", "early"),
    ("2026-01-02T08:00:00Z", "on_time"),  # a window includes its opening instant …
    ("2026-01-02T12:00:00Z", "on_time"),  # … and its closing instant
    ("2026-01-02T12:00:00.000001Z", "late"),
])
def test_a_window_includes_both_its_ends(arrived, klass):
    row = _one(WINDOW, ("a", T0), ("open", "2026-01-02T08:00:00Z"),
               ("close", "2026-01-02T12:00:00Z"), ("arrive", arrived))
    assert row["promise_w_class"] == klass


@pytest.mark.parametrize("as_of, klass", [
    ("2026-01-02T12:00:00Z", "open"),  # the window closes now: an arrival now is still on time
    ("2026-01-02T12:00:00.000001Z", "missed"),
])
def test_a_window_closing_at_the_cutoff_is_not_yet_missed(as_of, klass):
    row = _one(WINDOW, ("a", T0), ("open", "2026-01-02T08:00:00Z"),
               ("close", "2026-01-02T12:00:00Z"), as_of=as_of)
    assert row["promise_w_class"] == klass


# --- attribution of contacts without a journey id: the window's ends and the choice of journey --

ATTRIBUTED = _spec(start="a", end="z", contacts=["call"],
                   attribution={"before_start": "2h", "after_end": "1d"})


@pytest.mark.parametrize("call, contacts", [
    ("2026-01-01T08:00:00Z", 1),   # exactly before_start ahead of the start: attributed
    ("2026-01-01T07:59:59Z", 0),   # one second earlier: not
    ("2026-01-03T10:00:00Z", 1),   # exactly after_end past the end: attributed
    ("2026-01-03T10:00:01Z", 0),   # one second later: not
])
def test_the_attribution_window_includes_both_its_ends(call, contacts):
    log = events(("J", "C", "a", "2026-01-01T10:00:00Z", "s"),
                 ("J", "C", "z", "2026-01-02T10:00:00Z", "s"),
                 (None, "C", "call", call, "phone"))
    assert J.build_journeys(log, ATTRIBUTED, AS_OF).iloc[0]["contacts"] == contacts
    assert J.unattributed_contacts(log, ATTRIBUTED, AS_OF) == 1 - contacts


@pytest.mark.parametrize("call, journey", [
    ("2026-01-01T13:00:00Z", "J2"),  # both started: the one started most recently
    ("2026-01-01T12:00:00Z", "J2"),  # J2 starts at that instant: it has started
    ("2026-01-01T11:30:00Z", "J1"),  # only J1 has started
    ("2026-01-01T09:30:00Z", "J1"),  # neither started: the one starting soonest
])
def test_a_contact_goes_to_the_journey_the_customer_was_in(call, journey):
    log = events(("J1", "C", "a", "2026-01-01T10:00:00Z", "s"),
                 ("J1", "C", "z", "2026-01-02T10:00:00Z", "s"),
                 ("J2", "C", "a", "2026-01-01T12:00:00Z", "s"),
                 ("J2", "C", "z", "2026-01-02T12:00:00Z", "s"),
                 (None, "C", "call", call, "phone"))
    table = J.build_journeys(log, ATTRIBUTED, AS_OF).set_index("journey_id")
    assert table["contacts"].to_dict() == {"J1": int(journey == "J1"), "J2": int(journey == "J2")}


def test_only_contacts_without_a_journey_id_are_counted_as_unattributed():
    log = events(("J", "C", "a", "2026-01-01T10:00:00Z", "s"),
                 ("J", "C", "z", "2026-01-02T10:00:00Z", "s"),
                 ("J", "C", "call", "2026-03-01T10:00:00Z", "phone"),  # has its journey id
                 (None, "C", "chat", "2026-03-01T10:00:00Z", "web"),   # not a contact
                 (None, "C", "call", "2026-03-01T10:00:00Z", "phone"))
    assert J.unattributed_contacts(log, ATTRIBUTED, AS_OF) == 1


def test_quarantined_journeys_name_customer_and_both_ends(spec):
    log = events(("J1", "C1", "order_placed", "2026-01-02T00:00:00Z", "crm"),
                 ("J1", "C1", "service_active", "2026-01-01T00:00:00Z", "netops"))
    bad = J.quarantined_journeys(log, spec, AS_OF)
    assert bad.columns.tolist() == ["journey_id", "customer_id", "start_ts", "end_ts", "rule"]
    assert bad.iloc[0][["customer_id", "rule"]].tolist() == ["C1", "end before start"]
    assert str(bad.iloc[0]["end_ts"]) == "2026-01-01 00:00:00+00:00"


# --- the summaries' exact numbers on hand-made logs --------------------------------------------

WAITS = events(("J1", "C", "a", "2026-01-01T00:00:00Z", "s"),
               ("J1", "C", "b", "2026-01-01T02:00:00Z", "s"),
               ("J1", "C", "c", "2026-01-01T03:00:00Z", "s"),
               ("J2", "C", "a", "2026-01-02T00:00:00Z", "s"),
               ("J2", "C", "b", "2026-01-02T04:00:00Z", "s"),
               ("J2", "C", "c", "2026-01-02T10:00:00Z", "s"),
               ("J3", "C", "a", "2026-01-03T00:00:00Z", "s"),
               ("J3", "C", "b", "2026-01-03T09:00:00Z", "s"))


def test_activity_waits_are_the_mean_and_median_wait_before_each_activity_per_journey():
    table = process.activity_waits(WAITS, _spec(), AS_OF)
    # b waited 2, 4 and 9 h; c waited 1 and 6 h; the first event of a journey waits for nothing
    assert table["activity"].tolist() == ["b", "c"]  # the longest mean wait first
    assert table[["n", "mean_hours", "median_hours"]].values.tolist() == [
        [3, 5.0, 4.0], [2, 3.5, 3.5]]
    shuffled = process.activity_waits(WAITS.sample(frac=1, random_state=4), _spec(), AS_OF)
    pd.testing.assert_frame_equal(shuffled, table)  # waits follow time, not row order
    only_ac = process.activity_waits(WAITS, _spec(), AS_OF, ["a", "c"]).set_index("activity")
    assert only_ac.loc["c", "mean_hours"] == pytest.approx((3 + 10) / 2)


def test_bottlenecks_break_ties_by_name_and_keep_their_columns_in_order():
    log = events(("J1", "C", "a", "2026-01-01T00:00:00Z", "s"),
                 ("J1", "C", "c", "2026-01-01T02:00:00Z", "s"),
                 ("J2", "C", "x", "2026-01-01T00:00:00Z", "s"),
                 ("J2", "C", "y", "2026-01-01T02:00:00Z", "s"),
                 ("J3", "C", "a", "2026-01-01T00:00:00Z", "s"),
                 ("J3", "C", "b", "2026-01-01T02:00:00Z", "s"))
    table = process.bottlenecks(log, _spec(), AS_OF, min_group_size=1)
    assert table.columns.tolist() == ["from_activity", "to_activity", "n", "median_hours",
                                      "p90_hours", "mean_hours", "total_hours", "handoff",
                                      "against_process_order", "suppressed"]
    assert table[["from_activity", "to_activity"]].values.tolist() == [
        ["a", "b"], ["a", "c"], ["x", "y"]]  # equal totals: by name
    assert table.index.tolist() == [0, 1, 2] and not table["suppressed"].any()
    hidden = process.bottlenecks(log, _spec(), AS_OF, min_group_size=2)
    assert hidden["suppressed"].all()
    assert hidden[["median_hours", "p90_hours", "mean_hours"]].isna().all().all()


def test_a_path_exactly_at_min_group_size_is_shown(spec):
    table = process.variants(STORY, spec, AS_OF, ["order_placed", "service_active"],
                       min_group_size=2)
    assert table["n"].tolist() == [2] and not table["suppressed"].any()
    assert table["median_e2e_days"].notna().all()
    hidden = process.variants(STORY, spec, AS_OF, ["order_placed", "service_active"],
                        min_group_size=3)
    assert hidden["suppressed"].all() and hidden["median_e2e_days"].isna().all()


def test_clock_comparison_on_the_story_in_days(story, spec):
    table = summaries.clock_comparison(story.reset_index(), spec, min_group_size=1)
    table = table.set_index("clock")
    # complete: J1 (retail 2 h, unowned 89 h, 104 h end to end) and J4 (no team events, 9 days)
    assert table["kind"].tolist() == ["team"] * 4 + ["unowned", "customer"]
    assert (table["n"] == 2).all()
    assert table.loc["retail", "estimate"] == pytest.approx(1.0 / 24)
    assert table.loc["customer end-to-end", "estimate"] == pytest.approx((104 / 24 + 9) / 2)
    j4_unowned = story.loc["J4", "unowned_hours"]
    assert table.loc["hand-offs (unowned)", "estimate"] == pytest.approx(
        (89.0 + j4_unowned) / 2 / 24)
    small = summaries.clock_comparison(story.reset_index(), spec, min_group_size=3)
    assert small["suppressed"].all()


# --- stages logged out of order are a finding, never a zero -----------------------------------

TWO_TEAMS = _spec(start="a1", end="b2", teams=[{"team": "A", "from": "a1", "to": "a2"},
                                              {"team": "B", "from": "b1", "to": "b2"}])
OUT_OF_ORDER = events(
    ("J1", "C", "a1", "2026-01-01T00:00:00Z", "s"),   # in order: A 2 h, B 3 h, 1 h unowned
    ("J1", "C", "a2", "2026-01-01T02:00:00Z", "s"),
    ("J1", "C", "b1", "2026-01-01T03:00:00Z", "t"),
    ("J1", "C", "b2", "2026-01-01T06:00:00Z", "t"),
    ("J2", "C", "a2", "2026-01-01T00:30:00Z", "s"),   # A's end stamped before its start
    ("J2", "C", "a1", "2026-01-01T01:00:00Z", "s"),
    ("J2", "C", "b1", "2026-01-01T03:00:00Z", "t"),
    ("J2", "C", "b2", "2026-01-01T04:00:00Z", "t"))


def test_a_stage_ended_before_it_started_has_no_clock_and_is_counted():
    table = J.build_journeys(OUT_OF_ORDER, TWO_TEAMS, AS_OF).set_index("journey_id")
    j1, j2 = table.loc["J1"], table.loc["J2"]
    assert (j1["team_A_hours"], j1["team_B_hours"], j1["unowned_hours"]) == (2.0, 3.0, 1.0)
    assert j1["stages_out_of_order"] == 0 and not j1["team_A_reversed"]
    assert bool(j2["team_A_reversed"]) and not j2["team_B_reversed"]
    assert pd.isna(j2["team_A_hours"]) and j2["team_B_hours"] == 1.0  # not 0 h: not measurable
    assert pd.isna(j2["unowned_hours"]) and j2["stages_out_of_order"] == 1
    assert j2["e2e_hours"] == 3.0  # the customer's clock is still known
    found = summaries.out_of_order_stages(table.reset_index(), TWO_TEAMS).set_index("team")
    assert found.loc["A", ["journeys", "share", "example_journeys"]].tolist() == [1, 0.5, "J2"]
    assert found.loc["B", "journeys"] == 0 and found.loc["A", "stage"] == "a1 → a2"
    clocks = summaries.clock_comparison(table.reset_index(), TWO_TEAMS, min_group_size=1)
    assert clocks.set_index("clock").loc["A", "n"] == 1  # only the measurable journey


def test_a_transition_against_the_process_order_is_marked_not_read_as_a_handoff():
    table = process.bottlenecks(OUT_OF_ORDER, TWO_TEAMS, AS_OF, min_group_size=1)
    flagged = table[table["against_process_order"]]
    assert flagged[["from_activity", "to_activity"]].values.tolist() == [["a2", "a1"]]
    assert flagged["handoff"].isna().all()
    handoff = table.set_index(["from_activity", "to_activity"]).loc[("a2", "b1")]
    assert handoff["handoff"] == "A → B" and not handoff["against_process_order"]


def test_a_stage_that_ends_again_after_its_start_is_measured():
    log = events(("J", "C", "a2", "2026-01-01T00:00:00Z", "s"),  # an end left from before
                 ("J", "C", "a1", "2026-01-01T01:00:00Z", "s"),
                 ("J", "C", "a2", "2026-01-01T04:00:00Z", "s"),
                 ("J", "C", "b2", "2026-01-01T05:00:00Z", "t"))
    row = J.build_journeys(log, TWO_TEAMS, AS_OF).iloc[0]
    assert not row["team_A_reversed"] and row["team_A_hours"] == 3.0


def test_a_reversed_stage_on_a_business_calendar_has_no_clock_either():
    spec = _spec(start="a1", end="b2",
                 calendars={"always": {"hours": "00:00-23:59", "days": [
                     "mon", "tue", "wed", "thu", "fri", "sat", "sun"]}},
                 teams=[{"team": "A", "from": "a1", "to": "a2", "calendar": "always"},
                        {"team": "B", "from": "b1", "to": "b2"}])
    table = J.build_journeys(OUT_OF_ORDER, spec, AS_OF).set_index("journey_id")
    assert pd.isna(table.loc["J2", "team_A_hours"])
    assert table.loc["J1", "team_A_hours"] == pytest.approx(2.0)


def test_promise_outcomes_tell_late_from_never(story, spec):
    table = summaries.promise_outcomes(story.reset_index(), spec, min_group_size=1)
    within = table[table["promise"] == "live_within_7_days"].set_index("outcome")
    # J1 kept; J4 went live 9 days after the order (late); J2 open; J3 cancelled
    assert within["journeys"].to_dict() == {"kept": 1, "done late": 1,
                                            "not done by the deadline": 0,
                                            "still undecided": 1, "not applicable": 1}
    window = table[table["promise"] == "technician_in_window"].set_index("outcome")
    assert window.loc["done late", "journeys"] == 1 and window.loc["kept", "journeys"] == 1
    assert "done early" in window.index and "done early" not in within.index
    assert within["share"].sum() == pytest.approx(1.0)
    assert summaries.promise_outcomes(story.reset_index(), spec)["suppressed"].all()  # all below 5


def test_a_deadline_passed_without_the_event_is_not_done_not_late():
    spec = _spec(start="a", end="z", promises=[
        {"name": "p", "from": "a", "to": "done", "within": "1d"}])
    log = events(("J1", "C", "a", "2026-01-01T00:00:00Z", "s"),
                 ("J1", "C", "done", "2026-01-03T00:00:00Z", "s"),   # late
                 ("J2", "C", "a", "2026-01-01T00:00:00Z", "s"),
                 ("J2", "C", "z", "2026-01-05T00:00:00Z", "s"))      # closed, never done
    journeys = J.build_journeys(log, spec, AS_OF)
    assert journeys["promise_p_done"].tolist() == [True, False]
    outcomes = summaries.promise_outcomes(journeys, spec, min_group_size=1).set_index("outcome")
    assert outcomes.loc["done late", "journeys"] == 1
    assert outcomes.loc["not done by the deadline", "journeys"] == 1


def test_promise_margin_is_when_the_event_happened_relative_to_the_deadline(story):
    # J1 went live 104 h after the order (7 days = 168 h): 64 h early; J4 after 9 days: 48 h late
    assert story.loc["J1", "promise_live_within_7_days_margin_hours"] == pytest.approx(-64.0)
    assert story.loc["J4", "promise_live_within_7_days_margin_hours"] == pytest.approx(48.0)
    assert pd.isna(story.loc["J2", "promise_live_within_7_days_margin_hours"])  # not yet
    # J4's technician came 1.5 h after the window closed; J1's 3 h before it closed
    assert story.loc["J4", "promise_technician_in_window_margin_hours"] == pytest.approx(1.5)
    assert story.loc["J1", "promise_technician_in_window_margin_hours"] == pytest.approx(-3.0)


def test_a_clock_that_cannot_be_measured_is_neither_green_nor_red():
    spec = _spec(start="a1", end="b2",
                 promises=[{"name": "p", "from": "a1", "to": "b2", "within": "5h"}],
                 teams=[{"team": "A", "from": "a1", "to": "a2", "target": "3h"},
                        {"team": "B", "from": "b1", "to": "b2", "target": "4h"}])
    table = J.build_journeys(OUT_OF_ORDER, spec, AS_OF)  # J2's stage A is out of order
    kpis = summaries.kpi_disconnect(table, spec, min_group_size=1).set_index("team")
    assert kpis.loc["A", "team_green"] == 1.0  # J1 only: J2's A clock is not measurable
    assert kpis.loc["B", "team_green"] == 1.0 and kpis.loc["all teams", "team_green"] == 1.0
    assert kpis.loc["A", "n"] == 1 and kpis.loc["B", "n"] == 2  # green journeys
    assert kpis.loc["B", "estimate"] == 0.5  # J1 took 6 h: its 5-hour promise broke anyway


def test_every_promise_column_of_the_journey_table_is_read_back_as_its_promise(story, spec):
    assert promise_names(story.columns) == [p.name for p in spec.promises]


def test_an_activity_instance_opens_an_interval_when_work_began_and_closes_it_when_done():
    spec = _spec(start="apply", end="decide",
                 teams=[{"team": "desk", "from": "review", "to": "decide"}],
                 promises=[{"name": "fast", "from": "review", "to": "decide", "within": "2h"}])
    log = events(("J", "C", "apply", "2026-01-01T09:00:00Z", "s"),
                 ("J", "C", "review", "2026-01-01T12:00:00Z", "s"),
                 ("J", "C", "decide", "2026-01-01T13:00:00Z", "s"))
    log["activity_start_ts"] = pd.to_datetime(
        ["2026-01-01T08:00:00Z", "2026-01-01T10:30:00Z", "2026-01-01T12:30:00Z"], utc=True)
    row = J.build_journeys(log, spec, AS_OF).iloc[0]
    assert row["start_ts"] == pd.Timestamp("2026-01-01T08:00:00Z")  # applying began at 8
    assert row["e2e_hours"] == 5.0
    assert row["team_desk_hours"] == 2.5  # from when the review began to the decision
    assert row["unowned_hours"] == 2.5
    assert row["promise_fast"] == "breached" and row["promise_fast_late_hours"] == 0.5
    # the longest wait runs from one completion to the next start: 09:00 → 10:30
    assert row["longest_wait_hours"] == 1.5
    waits = process.activity_waits(log, spec, AS_OF).set_index("activity")["mean_hours"]
    assert waits.to_dict() == {"review": 1.5, "decide": 0.5}
    without = J.build_journeys(log.drop(columns="activity_start_ts"), spec, AS_OF).iloc[0]
    assert (without["e2e_hours"], without["team_desk_hours"]) == (4.0, 1.0)


def test_the_stages_the_demo_logs_out_of_order_are_exactly_the_ones_flagged(ci_journeys, spec,
                                                                            demo_ci):
    planted = set(read_truth(demo_ci)["backoffice_out_of_order"])
    assert len(planted) > 10
    flagged = ci_journeys[ci_journeys["team_backoffice_reversed"]]
    assert set(flagged["journey_id"]) == planted
    assert flagged["team_backoffice_hours"].isna().all() and flagged["unowned_hours"].isna().all()
    found = summaries.out_of_order_stages(ci_journeys, spec).set_index("team")
    assert found.loc["backoffice", "journeys"] == len(planted)
    assert (found.drop(index="backoffice")["journeys"] == 0).all()


def test_completion_curves_step_down_per_completion_and_hide_small_groups():
    journeys = pd.DataFrame({
        "region": ["A"] * 5 + ["B"] * 2,
        "status": ["complete", "complete", "open", "complete", "abandoned", "complete", "open"],
        "e2e_days": [1.0, 2.0, 2.5, 4.0, 0.5, 1.0, 3.0]})
    curve = summaries.completion_curve(journeys, by="region", min_group_size=3)
    a = curve[curve["region"] == "A"]
    # 4 live journeys: one done by day 1, one by day 2, one censored at 2.5, the last at 4
    assert a["day"].tolist() == [0.0, 1.0, 2.0, 4.0]
    assert a["share_waiting"].tolist() == pytest.approx([1.0, 0.75, 0.5, 0.0])
    assert (a["n"] == 4).all() and not a["suppressed"].any()
    b = curve[curve["region"] == "B"]
    assert len(b) == 1 and b["suppressed"].all() and b["share_waiting"].isna().all()


def test_steps_at_the_same_moment_follow_the_spec_then_the_name_not_the_input_row():
    """The tie-break — spec order, then activity name, then input row — in a path."""
    spec = _spec(start="s", end="e", activity_order=["m"])
    log = events(("J", "C", "s", "2026-01-01T00:00:00Z", "x"),
                 ("J", "C", "b", "2026-01-01T01:00:00Z", "x"),  # rows: b, a, m at one moment
                 ("J", "C", "a", "2026-01-01T01:00:00Z", "x"),
                 ("J", "C", "m", "2026-01-01T01:00:00Z", "x"),
                 ("J", "C", "e", "2026-01-01T03:00:00Z", "x"))
    paths = process.variants(log, spec, AS_OF, min_group_size=1)
    assert paths["path"].tolist() == ["s → m → a → b → e"]


def test_events_without_an_activity_are_refused_not_dropped():
    log = events(("J", "C", "s", "2026-01-01T00:00:00Z", "x"),
                 ("J", "C", "e", "2026-01-01T03:00:00Z", "x"))
    log.loc[1, "activity"] = None
    with pytest.raises(ValueError, match="events without an activity"):
        J.build_journeys(log, _spec(start="s", end="e"), AS_OF)
