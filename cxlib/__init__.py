"""cxlib — the customer's time as a resource the company spends.

The helper package behind cxlab's notebooks, dashboards and the ``cx`` command.
"""

from cxlib.errors import ContractError, CxError, NotebookFailed, ParamsError

__all__ = ["ContractError", "CxError", "NotebookFailed", "ParamsError", "__version__"]
__version__ = "0.1.0"
