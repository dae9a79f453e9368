"""`cx run` end to end: real papermill runs of the real notebooks, published atomically."""

import html
import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from cxlib.published import load_published
from cxlib.store import apply_retention, run_lock, write_index
from tests.conftest import CX, ROOT, run_cx

pytestmark = pytest.mark.e2e
NOTEBOOKS = ["00_data_quality", "10_journey_times", "20_time_segments",
             "30_satisfaction_vs_time"]


def test_a_run_publishes_notebooks_html_tables_and_manifest(published_reports):
    latest = published_reports / "ci"
    assert latest.is_symlink() and latest.resolve().parent == published_reports / "runs"
    for name in NOTEBOOKS:
        book = nbformat.read(latest / f"{name}.ipynb", 4)
        errors = [o for c in book.cells for o in c.get("outputs", [])
                  if o["output_type"] == "error"]
        assert errors == [], name
        page = (latest / f"{name}.html").read_text()
        assert "open_workbench(" not in page and "<img" in page  # no code, real figures
    tables = {p.stem for p in (latest / "tables").glob("*.parquet")}
    assert {"journey_facts", "survey_facts", "clock_comparison", "tolerance_thresholds",
            "segment_profile", "data_quality"} <= tables
    manifest = json.loads((latest / "manifest.json").read_text())
    assert manifest["status"] == "ok"
    assert [nb["notebook"] for nb in manifest["notebooks"]] == NOTEBOOKS
    assert all(nb["status"] == "ok" and nb["seconds"] > 0 for nb in manifest["notebooks"])
    assert manifest["rows"]["read"] > manifest["rows"]["quarantined"] > 0
    assert {"pandas", "duckdb", "papermill"} <= set(manifest["packages"])
    assert len(manifest["input_fingerprint"]) == 16 and manifest["params"]["as_of"]
    index = (published_reports / "index.html").read_text()
    assert latest.resolve().name in index and "(ci)" in index
    assert manifest["input_fingerprint"] in index and "params/ci.yaml · cut-off" in index
    for name in NOTEBOOKS:  # each published page says what it is, from what, and what it holds
        page = (latest / f"{name}.html").read_text()
        head = page[page.index("celltag_cx-report-header"):][:3000]
        for needle in (manifest["title"], manifest["run_id"], manifest["input_fingerprint"],
                       f"cut-off {manifest['params']['as_of']}", "Contents", "<a href=\"#"):
            assert needle in head, (name, needle)
    assert manifest["journey_spec"]["journey"]  # what the dashboards label and measure by
    assert set(manifest["views"]) == {"overview", "segments", "journeys"}
    for view, path in manifest["views"].items():  # a static copy of each dashboard view
        page = (latest / path).read_text()
        assert "<script" not in page and page.count("data:image/png;base64,") >= 1, view
        assert f"href='runs/{latest.resolve().name}/{path}'" in index


def test_check_only_outputs_stay_in_the_notebook_and_leave_the_published_page(
        published_reports):
    import html

    from cxlib.notebooks import is_checked

    latest = published_reports / "ci"
    left_out = 0
    for name in NOTEBOOKS:
        book = nbformat.read(latest / f"{name}.ipynb", 4)
        page = (latest / f"{name}.html").read_text()
        for cell in filter(is_checked, book.cells):
            for out in cell.outputs:
                if out.get("output_type") == "stream" and out["text"].strip():
                    line = out["text"].strip().splitlines()[0]
                    assert html.escape(line) not in page, (name, line)
                    left_out += 1
    assert left_out >= len(NOTEBOOKS)  # every report has checked cells; none reach the page


def test_published_reports_show_tables_for_people_and_a_takeaway_under_each_figure(
        published_reports):
    latest = published_reports / "ci"
    figures = 0
    for name in NOTEBOOKS:
        page = (latest / f"{name}.html").read_text()
        assert 'class="dataframe"' not in page, name  # no raw DataFrame dump, no index
        assert "<th>suppressed</th>" not in page and "<th>p_value</th>" not in page, name
        after_each_figure = page.split("<img")[1:]
        for following in after_each_figure:  # the sentence comes before the next figure
            assert "<strong>Takeaway.</strong>" in following, name
        figures += len(after_each_figure)
    assert figures >= 8  # every report draws figures; none is left without its sentence


def test_a_run_builds_once_and_every_notebook_opens_that_build(published_reports):
    latest = published_reports / "ci"
    log = (latest / "run.log").read_text()
    assert log.count("once in") == 1  # one contract, one journey build, one segmentation
    for name in NOTEBOOKS:
        book = nbformat.read(latest / f"{name}.ipynb", 4)
        injected = next(c.source for c in book.cells
                        if "injected-parameters" in c.metadata.get("tags", []))
        assert '.partial/.build"' in injected  # the run's build, where it ran
    assert not list(published_reports.rglob(".build"))  # raw data never stays in reports/
    assert json.loads((latest / "manifest.json").read_text())["build_seconds"] > 0


def test_every_published_table_is_in_the_schema_anonymous_and_suppressed(published_reports):
    from cxlib.published import FACTS as TABLES
    from cxlib.publishing import IDENTIFIERS, SCHEMA

    published = {p.stem: pd.read_parquet(p)
                 for p in (published_reports / "ci/tables").glob("*.parquet")}
    assert set(published) <= set(SCHEMA) and set(TABLES) <= set(published)
    for name, table in published.items():
        assert not set(IDENTIFIERS) & set(table.columns), name
        if SCHEMA[name].records:  # what a dashboard filters: days, never instants
            for column in table.select_dtypes("datetimetz"):
                stamps = table[column].dropna()
                assert (stamps == stamps.dt.floor("D")).all(), (name, column)
        if "suppressed" in table.columns:  # nothing of a small group survives beside its n
            hidden = table[table["suppressed"]]
            stats = [c for c in hidden.select_dtypes("float").columns if c != "n"]
            assert hidden[stats].isna().all().all(), name
    assert published["bottlenecks"]["suppressed"].any()  # the walk met suppressed rows


def test_a_table_outside_the_schema_or_off_its_columns_is_refused(tmp_path):
    from cxlib.publishing import save_table

    with pytest.raises(ValueError, match="'waits' is not a published table"):
        save_table(pd.DataFrame({"n": [1]}), tmp_path, "waits")
    with pytest.raises(ValueError, match=r"missing \['share'\], not allowed \['mean'\]"):
        save_table(pd.DataFrame({"promise": ["p"], "outcome": ["kept"], "journeys": [3],
                                 "suppressed": [False], "mean": [1.0]}), tmp_path,
                   "promise_outcomes")
    assert not list(tmp_path.iterdir())


def _nothing_new_published(reports, before, runs_before):
    """The previous run is still the published one, still readable, and nothing was added."""
    assert (reports / "ci").resolve() == before
    assert load_published(reports / "ci").journeys.shape[0] > 0
    assert sorted((reports / "runs").iterdir()) == runs_before


def test_a_misspelled_key_stops_the_run_within_seconds(tmp_path, published_reports):
    before, runs_before = (published_reports / "ci").resolve(), \
        sorted((published_reports / "runs").iterdir())
    params = tmp_path / "typo.yaml"
    params.write_text((ROOT / "params/ci.yaml").read_text().replace("timeout_seconds",
                                                                     "timeout_secs"))
    started = time.monotonic()
    result = run_cx("run", str(params), "--reports-dir", str(published_reports))
    assert result.returncode == 2
    assert "timeout_secs" in result.stderr and str(params) in result.stderr
    assert time.monotonic() - started < 20
    _nothing_new_published(published_reports, before, runs_before)


def _project_with(tmp_path, demo_ci, cells: list[str], name: str = "99_planted",
                  extra: str = "", before: tuple[str, ...] = ("00_data_quality",)) -> tuple:
    """A copy of the project's notebooks and params plus one notebook running ``cells``,
    run after the notebooks ``before``."""
    root = tmp_path / "project"
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    shutil.copytree(ROOT / "params", root / "params")
    (root / "cxlib").mkdir()
    (root / "pyproject.toml").write_text("")
    book = nbformat.read(root / "notebooks/00_data_quality.ipynb", 4)
    book.cells = [*book.cells[:2], *(nbformat.v4.new_code_cell(c) for c in cells)]
    nbformat.write(book, root / f"notebooks/{name}.ipynb")
    params = root / "params/planted.yaml"
    params.write_text(f"data_dir: {demo_ci}\nas_of: '2026-07-01T00:00:00Z'\n"
                      f"notebooks: [{', '.join((*before, name))}]\nchannel: ci\n{extra}")
    return root, params


def _assert_failed_and_latest_intact(reports, before, result, *needles,
                                     statuses: tuple[str, ...] = ("ok", "failed")):
    assert result.returncode == 1, result.stderr[-2000:]
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr[-2000:])
    assert (reports / "ci").resolve() == before
    assert load_published(reports / "ci").journeys.shape[0] > 0
    assert not list((reports / "runs").glob(".*partial"))
    failed = sorted((reports / "runs").glob("*.failed"))[-1]
    manifest = json.loads((failed / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert tuple(nb["status"] for nb in manifest["notebooks"]) == statuses
    marker = nbformat.read(failed / "99_planted.ipynb", 4).cells[0]
    assert "did not finish" in marker.source  # the kept notebook says why, at the top
    assert (failed / "99_planted.html").exists()
    return manifest["notebooks"][-1]


def test_a_failing_notebook_never_replaces_the_last_good_run(tmp_path, demo_ci,
                                                             published_reports):
    before = (published_reports / "ci").resolve()
    root, params = _project_with(tmp_path, demo_ci, ["x = 1", "raise RuntimeError('planted')"])
    result = run_cx("run", str(params), "--reports-dir", str(published_reports),
                    env={"CXLAB_ROOT": str(root)})
    failed = _assert_failed_and_latest_intact(published_reports, before, result, "99_planted",
                                              "cell 4", "raise RuntimeError", "planted")
    assert failed["kind"] == "cell_error"
    assert "failed" in (published_reports / "index.html").read_text()


def test_a_killed_kernel_is_reported_with_its_cell(tmp_path, demo_ci, published_reports):
    before = (published_reports / "ci").resolve()
    root, params = _project_with(tmp_path, demo_ci, [
        "import os, signal", "os.kill(os.getpid(), signal.SIGKILL)  # the kernel dies here"])
    result = run_cx("run", str(params), "--reports-dir", str(published_reports),
                    env={"CXLAB_ROOT": str(root)})
    failed = _assert_failed_and_latest_intact(published_reports, before, result,
                                              "cell 4", "os.kill(os.getpid()")
    assert failed["kind"] == "kernel_died" and "kernel died" in failed["error"]


def test_a_notebook_starts_with_its_imports_done_in_a_kernel_forked_for_the_run(tmp_path,
                                                                                 demo_ci):
    """Workers come from a fork server that imported the notebooks' modules during the build.

    The planted notebook imports ``cxlib.synth_ceiling`` only in its last cell, yet the module
    is there before: its kernel was forked from its worker, the worker from the run's fork
    server, a child of ``cx run``, which also wrote a page (nbconvert's first is slow).
    """
    facts = tmp_path / "facts.json"
    root, params = _project_with(tmp_path, demo_ci, [
        "import json, os, sys\nimport psutil\n"
        "worker = psutil.Process(os.getppid())\nserver = worker.parent()\n"
        f"open({str(facts)!r}, 'w').write(json.dumps({{\n"
        "    'preloaded': 'cxlib.synth_ceiling' in sys.modules,\n"
        "    'page_written': 'cxlib.report_preload' in sys.modules,\n"
        "    'server': server.cmdline(), 'starter': server.parent().cmdline()}))",
        "import cxlib.synth_ceiling"], before=())
    result = run_cx("run", str(params), "--reports-dir", str(tmp_path / "reports"),
                    env={"CXLAB_ROOT": str(root)})
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(facts.read_text())
    assert seen["preloaded"] is True and seen["page_written"] is True
    assert "from multiprocessing.forkserver import main" in " ".join(seen["server"])
    assert seen["starter"][seen["starter"].index("run") + 1] == str(params)  # cx run itself


def test_a_module_that_fails_to_import_fails_its_notebooks_cell_not_the_run(tmp_path, demo_ci):
    """The run's fork server imports what the notebooks import; one that raises is left to
    the notebook, whose cell reports it as it would without a fork server."""
    library = tmp_path / "lib"
    library.mkdir()
    (library / "boom.py").write_text("raise RuntimeError('planted at import')\n")
    root, params = _project_with(tmp_path, demo_ci, ["import boom"], before=())
    result = run_cx("run", str(params), "--reports-dir", str(tmp_path / "reports"),
                    env={"CXLAB_ROOT": str(root), "PYTHONPATH": str(library)})
    assert result.returncode == 1, result.stderr[-2000:]
    assert "cell 3 ('import boom'): RuntimeError: planted at import" in result.stderr


def test_without_a_fork_server_workers_are_started_as_processes(tmp_path, demo_ci,
                                                                 monkeypatch):
    """Where ``multiprocessing`` has no fork server (Windows) a run starts its workers."""
    from cxlib import runner

    facts = tmp_path / "facts.json"
    root, params = _project_with(tmp_path, demo_ci, [
        "import json, os, sys\nimport psutil\n"
        f"open({str(facts)!r}, 'w').write(json.dumps({{\n"
        "    'preloaded': 'cxlib.synth_ceiling' in sys.modules,\n"
        "    'worker': psutil.Process(os.getppid()).cmdline()}))",
        "import cxlib.synth_ceiling"], before=())
    monkeypatch.setenv("CXLAB_ROOT", str(root))
    monkeypatch.setattr(runner, "can_fork_kernels", lambda: False)
    result = runner.run(params, reports=tmp_path / "reports", quiet=True)
    assert result.published, [nb.describe() for nb in result.notebooks]
    seen = json.loads(facts.read_text())
    assert seen["preloaded"] is False
    assert seen["worker"][1:3] == ["-m", "cxlib.execution"]


def test_a_hanging_notebook_is_stopped_at_its_timeout(tmp_path, demo_ci, published_reports):
    """The kernel is killed, and the Unix sockets it listened on go with it."""
    before = (published_reports / "ci").resolve()
    pid_file = tmp_path / "kernel.pid"
    sockets_file = tmp_path / "sockets.txt"
    root, params = _project_with(tmp_path, demo_ci, [
        f"import os\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "from ipykernel.kernelapp import IPKernelApp\n"
        f"open({str(sockets_file)!r}, 'w').write(IPKernelApp.instance().ip)",
        "while True:  # hangs\n    pass"], extra="timeout_seconds: 8\n",
        before=())  # alone: a slow CI machine must not time out a real notebook in 8 s
    temp = Path(tempfile.mkdtemp())  # short: a socket's path has at most 107 characters
    started = time.monotonic()
    result = run_cx("run", str(params), "--reports-dir", str(published_reports),
                    env={"CXLAB_ROOT": str(root), "TMPDIR": str(temp)})
    assert Path(sockets_file.read_text()).is_relative_to(temp)
    assert not list(temp.iterdir())  # the killed kernel's sockets removed with their folder
    temp.rmdir()
    assert time.monotonic() - started < 60
    failed = _assert_failed_and_latest_intact(published_reports, before, result,
                                              "cell 4", "while True:", statuses=("failed",))
    assert failed["kind"] == "timeout"
    time.sleep(1)
    kernel = int(pid_file.read_text())
    assert not Path(f"/proc/{kernel}").exists() or "zombie" in \
        Path(f"/proc/{kernel}/status").read_text().lower()  # no kernel left spinning


def test_a_failing_disk_keeps_the_published_run(tmp_path, published_reports):
    before = (published_reports / "ci").resolve()
    limit = 60_000  # bytes per file: executed notebooks are larger, so their write fails

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write fails with EFBIG instead

    result = run_cx("run", "params/ci.yaml", "--reports-dir", str(published_reports),
                    preexec_fn=small_files)
    assert result.returncode == 5, result.stderr[-2000:]
    assert "could not write" in result.stderr and "File too large" in result.stderr
    assert (published_reports / "ci").resolve() == before
    assert load_published(published_reports / "ci").journeys.shape[0] > 0
    assert not list((published_reports / "runs").glob(".*partial"))


def test_a_second_run_of_the_same_params_is_refused_while_one_holds_the_lock(
        published_reports):
    before, runs_before = (published_reports / "ci").resolve(), \
        sorted((published_reports / "runs").iterdir())
    with run_lock(published_reports, "ci"):
        result = run_cx("run", "params/ci.yaml", "--reports-dir", str(published_reports))
    assert result.returncode == 4 and "another `cx run`" in result.stderr
    _nothing_new_published(published_reports, before, runs_before)


def test_a_corrupt_input_file_is_bad_data_before_any_kernel(tmp_path, demo_ci,
                                                            published_reports):
    before, runs_before = (published_reports / "ci").resolve(), \
        sorted((published_reports / "runs").iterdir())
    data = tmp_path / "data"
    shutil.copytree(demo_ci, data)
    (data / "surveys.parquet").write_bytes(b"this is not parquet")
    params = tmp_path / "p.yaml"
    params.write_text(f"data_dir: {data}\nas_of: '2026-07-01T00:00:00Z'\n")
    result = run_cx("run", str(params), "--reports-dir", str(published_reports))
    assert result.returncode == 3
    assert "surveys.parquet" in result.stderr and "cannot read" in result.stderr
    _nothing_new_published(published_reports, before, runs_before)


def test_jobs_on_the_command_line_must_be_positive(published_reports):
    result = run_cx("run", "params/ci.yaml", "--jobs", "0", "--reports-dir",
                    str(published_reports))
    assert result.returncode == 2 and "--jobs" in result.stderr


def _slow_project(tmp_path, demo_ci, seconds: int):
    root, params = _project_with(tmp_path, demo_ci, [f"import time\ntime.sleep({seconds})"])
    params.write_text(f"data_dir: {demo_ci}\nas_of: '2026-07-01T00:00:00Z'\n"
                      "notebooks: [99_planted]\n")
    return root, params


def test_two_runs_at_once_second_exits_4_or_waits(tmp_path, demo_ci):
    root, params = _slow_project(tmp_path, demo_ci, 6)
    reports = tmp_path / "reports"
    env = {**os.environ, "CXLAB_ROOT": str(root)}
    first = subprocess.Popen([*CX, "run", str(params), "--reports-dir", str(reports),
                              "--quiet"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list((reports / "runs").glob(".*.partial")):
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.2)
    started = time.monotonic()
    second = run_cx("run", str(params), "--reports-dir", str(reports),
                    env={"CXLAB_ROOT": str(root)})
    assert second.returncode == 4 and "another `cx run`" in second.stderr
    assert time.monotonic() - started < 15
    third = run_cx("run", str(params), "--reports-dir", str(reports), "--wait", "--quiet",
                   env={"CXLAB_ROOT": str(root)})
    assert first.wait(timeout=120) == 0
    assert third.returncode == 0, third.stderr[-2000:]
    assert len([p for p in (reports / "runs").iterdir() if not p.name.endswith(".failed")]) == 2
    assert "INFO" not in third.stderr  # --quiet: the console says only problems …
    assert "summary of" in (reports / "latest/run.log").read_text()  # … the run's log, all


def test_a_matrix_runs_one_report_set_per_value_on_its_own_channel(tmp_path, demo_ci,
                                                                   published_reports):
    before = (published_reports / "ci").resolve()
    params = tmp_path / "regions.yaml"
    params.write_text(f"data_dir: {demo_ci}\nas_of: '2026-07-01T00:00:00Z'\n"
                      "notebooks: [10_journey_times]\nmatrix: {region: [North, South]}\n"
                      "channel: latest-regions\n")
    result = run_cx("run", str(params), "--reports-dir", str(published_reports))
    assert result.returncode == 0, result.stderr[-2000:]
    run = (published_reports / "latest-regions").resolve()
    assert (published_reports / "ci").resolve() == before
    for region in ("North", "South"):
        folder = run / f"region={region}"
        assert (folder / "10_journey_times.html").exists()
        facts = pd.read_parquet(folder / "tables/journey_facts.parquet")
        assert set(facts["region"]) == {region}
    manifest = json.loads((run / "manifest.json").read_text())
    assert [nb["label"] for nb in manifest["notebooks"]] == ["region=North", "region=South"]
    assert manifest["rows"]["written"] > 0 and (run / "run.log").exists()
    assert "region=North" in (published_reports / "index.html").read_text()


@pytest.mark.parametrize("extra, key", [
    ("matrix: {segment: [a, b]}\n", "segment"),
    ("journey_spec: params/journeys/nope.yaml\n", "journey_spec"),
])
def test_params_problems_stop_before_any_kernel(tmp_path, demo_ci, extra, key):
    params = tmp_path / "p.yaml"
    params.write_text(f"data_dir: {demo_ci}\nas_of: '2026-07-01T00:00:00Z'\n{extra}")
    result = run_cx("run", str(params), "--reports-dir", str(tmp_path / "r"))
    assert result.returncode == 2 and f"key '{key}'" in result.stderr
    assert not (tmp_path / "r/runs").exists()


def test_a_missing_data_folder_is_a_params_error(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("data_dir: /nonexistent/data\nas_of: '2026-07-01T00:00:00Z'\n")
    result = run_cx("run", str(params), "--reports-dir", str(tmp_path / "r"))
    assert result.returncode == 2 and "key 'data_dir'" in result.stderr


def test_retention_keeps_the_newest_and_every_published_run(tmp_path):
    runs = tmp_path / "runs"
    names = [f"2026010{i}T000000000000Z-daily" for i in range(1, 6)]
    for name in names:
        (runs / name).mkdir(parents=True)
    (runs / "20260109T000000000000Z-other").mkdir()
    (runs / f"{names[0]}.failed").mkdir()
    (tmp_path / "latest").symlink_to(Path("runs") / names[1])
    removed = apply_retention(tmp_path, "daily", keep=2)
    left = sorted(p.name for p in runs.iterdir())
    assert left == [names[1], names[3], names[4], "20260109T000000000000Z-other"]
    assert len(removed) == 3


def test_the_crontab_line_in_the_readme_works_as_written(tmp_path):
    readme = (ROOT / "README.md").read_text()
    line = next(ln for ln in readme.split("```crontab")[1].splitlines() if ln.strip())
    command = line.split(None, 5)[5].replace("/path/to/cxlab", str(ROOT))
    cron_env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SHELL": "/bin/sh",
                "CXLAB_REPORTS_DIR": str(tmp_path / "reports")}
    result = subprocess.run(["/bin/sh", "-c", command], env=cron_env, capture_output=True,
                            text=True, timeout=900, check=False)
    assert result.returncode == 0, (ROOT / "reports/cron.log").read_text()[-3000:]
    latest = tmp_path / "reports/latest"
    manifest = json.loads((latest / "manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["params"]["demo"]["customers"] == 20000
    log = (latest / "run.log").read_text()  # --quiet quiets the console, not the run's log
    assert "built" in log and "summary of" in log and "static dashboard views" in log


def test_the_index_survives_old_and_damaged_runs(tmp_path):
    runs = tmp_path / "runs"
    old = runs / "20250101T000000000000Z-default"
    old.mkdir(parents=True)
    (old / "manifest.json").write_text(json.dumps({  # written before matrix runs existed
        "title": "old", "notebooks": [{"notebook": "10_journey_times", "status": "ok"}]}))
    damaged = runs / "20250102T000000000000Z-default.failed"
    damaged.mkdir()
    (damaged / "manifest.json").write_text("{not json")
    (runs / "20250103T000000000000Z-default").mkdir()  # no manifest at all
    page = write_index(tmp_path).read_text()
    assert "runs/20250101T000000000000Z-default/10_journey_times.html" in page
    assert "20250102T000000000000Z-default.failed" in page and "failed" in page
    assert page.count("<tr class=") == 3


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "zombie" not in status.lower()


def test_a_killed_run_takes_its_workers_and_kernels_with_it_and_the_next_run_sweeps_up(
        tmp_path, demo_ci):
    from cxlib.execution import descendants

    pid_file = tmp_path / "kernel.pid"
    root, params = _project_with(tmp_path, demo_ci, [
        f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))",
        "time.sleep(120)  # still running when the run is killed"])
    params.write_text(f"data_dir: {demo_ci}\nas_of: '2026-07-01T00:00:00Z'\n"
                      "notebooks: [99_planted]\n")
    reports = tmp_path / "reports"
    env = {**os.environ, "CXLAB_ROOT": str(root)}
    run = subprocess.Popen([*CX, "run", str(params), "--reports-dir", str(reports), "--quiet"],
                           env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while not pid_file.exists() or not pid_file.read_text():
        assert run.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    below = descendants(run.pid)  # the worker, its kernel and anything they started
    kernel = int(pid_file.read_text())
    assert kernel in below and len(below) >= 2
    run.kill()  # kill -9: the run gets no chance to clean up
    run.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in below) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [pid for pid in below if _alive(pid)] == []
    assert list((reports / "runs").glob(".*.partial"))  # left behind by the killed run
    # the next run of any params file sweeps it (the killed run no longer holds its lock)
    quick, _ = _project_with(tmp_path / "next", demo_ci, ["x = 1"])
    other = quick / "params/other.yaml"
    other.write_text(f"data_dir: {demo_ci}\nas_of: '2026-07-01T00:00:00Z'\n"
                     "notebooks: [99_planted]\nchannel: other\n")
    result = run_cx("run", str(other), "--reports-dir", str(reports),
                    env={"CXLAB_ROOT": str(quick)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert not list((reports / "runs").glob(".*.partial"))


def test_only_partial_folders_of_runs_that_are_gone_are_swept(tmp_path):
    from cxlib.store import sweep_stale_partials

    runs = tmp_path / "runs"
    names = {stem: runs / f".20260101T000000000000Z-{stem}.partial"
             for stem in ("daily", "weekly", "ci")}
    for folder in names.values():
        folder.mkdir(parents=True)
    with run_lock(tmp_path, "daily"):  # a live run of params/daily.yaml
        removed = sweep_stale_partials(tmp_path, "ci")  # the caller is a run of params/ci.yaml
    assert sorted(removed) == sorted([names["weekly"], names["ci"]])
    assert names["daily"].is_dir()


def test_demo_data_outside_the_project_is_announced_with_its_path(tmp_path):
    outside = tmp_path / "elsewhere" / "demo"
    params = tmp_path / "outside.yaml"
    params.write_text(f"data_dir: {outside}\nas_of: '2026-07-01T00:00:00Z'\n"
                      "notebooks: [00_data_quality]\nchannel: outside\n"
                      "demo: {customers: 50, seed: 3}\n")
    result = run_cx("run", str(params), "--reports-dir", str(tmp_path / "reports"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert (outside / "truth.json").is_file()
    notice = next(line for line in result.stderr.splitlines() if "generating demo data" in line)
    assert "WARNING" in notice and str(outside) in notice and "outside the project" in notice


def test_only_the_default_params_publish_to_the_managers_channel():
    from cxlib.params import load_params
    channels = {p.name: load_params(p).channel for p in (ROOT / "params").glob("*.yaml")}
    assert channels.pop("default.yaml") == "latest"
    assert channels and "latest" not in channels.values(), channels


def test_the_ci_run_leaves_the_managers_channel_alone(published_reports):
    assert (published_reports / "ci").is_symlink()
    assert not (published_reports / "latest").exists()
    assert load_published(published_reports / "ci").manifest["channel"] == "ci"


def _run_on_a_real_log(tmp_path: Path, log: str, mapping: list[str], spec: str,
                       as_of: str) -> tuple[Path, list[str]]:
    """Import a shipped real log, run every report on it; return the run and what it said."""
    data = tmp_path / "data"
    imported = run_cx("import", str(ROOT / "tests/data/eventlogs" / log), *mapping,
                      "--out", str(data))
    assert imported.returncode == 0, imported.stderr[-2000:]
    (tmp_path / "spec.yaml").write_text(spec)
    params = tmp_path / "params.yaml"
    params.write_text(f"title: {log}\ndata_dir: {data}\njourney_spec: {tmp_path / 'spec.yaml'}\n"
                      f"as_of: '{as_of}'\nchannel: real\nmax_bad_share: 0.05\n")
    result = run_cx("run", str(params), "--reports-dir", str(tmp_path / "reports"))
    assert result.returncode == 0, result.stderr[-3000:]
    run = (tmp_path / "reports/real").resolve()
    said = []
    for name in NOTEBOOKS:
        book = nbformat.read(run / f"{name}.ipynb", 4)
        outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]
        said += [o.data["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
    views = load_published(run).manifest["views"]
    assert set(views) == {"overview", "segments", "journeys"}, views
    for page in views.values():  # every section drawn, or saying in words what it lacks
        assert "could not be drawn" not in (run / page).read_text()
    return run, said


def test_every_report_runs_on_a_real_log_with_a_spec_that_names_only_the_journey(tmp_path):
    run, said = _run_on_a_real_log(
        tmp_path, "helpdesk.xes.gz", ["--mapping", str(ROOT / "params/mappings/helpdesk.yaml")],
        "journey: helpdesk_ticket\n", "2014-01-01T00:00:00Z")
    for reason in ("no team clocks", "no promises", "no `behaviour:` section",
                   "no survey answers", "customer's own time", "no activity starts"):
        assert any(reason in text for text in said), (reason, said)
    journeys = load_published(run).journeys
    assert len(journeys) > 4000 and (journeys["status"] == "complete").all()
    # the dashboards say what the spec does not measure, never a zero or a hand-off for it
    overview = (run / "views/overview.html").read_text()
    assert "names no team clocks" in overview and "nobody owns" not in overview
    assert "0.0 hours" not in overview
    pages = (run / "views/journeys.html").read_text()
    for reason in ("states no promises", "names no contact activities", "customer's own time"):
        assert html.escape(reason) in pages, reason
    segments = (run / "views/segments.html").read_text()
    assert "has no survey answers" in segments and "older cxlab" not in segments


def test_every_report_runs_on_a_real_log_of_start_and_complete_pairs(tmp_path):
    spec = ("journey: order\nstart: place order\ncancel: cancel order\n"
            "teams: [{team: warehouse, from: prepare delivery, to: make delivery}]\n"
            "promises: [{name: paid_in_a_week, from: send invoice, to: pay, within: 7d}]\n")
    run, said = _run_on_a_real_log(tmp_path, "interval_event_log_lifecycle.xes.gz", [], spec,
                                   "2015-10-01T00:00:00Z")
    assert not any("no activity starts" in text for text in said)
    assert "No team clock in the journey spec has a <code>target</code>" in (
        run / "views/overview.html").read_text()
    service = pd.read_parquet(run / "tables/service_times.parquet").set_index("activity")
    assert service["n"].sum() == 8109 and not service["suppressed"].any()
    journeys = load_published(run).journeys
    assert len(journeys) == 1266 and journeys["team_warehouse_hours"].notna().any()
    assert set(journeys["promise_paid_in_a_week"]) >= {"met", "breached"}


def _survey_answers_alone(folder: Path, threshold_minutes: float = 30.0) -> Path:
    """A survey export with no event log: a satisfied / dissatisfied verdict beside a measured
    delay in minutes, local answer times, no respondent ids; satisfaction falls after 30 min."""
    rng = np.random.default_rng(5)
    n = 800
    minutes = rng.uniform(0, 120, n)
    latent = 2.0 - 0.06 * np.maximum(0, minutes - threshold_minutes) + rng.logistic(0, 1, n)
    hours = rng.uniform(0, 24 * 60, n).astype(int)
    folder.mkdir(parents=True)
    pd.DataFrame({
        "answered": (pd.Timestamp("2026-02-01 08:00") + pd.to_timedelta(hours, unit="h"))
        .strftime("%Y-%m-%d %H:%M"),
        "verdict": np.where(latent > 0, "satisfied", "dissatisfied"),
        "delay_minutes": np.round(minutes, 1)}).to_csv(folder / "answers.csv", index=False)
    (folder / "answers.yaml").write_text(
        "columns: {ts: answered, csat: verdict}\n"
        "scores: {csat: {dissatisfied: 1, satisfied: 5}}\ntimezone: Europe/Paris\n")
    return folder


def test_every_report_runs_on_survey_answers_alone_with_their_own_delay(tmp_path):
    src = _survey_answers_alone(tmp_path / "export")
    imported = run_cx("import", str(src / "answers.csv"), "--table", "surveys", "--mapping",
                      str(src / "answers.yaml"), "--out", str(tmp_path / "data"))
    assert imported.returncode == 0, imported.stderr[-2000:]
    (tmp_path / "spec.yaml").write_text("journey: service_call\n")
    params = tmp_path / "answers.yaml"
    base = (f"title: answers alone\ndata_dir: {tmp_path / 'data'}\n"
            f"journey_spec: {tmp_path / 'spec.yaml'}\nas_of: '2026-06-01T00:00:00Z'\n"
            "channel: answers\n")
    params.write_text(base + "survey_duration: delay_minute\n")  # a typo stops the run early
    refused = run_cx("run", str(params), "--reports-dir", str(tmp_path / "reports"))
    assert refused.returncode == 2 and "delay_minutes" in refused.stderr
    assert not (tmp_path / "reports/runs").exists() or not any(
        (tmp_path / "reports/runs").iterdir())
    params.write_text(base + "survey_duration: delay_minutes\n")
    result = run_cx("run", str(params), "--reports-dir", str(tmp_path / "reports"))
    assert result.returncode == 0, result.stderr[-3000:]
    run = (tmp_path / "reports/answers").resolve()
    for name in NOTEBOOKS:
        book = nbformat.read(run / f"{name}.ipynb", 4)
        outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]
        said = [o.data["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
        assert sum("survey answers only" in text for text in said) == 1, name  # said once
    found = pd.read_parquet(run / "tables/tolerance_thresholds.parquet").iloc[0]
    assert found["ci_low"] <= 30 <= found["ci_high"] and found["n"] == 800
    fit = pd.read_parquet(run / "tables/ordinal_fit.parquet").set_index("term")
    assert fit.loc["delay_minutes", "ci_high"] < 0


def test_notebooks_run_at_once_share_the_cores_among_their_thread_pools(monkeypatch):
    from cxlib.runner import THREAD_LIMITS, worker_environment

    for name in THREAD_LIMITS:
        monkeypatch.delenv(name, raising=False)
    assert {worker_environment(2, cores=2)[n] for n in THREAD_LIMITS} == {"1"}
    assert worker_environment(1, cores=8)["OMP_NUM_THREADS"] == "8"
    assert worker_environment(3, cores=2)["OMP_NUM_THREADS"] == "1"  # never zero
    assert worker_environment(2, cores=2)["PATH"] == os.environ["PATH"]  # the rest is kept
    monkeypatch.setenv("OMP_NUM_THREADS", "4")  # a limit the caller set is theirs
    assert worker_environment(2, cores=2)["OMP_NUM_THREADS"] == "4"


def test_the_notebooks_that_took_longest_last_time_start_first(tmp_path):
    from cxlib.runner import Execution, longest_first

    tasks = [Execution("00_a"), Execution("10_b"), Execution("20_c"),
             Execution("30_d", (("region", "North"),))]
    assert longest_first(tasks, tmp_path / "no-run") == tasks  # nothing known: as planned
    (tmp_path / "manifest.json").write_text(json.dumps({"notebooks": [
        {"notebook": "00_a", "label": "", "seconds": 8.0},
        {"notebook": "10_b", "label": "", "seconds": 10.0},
        {"notebook": "20_c", "label": "", "seconds": 15.0}]}))
    ordered = longest_first(tasks, tmp_path)
    assert [t.notebook for t in ordered] == ["30_d", "20_c", "10_b", "00_a"]  # new ones first


def test_static_views_that_cannot_be_written_are_named_in_the_manifest_forked_or_not(
        tmp_path, caplog):
    """The run's reports stand without the copies; the manifest and the log say why."""
    from cxlib import runner
    from cxlib.forked_kernels import PRELOAD, fork_server

    run = tmp_path / "run"
    (run / "logs").mkdir(parents=True)  # a run folder without a manifest: nothing to draw
    # the test process's one fork server, preloaded as the dashboards' (other tests expect it)
    for forks in (None, fork_server(PRELOAD)):
        caplog.clear()
        written = runner._write_views(run, forks, timeout=120)
        assert set(written) == {"error"} and "no published run" in written["error"], written
        assert "could not write the dashboards' static copies" in caplog.text
        assert "Traceback" in caplog.text  # the analyst's log keeps the trace
        assert not list((run / "logs").iterdir())  # the fork's reply is not left behind


def test_a_reports_kernel_listens_on_unix_sockets_of_its_own_and_removes_them(tmp_path):
    """No TCP ports to lose to another process between picking and binding them (papermill#511)."""
    from cxlib.execution import execute_notebook

    source = tmp_path / "sockets.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import glob\nfrom ipykernel.kernelapp import IPKernelApp\n"
        "app = IPKernelApp.instance()\n"
        "print(app.transport, app.ip, len(glob.glob(app.ip + '-*')), sep='|')")]), source)
    seen = []
    for run in ("first", "second"):
        output = tmp_path / f"{run}.ipynb"
        result = execute_notebook("sockets", source, output, {}, timeout=120)
        assert result.status == "ok", result.error
        transport, prefix, sockets = nbformat.read(output, as_version=4) \
            .cells[0].outputs[0]["text"].strip().split("|")
        assert transport == "ipc" and Path(prefix).is_absolute()
        assert int(sockets) == 5  # shell, iopub, stdin, control, heartbeat
        assert not list(Path(prefix).parent.glob(Path(prefix).name + "-*"))  # removed
        seen.append(prefix)
    assert seen[0] != seen[1]  # each kernel its own paths


def test_a_temporary_folder_too_long_for_a_sockets_path_runs_kernels_over_tcp(monkeypatch):
    """A Unix socket's path has at most 104–108 bytes: past that a kernel could not start."""
    from jupyter_client.manager import AsyncKernelManager

    from cxlib.execution import KERNEL_SOCKETS_ENV, UnixSocketKernelManager, run_kernel_manager

    monkeypatch.setenv(KERNEL_SOCKETS_ENV, "/tmp/cx-sockets-abc")
    assert run_kernel_manager() is UnixSocketKernelManager
    monkeypatch.setenv(KERNEL_SOCKETS_ENV, "/tmp/" + "deep/" * 16)
    assert run_kernel_manager() is AsyncKernelManager
