"""What a report says when one of its sections does not apply to a spec or its data."""

import ibis
import pandas as pd
import pytest

import cxlib
from cxlib import journeys as J
from cxlib.config import JourneySpec
from cxlib.engines import to_frame
from cxlib.io import load_dataset
from cxlib.workbench import Workbench
from tests.conftest import AS_OF, ROOT


def _bench(spec: dict, statuses=("complete",), csat=(4,)) -> Workbench:
    return Workbench(dataset=None, spec=JourneySpec.model_validate({"journey": "j", **spec}),
                     as_of=None, journeys=pd.DataFrame({"status": list(statuses)}),
                     behaviour=pd.DataFrame(),
                     surveys=pd.DataFrame({"csat": list(csat), "nps": None, "ces": None}))


def test_a_bare_spec_explains_every_section_it_lacks():
    bare = _bench({}, statuses=("open",), csat=(None,))
    for section, words in [("team_clocks", "no team clocks"), ("promises", "no promises"),
                           ("team_targets", "0 target(s) and 0 `within` promise(s)"),
                           ("window_promises", "no window promise"),
                           ("customer_time", "customer's own time"),
                           ("behaviour", "no `behaviour:` section"),
                           ("surveys", "no survey answers"),
                           ("completed", "No journey is complete")]:
        assert words in bare.missing(section), section
    with pytest.raises(ValueError, match="unknown report section 'teams'"):
        bare.missing("teams")


def test_a_full_spec_lacks_nothing():
    full = _bench({"start": "a", "end": "z",
                   "teams": [{"team": "t", "from": "a", "to": "b", "target": "1d"}],
                   "promises": [{"name": "p", "from": "a", "to": "z", "within": "2d"},
                                {"name": "w", "event": "e", "after": "o", "before": "c"}],
                   "customer_time": [{"name": "hold", "from": "q", "to": "r"}],
                   "behaviour": {"booking": "bk", "slot": "s"}})
    for section in ("team_clocks", "team_targets", "promises", "window_promises",
                    "customer_time", "behaviour", "surveys", "completed"):
        assert full.missing(section) == "" and full.applies(section), section
    targetless = _bench({"teams": [{"team": "t", "from": "a", "to": "b"}],
                         "promises": [{"name": "p", "from": "a", "to": "z", "within": "2d"}]})
    assert "0 target(s) and 1 `within` promise(s)" in targetless.missing("team_targets")
    assert not targetless.applies("team_targets")


def test_without_journeys_a_named_wait_carries_the_satisfaction_sections():
    bench = _bench({})
    assert "no measured wait" in bench.missing("wait")  # e2e_days is not among the answers
    timed = Workbench(**{**bench.__dict__, "surveys": pd.DataFrame(
        {"csat": [4], "nps": None, "ces": None, "delay_minutes": [12.0]}),
        "wait": "delay_minutes", "said": set()})
    assert timed.missing("wait") == ""


def test_a_reason_is_said_once_per_report():
    bench = _bench({})
    assert not bench.applies("team_clocks") and not bench.applies("team_clocks")
    assert bench.said == {bench.missing("team_clocks")}


def test_a_build_reads_back_as_the_workbench_it_was(tmp_path, demo_ci, monkeypatch):
    from cxlib import workbench as W

    built = W.build_workbench(demo_ci, ROOT / "params/journeys/broadband.yaml", AS_OF,
                              tmp_path / "build")
    monkeypatch.setattr(W, "build_workbench", _never)  # opening a build computes nothing
    opened = W.open_workbench("unused", "unused", AS_OF, build_dir=tmp_path / "build")
    for name in ("journeys", "behaviour", "surveys"):
        pd.testing.assert_frame_equal(getattr(opened, name), getattr(built, name))
    for name in ("surveys", "customers", "quality", "quarantine"):
        pd.testing.assert_frame_equal(getattr(opened.dataset, name), getattr(built.dataset, name),
                                      check_dtype=name != "quarantine")  # text as text
    # the events stay in DuckDB over the build's file: exactly the contract's clean events
    contract = load_dataset(demo_ci).events
    for events in (opened.dataset.events, built.dataset.events):
        assert isinstance(events, ibis.expr.types.Table)
        in_build = to_frame(events).sort_values("source_row", ignore_index=True)
        pd.testing.assert_frame_equal(in_build[contract.columns], contract, check_dtype=False)
    assert opened.spec == built.spec and opened.as_of == built.as_of
    # the events attributed to journeys, kept once: what attributing the clean events gives
    attributed, bounds = J.journey_events_expr(contract, built.spec, AS_OF)
    for bench in (opened, built):  # one DuckDB connection (and memory budget) per workbench
        assert ibis.get_backend(bench.journey_events.events) is \
            ibis.get_backend(bench.dataset.events)
    for kept in (opened.journey_events, built.journey_events):
        for table, expected in ((kept.events, attributed), (kept.bounds, bounds)):
            found, expected = to_frame(table), to_frame(expected)
            order = ["journey_id", "source_row"] if "source_row" in found else ["journey_id"]
            pd.testing.assert_frame_equal(found.sort_values(order, ignore_index=True),
                                          expected.sort_values(order, ignore_index=True),
                                          check_dtype=False)
    north = W.open_workbench("unused", "unused", AS_OF, build_dir=tmp_path / "build",
                             region="North")
    assert len(north.journeys) == (built.journeys["region"] == "North").sum() > 0


def test_a_regional_report_sees_only_its_own_customers_events(tmp_path, demo_ci):
    from cxlib import process
    from cxlib import workbench as W

    spec = ROOT / "params/journeys/broadband.yaml"
    W.build_workbench(demo_ci, spec, AS_OF, tmp_path / "build")
    whole = W.open_workbench("unused", spec, AS_OF, build_dir=tmp_path / "build")
    events = to_frame(whole.dataset.events)
    region_of = whole.dataset.customers.set_index("customer_id")["region"]
    for region in ("North", "South"):
        regional = W.open_workbench("unused", spec, AS_OF, build_dir=tmp_path / "build",
                                    region=region)
        own = events[events["customer_id"].map(region_of) == region]
        assert 0 < len(own) < len(events)
        assert to_frame(regional.dataset.events)["source_row"].sort_values().tolist() == \
            own["source_row"].sort_values().tolist()
        # the region's hand-offs, not the whole company's (they were, before 2026-12-04),
        # from its events and from its journey events as the build kept them
        expected = process.bottlenecks(own, whole.spec, AS_OF, whole.spec.milestones(),
                                       min_group_size=1)
        for source in (regional.dataset.events, regional.journey_events):
            pd.testing.assert_frame_equal(
                process.bottlenecks(source, whole.spec, AS_OF, whole.spec.milestones(),
                                    min_group_size=1), expected, check_exact=True)
        bounds = to_frame(regional.journey_events.bounds)
        assert set(bounds["customer_id"].map(region_of)) == {region}


def test_outside_a_run_a_second_open_reads_the_cached_build(tmp_path, demo_ci, monkeypatch):
    import shutil

    from cxlib import workbench as W

    monkeypatch.setattr(W, "CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "data"
    shutil.copytree(demo_ci, data)
    spec = ROOT / "params/journeys/broadband.yaml"
    first = W.open_workbench(data, spec, AS_OF)
    monkeypatch.setattr(W, "build_workbench", _never)
    again = W.open_workbench(data, spec, AS_OF, region="East")  # any region: one build
    assert set(again.journeys["journey_id"]) < set(first.journeys["journey_id"])
    with pytest.raises(AssertionError, match="built again"):  # a new cut-off is a new build
        W.open_workbench(data, spec, "2026-06-01T00:00:00Z")
    (data / "customers.parquet").write_bytes((data / "customers.parquet").read_bytes() + b"\n")
    with pytest.raises(AssertionError, match="built again"):  # so is changed data
        W.open_workbench(data, spec, AS_OF)


def test_the_cache_forgets_builds_unused_for_an_hour_beyond_the_last_eight(tmp_path):
    import os
    import time

    from cxlib import workbench as W

    now = time.time()
    used = {f"b{i}": now - 60 * i for i in range(9)} | {"b9": now - 3 * 3600}
    for name, when in used.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / W.BUILD_INFO).write_text("{}")
        os.utime(tmp_path / name / W.BUILD_INFO, (when, when))
    (tmp_path / "stray").mkdir()  # not a whole build: never opened
    W._forget_unused_builds(tmp_path)
    # b8 is ninth by last use but was opened 8 minutes ago: a session may still query it
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"b{i}" for i in range(9)]


def test_opening_a_cached_build_marks_it_used(tmp_path, demo_ci, monkeypatch):
    import os

    from cxlib import workbench as W

    monkeypatch.setattr(W, "CACHE_DIR", str(tmp_path / "cache"))
    spec = ROOT / "params/journeys/broadband.yaml"
    W.open_workbench(demo_ci, spec, AS_OF)
    (info,) = (tmp_path / "cache").glob(f"*/{W.BUILD_INFO}")
    os.utime(info, (1e9, 1e9))  # opened long ago
    W.open_workbench(demo_ci, spec, AS_OF)
    assert info.stat().st_mtime > 1e9 + 3600


def _never(*args, **kwargs):
    raise AssertionError("built again")


def test_a_build_cached_by_other_code_is_never_served(tmp_path, demo_ci, monkeypatch):
    from cxlib import workbench as W

    monkeypatch.setattr(W, "CACHE_DIR", str(tmp_path / "cache"))
    spec = ROOT / "params/journeys/broadband.yaml"
    W.open_workbench(demo_ci, spec, AS_OF)
    monkeypatch.setattr(cxlib, "code_fingerprint", lambda: "a newer cxlib")
    monkeypatch.setattr(W, "build_workbench", _never)
    with pytest.raises(AssertionError, match="built again"):
        W.open_workbench(demo_ci, spec, AS_OF)


def test_the_header_names_the_journey_the_cut_off_and_the_counts():
    from datetime import UTC, datetime

    bench = _bench({"title": "Getting connected"}, statuses=("complete",) * 1200,
                   csat=(4,) * 3)
    bench = Workbench(**{**bench.__dict__, "as_of": datetime(2026, 7, 1, tzinfo=UTC),
                         "said": set()})
    assert bench.header() == ("**Getting connected** · cut-off 2026-07-01 00:00 UTC · "
                              "1,200 journeys · 3 survey answers")


def test_opening_a_build_imports_no_model_library():
    import subprocess
    import sys

    code = ("import sys; from cxlib.workbench import open_workbench, read_build; "
            "print(sorted(m for m in ('statsmodels', 'sklearn') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT).stdout.strip()
    assert loaded == "[]"  # every report notebook opens the run's build; only the build fits


HOLDER = """
import sys, time
from pathlib import Path
from cxlib import workbench as W
W._hold(Path(sys.argv[1]))
print("held", flush=True)
time.sleep(600)
"""


def test_a_build_held_open_by_a_live_session_is_kept_however_long_it_idles(tmp_path):
    """A JupyterLab kernel idle for hours still queries its build's event files."""
    import os
    import subprocess
    import sys
    import time

    from cxlib import workbench as W

    long_ago = time.time() - 3 * 3600
    for i in range(W.KEEP_CACHED + 2):
        (tmp_path / f"b{i}").mkdir()
        (tmp_path / f"b{i}" / W.BUILD_INFO).write_text("{}")
        os.utime(tmp_path / f"b{i}" / W.BUILD_INFO, (long_ago + i, long_ago + i))
    # b0 and b1 are the two least recently opened; a live process holds b0 open
    session = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "b0")],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert session.stdout.readline().strip() == "held"
        W._forget_unused_builds(tmp_path)
        assert (tmp_path / "b0").is_dir() and not (tmp_path / "b1").exists()
    finally:
        session.kill()
        session.wait()
    W._forget_unused_builds(tmp_path)  # the session has ended: nothing holds it any more
    assert not (tmp_path / "b0").exists()
    assert len(list(tmp_path.iterdir())) == W.KEEP_CACHED


def test_this_process_holds_the_builds_it_opens_and_a_rebuilt_one_again(tmp_path, demo_ci,
                                                                        monkeypatch):
    from cxlib import workbench as W

    monkeypatch.setattr(W, "CACHE_DIR", str(tmp_path / "cache"))
    spec = ROOT / "params/journeys/broadband.yaml"
    W.open_workbench(demo_ci, spec, AS_OF)
    (build,) = (tmp_path / "cache").iterdir()
    assert W._held_open(build)
    W.open_workbench(demo_ci, spec, AS_OF, cache=False)  # built again: a new folder
    assert W._held_open(build)
