"""The contract's outcome on the demo data and on every fault folder is the recorded one.

``tests/data/contract/*.json`` were written by the pandas contract this DuckDB one replaced
(``tests/data/README.md``): the same rows quarantined with the same rule and value text, the
same values read by the daylight-saving rule, the same clean tables with the same types.
"""

import json
import math
from pathlib import Path

import pytest

from cxlib.io import load_dataset
from tests.contract_faults import FAULTS, outcome

RECORDS = Path(__file__).parent / "data" / "contract"


def _same(found, expected) -> bool:
    """JSON-equal, with a missing value equal to a missing value."""
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(found, float) and math.isnan(found)
    if isinstance(expected, list | dict):
        return json.dumps(found, sort_keys=True, default=str) == json.dumps(
            expected, sort_keys=True, default=str)
    return found == expected


def _assert_same(found: dict, expected: dict) -> None:
    assert found.keys() == expected.keys()
    for part, record in expected.items():
        assert _same(found[part], record), (part, found[part], record)


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_every_fault_folder_gives_the_recorded_quarantine_and_tables(tmp_path, name):
    build, zone = FAULTS[name]
    build(tmp_path / name)
    found = json.loads(json.dumps(outcome(load_dataset(tmp_path / name, timezone=zone),
                                          tmp_path / name)))
    _assert_same(found, json.loads((RECORDS / f"{name}.json").read_text()))


def test_the_demo_data_gives_the_recorded_quarantine_and_tables(demo_ci, ci_dataset):
    found = json.loads(json.dumps(outcome(ci_dataset, demo_ci, with_clean=False)))
    _assert_same(found, json.loads((RECORDS / "demo_ci.json").read_text()))
