"""Filters shared by every page and query: a date range (inclusive) and dimension selections."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import polars as pl

from queries.display import display_name, display_value

DIMENSIONS = ("policy_domain", "market", "surface", "source", "vendor")
PERIODS = {"day": "1d", "week": "1w", "month": "1mo"}


@dataclass(frozen=True)
class Filters:
    """Tickets created from `start` to `end` (both inclusive, UTC days) in the selected groups.

    An empty selection for a dimension means "all". Hashable, so it can key a cache.
    """

    start: dt.date
    end: dt.date
    policy_domain: tuple[str, ...] = ()
    market: tuple[str, ...] = ()
    surface: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    vendor: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()  # the source's own dimensions: (name, selected values)

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")

    @classmethod
    def of(cls, start: dt.date, end: dt.date, selections: dict[str, tuple[str, ...]]) -> Filters:
        """Filters from a period and selections by name, contract dimensions and the source's own alike."""
        own = tuple(sorted((name, tuple(v)) for name, v in selections.items() if name not in DIMENSIONS and v))
        return cls(start, end, **{n: v for n, v in selections.items() if n in DIMENSIONS}, extra=own)

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time())

    @property
    def end_before(self) -> dt.datetime:
        """The exclusive upper boundary: midnight after `end`."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time())

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Filters:
        """The same selection over the equal-length period just before this one."""
        return replace(self, start=self.start - dt.timedelta(days=self.days), end=self.start - dt.timedelta(days=1))

    def selections(self) -> dict[str, tuple[str, ...]]:
        """The selected values by dimension name (contract dimensions first, then the source's own)."""
        chosen = {name: getattr(self, name) for name in DIMENSIONS if getattr(self, name)}
        chosen.update((name, values) for name, values in self.extra if values)
        return chosen

    def dimension_expr(self, columns: list[str] | None = None) -> pl.Expr:
        """True for rows in every selected group; dimensions absent from `columns` are skipped."""
        expr = pl.lit(True)
        for name, values in self.selections().items():
            if columns is None or name in columns:
                expr = expr & pl.col(name).is_in(values)
        return expr

    def in_period(self, column: str) -> pl.Expr:
        """True where the timestamp (or date) column falls inside the period."""
        return (pl.col(column) >= self.start_at) & (pl.col(column) < self.end_before)

    def describe(self) -> str:
        """One line for tooltips and captions: period and selections, in display names."""
        text = f"{self.start.isoformat()} to {self.end.isoformat()} ({self.days} days, UTC)"
        for name, values in self.selections().items():
            text += f"; {display_name(name)}: {', '.join(display_value(name, v) for v in values)}"
        return text


def period_expr(column: str, period: str) -> pl.Expr:
    """The date each row's period starts (weeks start on Monday), named `period`."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    return pl.col(column).dt.truncate(PERIODS[period]).cast(pl.Date).alias("period")
