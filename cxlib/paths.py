"""One place that resolves every path, so nothing depends on the working directory.

Voilà runs a notebook in the notebook's folder and papermill in the caller's; both end up
here. The project root is ``$CXLAB_ROOT`` when set, else the nearest folder above the
current directory (or above this package) that holds ``pyproject.toml`` and ``cxlib/``.
"""

from __future__ import annotations

import os
from pathlib import Path


def _looks_like_root(folder: Path) -> bool:
    return (folder / "pyproject.toml").is_file() and (folder / "cxlib").is_dir()


def project_root() -> Path:
    """Return the cxlab project root folder."""
    env = os.environ.get("CXLAB_ROOT")
    if env:
        return Path(env).resolve()
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            if _looks_like_root(folder):
                return folder
    return Path.cwd()


def resolve(path: str | os.PathLike[str]) -> Path:
    """Resolve ``path`` against the project root unless it is absolute."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (project_root() / p).resolve()


def reports_dir() -> Path:
    """Return the reports folder (``$CXLAB_REPORTS_DIR`` or ``<root>/reports``)."""
    env = os.environ.get("CXLAB_REPORTS_DIR")
    return Path(env).resolve() if env else project_root() / "reports"


def latest_run() -> Path:
    """Return the folder of the last published run (``reports/latest``)."""
    return reports_dir() / "latest"
