"""The one error type users see: a single line saying what is wrong and what to do."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a failed step. Printed as one line, exit code 2, never a traceback."""

    def __init__(self, problem: str, fix: str | None = None, exit_code: int = 2):
        self.problem = problem
        self.fix = fix
        self.exit_code = exit_code
        super().__init__(self.line())

    def line(self) -> str:
        return f"error: {self.problem}" + (f" -- {self.fix}" if self.fix else "")
