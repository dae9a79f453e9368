import pytest

from cxlib.config import JourneySpec, load_spec, parse_as_of, parse_duration_hours
from cxlib.errors import ParamsError
from cxlib.params import load_params
from tests.conftest import ROOT


@pytest.mark.parametrize("text, hours", [
    ("5d", 120.0), ("4h", 4.0), ("30m", 0.5), ("90s", 0.025), ("2w", 336.0), (3, 3.0),
    ("1.5d", 36.0), (" 7 d ", 168.0),
])
def test_durations_parse_to_hours(text, hours):
    assert parse_duration_hours(text) == pytest.approx(hours)


@pytest.mark.parametrize("bad", ["5 days", "d5", "", True, "-3h"])
def test_bad_durations_are_refused(bad):
    with pytest.raises(ValueError, match="duration"):
        parse_duration_hours(bad)


def test_every_shipped_params_file_and_spec_validates():
    for path in (ROOT / "params").glob("*.yaml"):
        load_params(path)
    for path in (ROOT / "params/journeys").glob("*.yaml"):
        assert isinstance(load_spec(path), JourneySpec)


def test_a_misspelled_key_names_file_and_key(tmp_path):
    bad = tmp_path / "typo.yaml"
    bad.write_text((ROOT / "params/ci.yaml").read_text().replace("min_group_size", "min_grup_size"))
    with pytest.raises(ParamsError) as err:
        load_params(bad)
    assert err.value.key == "min_grup_size"
    assert err.value.file == str(bad)
    assert "unknown key" in err.value.reason


def test_a_spec_with_a_bad_promise_names_the_nested_key(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("journey: j\nstart: a\nend: b\npromises:\n"
                    "  - {name: p, from: a, to: b, within: soon}\n")
    with pytest.raises(ParamsError) as err:
        load_spec(path)
    assert err.value.key.startswith("promises.0")
    assert "duration" in err.value.reason


def test_repeated_team_names_are_refused(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("journey: j\nstart: a\nend: b\nteams:\n"
                    "  - {team: x, from: a, to: b}\n  - {team: x, from: b, to: a}\n")
    with pytest.raises(ParamsError, match="unique"):
        load_spec(path)


def test_unknown_notebook_and_missing_file_are_params_errors(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("data_dir: data/x\nas_of: 2026-01-01T00:00:00Z\nnotebooks: [99_nope]\n")
    with pytest.raises(ParamsError, match="99_nope"):
        load_params(path)
    with pytest.raises(ParamsError, match="file not found"):
        load_params(tmp_path / "absent.yaml")


def test_as_of_must_carry_a_time_zone():
    assert parse_as_of("2026-07-01T02:00:00+02:00").isoformat() == "2026-07-01T00:00:00+00:00"
    with pytest.raises(ValueError, match="time zone"):
        parse_as_of("2026-07-01T00:00:00")


def test_spec_activity_order_is_the_documented_tie_break(spec):
    order = spec.activities()
    assert order[0] == "order_placed"
    assert order.index("technician_dispatched") < order.index("technician_done")
    assert len(order) == len(set(order))


def test_every_problem_is_listed_and_a_typo_gets_the_nearest_known_key(tmp_path):
    bad = tmp_path / "typo.yaml"
    bad.write_text("data_dri: data/demo\nas_of: '2026-07-01T00:00:00Z'\n"
                   "timezone: Europe/Lndon\n")
    with pytest.raises(ParamsError) as err:
        load_params(bad)
    problems = dict(err.value.problems)
    assert problems["data_dir"] == "required key is missing"
    assert problems["data_dri"] == "unknown key — did you mean 'data_dir'?"
    assert "unknown time zone 'Europe/Lndon'" in problems["timezone"]
    assert "3 problems" in str(err.value) and "(and 1 more" not in str(err.value)


def test_a_typo_deep_in_a_spec_is_named_with_its_nearest_key(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("journey: j\npromises:\n  - {name: p, from: a, to: b, whithin: 5d}\n"
                    "  - {name: q, event: b, before: a, aftr: x}\n"
                    "calendars:\n  office: {hourz: '09:00-17:00'}\n")
    with pytest.raises(ParamsError) as err:
        load_spec(path)
    problems = dict(err.value.problems)
    assert problems["promises.0.whithin"] == "unknown key — did you mean 'within'?"
    assert problems["promises.1.aftr"] == "unknown key — did you mean 'after'?"
    assert problems["calendars.office.hourz"] == "unknown key — did you mean 'hours'?"


def test_reports_word_the_spec_s_names_as_its_labels_say():
    import pandas as pd

    from cxlib.config import JourneySpec

    spec = JourneySpec.model_validate({"journey": "home_move", "labels": {"p7": "Moved in 7 days"}})
    assert spec.heading == "home move" and spec.label("p7") == "Moved in 7 days"
    assert spec.label("field_visit") == "field visit"
    shown = spec.relabel(pd.DataFrame({"promise": ["p7", "other_one"], "n": [1, 2]}), "promise")
    assert shown["promise"].tolist() == ["Moved in 7 days", "other one"]
    both = spec.relabel(pd.DataFrame({"team": ["field_visit"], "promise": ["p7"]}), "team",
                        "promise")
    assert both.iloc[0].tolist() == ["field visit", "Moved in 7 days"]
    titled = JourneySpec.model_validate({"journey": "j", "title": "Getting connected"})
    assert titled.heading == "Getting connected"
