"""Shared fixtures: tiny inline event logs, demo data sets, one published CI run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from cxlib.config import load_spec
from cxlib.io import load_dataset
from cxlib.journeys import build_journeys
from cxlib.paths import project_root
from cxlib.synth import write_demo

ROOT = project_root()
AS_OF = "2026-07-01T00:00:00Z"
CX = [sys.executable, "-m", "cxlib.cli"]


def events(*rows: tuple) -> pd.DataFrame:
    """Build canonical events from ``(journey_id, customer_id, activity, ts, source)`` rows."""
    frame = pd.DataFrame(rows, columns=["journey_id", "customer_id", "activity", "ts", "source"])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601")
    for col in ("journey_id", "customer_id", "activity", "source"):
        frame[col] = frame[col].astype("str")
    frame["source_row"] = range(1, len(frame) + 1)
    return frame


@pytest.fixture(scope="session")
def spec():
    return load_spec(ROOT / "params/journeys/broadband.yaml")


@pytest.fixture(scope="session")
def demo_ci(tmp_path_factory) -> Path:
    """The CI-sized demo world (2,000 customers, seed 7)."""
    return write_demo(tmp_path_factory.mktemp("demo-ci"), customers=2000, seed=7)


@pytest.fixture(scope="session")
def demo_full(tmp_path_factory) -> Path:
    """The default-sized demo world (20,000 customers, seed 42): enough answers to test truth."""
    return write_demo(tmp_path_factory.mktemp("demo-full"), customers=20_000, seed=42)


@pytest.fixture(scope="session")
def full_world(demo_full, spec) -> SimpleNamespace:
    """The default-sized demo checked and built once: ``data``, ``journeys`` (at AS_OF),
    ``truth`` and each customer's true ``segments`` (customer_id, segment)."""
    data = load_dataset(demo_full)
    truth = json.loads((demo_full / "truth.json").read_text())
    segments = pd.DataFrame({"customer_id": list(truth["segment_of_customer"]),
                             "segment": list(truth["segment_of_customer"].values())})
    return SimpleNamespace(data=data, journeys=build_journeys(data.events, spec, AS_OF),
                           truth=truth, segments=segments)


@pytest.fixture(scope="session")
def ci_dataset(demo_ci):
    return load_dataset(demo_ci)


def run_cx(*args: str, env: dict | None = None, timeout: int = 600,
           preexec_fn=None) -> subprocess.CompletedProcess:
    """Run the ``cx`` command as a user would, capturing its output."""
    # headless like cron and CI: reports must still carry their figures
    full_env = {**os.environ, "MPLBACKEND": "Agg", **(env or {})}
    bin_dir = str(Path(sys.executable).parent)
    full_env["PATH"] = bin_dir + os.pathsep + full_env.get("PATH", "")
    return subprocess.run([*CX, *args], capture_output=True, text=True, env=full_env,
                          timeout=timeout, cwd=ROOT, check=False, preexec_fn=preexec_fn)


@pytest.fixture(scope="session")
def published_reports(tmp_path_factory) -> Path:
    """A reports folder holding one successful `cx run params/ci.yaml`."""
    reports = tmp_path_factory.mktemp("reports")
    result = run_cx("run", "params/ci.yaml", "--reports-dir", str(reports))
    assert result.returncode == 0, result.stderr[-3000:]
    return reports
