"""The one error type a user sees: what is wrong and how to fix it, never a traceback."""

from __future__ import annotations


class SourceError(Exception):
    """A source, file, mapping or column that cannot be used; the message names it and the fix."""

    def __init__(self, problem: str, *, fix: str) -> None:
        super().__init__(f"{problem} Fix: {fix}")
        self.problem = problem
        self.fix = fix
