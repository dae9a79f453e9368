"""What a ``cx run``'s fork server does once before forking notebook workers (cxlib.runner).

It imports the modules the runner names in ``$CXLAB_PRELOAD`` — the worker's and kernel's
(:data:`cxlib.execution.WORKER_PRELOAD`), every module the run's notebooks import, the
dashboards — leaving any that fails to its notebook (whose cell then says why, as without a
fork server; multiprocessing's own preload passes over an ``ImportError`` only, and any other
error stopped the fork server and the run). Then it writes one small report page, since
nbconvert imports its Markdown and template machinery and compiles the page template on a
worker's first page (≈ 0.45 s each, on two cores), and calls :func:`gc.freeze` so the forked
workers' and kernels' collectors leave the shared objects — and the memory pages they share
with the fork server — alone.
"""

import gc
import importlib
import os
import tempfile
from pathlib import Path

import nbformat

from cxlib.execution import PRELOAD_MODULES_ENV, write_html


def _import_what_notebooks_import() -> None:
    for name in filter(None, os.environ.get(PRELOAD_MODULES_ENV, "").split(",")):
        try:
            importlib.import_module(name)
        except Exception:  # the notebook that imports it reports it, in its cell
            continue


def _write_a_page() -> None:
    book = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("## A heading\n\nSome *text* and a | table |\n|---|"),
        nbformat.v4.new_code_cell("x = 1", outputs=[nbformat.v4.new_output(
            "display_data", {"text/html": "<table><tr><td>1</td></tr></table>",
                             "text/plain": "1"})])])
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "warm.ipynb"
        nbformat.write(book, page)
        write_html(page, {"title": "warm", "as_of": "", "run_id": "", "input_fingerprint": ""})


_import_what_notebooks_import()
_write_a_page()
gc.freeze()
