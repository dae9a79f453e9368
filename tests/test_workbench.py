"""What a report says when one of its sections does not apply to a spec or its data."""

import pandas as pd
import pytest

from cxlib.config import JourneySpec
from cxlib.workbench import Workbench


def _bench(spec: dict, statuses=("complete",), csat=(4,)) -> Workbench:
    return Workbench(dataset=None, spec=JourneySpec.model_validate({"journey": "j", **spec}),
                     as_of=None, journeys=pd.DataFrame({"status": list(statuses)}),
                     behaviour=pd.DataFrame(), segmenter=None,
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


def test_a_reason_is_said_once_per_report(capsys):
    bench = _bench({})
    assert not bench.applies("team_clocks") and not bench.applies("team_clocks")
    assert bench.said == {bench.missing("team_clocks")}
