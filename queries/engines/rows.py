"""The rows engine: every metric computed with Polars from the ticket rows a Dataset holds in memory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import polars as pl

from queries.calc import backlog_flow, keys_of, per_productive_hour, period_windows
from queries.contract import PROACTIVE_SOURCES
from queries.definitions import THROUGHPUT_GROUPS
from queries.engines.base import (
    QUEUE_REVIEWS_SCHEMA,
    SPLIT_DECISIONS,
    EngineBase,
    Implementations,
    arrival_counts,
    duration_bucket_counts,
    open_ticket_rows,
    sla_flag_rows,
    views_waiting_rows,
)
from queries.filters import Filters, period_expr
from queries.frames import (
    created_in,
    duration_hours,
    duration_summary,
    group,
    human_decisions,
    open_at,
    open_during,
    with_oldest_open,
    with_sla_outcome,
    with_time_flags,
)
from queries.sla import SlaPolicy, load_sla_policy
from queries.sources.dataset import Dataset

_IMPLEMENTATIONS = Implementations()  # metric -> its implementation here, registered where defined


class RowsEngine(EngineBase):
    """Metrics from ticket rows held in memory: every metric, any grouping the tickets have, exact percentiles."""

    def summarize(
        self, metric: str, filters: Filters, by: list[str], period: str | None, sla_policy: SlaPolicy | None
    ) -> pl.DataFrame:
        if metric == "sla":
            return _sla(self.source, filters, by, period, policy=sla_policy or load_sla_policy())
        if metric == "per_million_dau":
            return self.per_million_dau(filters, by, period)
        return _IMPLEMENTATIONS[metric](self.source, filters, by, period)

    def distinct_values(self, column: str) -> list[str]:
        return self.source.tables["tickets"].get_column(column).drop_nulls().unique().sort().to_list()

    def created_range(self) -> tuple[dt.date, dt.date] | None:
        created = self.source.tables["tickets"]["created_at"]
        report = self.source.reports.get("tickets")
        if report is not None:
            created = created.filter(created <= report.latest) if report.latest is not None else created.clear()
        first, last = created.min(), created.max()
        return None if first is None else (first.date(), last.date())

    def small_table(self, name: str) -> pl.DataFrame | None:
        return self.source.tables.get(name)

    def as_of(self, filters: Filters | None = None) -> dt.datetime:
        return rows_as_of(self.source, filters)

    def rows(self, table: str) -> pl.DataFrame | None:
        return self.source.tables.get(table)

    def reviewed_tickets(self, filters: Filters, columns: Sequence[str]) -> pl.DataFrame:
        return self.source.tables["tickets"].select("ticket_id", *columns)

    def decision_counts(self, filters: Filters, by: Sequence[str]) -> pl.DataFrame:
        return split_decisions(created_in(self.source.tables["tickets"], filters), list(by))

    def arrivals(self, filters: Filters) -> pl.DataFrame:
        return arrival_counts(created_in(self.source.tables["tickets"], filters))

    def duration_buckets(self, filters: Filters, end: str, by: Sequence[str], period: str | None) -> pl.DataFrame:
        created = created_in(self.source.tables["tickets"], filters, period)
        return duration_bucket_counts(created, end, keys_of(by, period))

    def open_tickets(self, filters: Filters) -> pl.DataFrame:
        return open_ticket_rows(self.source.tables["tickets"], filters)

    def views_while_waiting(self, filters: Filters, by: Sequence[str]) -> pl.DataFrame:
        return views_waiting_rows(created_in(self.source.tables["tickets"], filters), list(by))

    def sla_flags(self, filters: Filters, policy: SlaPolicy | None) -> pl.DataFrame:
        created = created_in(self.source.tables["tickets"], filters)
        return sla_flag_rows(created, policy or load_sla_policy(), rows_as_of(self.source))

    def queue_reviews(self, filters: Filters) -> pl.DataFrame:
        seconds = pl.col("handle_seconds")
        aggs = [pl.len().alias("reviews"), seconds.sum().alias("handle_sum_seconds")]
        reviewed = human_decisions(self.source.tables["tickets"], filters, None).filter(seconds.is_not_null())
        return group(reviewed, ["queue"], aggs).sort("queue").cast(QUEUE_REVIEWS_SCHEMA)


def split_decisions(tickets: pl.LazyFrame, by: list[str]) -> pl.DataFrame:
    """Human (not automated) violating or non-violating decisions of these tickets by `by`: `decisions`, `violating`."""
    human = ~pl.col("automated").fill_null(False) & pl.col("decision").is_in(SPLIT_DECISIONS)
    violating = (pl.col("decision") == "violating").sum().alias("violating")
    return group(tickets.filter(human), by, [pl.len().alias("decisions"), violating])


def rows_as_of(ds: Dataset, filters: Filters | None = None) -> dt.datetime:
    """The data's "now": the latest created_at, first_action_at or closed_at of valid tickets (in the filters' groups
    when given), leaving out times in the future (those after the tickets report's `as_of`, as the rollups' `as_of`);
    the clock's now without any."""
    t = ds.tables["tickets"] if filters is None else ds.tables["tickets"].filter(filters.dimension_expr())
    times = pl.concat([t["created_at"], t["first_action_at"], t["closed_at"]])
    report = ds.reports.get("tickets")
    if report is not None:
        times = times.filter(times <= report.as_of) if report.as_of is not None else times.clear()
    return times.max() or dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _created_counts(ds: Dataset, filters: Filters, by: list[str], period: str | None, *counts: pl.Expr) -> pl.DataFrame:
    """Tickets created in the period per group, with further `counts` over the same tickets."""
    return group(
        created_in(ds.tables["tickets"], filters, period), keys_of(by, period), [pl.len().alias("tickets"), *counts]
    )


@_IMPLEMENTATIONS.of("volume")
def _volume(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    return _created_counts(ds, filters, by, period)


@_IMPLEMENTATIONS.of("actioned")
def _actioned(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    lf = ds.tables["tickets"].lazy().filter(filters.in_period("first_action_at") & filters.dimension_expr())
    if period:
        lf = lf.with_columns(period_expr("first_action_at", period))
    return group(lf, keys_of(by, period), [pl.len().alias("actioned")])


def _duration(end: str) -> Callable[[Dataset, Filters, list[str], str | None], pl.DataFrame]:
    def compute(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
        return duration_summary(ds.tables["tickets"], filters, end, by, period)

    return compute


_IMPLEMENTATIONS.of("time_to_first_action")(_duration("first_action_at"))
_IMPLEMENTATIONS.of("time_to_close")(_duration("closed_at"))


def _sla(ds: Dataset, filters: Filters, by: list[str], period: str | None, *, policy: SlaPolicy) -> pl.DataFrame:
    lf = with_sla_outcome(created_in(ds.tables["tickets"], filters, period), policy, rows_as_of(ds))
    return group(
        lf,
        keys_of(by, period),
        [
            pl.len().alias("tickets"),
            pl.col("sla_measured").sum().alias("measured"),
            pl.col("sla_met_policy").sum().alias("met"),
        ],
    )


@_IMPLEMENTATIONS.of("proactive")
def _proactive(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    known, proactive = pl.col("source").is_not_null(), pl.col("source").is_in(PROACTIVE_SOURCES)
    return _created_counts(
        ds, filters, by, period, known.sum().alias("known_source"), proactive.sum().alias("proactive")
    )


@_IMPLEMENTATIONS.of("appeals")
def _appeals(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    decided = created_in(ds.tables["tickets"], filters, period).filter(pl.col("decision").is_not_null())
    return group(
        decided,
        keys_of(by, period),
        [
            pl.len().alias("tickets"),
            pl.col("appealed").fill_null(False).sum().alias("appealed"),
            (pl.col("appealed").fill_null(False) & pl.col("appeal_overturned").fill_null(False))
            .sum()
            .alias("overturned"),
        ],
    )


@_IMPLEMENTATIONS.of("qa_accuracy")
def _qa_accuracy(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    qa = ds.tables["qa_reviews"].lazy()
    own = [d for d in ("vendor", "policy_domain") if d not in ds.reports["qa_reviews"].missing_fields]
    lf = qa.filter(filters.in_period("reviewed_at") & filters.dimension_expr(own))
    through_ticket = list(dict.fromkeys(d for d in [*filters.selections(), *by] if d not in own))
    if through_ticket:
        tickets = ds.tables["tickets"].lazy().select("ticket_id", *through_ticket)
        lf = lf.drop(through_ticket, strict=False).join(tickets, on="ticket_id", how="inner")
        lf = lf.filter(filters.dimension_expr(through_ticket))
    if period:
        lf = lf.with_columns(period_expr("reviewed_at", period))
    return group(lf, keys_of(by, period), [pl.len().alias("reviews"), pl.col("is_correct").sum().alias("correct")])


@_IMPLEMENTATIONS.of("open_backlog")
def _open_backlog(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    if period:
        raise ValueError("open_backlog is a point-in-time figure at the end of the period; use it without --period")
    lf = _backlog_rows(ds).filter(open_at(filters.end_before) & filters.dimension_expr())
    return group(lf, by, [pl.len().alias("open_tickets")])


def _backlog_rows(ds: Dataset) -> pl.LazyFrame:
    """The tickets with the TIME_UNKNOWN flags (false in a frame made without the loader), for open_at and
    open_during."""
    return with_time_flags(ds.tables["tickets"].lazy())


@_IMPLEMENTATIONS.of("backlog")
def _backlog(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    keys = keys_of(by, period)
    windows = period_windows(filters, period)
    tickets = _backlog_rows(ds).filter(open_during(filters)).collect().lazy()
    if by:
        groups = tickets.select(by).unique().collect().with_row_index("_group")
    else:
        groups = pl.DataFrame({"_group": [0]}, schema={"_group": pl.UInt32})
    grid = groups.join(windows, how="cross")

    def count(lf: pl.LazyFrame, column: str | None, name: str, group_by: list[str]) -> pl.DataFrame:
        lf = lf.with_columns(period_expr(column, period)) if period and column else lf
        return group(lf, group_by, [pl.len().alias(name)])

    arrivals = count(tickets.filter(pl.col("created_at") >= filters.start_at), "created_at", "arrivals", keys)
    closures = count(tickets.filter(pl.col("closed_at") < filters.end_before), "closed_at", "closures", keys)
    before = count(tickets.filter(pl.col("created_at") < filters.start_at), None, "open_before", by)
    flow = backlog_flow(grid, arrivals, closures, before, keys, by)
    out = with_oldest_open(flow, tickets, groups, windows, by)
    return out.select(*keys, "open_start", "arrivals", "closures", "open_end", "oldest_open_hours")


@_IMPLEMENTATIONS.of("exposure")
def _exposure(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    actioned = created_in(ds.tables["tickets"], filters, period).filter(pl.col("first_action_at").is_not_null())
    views = pl.col("views_before_action").drop_nulls()
    return group(
        actioned,
        keys_of(by, period),
        [
            pl.len().alias("tickets"),
            (duration_hours("created_at", "first_action_at") <= 24).sum().alias("_within_24h"),
            views.count().alias("_views_known"),
            (views == 0).sum().alias("_zero_views"),
            views.quantile(0.5, interpolation="linear").alias("p50_views"),
            views.quantile(0.9, interpolation="linear").alias("p90_views"),
        ],
    )


@_IMPLEMENTATIONS.of("automation")
def _automation(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    known, automated = pl.col("automated").is_not_null(), pl.col("automated").fill_null(False)
    return _created_counts(ds, filters, by, period, known.sum().alias("known"), automated.sum().alias("automated"))


@_IMPLEMENTATIONS.of("handle_time")
def _handle_time(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    seconds = pl.col("handle_seconds").drop_nulls()
    return group(
        human_decisions(ds.tables["tickets"], filters, period),
        keys_of(by, period),
        [
            seconds.count().alias("reviews"),
            seconds.mean().alias("mean_handle_seconds"),
            seconds.quantile(0.5, interpolation="linear").alias("p50_handle_seconds"),
            seconds.quantile(0.9, interpolation="linear").alias("p90_handle_seconds"),
            (seconds.sum() / 3600).alias("handle_hours"),
        ],
    )


@_IMPLEMENTATIONS.of("throughput")
def _throughput(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    def handled(staff: Filters) -> pl.DataFrame:
        decisions = human_decisions(ds.tables["tickets"], staff, period).filter(pl.col("vendor").is_not_null())
        return group(decisions, keys_of(by, period), [pl.len().alias("handled")])

    return throughput(handled, ds.tables["staffing"], filters, by, period)


def throughput(
    handled: Callable[[Filters], pl.DataFrame],
    staffing: pl.DataFrame,
    filters: Filters,
    by: list[str],
    period: str | None,
) -> pl.DataFrame:
    """The `throughput` metric from the staffing table held in memory and `handled(filters)`: human decisions with a
    vendor by `by` (and period) as `handled`, for the filters staffing has (period and vendor). Shared with the
    rollups engine, which counts the decisions from its rollups."""
    if set(by) - set(THROUGHPUT_GROUPS):
        raise ValueError(f"throughput can only be grouped by {', '.join(THROUGHPUT_GROUPS)}")
    keys = keys_of(by, period)
    filters = Filters(filters.start, filters.end, vendor=filters.vendor)  # staffing has no other dimensions
    hours = staffing.lazy().filter(
        (pl.col("date") >= filters.start) & (pl.col("date") <= filters.end) & filters.dimension_expr(["vendor"])
    )
    if period:
        hours = hours.with_columns(period_expr("date", period))
    hours = group(hours, keys, [pl.col("productive_hours").sum().alias("productive_hours")])
    return per_productive_hour(handled(filters), hours, keys)
