"""A published run as the dashboards see it: its manifest, its tables, and the run before it.

The dashboards never read raw data: only the tables a run published, through the publishing
schema (:mod:`cxlib.publishing`), and its ``manifest.json`` (title, cut-off, the run's
``min_group_size`` and the journey spec it measured by).
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from cxlib.config import JourneySpec
from cxlib.paths import reports_dir
from cxlib.privacy import MIN_GROUP_SIZE
from cxlib.publishing import FROM_ANSWERS, SCHEMA, read_table
from cxlib.store import read_manifest

DEFAULT_CHANNEL = "latest"
CHANNEL_ENV = "CXLAB_CHANNEL"  # `cx serve --channel` sets it for the dashboard's kernels
PUBLIC_URL_ENV = "CXLAB_PUBLIC_URL"  # the address managers use for the server's root
_CHANNEL = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
FACTS = ("journey_facts", "survey_facts")  # what every view filters


class TableMissing(LookupError):
    """A view needs a table this run did not publish (an older run, or a spec without it)."""

    def __init__(self, name: str, about: str | None = None, no_answers: bool = False) -> None:
        about = about or (SCHEMA[name].about if name in SCHEMA else name)
        super().__init__(
            f"This run has no survey answers, so it shows nothing of {about}." if no_answers
            else f"This run did not publish {about} ({name!r}): it comes from an older cxlab "
            "or a journey spec without it. A new run adds it.")
        self.name = name


@dataclass
class PublishedRun:
    """A published run: its folder, its manifest and its per-journey and per-answer facts."""

    folder: Path
    manifest: dict
    journeys: pd.DataFrame
    surveys: pd.DataFrame
    _tables: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def min_group_size(self) -> int:
        """The run's own ``min_group_size`` (the default for runs that did not record one)."""
        return int(self.manifest.get("params", {}).get("min_group_size", MIN_GROUP_SIZE))

    @property
    def run_id(self) -> str:
        """The run's id (its folder's name when the manifest lacks one)."""
        return str(self.manifest.get("run_id", self.folder.resolve().name))

    @cached_property
    def spec(self) -> JourneySpec | None:
        """The journey spec the run measured by (None for runs that did not record it)."""
        recorded = self.manifest.get("journey_spec")
        return JourneySpec.model_validate(recorded) if isinstance(recorded, dict) else None

    def table(self, name: str) -> pd.DataFrame:
        """Return a published table, read once; raise :class:`TableMissing` when absent."""
        if name not in self._tables:
            try:
                self._tables[name] = read_table(self.folder, name)
            except FileNotFoundError:
                raise TableMissing(name, no_answers=name in FROM_ANSWERS
                                   and self.surveys.empty) from None
        return self._tables[name]

    def previous(self) -> PublishedRun | None:
        """Return the newest successful run of the same params file before this one, if any."""
        here = self.folder.resolve()
        params_file = self.manifest.get("params_file")
        if params_file is None:
            return None
        # by run id, not folder name: a run still being written lives in ".<id>.partial"
        for run in sorted(here.parent.iterdir(), reverse=True):
            if (run.name >= self.run_id or run.name.startswith(".") or run.name.endswith(".failed")
                    or not (run / "tables").is_dir()):
                continue
            manifest = read_manifest(run)
            if manifest.get("params_file") == params_file and manifest.get("status") == "ok":
                try:
                    return load_published(run)
                except (FileNotFoundError, ValueError):
                    return None
        return None

    def describe_html(self) -> str:
        """One escaped header: title, then run id, cut-off, journeys and channel."""
        params = self.manifest.get("params", {})
        parts = [f"run {self.run_id}", f"cut-off {params.get('as_of', 'unknown')}",
                 f"{len(self.journeys):,} journeys",
                 f"channel {self.manifest.get('channel', 'unknown')}"]
        title = self.manifest.get("title", "cxlab report")
        return (f"<div class='cx-run'><div class='cx-title' style='font-size:20px;"
                f"font-weight:600'>{html.escape(str(title))}</div><div style='font-size:12px;"
                f"color:#555'>{html.escape(' · '.join(parts))}</div></div>")


def channel_name(channel: str | None = None) -> str:
    """Return the channel a dashboard reads: ``channel``, else ``$CXLAB_CHANNEL``, else latest."""
    return channel or os.environ.get(CHANNEL_ENV) or DEFAULT_CHANNEL


def channel_folder(channel: str | None = None) -> Path:
    """Return ``reports/<channel>`` for :func:`channel_name`'s channel.

    Raises
    ------
    ValueError
        For a channel name that could leave the reports folder.
    """
    name = channel_name(channel)
    if not _CHANNEL.match(name):
        raise ValueError(f"not a channel name: {name!r} (letters, digits, '_', '-', '.')")
    return reports_dir() / name


def load_published(run_dir: str | Path | None = None,
                   channel: str | None = None) -> PublishedRun:
    """Read a published run: ``run_dir``, else the run the channel points to.

    Raises
    ------
    FileNotFoundError
        When there is no published run there (the message says how to publish one).
    """
    given = Path(run_dir) if run_dir else channel_folder(channel)
    if not (given / "tables").is_dir():
        raise FileNotFoundError(f"no published run at {given}; run `make reports` first")
    folder = given.resolve()  # the run itself: a channel may point elsewhere while it is read
    frames = {name: read_table(folder, name) for name in FACTS}
    return PublishedRun(folder, read_manifest(folder), frames["journey_facts"],
                        frames["survey_facts"])
