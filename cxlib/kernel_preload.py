"""What the dashboards' fork server imports once before forking kernels (cxlib.forked_kernels).

Imported only in that server: ipykernel and everything a dashboard view imports, then
:func:`gc.freeze`, so the collector of every forked kernel leaves these objects — and the
memory pages they share with the fork server — alone.
"""

import gc

import ipykernel.kernelapp  # noqa: F401
import ipywidgets  # noqa: F401

import cxlib.dashboard  # noqa: F401

gc.freeze()
