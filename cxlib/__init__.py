"""cxlib — the customer's time as a resource the company spends.

The helper package behind cxlab's notebooks, dashboards and the ``cx`` command.
"""

import hashlib
from functools import lru_cache
from pathlib import Path

from cxlib.errors import ContractError, CxError, NotebookFailed, ParamsError

__all__ = ["ContractError", "CxError", "NotebookFailed", "ParamsError", "__version__",
           "code_fingerprint"]
__version__ = "0.1.0"


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Return a hash of cxlib's own source, read once per process.

    What is computed and cached with other code (a build, a dashboard's saved drawing) is
    never served by this one.
    """
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()
