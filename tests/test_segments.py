import json

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import adjusted_rand_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from cxlib import journeys as J
from cxlib import segments as S
from cxlib.mixture import LatentClassMixture
from cxlib.synth_ceiling import agreement_with_ceiling
from tests.conftest import AS_OF


@pytest.fixture(scope="module")
def features(ci_dataset, spec):
    journeys = J.build_journeys(ci_dataset.events, spec, AS_OF)
    return S.behaviour_features(ci_dataset.events, journeys, spec, AS_OF)


def test_features_are_one_row_per_customer_and_missing_means_not_shown(features, ci_dataset):
    assert features["customer_id"].is_unique
    assert len(features) == ci_dataset.events["journey_id"].dropna().nunique()
    assert features["digital_share"].isna().any()  # customers who never made contact
    assert features["digital_share"].dropna().between(0, 1).all()
    assert (features["slot_lead_days"].dropna() > 0).all()


def test_estimator_contract(features):
    seg = S.TimeSensitivitySegmenter(random_state=0)
    assert seg.get_params() == {"n_segments": 3, "layout": None, "n_init": 3,
                                "max_fit_rows": 100_000, "random_state": 0}
    with pytest.raises(NotFittedError):
        seg.predict(features)
    assert seg.fit(features) is seg
    again = S.TimeSensitivitySegmenter(random_state=0).fit(features)
    assert (seg.predict(features) == again.predict(features)).all()
    assert sorted(seg.segment_names_) == sorted(S.SEGMENT_NAMES)
    assert seg.n_segments_ == 3 and len(seg.labels_) == len(features)


def test_composes_in_a_pipeline(features):
    pipe = make_pipeline(FunctionTransformer(lambda d: d), S.TimeSensitivitySegmenter())
    labels = pipe.fit(features).predict(features)
    assert set(labels) == set(S.SEGMENT_NAMES)


def test_segments_recover_the_planted_truth(features, demo_ci):
    truth = json.loads((demo_ci / "truth.json").read_text())["segment_of_customer"]
    learned = features.assign(segment=S.TimeSensitivitySegmenter(random_state=0)
                              .fit_predict(features))
    check = S.agreement(learned, truth).iloc[0]
    assert check["customers"] == len(features)
    assert check["share_correct"] >= 0.88  # measured 0.90 on ci, 0.91 on the default demo
    assert check["adjusted_rand_index"] >= 0.7  # 0.74 on ci (k-means on three features: 0.6)
    # each learned name is the majority truth of its cluster
    confusion = pd.crosstab(learned["segment"], learned["customer_id"].map(truth))
    assert (confusion.idxmax(axis=1) == confusion.index).all()


def test_features_split_waiting_by_informed_and_count_each_contact_once(features):
    for what in ("status_checks", "contacts_reached", "waiting_days"):
        both = features[[f"{what}_informed", f"{what}_uninformed"]]
        assert ((both == 0).any(axis=1)).all()  # one journey per customer: one of the two
    assert (features["contacts"] == features["digital_contacts"]
            + features["phone_contacts"]).all()
    assert (features["took_walkthrough"] <= features["offered_walkthrough"]).all()
    assert "took_on_call" not in features  # a call is not a step taken once: only its minutes
    assert features["on_call_minutes_each"].isna().any()  # never talked to anyone
    checks = features["status_checks_informed"] + features["status_checks_uninformed"]
    days = (features["waiting_days_informed"] + features["waiting_days_uninformed"]).clip(lower=1)
    np.testing.assert_allclose(checks / days, features["status_checks_per_day"])


def test_a_stray_repeat_of_a_once_taken_step_keeps_it_a_choice(ci_dataset, spec):
    """One journey logging its walkthrough twice must not drop the walkthrough feature."""
    events = ci_dataset.events
    walk = events[events["activity"] == "walkthrough_started"]
    repeat = walk.head(1).assign(ts=walk["ts"].iloc[0] + pd.Timedelta(minutes=1),
                                 source_row=events["source_row"].max() + 1)
    more = pd.concat([events, repeat], ignore_index=True)
    features = S.behaviour_features(more, J.build_journeys(more, spec, AS_OF), spec, AS_OF)
    assert "took_walkthrough" in features
    assert ("took_walkthrough", "offered_walkthrough") in S.behaviour_layout(features).shares


def test_a_large_table_is_fitted_on_a_sample_and_every_customer_assigned(features):
    full = S.TimeSensitivitySegmenter(random_state=0).fit(features)
    sampled = S.TimeSensitivitySegmenter(max_fit_rows=1000, random_state=0).fit(features)
    assert len(sampled.labels_) == len(features)
    assert (sampled.labels_ == sampled.mixture_.predict(features)).all()
    assert adjusted_rand_score(full.labels_, sampled.labels_) > 0.85


def test_the_layout_reads_every_behaviour_the_spec_exposes(features):
    layout = S.behaviour_layout(features)
    assert layout.durations == ("slot_lead_days", "on_call_minutes_each",
                                "walkthrough_minutes_each")
    assert ("took_walkthrough", "offered_walkthrough") in layout.shares
    assert ("digital_contacts", "contacts") in layout.shares
    assert len(layout.rates) == 4
    no_updates = features.assign(waiting_days_informed=0)  # a company that sends no updates
    assert len(S.behaviour_layout(no_updates).rates) == 2


def test_a_wrong_feature_table_is_refused(features):
    with pytest.raises(ValueError, match="missing behaviour feature"):
        S.TimeSensitivitySegmenter().fit(features.drop(columns=["slot_lead_days"]))


def test_log_scaler_is_unit_free():
    X = np.array([[1.0, 1000.0], [2.0, 2000.0], [4.0, 4000.0]])
    out = S.LogScaler().fit(X).transform(X)
    np.testing.assert_allclose(out[:, 0], out[:, 1])


def test_profile_is_tidy_with_interval_and_n(features):
    table = S.segment_profile(features.assign(segment="all"), min_group_size=5)
    assert set(table["feature"]) == set(S.FEATURES)
    assert {"estimate", "ci_low", "ci_high", "n", "suppressed"} <= set(table.columns)


def test_segment_sizes_count_every_customer_once():
    learned = pd.DataFrame({"customer_id": list("abcde"),
                            "segment": ["time_savers", "informed_waiters", "time_savers",
                                        "time_engagers", "time_savers"]})
    sizes = S.segment_sizes(learned)
    assert sizes.values.tolist() == [["informed_waiters", 1, 0.2], ["time_engagers", 1, 0.2],
                                     ["time_savers", 3, 0.6]]


@pytest.fixture(scope="module")
def features_full(full_world, spec):
    return S.behaviour_features(full_world.data.events, full_world.journeys, spec, AS_OF)


def test_auto_chooses_the_planted_number_of_segments_and_says_why(features_full):
    seg = S.TimeSensitivitySegmenter(n_segments="auto").fit(features_full)
    assert seg.n_segments_ == 3  # the demo plants three
    table = seg.selection_.set_index("k")
    assert list(table.index) == list(S.AUTO_K) and table["chosen"].sum() == 1
    assert table["icl"].idxmin() == 3 and (table["icl"] >= table["bic"]).all()
    assert "lowest ICL" in table.loc[3, "why"]
    with pytest.raises(ValueError, match="'auto'"):
        S.TimeSensitivitySegmenter(n_segments="many").fit(features_full)


def test_learned_segments_come_within_a_few_percent_of_the_ceiling(features_full, full_world):
    """The ceiling (the true model as classifier) is below the issue's 0.8: see synth_ceiling."""
    learned = features_full.assign(segment=S.TimeSensitivitySegmenter(random_state=0)
                                   .fit_predict(features_full))
    table = agreement_with_ceiling(learned, full_world.data.events, full_world.truth,
                                   AS_OF).set_index("segments")
    learned_ari = table.loc["learned from behaviour", "adjusted_rand_index"]
    ceiling_ari = table.loc["ceiling: the true model", "adjusted_rand_index"]
    assert learned_ari >= 0.97 * ceiling_ari  # measured 0.756 against 0.766
    assert learned_ari >= 0.74
    assert (table["customers"] >= 0.99 * len(features_full)).all()


def test_segments_are_stable_across_bootstrap_resamples(features_full):
    segmented = features_full.assign(
        segment=S.TimeSensitivitySegmenter(random_state=0).fit_predict(features_full))
    found = S.segment_stability(segmented, n_boot=10)
    assert found["min_ari"] >= 0.9 and found["n_boot"] == 10  # the target: >= 0.9


def test_stability_refits_draw_at_most_the_sample_size(features_full, monkeypatch):
    """On a large customer base each refit takes a bounded resample, yet predicts everyone."""
    segmented = features_full.assign(
        segment=S.TimeSensitivitySegmenter(random_state=0).fit_predict(features_full))
    fitted, predicted = [], []
    mixture = LatentClassMixture
    fit, predict = mixture.fit, mixture.predict
    monkeypatch.setattr(mixture, "fit", lambda self, X, *a, **k: (fitted.append(len(X)),
                                                                  fit(self, X, *a, **k))[1])
    monkeypatch.setattr(mixture, "predict", lambda self, X: (predicted.append(len(X)),
                                                            predict(self, X))[1])
    found = S.segment_stability(segmented, n_boot=2, sample=800)
    assert fitted == [800, 800] and set(predicted) == {len(features_full)}
    assert len(features_full) > 800
    assert found["min_ari"] >= 0.5  # 800 customers still find the same segments, roughly
