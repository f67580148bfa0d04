"""The rollups engine: metrics of large extracts answered from their daily rollups, without ticket rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import partial

import polars as pl

from queries.engines.base import EngineBase
from queries.engines.rollups.read import (
    arrivals,
    decision_counts,
    duration_buckets,
    handled,
    last_active_day,
    open_tickets,
    queue_reviews,
    rollup_summary,
    sla_flags,
    views_while_waiting,
)
from queries.engines.rollups.source import PERCENTILES_NOT_KEPT, RolledUpSource
from queries.engines.rollups.storage import ROLLUP_DIMENSIONS, ROLLUP_METRICS
from queries.engines.rows import RowsEngine, throughput
from queries.filters import Filters
from queries.histogram import PERCENTILE_ERROR_BOUND
from queries.sla import SlaPolicy
from queries.sources.dataset import Dataset

# Metrics that also read a small table held whole: platform_metrics, qa_reviews (with the reviewed tickets' dimensions
# kept at build, Rollups.reviewed), staffing (with the human decisions counted in the rollups).
WITH_SMALL_TABLES = ("per_million_dau", "qa_accuracy", "throughput")


class RollupsEngine(EngineBase):
    """Counts and sums from the rollups, percentiles from their histograms (within PERCENTILE_ERROR_BOUND);
    groups by ROLLUP_DIMENSIONS only."""

    metrics = (*ROLLUP_METRICS, *WITH_SMALL_TABLES)
    unsupported = "needs ticket rows, which large extracts served from rollups do not keep."
    groupings = ROLLUP_DIMENSIONS
    ungrouped = (
        f"large extracts served from rollups group by {', '.join(ROLLUP_DIMENSIONS)} only (your own "
        "[tickets.dimensions] need a warehouse, or an extract small enough to hold in memory)"
    )

    @property
    def own_dimensions(self) -> tuple[str, ...]:
        return ()  # the rollups' grain is ROLLUP_DIMENSIONS: contract fields

    declined_note = PERCENTILES_NOT_KEPT
    source: RolledUpSource

    rows_fix = "use a shorter extract, or raise BELLWETHER_ROLLUP_ROWS if the machine has the memory"

    @property
    def caption(self) -> str:
        return self.captioned(self.source.rollups.rows)[0]

    @property
    def rows_why(self) -> str:
        return self.captioned(self.source.rollups.rows)[1]

    def captioned(self, tickets: int) -> tuple[str, str]:
        return (
            f"{tickets:,} tickets: served from daily rollups (percentiles within {PERCENTILE_ERROR_BOUND:.0%}); pages "
            "that need ticket rows say so.",
            f"These extracts hold {tickets:,} tickets, so Bellwether serves them from daily rollups instead of holding "
            "ticket rows in memory.",
        )

    def summarize(
        self, metric: str, filters: Filters, by: list[str], period: str | None, sla_policy: SlaPolicy | None
    ) -> pl.DataFrame:
        question = (metric, filters, tuple(by), period, None if sla_policy is None else sla_policy.terms)
        return self.source.answers(question, lambda: self._summarize(metric, filters, by, period, sla_policy))

    def _summarize(
        self, metric: str, filters: Filters, by: list[str], period: str | None, sla_policy: SlaPolicy | None
    ) -> pl.DataFrame:
        if metric == "per_million_dau":
            return self.per_million_dau(filters, by, period)
        if metric == "qa_accuracy":  # the rows engine's, over the reviews and their tickets' dimensions
            return RowsEngine(self._reviews()).summarize(metric, filters, by, period, None)
        if metric == "throughput":
            counted = partial(handled, self.source.rollups, by=by, period=period)
            return throughput(counted, self.source.tables["staffing"], filters, by, period)
        return rollup_summary(self.source.rollups, metric, filters, by, period, sla_policy=sla_policy)

    def _reviews(self) -> Dataset:
        """The QA reviews with the dimensions of their tickets (the rollups' side table) as a Dataset."""
        tables = {"qa_reviews": self.source.tables["qa_reviews"], "tickets": self.source.rollups.reviewed}
        return Dataset(self.source.source, None, self.source.signature, tables, self.source.reports)

    def reviewed_tickets(self, filters: Filters, columns: Sequence[str]) -> pl.DataFrame:
        absent = [c for c in columns if c not in ROLLUP_DIMENSIONS]
        if absent:
            kept = ", ".join(ROLLUP_DIMENSIONS)
            raise ValueError(f"rollups keep the QA-reviewed tickets' {kept}, not {', '.join(absent)}")
        return self.source.rollups.reviewed.select("ticket_id", *columns)

    def decision_counts(self, filters: Filters, by: Sequence[str]) -> pl.DataFrame:
        return decision_counts(self.source.rollups, filters, list(by))

    def arrivals(self, filters: Filters) -> pl.DataFrame | None:
        return arrivals(self.source.rollups, filters)

    def duration_buckets(
        self, filters: Filters, end: str, by: Sequence[str], period: str | None
    ) -> pl.DataFrame | None:
        return duration_buckets(self.source.rollups, filters, end, list(by), period)

    def open_tickets(self, filters: Filters) -> pl.DataFrame:
        return open_tickets(self.source.rollups, filters)

    def views_while_waiting(self, filters: Filters, by: Sequence[str]) -> pl.DataFrame:
        return views_while_waiting(self.source.rollups, filters, list(by))

    def sla_flags(self, filters: Filters, policy: SlaPolicy | None) -> pl.DataFrame:
        return sla_flags(self.source.rollups, filters, policy)

    def queue_reviews(self, filters: Filters) -> pl.DataFrame | None:
        return queue_reviews(self.source.rollups, filters)

    def distinct_values(self, column: str) -> list[str]:
        return self.source.distinct_values("tickets", column)

    def created_range(self) -> tuple[dt.date, dt.date] | None:
        return self.source.created_range()

    def small_table(self, name: str) -> pl.DataFrame | None:
        return self.source.tables.get(name)

    def as_of(self, filters: Filters | None = None) -> dt.datetime:
        r = self.source.rollups
        now = r.as_of or dt.datetime.now(dt.UTC).replace(tzinfo=None)
        if filters is None or not filters.selections():
            return now
        # The rollups keep days, not times, by group: the end of the groups' last day with tickets created, actioned
        # or closed, up to the whole data's "now" (never a later time, nor another group's time on an earlier day).
        last = last_active_day(r, filters)
        return now if last is None else min(now, dt.datetime.combine(last + dt.timedelta(days=1), dt.time()))
