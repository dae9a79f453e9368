import hashlib
import json

from cxlib.io import load_dataset
from cxlib.synth import SEGMENTS, generate, write_demo


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_gives_byte_identical_files(tmp_path):
    a = write_demo(tmp_path / "a", customers=300, seed=11)
    b = write_demo(tmp_path / "b", customers=300, seed=11)
    c = write_demo(tmp_path / "c", customers=300, seed=12)
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)
    assert set(_digest(a)) == {"events.parquet", "surveys.parquet", "customers.parquet",
                               "truth.json"}


def test_truth_lists_every_customer_segment_and_planted_parameters(demo_ci):
    truth = json.loads((demo_ci / "truth.json").read_text())
    customers = load_dataset(demo_ci).customers
    assert set(truth["segment_of_customer"]) == set(customers["customer_id"])
    assert set(truth["segment_of_customer"].values()) == set(SEGMENTS)
    for name in SEGMENTS:
        seg = truth["world"]["segments"][name]
        assert {"threshold_days", "slope_per_day", "queue_patience_min"} <= set(seg)
    assert truth["world"]["window_breach_penalty"] > 0
    assert truth["world"]["segments"]["informed_waiters"]["informed_softening"] > 0


def test_the_world_has_what_the_issue_asks_for(ci_dataset):
    ev = ci_dataset.events
    assert ev["source"].nunique() >= 4
    acts = set(ev["activity"])
    for needed in ("window_start", "technician_arrived", "visit_missed", "call_abandoned",
                   "chat_started", "update_sent", "order_cancelled"):
        assert needed in acts
    calls = ev[ev["activity"] == "call_queued"]
    assert calls["journey_id"].isna().all()  # contacts come without a journey id
    assert ev["ts"].max() <= __import__("pandas").Timestamp("2026-07-01", tz="UTC")
    span_days = (ev["ts"].max() - ev["ts"].min()).days
    assert 150 <= span_days <= 185  # about six months


def test_about_a_third_of_finished_journeys_answer_a_survey():
    data = generate(customers=3000, seed=5, dirty=False)
    finished = data.events.loc[data.events["activity"] == "service_active", "journey_id"].nunique()
    assert 0.25 < len(data.surveys) / finished < 0.40
    s = data.surveys
    assert s["csat"].dropna().between(1, 5).all() and s["nps"].dropna().between(0, 10).all()
    assert s["ces"].dropna().between(1, 7).all()
    assert s["csat"].isna().any() and s["comment"].isna().any()


def test_some_journeys_are_still_open_at_the_cutoff(demo_ci):
    truth = json.loads((demo_ci / "truth.json").read_text())
    assert truth["open_journeys_at_cutoff"] > 0 and truth["cancelled_journeys"] > 0
