"""The one error type a user sees: what is wrong and how to fix it, never a traceback."""

from __future__ import annotations


class SourceError(Exception):
    """A source, file, mapping or column that cannot be used; the message names it and the fix.

    `quote` holds text copied from the data itself (a raw cell, a parser's or database's message that may
    quote a row). It is part of the full message, for people who may see every row, and left out of
    `message(with_rows=False)`, which is what a vendor-scoped user is shown.
    """

    def __init__(self, problem: str, *, fix: str, quote: str | None = None) -> None:
        super().__init__(_join(problem, quote, fix))
        self.problem = problem
        self.fix = fix
        self.quote = quote

    def message(self, *, with_rows: bool = True) -> str:
        """The message, with the quoted data only when `with_rows` (the reader may see every row)."""
        return _join(self.problem, self.quote if with_rows else None, self.fix)


def _join(problem: str, quote: str | None, fix: str) -> str:
    said = f"{problem} Details: {quote}" if quote else problem
    return f"{said} Fix: {fix}"
