"""Keeping the committed report notebooks small and their checked outputs true.

Notebooks are committed without outputs, except the few cells marked ``# NBVAL_CHECK_OUTPUT``
whose printed key numbers ``pytest --nbval-lax`` compares on every test run.
``make notebook-outputs`` re-executes the notebooks on the CI demo data and stores just those.
"""

from __future__ import annotations

import ast
import tempfile
from collections.abc import Iterable
from pathlib import Path

import nbformat
import papermill as pm

from cxlib.paths import project_root

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
CHECK_TAG = "nbval-check-output"  # nbval's cell tag for the same


def report_notebooks() -> list[Path]:
    """Return the numbered report notebooks (``notebooks/NN_*.ipynb``), in flow order."""
    return sorted((project_root() / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def imported_modules(paths: Iterable[Path]) -> list[str]:
    """Return the modules the notebooks' code cells import (what their kernels will import).

    ``from package import name`` names both ``package`` and ``package.name`` (``name`` may be
    a module); a cell that is not plain Python (a magic) is passed over.

    Parameters
    ----------
    paths
        Notebook files.

    Returns
    -------
    list of str
        Module names, sorted, without repeats.
    """
    modules: set[str] = set()
    for path in paths:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    modules.add(node.module)
                    modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return sorted(modules)


def is_checked(cell: nbformat.NotebookNode) -> bool:
    """Tell whether a code cell's outputs are compared by nbval."""
    return cell.cell_type == "code" and (
        cell.source.lstrip().startswith(CHECK_MARK)
        or CHECK_TAG in cell.get("metadata", {}).get("tags", []))


def strip_outputs(book: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop every output and execution count except those of checked cells.

    Checked cells keep their outputs and a stable execution count (1, 2, …): nbval treats a
    cell with outputs but no count as unrun and fails it.
    """
    book.metadata.pop("papermill", None)
    checked = 0
    for cell in book.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        if is_checked(cell):
            checked += 1
            cell.execution_count = checked
        else:
            cell.execution_count = None
            cell.outputs = []
        for out in cell.outputs:
            out.pop("execution_count", None)
    return book


def refresh_checked_outputs(paths: list[Path] | None = None) -> list[Path]:
    """Execute each notebook with its default parameters; store only checked outputs."""
    done = []
    for path in paths or report_notebooks():
        with tempfile.TemporaryDirectory() as tmp:
            executed = Path(tmp) / path.name
            pm.execute_notebook(str(path), str(executed), cwd=str(path.parent),
                                kernel_name="python3", progress_bar=False)
            book = strip_outputs(nbformat.read(executed, as_version=4))
        nbformat.write(book, path)
        done.append(path)
    return done


if __name__ == "__main__":
    for refreshed in refresh_checked_outputs():
        print(f"refreshed {refreshed.relative_to(project_root())}")
