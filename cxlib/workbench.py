"""Everything a report notebook starts from, in one call.

``open_workbench(data_dir, spec_path, as_of)`` loads and checks the data, builds the journeys,
measures behaviour and segments customers, and joins the survey answers — so each notebook
runs on its own (in JupyterLab or under papermill) with the same numbers as every other.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

import ibis
import ibis.expr.types as ir
import pandas as pd

import cxlib
from cxlib.config import JourneySpec, load_spec, parse_as_of
from cxlib.engines import duckdb_backend, execute_scalar, is_in, to_frame, write_parquet
from cxlib.io import Dataset, check_folder, data_fingerprint
from cxlib.journeys import JourneyEvents, build_journeys, journey_bounds, journey_events_expr
from cxlib.paths import resolve


@dataclass(frozen=True)
class Workbench:
    """Checked data, journeys (with region and segment), behaviour and survey answers."""

    dataset: Dataset
    spec: JourneySpec
    as_of: datetime
    journeys: pd.DataFrame
    behaviour: pd.DataFrame
    surveys: pd.DataFrame
    wait: str = "e2e_days"  # the duration satisfaction is set against (a column of surveys)
    said: set[str] = field(default_factory=set, repr=False)  # reasons already shown
    # the events attributed to journeys at the cut-off, as the build kept them: pass them to
    # the process statistics (cxlib.process) instead of the events, to skip attributing again
    journey_events: JourneyEvents | None = field(default=None, repr=False)

    def missing(self, section: str) -> str:
        """Say in one sentence why a report section does not apply to this spec and data.

        Returns an empty string when it applies. Sections: ``journeys``, the parts of a spec
        (:meth:`cxlib.config.JourneySpec.unmeasured`: ``team_clocks``, ``team_targets``,
        ``promises``, ``window_promises``, ``customer_time``, ``contacts``, ``behaviour``),
        ``surveys``, ``wait``, ``completed``, ``service_times``.
        """
        spec = self.spec
        reasons: dict[str, Callable[[], str]] = {
            "journeys": lambda: "" if self.dataset is None or not self.dataset.survey_only else
            "This data holds survey answers only, with no event log, so there are no journeys "
            "to time; the satisfaction report works from the answers' own measured wait.",
            **{part: lambda part=part: spec.unmeasured(part) for part in (
                "team_clocks", "team_targets", "promises", "window_promises", "customer_time",
                "contacts", "behaviour")},
            "surveys": lambda: "" if self.surveys[["csat", "nps", "ces"]].notna().any().any()
            else "There are no survey answers in this data, so satisfaction cannot be set "
            "against time.",
            "completed": lambda: "" if (self.journeys["status"] == "complete").any() else
            "No journey is complete at the cut-off, so no completed duration can be shown.",
            "wait": lambda: "" if self.wait in self.surveys.columns else
            "The answers carry no measured wait and there are no journeys to time them by; "
            "name the answers' own duration column with `survey_duration` in the params file.",
            "service_times": lambda: "" if self.dataset is not None
            and _records_starts(self.dataset.events) else
            "The log records no activity starts (only completions), so the time spent working "
            "on each activity cannot be told from the time waiting for it.",
        }
        if section not in reasons:
            raise ValueError(f"unknown report section {section!r}; one of {', '.join(reasons)}")
        journeys_missing = "" if section == "journeys" else reasons["journeys"]()
        own = reasons[section]()
        return journeys_missing if journeys_missing and section not in ("surveys", "wait") \
            else own

    def header(self) -> str:
        """Return one Markdown line saying what this report is about: journey, cut-off, sizes."""
        return (f"**{self.spec.heading}** · cut-off {self.as_of:%Y-%m-%d %H:%M} UTC · "
                f"{len(self.journeys):,} journeys · {len(self.surveys):,} survey answers")

    def applies(self, section: str) -> bool:
        """Return whether a report section applies; when not, show the one-sentence reason.

        A reason is shown once per report (a survey-only data set's, for instance, applies to
        every journey section).
        """
        why = self.missing(section)
        if why and why not in self.said:
            self.said.add(why)
            from IPython.display import Markdown, display

            display(Markdown(f"*{why}*"))
        return not why


CACHE_DIR = ".cache/builds"  # under the project root: builds of data opened outside a run
_DATASET_TABLES = ("events", "surveys", "customers", "quarantine", "quality", "resolved")
_BUILT_TABLES = ("journeys", "behaviour", "linked_surveys")
BUILD_INFO = "build.json"


def _records_starts(events: pd.DataFrame | ir.Table) -> bool:
    """Return whether any event says when its activity began (``activity_start_ts``)."""
    if "activity_start_ts" not in events.columns:
        return False
    if isinstance(events, ir.Table):
        return bool(execute_scalar(events.activity_start_ts.notnull().any()))
    return bool(events["activity_start_ts"].notna().any())


def build_workbench(data_dir: str | Path, spec_path: str | Path, as_of: str | datetime | None,
                    folder: str | Path, max_bad_share: float | None = None,
                    timezone: str | None = None, random_state: int = 0,
                    engine: str = "duckdb", spark_conf: dict[str, str] | None = None,
                    survey_duration: str = "", asked_by: str = "open_workbench",
                    key: str = "") -> Workbench:
    """Check ``data_dir``, build journeys with ``spec_path`` at cut-off ``as_of``, segment.

    The whole computation, for every region, written to ``folder`` as it goes (see
    :func:`read_build`): the clean events go from the contract's DuckDB query to a Parquet
    file there and are read from it — by the journeys, the behaviour features and every
    notebook — without ever being held in pandas. See :func:`open_workbench` for the other
    arguments; ``as_of`` None takes the time of the last clean event (the data's own
    cut-off, read from the same check); ``asked_by`` names the params file (or call) in an
    error about ``survey_duration``, ``key`` is kept in ``build.json``.
    """
    # the build's own libraries (scikit-learn) are imported here, so a notebook that opens
    # a run's build does not pay for them
    from cxlib.segments import TimeSensitivitySegmenter, behaviour_features
    from cxlib.survey_links import survey_journeys

    given = parse_as_of(as_of) if as_of is not None else None  # a bad one before the check
    spec = load_spec(spec_path)
    checked = check_folder(data_dir, timezone=timezone, max_bad_share=max_bad_share)
    cutoff = given or parse_as_of(checked.latest_event())
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    checked.events_table().to_parquet(out / EVENTS_FILE)
    _keep_journey_events(out, spec, cutoff)
    clean, attributed = _events_in(out, spec, cutoff)
    data = checked.dataset(events=clean)
    del checked  # its DuckDB connection and what it holds
    events = attributed if engine == "duckdb" else to_frame(data.events)
    journeys = build_journeys(events, spec, cutoff, engine=engine, spark_conf=spark_conf)
    if spec.behaviour is not None:
        behaviour = behaviour_features(attributed, journeys, spec, cutoff)
        behaviour["segment"] = TimeSensitivitySegmenter(
            random_state=random_state).fit_predict(behaviour)
    else:
        behaviour = pd.DataFrame({"customer_id": journeys["customer_id"].unique(),
                                  "segment": "all customers"})
    journeys = (journeys.merge(data.customers[["customer_id", "region"]], on="customer_id",
                               how="left")
                .merge(behaviour[["customer_id", "segment"]], on="customer_id", how="left"))
    if data.survey_only:  # answers alone: their own columns, one group, no journey to join
        surveys = data.surveys.merge(data.customers[["customer_id", "region"]],
                                     on="customer_id", how="left").assign(segment="all customers")
    else:
        surveys = survey_journeys(data.surveys, journeys.drop(columns=["region", "segment"]),
                                  data.customers[["customer_id", "region"]],
                                  behaviour[["customer_id", "segment"]])
    if survey_duration:
        waits = data.survey_durations(survey_duration, asked_by)
        surveys[survey_duration] = surveys["response_id"].map(
            pd.Series(waits.to_numpy(), index=data.surveys["response_id"]))
    wb = Workbench(data, spec, cutoff, journeys, behaviour, surveys,
                   survey_duration or "e2e_days", journey_events=attributed)
    _write_tables(wb, out, key)
    return wb


EVENTS_FILE = "dataset_events.parquet"
JOURNEY_EVENTS_FILE = "journey_events.parquet"
JOURNEY_BOUNDS_FILE = "journey_bounds.parquet"


def _keep_journey_events(folder: Path, spec: JourneySpec, as_of: datetime) -> None:
    """Attribute a build's clean events to journeys once; write them and each journey's bounds.

    The bounds are taken from the attributed events as written (a journey's own events).
    """
    backend = duckdb_backend()
    attributed, _ = journey_events_expr(backend.read_parquet(folder / EVENTS_FILE), spec, as_of)
    attributed.to_parquet(folder / JOURNEY_EVENTS_FILE)
    journey_bounds(backend.read_parquet(folder / JOURNEY_EVENTS_FILE), spec, as_of
                   ).to_parquet(folder / JOURNEY_BOUNDS_FILE)


def _events_in(folder: Path, spec: JourneySpec, as_of: datetime
               ) -> tuple[ir.Table, JourneyEvents]:
    """Return a build's clean events and its journey events, on one DuckDB connection of theirs.

    Both stay in their Parquet files, queried where a report needs them.
    """
    backend = duckdb_backend()
    return backend.read_parquet(folder / EVENTS_FILE), JourneyEvents(
        backend.read_parquet(folder / JOURNEY_EVENTS_FILE),
        backend.read_parquet(folder / JOURNEY_BOUNDS_FILE), spec, as_of)


def _write_tables(wb: Workbench, out: Path, key: str) -> None:
    """Write a workbench's tables (all but the events, already there) and ``build.json``."""
    for name in _DATASET_TABLES:
        if name != "events":
            write_parquet(getattr(wb.dataset, name), out / f"dataset_{name}.parquet")
    for name, table in zip(_BUILT_TABLES, (wb.journeys, wb.behaviour, wb.surveys), strict=True):
        write_parquet(table, out / f"{name}.parquet")
    info = {"key": key, "as_of": wb.as_of.isoformat(), "wait": wb.wait,
            "spec": wb.spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)}
    (out / BUILD_INFO).write_text(json.dumps(info, indent=1))


def read_build(folder: str | Path) -> Workbench:
    """Open a workbench a run (or an earlier open) built: it reads tables and computes nothing.

    The events stay in their Parquet file, queried by DuckDB where a report needs them.
    """
    src = Path(folder)
    info = json.loads((src / BUILD_INFO).read_text())
    spec, as_of = JourneySpec.model_validate(info["spec"]), parse_as_of(info["as_of"])
    events, attributed = _events_in(src, spec, as_of)
    data = Dataset(events, *(pd.read_parquet(src / f"dataset_{name}.parquet")
                             for name in _DATASET_TABLES if name != "events"))
    journeys, behaviour, surveys = (pd.read_parquet(src / f"{name}.parquet")
                                    for name in _BUILT_TABLES)
    return Workbench(data, spec, as_of, journeys, behaviour, surveys, info["wait"],
                     journey_events=attributed)


def _in_region(wb: Workbench, region: str) -> Workbench:
    """Narrow journeys, behaviour and answers to one region's customers (after segmenting)."""
    customers = wb.dataset.customers
    known = sorted(customers["region"].dropna().unique())
    if region not in known:
        raise ValueError(f"no customers in region {region!r}; regions: {', '.join(known)}")
    in_region = set(customers.loc[customers["region"] == region, "customer_id"])
    ids = ibis.memtable({"customer_id": sorted(in_region)})
    events = wb.dataset.events
    if isinstance(events, ir.Table):
        events = events.semi_join(ids, "customer_id")
    else:
        events = events[is_in(events["customer_id"], in_region)].reset_index(drop=True)
    attributed = wb.journey_events and replace(
        wb.journey_events, events=wb.journey_events.events.semi_join(ids, "customer_id"),
        bounds=wb.journey_events.bounds.semi_join(ids, "customer_id"))
    return replace(
        wb, dataset=replace(wb.dataset, events=events), journey_events=attributed,
        journeys=wb.journeys[wb.journeys["region"] == region].reset_index(drop=True),
        behaviour=wb.behaviour[is_in(wb.behaviour["customer_id"], in_region)]
        .reset_index(drop=True),
        surveys=wb.surveys[wb.surveys["region"] == region].reset_index(drop=True), said=set())


KEEP_CACHED = 8  # builds kept in the cache; those used longer ago are removed …
IN_USE_SECONDS = 3600  # … unless opened within the last hour (a session may still query them)
IN_USE_FILE = ".in-use"  # … or held open by a live process (a shared lock on this file)
_HELD: dict[Path, int] = {}  # the builds this process holds open: their locked files


def _hold(build: Path) -> None:
    """Mark a cached build as open in this process for as long as the process lives.

    A shared ``flock`` on its :data:`IN_USE_FILE`, which the operating system lets go when the
    process ends, however it ends. Without ``fcntl`` (Windows) the hour of
    :data:`IN_USE_SECONDS` alone protects it.
    """
    if fcntl is None:
        return
    if build in _HELD:
        if os.fstat(_HELD[build]).st_nlink:  # held, and the folder not built again since
            return
        os.close(_HELD.pop(build))  # the file of a folder since removed
    with contextlib.suppress(OSError):
        held = os.open(build / IN_USE_FILE, os.O_RDONLY | os.O_CREAT, 0o644)
        fcntl.flock(held, fcntl.LOCK_SH)
        _HELD[build] = held


def _held_open(build: Path) -> bool:
    """Tell whether a live process (this one too) holds a cached build open (:func:`_hold`)."""
    if fcntl is None:
        return False
    try:
        probe = os.open(build / IN_USE_FILE, os.O_RDONLY)
    except OSError:  # never held
        return False
    try:
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(probe)  # lets go of a lock taken here, and only that one (flock)
    return False


def _build_into_cache(folder: Path, key: str, build: Callable[[Path], Workbench]) -> Workbench:
    """Build into the cache atomically (a partial folder renamed), keep only the newest few.

    Returns the workbench, its events read from the cached folder.
    """
    partial = folder.with_name(f".{key}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        wb = build(partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(folder, ignore_errors=True)  # an entry replaced on purpose (cache=False)
    try:
        partial.rename(folder)
    except OSError:  # another process cached the same build first
        shutil.rmtree(partial, ignore_errors=True)
    _hold(folder)
    _forget_unused_builds(folder.parent)
    events, attributed = _events_in(folder, wb.spec, wb.as_of)
    return replace(wb, dataset=replace(wb.dataset, events=events), journey_events=attributed)


def _last_used(build: Path) -> float:
    """Return when a cached build was last opened (its ``build.json`` is touched on opening)."""
    try:
        return (build / BUILD_INFO).stat().st_mtime
    except OSError:  # not a whole build
        return 0.0


def _forget_unused_builds(cache: Path) -> None:
    """Remove cached builds beyond the :data:`KEEP_CACHED` last used, if unused for an hour.

    A workbench queries its build's event files for as long as its session runs, so a build
    opened recently, or held open by a live process (:func:`_hold`: a JupyterLab kernel idle
    for hours), is never removed, however many others were opened since.
    """
    builds = sorted((p for p in cache.iterdir() if not p.name.startswith(".")),
                    key=_last_used, reverse=True)
    now = time.time()
    for old in builds[KEEP_CACHED:]:
        if now - _last_used(old) > IN_USE_SECONDS and not _held_open(old):
            shutil.rmtree(old, ignore_errors=True)


def _cache_key(data_dir: str | Path, spec_path: str | Path, **settings: object) -> str:
    digest = hashlib.sha256(data_fingerprint(resolve(data_dir)).encode())
    digest.update(cxlib.code_fingerprint().encode())
    digest.update(resolve(spec_path).read_bytes())
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:20]


def open_workbench(data_dir: str | Path, spec_path: str | Path, as_of: str | datetime,
                   max_bad_share: float | None = None, timezone: str | None = None,
                   random_state: int = 0, region: str = "", engine: str = "duckdb",
                   spark_conf: dict[str, str] | None = None,
                   survey_duration: str = "", build_dir: str | Path = "",
                   cache: bool = True) -> Workbench:
    """Load ``data_dir``, build journeys with ``spec_path`` at cut-off ``as_of``, segment.

    Segments are learned when the spec has a ``behaviour`` section; otherwise the ``segment``
    column reads ``"all customers"``. With ``region``, journeys, behaviour and answers are
    narrowed to that region's customers *after* segmenting, so segment names mean the same in
    every regional report. ``engine`` (``"duckdb"`` or ``"pyspark"``, with ``spark_conf``)
    says where the journey table is computed. ``survey_duration`` names a column of the survey
    answers holding their own measured wait (a delay in minutes): satisfaction is then set
    against it instead of the journey's end-to-end days (``Workbench.wait``) — the way to
    analyse survey answers without an event log.

    A run builds once and its notebooks open that build (``build_dir``). Outside a run, the
    build is cached under ``.cache/builds/`` keyed by the data's content, the spec, every
    setting and cxlib's own code, so a second open of the same data is a read; ``cache=False``
    builds again (and replaces the cached build). Builds beyond the 8 last opened are removed
    once unused for an hour and held open by no live process. The events stay in the build's
    Parquet file, queried by DuckDB (``Workbench.dataset.events`` is an Ibis table).
    """
    if build_dir:
        wb = read_build(build_dir)
    else:
        settings = {"as_of": parse_as_of(as_of).isoformat(), "max_bad_share": max_bad_share,
                    "timezone": timezone, "random_state": random_state, "engine": engine,
                    "spark_conf": spark_conf, "survey_duration": survey_duration}
        key = _cache_key(data_dir, spec_path, **settings)
        cached = resolve(CACHE_DIR) / key
        if cache and (cached / BUILD_INFO).is_file():
            with contextlib.suppress(OSError):  # in use again: kept (_forget_unused_builds)
                os.utime(cached / BUILD_INFO)
            _hold(cached)
            wb = read_build(cached)
        else:
            wb = _build_into_cache(cached, key, lambda folder: build_workbench(
                data_dir, spec_path, as_of, folder, max_bad_share, timezone, random_state,
                engine, spark_conf, survey_duration, key=key))
    return _in_region(wb, region) if region else wb
