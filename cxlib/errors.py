"""Errors that carry what a user needs to fix the problem.

Every error cxlib raises on purpose derives from :class:`CxError` and maps to a documented
process exit code (see ``cx --help``).
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_NOTEBOOK_FAILED = 1
EXIT_BAD_PARAMS = 2
EXIT_BAD_DATA = 3
EXIT_LOCKED = 4
EXIT_WRITE_FAILED = 5


class CxError(Exception):
    """Base class of cxlib's own errors; ``exit_code`` is what ``cx`` exits with."""

    exit_code = EXIT_BAD_DATA


class ParamsError(CxError):
    """A params, mapping or journey-spec file is wrong: names the file, each key and the reason.

    ``key`` and ``reason`` are the first problem; ``problems`` lists every ``(key, reason)``.
    """

    exit_code = EXIT_BAD_PARAMS

    def __init__(self, file: str, key: str, reason: str,
                 more: tuple[tuple[str, str], ...] = ()) -> None:
        self.file, self.key, self.reason = str(file), key, reason
        self.problems = ((key, reason), *more)
        if more:
            listed = "".join(f"\n  key '{k}': {r}" for k, r in self.problems)
            super().__init__(f"{self.file}: {len(self.problems)} problems:{listed}")
        else:
            super().__init__(f"{self.file}: key '{key}': {reason}")


@dataclass(frozen=True)
class Violation:
    """One broken rule of the data contract, for one cell."""

    file: str
    column: str
    row: int | None
    rule: str
    value: object = None

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "all rows"
        return f"{self.file}: column '{self.column}', {where}: {self.rule} (value: {self.value!r})"


class ContractError(CxError):
    """Input breaks the data contract in a way no quarantine can fix (or too often)."""

    exit_code = EXIT_BAD_DATA

    def __init__(self, file: str, column: str, row: int | None, rule: str, value: object = None):
        self.violation = Violation(str(file), column, row, rule, value)
        self.file, self.column, self.row, self.rule = str(file), column, row, rule
        super().__init__(str(self.violation))


class NotebookFailed(CxError):
    """A report notebook raised, timed out or lost its kernel."""

    exit_code = EXIT_NOTEBOOK_FAILED

    def __init__(self, notebook: str, cell: int | None, first_line: str, reason: str) -> None:
        self.notebook, self.cell, self.first_line, self.reason = notebook, cell, first_line, reason
        where = f"cell {cell} ({first_line!r})" if cell is not None else "before any cell"
        super().__init__(f"{notebook}: {where}: {reason}")


class RefusedWrite(CxError):
    """A command would write where it must not (over a folder of someone's own files)."""

    exit_code = EXIT_BAD_PARAMS


class RunLocked(CxError):
    """Another run of the same params file holds the lock."""

    exit_code = EXIT_LOCKED
