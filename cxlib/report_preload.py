"""What a ``cx run``'s fork server does once before forking notebook workers (cxlib.runner).

The runner names the modules to import — the worker's and kernel's (:data:`cxlib.execution
.WORKER_PRELOAD`) and every module the run's notebooks import — and this module last: it
writes one small report page, since nbconvert imports its Markdown and template machinery and
compiles the page template on a worker's first page (≈ 0.45 s each, on two cores), then calls
:func:`gc.freeze` so the forked workers' and kernels' collectors leave the shared objects —
and the memory pages they share with the fork server — alone.
"""

import gc
import tempfile
from pathlib import Path

import nbformat

from cxlib.execution import write_html


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


_write_a_page()
gc.freeze()
