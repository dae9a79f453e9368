
import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from cxlib import satisfaction as Sat
from cxlib.answer_summaries import score_by_band
from cxlib.io import load_dataset
from cxlib.survey_links import link_summary, survey_journeys
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def answers(full_world):
    """Survey answers joined to journeys, with each customer's *true* segment."""
    w = full_world
    frame = survey_journeys(w.data.surveys, w.journeys, w.data.customers, w.segments)
    frame["window_breached"] = Sat.late_or_missed(frame, "technician_in_window")
    frame["promise_broken"] = (frame["promise_live_within_7_days"] == "breached").astype(float)
    return frame, w.truth["world"]


def test_every_answer_is_kept_and_joined(answers, demo_full):
    frame, _ = answers
    surveys = load_dataset(demo_full).surveys
    assert len(frame) == len(surveys)
    assert frame["e2e_days"].notna().all() and frame["segment"].notna().all()


def test_tolerance_thresholds_recover_the_planted_ones(answers):
    """Each planted threshold lies in its interval, and the segments come out in their order.

    Three segments are checked on one fixed draw, so each interval is taken at 99 % (a 95 %
    interval misses one of three about one draw in seven). On five demo worlds (seeds 1–4, 42)
    the estimates average 4.9, 10.1 and 6.6 days against the planted 5, 10 and 7 (the informed
    waiters' slope is softened for half of them, which the model does not know).
    """
    frame, world = answers
    table = Sat.tolerance_threshold(frame, "csat", by="segment",
                                    controls=("window_breached", "promise_broken"),
                                    level=0.99).set_index("segment")
    for name, planted in world["segments"].items():
        row = table.loc[name]
        assert row["ci_low"] <= planted["threshold_days"] <= row["ci_high"], name
        assert row["slope_after"] > 0
    planted = pd.Series({k: v["threshold_days"] for k, v in world["segments"].items()})
    assert list(table["estimate"].sort_values().index) == list(planted.sort_values().index)


def test_each_day_costs_satisfaction_in_every_segment(answers):
    frame, _ = answers
    for outcome in ("csat", "nps"):
        cost = Sat.cost_per_day(frame, outcome, by="segment")
        assert (cost["ci_low"] > 0).all(), outcome
        assert (cost["p_value"] < 0.001).all()


def test_updates_soften_the_wait_only_where_planted(answers):
    frame, world = answers
    effect = Sat.update_effect(frame, "csat", by="segment").set_index("segment")
    for name, seg in world["segments"].items():
        row = effect.loc[name]
        if seg["informed_softening"] > 0:
            assert row["ci_low"] > 0 and row["p_value"] < 0.001, name
        else:  # three segments on one draw: no effect is "not significant at 1 %"
            assert row["p_value"] > 0.01, name


def test_ordinal_fit_finds_the_day_and_window_penalties(answers):
    frame, _ = answers
    fit = Sat.ordinal_fit(frame, "csat", ("e2e_days", "window_breached"))
    terms = fit.summary.set_index("term")
    assert terms.loc["e2e_days", "ci_high"] < 0
    assert terms.loc["window_breached", "ci_high"] < 0
    assert fit.summary["n"].iloc[0] == frame[["csat", "status"]].dropna().query(
        "status == 'complete'").shape[0]
    assert "Ordinal logit" in fit._repr_html_()


def test_open_journeys_never_enter_duration_models():
    frame = pd.DataFrame({"status": ["complete"] * 40 + ["open"],
                          "e2e_days": list(np.linspace(1, 10, 40)) + [100.0],
                          "csat": [5] * 20 + [3] * 20 + [1]})
    assert Sat.cost_per_day(frame, "csat", by=None)["n"].iloc[0] == 40


def _timed(**columns) -> pd.DataFrame:
    return pd.DataFrame({k: pd.to_datetime(v, utc=True) if k.endswith("ts") else v
                         for k, v in columns.items()})


def test_answers_without_a_journey_id_rate_the_journey_that_ended_last_before_them():
    journeys = _timed(journey_id=["J1", "J2", "J3", "J4"], customer_id=["C1", "C1", "C1", "C2"],
                      start_ts=["2026-01-01", "2026-03-01", "2026-03-15", "2026-01-01"],
                      end_ts=["2026-01-04", "2026-03-10", None, None],
                      cancel_ts=[None, None, None, "2026-01-05"],
                      e2e_days=[3.0, 9.0, None, None],
                      status=["complete", "complete", "open", "abandoned"])
    surveys = _timed(response_id=["R1", "R2", "R3", "R4", "R5"],
                     customer_id=["C1", "C1", "C1", "C2", "C3"],
                     journey_id=pd.Series([None, "J1", None, None, None], dtype="str"),
                     ts=["2026-03-20", "2026-01-10", "2026-06-01", "2026-01-20", "2026-03-01"],
                     csat=[2, 5, 4, 1, 3])
    joined = survey_journeys(surveys, journeys).set_index("response_id")
    # R1: J2 ended on 10 March (J3, started later, is still open); R2 names its journey
    assert joined.loc["R1", ["journey_id", "linked_by"]].tolist() == ["J2", "time"]
    assert joined.loc["R1", "e2e_days"] == 9.0 and joined.loc["R2", "e2e_days"] == 3.0
    assert joined.loc["R2", "linked_by"] == "journey id"
    # R3 came 83 days after J2 ended: beyond the 30-day window, kept but unlinked
    assert joined.loc["R3", "linked_by"] == "none" and pd.isna(joined.loc["R3", "journey_id"])
    # a cancelled journey has ended too; a customer with no journey stays unlinked
    assert joined.loc["R4", ["journey_id", "linked_by"]].tolist() == ["J4", "time"]
    assert joined.loc["R5", "linked_by"] == "none"
    wider = survey_journeys(surveys, journeys, window_days=90).set_index("response_id")
    assert wider.loc["R3", "journey_id"] == "J2"
    summary = link_summary(joined.reset_index()).set_index("linked_by")
    assert summary["answers"].to_dict() == {"journey id": 1, "time": 2, "unknown journey id": 0,
                                            "none": 2, "linked": 3}
    assert summary.loc["linked", "share"] == 0.6


def test_score_summary_suppresses_small_groups(answers):
    frame, _ = answers
    tiny = frame.head(12).assign(segment=["a"] * 9 + ["b"] * 3)
    table = Sat.score_summary(tiny, by="segment", min_group_size=5)
    assert table.loc[table["segment"] == "b", "suppressed"].all()
    assert table.loc[table["segment"] == "b", "estimate"].isna().all()


def test_late_or_missed_marks_only_customers_left_waiting():
    frame = pd.DataFrame({"promise_w_class": ["early", "on_time", "late", "missed", "open",
                                              "not_applicable"]})
    marks = Sat.late_or_missed(frame, "w")
    assert marks.dtype == float and marks.tolist() == [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]


def test_linking_stays_within_the_customer_and_keeps_every_answer():
    journeys = pd.DataFrame({
        "journey_id": ["J1", "J2", "J3"], "customer_id": ["C1", "C1", "C2"],
        "start_ts": pd.to_datetime(["2026-01-01", "2026-03-01", "2026-03-15"], utc=True),
        "end_ts": pd.to_datetime(["2026-01-04", "2026-03-10", "2026-03-19"], utc=True),
        "e2e_days": [3.0, 9.0, 20.0], "status": ["complete"] * 3,
        "promise_p_late_hours": [None, None, 4.0]})  # blank where a promise was kept
    surveys = pd.DataFrame({
        "response_id": ["R4", "R1", "R3", "R2"], "customer_id": ["C3", "C1", "C2", "C1"],
        "journey_id": pd.Series([None, None, "J9", "J1"], dtype="str"),
        "ts": pd.to_datetime(["2026-03-20", "2026-03-20", "2026-03-21", "2026-01-10"], utc=True),
        "csat": [1, 2, 3, 5]})
    customers = pd.DataFrame({"customer_id": ["C1", "C2"], "region": ["North", "East"]})
    segments = pd.DataFrame({"customer_id": ["C1"], "segment": ["time_savers"], "x": [1]})
    joined = survey_journeys(surveys, journeys, customers, segments)
    assert joined["response_id"].tolist() == ["R1", "R2", "R3", "R4"]
    assert joined.index.tolist() == [0, 1, 2, 3]
    by_id = joined.set_index("response_id")
    # R1's customer C1: J2, not C2's J3 that ended later
    assert by_id.loc["R1", "journey_id"] == "J2" and by_id.loc["R1", "e2e_days"] == 9.0
    assert by_id.loc["R1", "start_ts"] == pd.Timestamp("2026-03-01", tz="UTC")
    # an unknown journey id and a customer with no journeys are kept, unlinked
    assert by_id.loc["R3", "journey_id"] == "J9" and pd.isna(by_id.loc["R3", "e2e_days"])
    assert pd.isna(by_id.loc["R4", "e2e_days"]) and pd.isna(by_id.loc["R4", "region"])
    assert by_id["region"].tolist()[:3] == ["North", "North", "East"]
    assert by_id["segment"].tolist()[:2] == ["time_savers"] * 2
    assert "x" not in joined.columns and pd.isna(by_id.loc["R3", "segment"])


def test_cost_per_day_is_the_negated_least_squares_slope_per_group():
    days = np.arange(1.0, 11.0)
    noise = np.array([0.1, -0.2, 0.0, 0.15, -0.1, 0.05, -0.05, 0.2, -0.15, 0.0])
    frame = pd.DataFrame({"segment": ["a"] * 10 + ["b"] * 2 + ["c"] * 3, "status": "complete",
                          "e2e_days": [*days, 1.0, 2.0, 1.0, 2.0, 3.0],
                          "csat": [*(5 - 0.3 * days + noise), 4.0, 3.0, 5.0, 4.0, 2.0]})
    table = Sat.cost_per_day(frame, "csat", by="segment", min_group_size=3).set_index("segment")
    slope, _ = np.polyfit(days, 5 - 0.3 * days + noise, 1)
    a = table.loc["a"]
    assert a["estimate"] == pytest.approx(-slope) and a["n"] == 10 and a["outcome"] == "csat"
    assert a["ci_low"] < a["estimate"] < a["ci_high"] and a["p_value"] < 0.001
    b = table.loc["b"]  # two answers: no slope, and below min_group_size
    assert b["n"] == 2 and b["suppressed"] and np.isnan(b["estimate"])
    assert np.isnan(b["p_value"])
    assert table.loc["c", "estimate"] == pytest.approx(1.5)  # three answers are enough
    overall = Sat.cost_per_day(frame.drop(columns="status"), "csat", by=None, min_group_size=20)
    assert overall["n"].iloc[0] == 15 and overall["suppressed"].iloc[0]


def test_ordinal_fit_reproduces_the_published_copenhagen_housing_fit():
    # MASS::housing; polr(Sat ~ Infl + Type + Cont, weights = Freq) (Venables & Ripley, MASS,
    # 4th ed., §7.3). R's optim stops ~3e-7 short of the optimum for TypeAtrium: the exact
    # maximum (score below 1e-12) is −0.3661864, which R prints as −0.3661866.
    housing = pd.read_csv(ROOT / "tests/data/reference/housing.csv")
    levels = {"Sat": ["Low", "Medium", "High"], "Infl": ["Low", "Medium", "High"],
              "Type": ["Tower", "Apartment", "Atrium", "Terrace"], "Cont": ["Low", "High"]}
    for column, order in levels.items():
        housing[column] = pd.Categorical(housing[column], order, ordered=column == "Sat")
    fit = Sat.ordinal_fit(housing, formula="Sat ~ C(Infl) + C(Type) + C(Cont)", weights="Freq")
    published = {"C(Infl)[T.Medium]": 0.566394, "C(Infl)[T.High]": 1.288819,
                 "C(Type)[T.Apartment]": -0.572350, "C(Type)[T.Terrace]": -1.091015,
                 "C(Cont)[T.High]": 0.360284}
    estimates = fit.summary.set_index("term")["estimate"]
    for term, value in published.items():
        assert round(estimates[term], 6) == value, term
    assert estimates["C(Type)[T.Atrium]"] == pytest.approx(-0.366187, abs=1e-6)
    cuts = Sat.ordinal_thresholds(fit)
    assert cuts.round(6).to_dict() == {"Low|Medium": -0.496135, "Medium|High": 0.690708}
    assert round(-2 * fit.model.llf, 3) == 3479.149
    assert fit.model.mle_retvals["converged"] and housing["Freq"].sum() == 1681
    ses = fit.model.bse  # polr's standard errors: 0.1047, 0.1272, 0.1192, 0.1552, 0.1515, 0.0955
    assert ses.iloc[:6].round(4).tolist() == [0.1047, 0.1272, 0.1192, 0.1552, 0.1515, 0.0955]


def test_a_frequency_weight_counts_an_answer_that_many_times():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"days": rng.uniform(0, 10, 300)})
    frame["score"] = np.clip(np.round(4 - 0.3 * frame["days"] + rng.normal(0, 1, 300)), 1, 5)
    frame["times"] = rng.integers(1, 4, 300)
    weighted = Sat.ordinal_fit(frame, "score", ("days",), weights="times").summary
    repeated = Sat.ordinal_fit(frame.loc[frame.index.repeat(frame["times"])], "score",
                               ("days",)).summary
    assert weighted["estimate"].iloc[0] == pytest.approx(repeated["estimate"].iloc[0], abs=1e-6)
    assert weighted["ci_low"].iloc[0] == pytest.approx(repeated["ci_low"].iloc[0], abs=1e-5)
    assert weighted["n"].iloc[0] == 300 and weighted["estimate"].iloc[0] < 0


def test_ordered_labels_are_an_outcome_in_their_declared_order():
    frame = pd.DataFrame({"delay": [1, 2, 3, 4, 5, 6, 7, 8] * 10})
    labels = np.where(frame["delay"] < 4, "satisfied", "dissatisfied")
    labels[::7] = "dissatisfied"
    frame["answer"] = pd.Categorical(labels, ["dissatisfied", "satisfied"], ordered=True)
    fit = Sat.ordinal_fit(frame, "answer", ("delay",))
    assert fit.summary["estimate"].iloc[0] < 0  # longer delays: less likely satisfied
    assert list(Sat.ordinal_thresholds(fit).index) == ["dissatisfied|satisfied"]


def test_promise_controls_add_one_control_per_promise_the_data_carries():
    from cxlib.config import JourneySpec

    spec = JourneySpec.model_validate({"journey": "j", "promises": [
        {"name": "visit", "event": "arrive", "after": "w_open", "before": "w_close"},
        {"name": "quick", "from": "a", "to": "z", "within": "2d"},
        {"name": "dated", "event": "z", "before": "promised"}]})
    frame = pd.DataFrame({"promise_visit_class": ["late", "on_time", "missed"],
                          "promise_quick": ["met", "breached", "open"]})
    assert Sat.promise_controls(frame, spec) == ["visit_late_or_missed", "quick_broken"]
    assert frame["visit_late_or_missed"].tolist() == [1.0, 0.0, 1.0]
    assert frame["quick_broken"].tolist() == [0.0, 1.0, 0.0]  # open: not broken (yet)
    no_promise = JourneySpec.model_validate({"journey": "j"})
    assert Sat.promise_controls(frame, no_promise) == []


def test_scores_by_band_keep_journeys_longer_than_every_band_and_hide_small_bands():
    from cxlib import plots

    frame = pd.DataFrame({"status": "complete", "e2e_days": [1.0, 2.0, 400.0, 500.0, 4.0],
                          "csat": [5, 4, 1, 2, 3], "segment": "all"})
    bands = score_by_band(frame, "csat", by=None, min_group_size=2)
    assert bands["band_start"].tolist() == [0.0, 3.0, 365.0]  # the last band is open-ended
    assert bands["band_end"].tolist() == [3.0, 5.0, float("inf")]
    assert bands["n"].tolist() == [2, 1, 2] and bands["suppressed"].tolist() == [
        False, True, False]
    assert bands.loc[2, "estimate"] == 1.5 and pd.isna(bands.loc[1, "estimate"])
    ax = plots.satisfaction_by_days(bands, hue=None)
    xs = ax.lines[0].get_xdata()
    assert max(xs) > 365 and len(xs) == 2  # the figure draws only what the table shows


def test_a_survey_table_with_its_own_delay_column_is_analysed_without_an_event_log():
    # no journeys, no status: answers with a measured delay in minutes, satisfaction falling
    # after 30 minutes
    rng = np.random.default_rng(11)
    minutes = rng.uniform(0, 120, 600)
    score = 4.5 - 0.03 * np.maximum(0, minutes - 30) + rng.normal(0, 0.4, 600)
    answers = pd.DataFrame({"delay_minutes": minutes, "csat": np.clip(np.round(score), 1, 5),
                            "segment": "all"})
    cost = Sat.cost_per_day(answers, "csat", by=None, duration="delay_minutes").iloc[0]
    assert cost["n"] == 600 and 0 < cost["estimate"] < 0.05  # points per minute
    found = Sat.tolerance_threshold(answers, "csat", by=None, duration="delay_minutes").iloc[0]
    assert found["ci_low"] <= 30 <= found["ci_high"] and 20 < found["estimate"] < 40
    assert found["slope_after"] > 0  # log-odds of a higher score lost per minute


def _around_the_promise(step: float, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = rng.uniform(-10, 10, 800)
    score = 4.0 - 0.05 * days + step * (days > 0) - 0.2 * np.maximum(days, 0)
    return pd.DataFrame({"promise_p_margin_hours": days * 24,
                         "csat": score + rng.normal(0, 0.5, 800), "segment": "all"})


def test_a_cliff_at_the_promise_is_found_with_its_slopes():
    found = Sat.promise_step(_around_the_promise(-1.0), "p").iloc[0]
    assert found["ci_low"] < -1.0 < found["ci_high"] and found["p_value"] < 1e-6
    assert found["slope_before"] == pytest.approx(-0.05, abs=0.03)
    assert found["slope_after"] == pytest.approx(-0.25, abs=0.03)
    assert found["n"] == 800 and found["promise"] == "p"


def test_no_cliff_is_no_step():
    found = Sat.promise_step(_around_the_promise(0.0), "p").iloc[0]
    assert found["ci_low"] < 0 < found["ci_high"]
    one_sided = _around_the_promise(0.0).query("promise_p_margin_hours < 0")
    assert np.isnan(Sat.promise_step(one_sided, "p")["estimate"].iloc[0])


def test_scores_by_promise_outcome_compare_kept_with_broken():
    frame = pd.DataFrame({"promise_p": ["met"] * 6 + ["breached"] * 6 + ["open"] * 3,
                          "csat": [5, 5, 4, 4, 5, 4, 2, 1, 3, 2, 2, 1, 5, 5, 5]})
    table = Sat.score_by_promise_outcome(frame, "p").set_index("promise_result")
    assert table.loc["kept", "estimate"] == pytest.approx(4.5)
    assert table.loc["broken", "estimate"] == pytest.approx(11 / 6)
    assert table["n"].to_dict() == {"broken": 6, "kept": 6}  # open journeys left out


def test_the_planted_cliff_at_the_promise_is_found_beside_the_thresholds(answers):
    """The demo drops latent satisfaction by a step when 'live within 7 days' breaks."""
    frame, world = answers
    assert world["promise_cliff"] > 0
    step = Sat.promise_step(frame, "live_within_7_days").iloc[0]
    assert step["ci_high"] < 0 and step["p_value"] < 0.001
    # on the latent scale (logistic noise of scale 1) the ordinal model's coefficient of the
    # broken promise is the planted cliff, once the days past each true threshold are in it
    thresholds = frame["segment"].map({k: v["threshold_days"]
                                       for k, v in world["segments"].items()})
    frame = frame.assign(days_past=(frame["e2e_days"] - thresholds).clip(lower=0))
    fit = Sat.ordinal_fit(frame, "csat", ("days_past", "window_breached", "promise_broken"))
    row = fit.summary.set_index("term").loc["promise_broken"]
    assert row["ci_low"] <= -world["promise_cliff"] <= row["ci_high"]


def test_the_threshold_is_the_hinge_whose_own_ordinal_fit_is_most_likely():
    """Each profile point is the full ordinal fit with that hinge: checked against ordinal_fit."""
    rng = np.random.default_rng(5)
    days = rng.uniform(0, 12, 500)
    latent = 2.0 - 0.6 * np.maximum(0, days - 4) + rng.logistic(0, 1, 500)
    frame = pd.DataFrame({"e2e_days": days, "csat": 1 + np.searchsorted([-2, -0.6, 0.8, 2.2],
                                                                       latent)})
    grid = np.array([2.0, 4.0, 6.0])
    found = Sat.tolerance_threshold(frame, "csat", by=None, grid=grid).iloc[0]

    def likelihood(tau: float) -> float:
        hinged = frame.assign(hinge=np.maximum(0, frame["e2e_days"] - tau))
        return Sat.ordinal_fit(hinged, "csat", ("hinge",)).model.llf

    assert found["estimate"] == grid[int(np.argmax([likelihood(t) for t in grid]))] == 4.0
    assert (found["ci_low"], found["ci_high"]) == (2.0, 6.0)  # the grid's neighbours of 4
    assert found["slope_after"] == pytest.approx(0.6, abs=0.15)


def test_each_profile_point_is_its_own_fit_converged_from_nothing():
    """Warm starts (estimates and curvature of the neighbouring hinge) change no profile point."""
    rng = np.random.default_rng(11)
    days = rng.gamma(2.0, 3.0, 3000)
    latent = 1.5 - 0.4 * np.maximum(0, days - 5) + rng.logistic(0, 1, 3000)
    csat = pd.Series(1 + np.searchsorted([-2, -0.6, 0.8, 2.2], latent))
    grid = np.arange(2.0, 9.01, 0.5)
    loglike, slope = Sat._profile_loglike(csat, days, pd.DataFrame(index=csat.index), grid)
    for k, tau in enumerate(grid):
        alone = Sat.WeightedOrderedLogit(
            Sat.ordered_outcome(csat), pd.DataFrame({"hinge": np.maximum(0, days - tau)}))
        with warnings.catch_warnings():  # at 1e-10 BFGS stops on rounding ("not converged")
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit = alone.fit(method="bfgs", disp=False, maxiter=2000, gtol=1e-10,
                            skip_hessian=True)
        assert np.abs(fit.mle_retvals["gopt"]).max() < 1e-8  # the reference is at the optimum
        assert loglike[k] == pytest.approx(fit.llf, abs=1e-7)
        assert slope[k] == pytest.approx(fit.params["hinge"], abs=1e-6)


def test_every_score_comes_with_its_box_shares_interval_and_n():
    """Hand-checked: top-2-box, detractors and easy share are counts over answered rows."""
    answers = pd.DataFrame({"csat": [5, 4, 3, 2, 1, 5, None], "nps": [10, 9, 7, 6, 0, 3, 9],
                            "ces": [7, 6, 5, 4, 1, None, None]})
    table = Sat.score_summary(answers, min_group_size=1).set_index("score")
    assert table.loc["csat_top2_box", ["estimate", "n"]].tolist() == [0.5, 6]
    assert table.loc["nps_detractors", ["estimate", "n"]].tolist() == [pytest.approx(3 / 7), 7]
    assert table.loc["nps", "estimate"] == pytest.approx(100 * (3 / 7 - 3 / 7))
    assert table.loc["ces_easy_5_7", ["estimate", "n"]].tolist() == [0.6, 5]
    from statsmodels.stats.proportion import proportion_confint
    low, high = proportion_confint(3, 6, method="wilson")
    assert table.loc["csat_top2_box", ["ci_low", "ci_high"]].tolist() == pytest.approx([low, high])


def _scores(shift_high: float, seed: int) -> pd.DataFrame:
    """Scores 1–4 from a logistic latent; ``shift_high`` moves only the top cut with ``x``."""
    rng = np.random.default_rng(seed)
    n = 3000
    days, other = rng.uniform(0, 10, n), rng.normal(0, 1, n)
    latent = -0.4 * days + 0.5 * other + rng.logistic(0, 1, n)
    cuts = np.column_stack([np.full(n, -3.0), np.full(n, -1.5), -0.5 + shift_high * days])
    return pd.DataFrame({"csat": 1 + (latent[:, None] > cuts).sum(axis=1), "e2e_days": days,
                         "other": other})


def test_the_proportional_odds_check_holds_where_it_is_true_and_fails_where_it_is_not():
    kept = Sat.proportional_odds_check(_scores(0.0, 1), "csat", ("e2e_days", "other"))
    assert kept["holds"].all() and (kept["p_value"] > 0.05).all()
    assert kept.set_index("term").loc["all", "df"] == 2 * 2  # two predictors, 3 cuts − 1
    broken = Sat.proportional_odds_check(_scores(0.25, 1), "csat",
                                         ("e2e_days", "other")).set_index("term")
    assert broken.loc["e2e_days", "p_value"] < 1e-6 and not broken.loc["e2e_days", "holds"]
    assert broken.loc["other", "holds"]  # only the days bend the top of the scale
    assert "more than others" in broken.loc["e2e_days", "in_words"]
    assert "holds" in broken.loc["other", "in_words"]


def test_with_two_cuts_and_one_predictor_the_term_is_the_whole_test():
    frame = _scores(0.0, 2).assign(csat=lambda d: d["csat"].clip(upper=3))
    table = Sat.proportional_odds_check(frame, "csat", ("e2e_days",)).set_index("term")
    assert table.loc["e2e_days", "chi2"] == pytest.approx(table.loc["all", "chi2"])
    assert table.loc["all", "df"] == 1


def test_a_scale_that_cannot_be_checked_says_so():
    separated = pd.DataFrame({"csat": [1] * 30 + [2] * 30 + [3] * 30,
                              "e2e_days": list(range(90))})  # each cut splits the days cleanly
    table = Sat.proportional_odds_check(separated, "csat", ("e2e_days",))
    assert table["p_value"].isna().all() and table["in_words"].str.contains("not checked").all()
    two = Sat.proportional_odds_check(separated.query("csat < 3"), "csat", ("e2e_days",))
    assert two["in_words"].str.contains("fewer than three levels").all()


def test_the_value_of_a_day_in_nps_points_and_detractor_share_by_hand():
    # per day, one answer in ten moves from promoter to detractor: NPS −20, detractors +10
    days = np.repeat(np.arange(10.0), 100)
    rank = np.tile(np.arange(100), 10)
    detractor = rank < 10 * days  # 0 %, 10 %, … 90 % detractors; the rest promoters
    frame = pd.DataFrame({"e2e_days": days, "nps": np.where(detractor, 3, 10),
                          "segment": "all"})
    table = Sat.value_of_time(frame, by=None).set_index("metric")
    assert table.loc["nps_points", "estimate"] == pytest.approx(-20.0)
    assert table.loc["detractor_share_points", "estimate"] == pytest.approx(10.0)
    assert table.loc["nps_points", "n"] == 1000


def test_every_planted_segment_loses_nps_per_day_of_waiting(answers):
    frame, world = answers
    table = Sat.value_of_time(frame, by="segment")
    nps = table[table["metric"] == "nps_points"].set_index("segment")
    detractors = table[table["metric"] == "detractor_share_points"].set_index("segment")
    assert set(nps.index) == set(world["segments"])
    assert (nps["ci_high"] < 0).all() and (detractors["ci_low"] > 0).all()
    # the savers' planted slope is steeper and starts earlier than the engagers'
    assert nps.loc["time_savers", "estimate"] < nps.loc["time_engagers", "estimate"]


def test_standard_errors_survive_last_digit_rounding_of_the_likelihood():
    """Summing the same terms in another order (another BLAS thread count) changes a
    log-likelihood in its last digits. Differentiating it twice numerically — statsmodels'
    default — turns that into the 6th digit of a standard error (a published lever interval
    once differed between a run and `cx satisfaction`); the Hessian from the exact score does not.
    """
    from statsmodels.base.model import GenericLikelihoodModel

    rng = np.random.default_rng(3)
    n = 166
    design = pd.DataFrame({"days": rng.gamma(2, 5, n), "engaged_minutes": rng.exponential(30, n)})
    latent = -0.3 * design["days"] + rng.logistic(size=n)
    answers = pd.Series(pd.cut(latent, [-np.inf, -6, -4, -2, 0, np.inf], labels=False) + 1)

    class Reordered(Sat.WeightedOrderedLogit):
        def loglike(self, params):
            return super().loglike(params) * (1 + rng.uniform(-1e-14, 1e-14))

        def score(self, params):
            exact = super().score(params)
            return exact + rng.uniform(-1e-12, 1e-12, len(exact))

    exact = Sat.WeightedOrderedLogit(Sat.ordered_outcome(answers), design)
    rounded = Reordered(Sat.ordered_outcome(answers), design)
    params = exact.fit(method="bfgs", disp=False, maxiter=2000).params.to_numpy()

    def drift(hessian):
        se = [np.sqrt(np.diag(np.linalg.inv(-hessian(m, params)))) for m in (exact, rounded)]
        return np.max(np.abs(se[1] / se[0] - 1))

    assert drift(Sat.WeightedOrderedLogit.hessian) < 1e-7
    assert drift(GenericLikelihoodModel.hessian) > 1e-6  # what the default would publish


def test_the_demo_plants_the_total_wait_and_peak_end_finds_it(answers):
    """The demo's satisfaction falls with the end-to-end days only: the total matters most, far
    more per standard deviation than the longest or the last single wait."""
    frame, _ = answers
    table = Sat.peak_end(frame, "csat", controls=("window_breached", "promise_broken"))
    aspects = table.set_index("aspect")
    assert aspects["matters_most"].tolist() == [True, False, False]
    assert aspects.loc["total", "ci_high"] < 0
    assert abs(aspects.loc["total", "estimate"]) > 5 * aspects.loc[["peak", "end"],
                                                                   "estimate"].abs().max()
    assert aspects.loc["total", "in_words"].startswith("the whole wait matters most")
    assert (aspects["n"] == frame.query("status == 'complete'")["csat"].notna().sum()).all()
    assert not aspects["suppressed"].any()


def _waits(planted: str, n: int = 3000, seed: int = 5) -> pd.DataFrame:
    """Journeys of three waits; the score falls with the ``planted`` aspect alone."""
    rng = np.random.default_rng(seed)
    waits = rng.gamma(2.0, 20.0, (n, 3))  # hours
    frame = pd.DataFrame({"e2e_days": waits.sum(axis=1) / 24,
                          "longest_wait_hours": waits.max(axis=1),
                          "last_wait_hours": waits[:, -1], "status": "complete"})
    column = {"total": "e2e_days", "peak": "longest_wait_hours", "end": "last_wait_hours"}
    x = frame[column[planted]]
    latent = -1.0 * (x - x.mean()) / x.std() + rng.logistic(size=n)
    frame["csat"] = 1 + np.searchsorted([-2.0, -0.7, 0.7, 2.0], latent)
    return frame


@pytest.mark.parametrize("planted", ["total", "peak", "end"])
def test_peak_end_names_the_aspect_that_was_planted(planted):
    table = Sat.peak_end(_waits(planted)).set_index("aspect")
    assert table["matters_most"].idxmax() == planted and table["matters_most"].sum() == 1
    assert table.loc[planted, "ci_low"] < -1.0 < table.loc[planted, "ci_high"]
    others = table.drop(index=planted)
    assert ((others["ci_low"] < 0) & (others["ci_high"] > 0)).all()  # nothing planted there


def test_peak_end_with_too_few_answers_says_so_and_keeps_no_number():
    few = Sat.peak_end(_waits("peak", n=12))  # shown, but too few to fit three slopes
    assert few["estimate"].isna().all() and not few["suppressed"].any()
    assert (few["in_words"] == "too few answers or no variation to compare").all()
    small = Sat.peak_end(_waits("peak", n=12), min_group_size=15)
    assert small["suppressed"].all() and small[["sd", "estimate"]].isna().all().all()


def test_the_ordinal_models_logistic_is_scipys_to_the_bit():
    from scipy import stats

    x = np.concatenate([np.linspace(-800, 800, 20001), [np.inf, -np.inf, 0.0, -0.0, 1e-300]])
    model = Sat.WeightedOrderedLogit.__new__(Sat.WeightedOrderedLogit)  # the formulas only
    assert np.array_equal(model.cdf(x), stats.logistic.cdf(x))
    assert np.array_equal(model.pdf(x), stats.logistic.pdf(x))
