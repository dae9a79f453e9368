"""What the dashboards' fork server imports once before forking kernels (cxlib.forked_kernels).

Imported only in that server: ipykernel, everything a dashboard view imports, and
``voila.utils`` (a preheated view waits in its ``wait_for_request``; importing it imports all
of Voilà — jupyter_server, nbconvert, bs4, jsonschema: 2 s of CPU per kernel); then the hash
of the code the kernels run is taken, and :func:`gc.freeze` called, so the collector of every
forked kernel leaves these objects — and the memory pages they share with the fork server —
alone.
"""

import gc

import ipykernel.kernelapp  # noqa: F401
import ipywidgets  # noqa: F401
import voila.utils  # noqa: F401

import cxlib
import cxlib.dashboard  # noqa: F401

cxlib.code_fingerprint()  # of the code the kernels run (a saved drawing by other code is not)
gc.freeze()
