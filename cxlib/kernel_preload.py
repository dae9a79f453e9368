"""What the dashboards' fork server imports once before forking kernels (cxlib.forked_kernels).

Imported only in that server: ipykernel, everything a dashboard view imports, and
``voila.utils`` (a preheated view waits in its ``wait_for_request``; importing it imports all
of Voilà — jupyter_server, nbconvert, bs4, jsonschema: 2 s of CPU per kernel), then
:func:`gc.freeze`, so the collector of every forked kernel leaves these objects — and the
memory pages they share with the fork server — alone.
"""

import gc

import ipykernel.kernelapp  # noqa: F401
import ipywidgets  # noqa: F401
import voila.utils  # noqa: F401

import cxlib.dashboard  # noqa: F401

gc.freeze()
