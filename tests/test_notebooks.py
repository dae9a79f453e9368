"""The notebooks' contract: their signature, small files, and honest stored outputs."""

import json
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from cxlib.notebooks import is_checked, report_notebooks, strip_outputs
from cxlib.params import load_params
from tests.conftest import ROOT

NOTEBOOKS = report_notebooks()


def test_the_four_report_notebooks_exist_in_flow_order():
    assert [p.stem for p in NOTEBOOKS] == ["00_data_quality", "10_journey_times",
                                           "20_time_segments", "30_satisfaction_vs_time"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_declares_exactly_what_the_runner_passes(path):
    params = load_params(ROOT / "params/ci.yaml")
    given = set(params.notebook_parameters(Path("tables")))
    declared = pm.inspect_notebook(str(path))
    assert set(declared) == given
    for spec in declared.values():
        assert spec["inferred_type_name"] != "None" and spec["help"], spec["name"]
    first_code = next(c for c in nbformat.read(path, 4).cells if c.cell_type == "code")
    assert "parameters" in first_code.metadata.get("tags", [])


DASHBOARDS = sorted((ROOT / "notebooks" / "dashboards").glob("*.ipynb"))


@pytest.mark.parametrize("path", [*NOTEBOOKS, *DASHBOARDS], ids=lambda p: p.stem)
def test_committed_without_bulky_outputs(path):
    book = nbformat.read(path, 4)
    assert path.stat().st_size < 40_000
    for cell in book.cells:
        if cell.cell_type == "code" and not is_checked(cell):
            assert cell.outputs == [] and cell.execution_count is None
        for out in cell.get("outputs", []):
            assert "image/png" not in out.get("data", {})


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_checks_some_key_numbers(path):
    checked = [c for c in nbformat.read(path, 4).cells if is_checked(c)]
    assert checked and all(c.outputs and c.execution_count for c in checked)


def test_strip_outputs_keeps_only_checked_outputs():
    book = nbformat.v4.new_notebook()
    keep = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)")
    drop = nbformat.v4.new_code_cell("print(2)")
    for cell, text in ((keep, "1\n"), (drop, "2\n")):
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        cell.execution_count = 3
    book.cells = [keep, drop]
    out = strip_outputs(book)
    assert out.cells[0].outputs[0]["text"] == "1\n" and out.cells[1].outputs == []
    assert out.cells[0].execution_count == 1 and out.cells[1].execution_count is None


def test_each_dashboard_notebook_is_a_parameters_cell_and_one_call_of_its_view():
    from cxlib.dashboard_views import VIEWS

    assert {p.stem for p in DASHBOARDS} == set(VIEWS)  # the link bar's targets all exist
    for path in DASHBOARDS:
        book = nbformat.read(path, 4)
        code = [c for c in book.cells if c.cell_type == "code"]
        assert len(code) == 2 and "parameters" in code[0].metadata.get("tags", [])
        assert f'open_dashboard(run_dir, channel, view="{path.stem}")' in code[1].source
        assert json.dumps(book.metadata.get("kernelspec", {})).count("python3") == 1
