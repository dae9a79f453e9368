"""The demo world in a company's export shapes imports back to the canonical journeys exactly."""

import shlex

import nbformat
import pandas as pd
import pytest

from cxlib import journeys as J
from cxlib.config import load_spec
from cxlib.errors import RefusedWrite
from cxlib.io import load_dataset
from tests.conftest import AS_OF, run_cx


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """`cx demo --export-shapes`, then the import commands its README lists, run as written."""
    root = tmp_path_factory.mktemp("shapes")
    made = run_cx("demo", "--customers", "2000", "--seed", "7", "--out", str(root / "demo"),
                  "--export-shapes", str(root / "exports"))
    assert made.returncode == 0, made.stderr[-2000:]
    readme = (root / "exports/README.md").read_text()
    commands = [line for line in readme.splitlines() if line.startswith("cx import")]
    assert len(commands) == 4
    for command in commands:
        words = shlex.split(command.replace("DATA", str(root / "imported")))
        done = run_cx(*words[1:])
        assert done.returncode == 0, (command, done.stderr[-2000:])
    return root


def test_the_exports_are_the_shapes_companies_hand_over(shapes):
    orders = pd.read_csv(shapes / "exports/orders.csv", dtype="str")
    assert orders["order_id"].is_unique and {"placed_at", "region"} <= set(orders.columns)
    assert not orders["placed_at"].str.contains(r"[+Z]", regex=True).any()  # naive local time
    assert "Very satisfied" in set(pd.read_csv(shapes / "exports/survey.csv")["satisfaction"])
    assert "journey_id" not in pd.read_csv(shapes / "exports/contacts.csv").columns
    xes = (shapes / "exports/field_and_network.xes").read_text()
    assert "+01:00" in xes and "+00:00" in xes  # both sides of the clock change, as written


def test_importing_the_exports_reproduces_the_canonical_journeys_exactly(shapes):
    canonical = load_dataset(shapes / "demo")
    imported = load_dataset(shapes / "imported")
    assert imported.rows_quarantined == 0  # the exports carry only the rows the demo kept
    assert len(imported.events) == len(canonical.events)
    spec = load_spec("params/journeys/broadband.yaml")
    expected = J.build_journeys(canonical.events, spec, AS_OF)
    got = J.build_journeys(imported.events, spec, AS_OF)
    pd.testing.assert_frame_equal(got, expected)
    pd.testing.assert_frame_equal(
        imported.customers[["customer_id", "region", "plan"]].sort_values("customer_id")
        .reset_index(drop=True),
        canonical.customers[["customer_id", "region", "plan"]].sort_values("customer_id")
        .reset_index(drop=True))
    answers = ["response_id", "journey_id", "customer_id", "ts", "csat", "nps", "ces", "comment"]
    pd.testing.assert_frame_equal(
        imported.surveys[answers].sort_values("response_id").reset_index(drop=True),
        canonical.surveys[answers].sort_values("response_id").reset_index(drop=True),
        check_dtype=False)


def test_exports_are_never_written_into_a_folder_of_other_files(tmp_path, ci_dataset):
    from cxlib.demo_exports import export_shapes

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RefusedWrite, match="notes.txt"):
        export_shapes(ci_dataset, tmp_path)


def test_every_report_runs_on_the_imported_exports_with_their_time_zone(shapes):
    params = shapes / "shapes.yaml"
    params.write_text(f"title: demo from its exports\ndata_dir: {shapes / 'imported'}\n"
                      "journey_spec: params/journeys/broadband.yaml\n"
                      f"as_of: '{AS_OF}'\ntimezone: Europe/London\nchannel: shapes\n")
    result = run_cx("run", str(params), "--reports-dir", str(shapes / "reports"))
    assert result.returncode == 0, result.stderr[-3000:]
    run = (shapes / "reports/shapes").resolve()
    books = sorted(run.glob("[0-9]*.ipynb"))
    assert len(books) == 4
    for book in books:
        outputs = [o for c in nbformat.read(book, 4).cells if c.cell_type == "code"
                   for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]
    quality = pd.read_parquet(run / "tables/data_quality.parquet")
    assert quality["rows_quarantined"].sum() == 0 and quality["rows_read"].sum() > 40_000
