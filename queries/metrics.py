"""Metric definitions and their one implementation each, by any grouping and period.

Every metric returns a DataFrame with the group columns (and `period` when asked), then
its named measures. Definitions in `METRICS` are shown on hover in the app and written
out in docs/metrics.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl
import polars.selectors as cs

from queries import quality
from queries.contract import PROACTIVE_SOURCES
from queries.dataset import Dataset
from queries.filters import DIMENSIONS, PERIODS, Filters, period_expr
from queries.sla import SlaPolicy, load_sla_policy
from queries.warehouse import Warehouse

if TYPE_CHECKING:
    from queries.rolled_up import RolledUpSource

HOUR_US = 3_600_000_000


@dataclass(frozen=True)
class Metric:
    """A metric's name, the measures it returns, and its definition for people."""

    name: str
    label: str
    fields: tuple[str, ...]
    definition: str
    needs: tuple[tuple[str, tuple[str, ...]], ...]  # (table, fields) the source must provide
    # Measures that are 0 in a period where the group has nothing to count (the others are null there: no
    # percentile, mean or share of nothing). None: the metric's own computation already gives every period.
    zeros: tuple[str, ...] | None


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "volume",
            "Tickets received",
            ("tickets",),
            "Tickets created in the period (valid rows only).",
            (("tickets", ()),),
            zeros=("tickets",),
        ),
        Metric(
            "actioned",
            "Tickets actioned",
            ("actioned",),
            "Tickets whose first action (human or automated) falls in the period, whenever they were created.",
            (("tickets", ("first_action_at",)),),
            zeros=("actioned",),
        ),
        Metric(
            "time_to_first_action",
            "Time to first action",
            ("tickets", "measured", "p50_hours", "p90_hours", "mean_hours"),
            "Hours from created_at to first_action_at for tickets created in the period that have both "
            "timestamps and a non-negative duration (`measured`); P50/P90 with linear interpolation. "
            "Tickets still waiting are not measured. A duration crossing midnight belongs to the day it started.",
            (("tickets", ("first_action_at",)),),
            zeros=("tickets", "measured"),
        ),
        Metric(
            "time_to_close",
            "Time to close",
            ("tickets", "measured", "p50_hours", "p90_hours", "mean_hours"),
            "Hours from created_at to closed_at for tickets created in the period that have both "
            "timestamps and a non-negative duration; P50/P90 with linear interpolation. Open tickets are not measured.",
            (("tickets", ("closed_at",)),),
            zeros=("tickets", "measured"),
        ),
        Metric(
            "sla",
            "SLA attainment",
            ("tickets", "measured", "met", "attainment"),
            "Share of measured tickets created in the period whose first action came within the SLA target of "
            "the first matching rule in config/sla.toml. Measured: tickets with a target that were actioned, or "
            "are still waiting past their target at the data's latest timestamp that is not in the future (those "
            "count as missed). Group by `sla_rule` for the matching rule's name.",
            (("tickets", ("first_action_at",)),),
            zeros=("tickets", "measured", "met"),
        ),
        Metric(
            "proactive",
            "Proactive detection share",
            ("tickets", "known_source", "proactive", "proactive_share"),
            "Share of tickets created in the period, among those with a known source, that were detected by the "
            "platform's own models (source = proactive_model) rather than reported.",
            (("tickets", ("source",)),),
            zeros=("tickets", "known_source", "proactive"),
        ),
        Metric(
            "appeals",
            "Appeals",
            ("tickets", "appealed", "overturned", "appeal_rate", "overturn_rate"),
            "Among tickets created in the period that got a decision (`tickets`): appeal_rate = appealed / tickets; "
            "overturn_rate = appeals that reversed the decision / appealed.",
            (("tickets", ("decision", "appealed", "appeal_overturned")),),
            zeros=("tickets", "appealed", "overturned"),
        ),
        Metric(
            "qa_accuracy",
            "QA accuracy",
            ("reviews", "correct", "accuracy", "ci_low", "ci_high"),
            "QA reviews done in the period where QA agreed with the decision, divided by all QA reviews in the "
            "period, with its Wilson 95 % interval (ci_low–ci_high). Market, surface and source filters apply "
            "through the reviewed ticket.",
            (("qa_reviews", ()),),
            zeros=("reviews", "correct"),
        ),
        Metric(
            "per_million_dau",
            "Tickets per 1M DAU",
            ("tickets", "dau_days", "tickets_per_million_dau"),
            "Daily tickets per million daily active users: tickets created in the period / sum over its days of "
            "DAU of the selected markets × 1,000,000 (0 in a period without tickets whose DAU is known). "
            "Separates abuse growth from user growth.",
            (("platform_metrics", ()), ("tickets", ("market",))),
            zeros=None,
        ),
        Metric(
            "open_backlog",
            "Open backlog",
            ("open_tickets",),
            "Tickets created before the end of the period and not closed by then (closed_at empty or later).",
            (("tickets", ("closed_at",)),),
            zeros=("open_tickets",),
        ),
        Metric(
            "backlog",
            "Backlog flow",
            ("open_start", "arrivals", "closures", "open_end", "oldest_open_hours"),
            "Open tickets at the boundaries of each period and the flow between them. A ticket is open at an "
            "instant t when created_at < t and closed_at is empty or ≥ t (closed exactly at midnight: still open "
            "at that midnight). Each period runs from its first midnight to the midnight after its last day, "
            "clipped to the selected days: arrivals = tickets created in it, closures = tickets closed in it "
            "(whenever created), open_start/open_end = tickets open at its first/last boundary, so "
            "open_end = open_start + arrivals − closures and each open_end is the next period's open_start. "
            "The last open_end equals `open_backlog`. oldest_open_hours: age at the end boundary of the oldest "
            "ticket open then.",
            (("tickets", ("closed_at",)),),
            zeros=None,
        ),
        Metric(
            "exposure",
            "Exposure before action",
            ("tickets", "zero_view_share", "within_24h_share", "p50_views", "p90_views"),
            "Among tickets created in the period that got a first action (`tickets`): within_24h_share = share "
            "whose first action came at most 24 h after created_at; zero_view_share = share with "
            "views_before_action = 0 and P50/P90 of views_before_action (linear interpolation), both among "
            "those whose views are known.",
            (("tickets", ("first_action_at", "views_before_action")),),
            zeros=("tickets",),
        ),
        Metric(
            "automation",
            "Automation share",
            ("tickets", "known", "automated", "automated_share"),
            "Share of tickets created in the period, among those where `automated` is known, that were decided by "
            "automation without human review. Human review load = tickets × (1 − automated_share).",
            (("tickets", ("automated",)),),
            zeros=("tickets", "known", "automated"),
        ),
        Metric(
            "handle_time",
            "Handle time",
            ("reviews", "mean_handle_seconds", "p50_handle_seconds", "p90_handle_seconds", "handle_hours"),
            "Reviewer working time of human decisions (automated = false, handle_seconds present) whose first "
            "action falls in the period: mean, P50/P90 (linear interpolation) and the total in hours.",
            (("tickets", ("handle_seconds", "first_action_at")),),
            zeros=("reviews", "handle_hours"),
        ),
        Metric(
            "throughput",
            "Throughput",
            ("handled", "productive_hours", "handled_per_productive_hour"),
            "Human decisions whose first action falls in the period (by vendor, site, language) divided by the "
            "productive hours the staffing table reports for the same days and groups. Only vendor, site and "
            "language (and period) can group it, and only the vendor filter applies.",
            (("tickets", ("vendor", "first_action_at")), ("staffing", ("productive_hours",))),
            zeros=("handled", "productive_hours"),
        ),
    )
}


def missing_inputs(ds: Dataset | RolledUpSource | Warehouse, metric: str) -> str | None:
    """None when the source (extracts, large extracts as rollups, or a warehouse) can compute the metric,
    else what to map to get it."""
    if not isinstance(ds, Dataset | Warehouse) and metric not in rolled_up_metrics():
        return f"{METRICS[metric].label} needs ticket rows, which large extracts served from rollups do not keep."
    for table, needed in METRICS[metric].needs:
        if table not in ds.reports:
            return f"{METRICS[metric].label} needs the {table} table; add {table}.parquet/.csv or map it."
        absent = [f for f in needed if not ds.has(table, f)]
        if absent:
            return f"{METRICS[metric].label} needs {table}.{', '.join(absent)}; map it under [{table}.columns]."
    return None


def rolled_up_metrics() -> tuple[str, ...]:
    """What large extracts served from rollups can answer: the rollups' metrics, and per 1M DAU from their
    volume and the platform_metrics table."""
    from queries.rollups import ROLLUP_METRICS  # imported here: it imports this module

    return (*ROLLUP_METRICS, "per_million_dau")


def summarize(
    ds: Dataset | RolledUpSource | Warehouse,
    metric: str,
    filters: Filters,
    by: Sequence[str] = (),
    period: str | None = None,
    *,
    sla_policy: SlaPolicy | None = None,
) -> pl.DataFrame:
    """Compute one metric for the filters, grouped by `by` columns and optionally by period.

    With a period, every period from the filters' start to end is there for every group the answer has
    (`every_period`), whichever engine answered.
    A Warehouse source computes it in SQL (`queries.warehouse_metrics`), giving the same frame; large
    extracts answer from their rollups (`queries.rollups`, percentiles from histograms) the metrics in
    `rolled_up_metrics()`.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
    if isinstance(ds, Warehouse):
        from queries.warehouse_metrics import summarize_sql  # imported here: it imports this module

        out = summarize_sql(ds, metric, filters, list(by), period, sla_policy)
    elif not isinstance(ds, Dataset) and metric != "per_million_dau":
        from queries.rollups import rollup_summary  # imported here: it imports this module

        if metric not in rolled_up_metrics():
            raise ValueError(missing_inputs(ds, metric))
        out = rollup_summary(ds.rollups, metric, filters, by, period, sla_policy=sla_policy)
    elif metric == "sla":
        out = _sla(ds, filters, list(by), period, policy=sla_policy or load_sla_policy())
    else:
        out = _IMPLEMENTATIONS[metric](ds, filters, list(by), period)
    return complete_periods(out, metric, filters, by, period)


def complete_periods(
    out: pl.DataFrame, metric: str, filters: Filters, by: Sequence[str] = (), period: str | None = None
) -> pl.DataFrame:
    """An engine's answer as `summarize` gives it: every period present (`every_period`), sorted by its keys."""
    zeros = METRICS[metric].zeros
    if period and zeros is not None:
        out = every_period(out, filters, list(by), period, zeros)
    keys = _keys(list(by), period)
    return out.sort(keys) if keys else out


def every_period(out: pl.DataFrame, filters: Filters, by: list[str], period: str, zeros: Sequence[str]) -> pl.DataFrame:
    """The metric frame with a row for every period of the filters × every group it has: a period in which
    a group had nothing gets 0 for the `zeros` measures (counts, sums) and null for the others, so a series
    never joins across empty days. Without `by`, every period is present even when nothing happened at all."""
    periods = period_windows(filters, period).select("period")
    grid = out.select(by).unique().join(periods, how="cross") if by else periods
    full = grid.join(out, on=[*by, "period"], how="left", nulls_equal=True).select(out.columns)
    return full.with_columns(pl.col(zeros).fill_null(0))


def data_as_of(ds: Dataset | Warehouse) -> dt.datetime:
    """The data's "now": the latest created_at, first_action_at or closed_at of valid tickets, leaving out times in
    the future (those after the tickets report's `as_of`, as the rollups' `as_of`); the clock's now without any."""
    if isinstance(ds, Warehouse):
        latest = ds.latest_timestamp()
    else:
        t = ds.tables["tickets"]
        times = pl.concat([t["created_at"], t["first_action_at"], t["closed_at"]])
        report = ds.reports.get("tickets")
        if report is not None:  # up to, not equal to, as_of: a vendor-scoped dataset keeps the whole table's report
            times = times.filter(times <= report.as_of) if report.as_of is not None else times.clear()
        latest = times.max()
    return latest or dt.datetime.now(dt.UTC).replace(tzinfo=None)


def created_in(tickets: pl.DataFrame, filters: Filters, period: str | None = None) -> pl.LazyFrame:
    """Tickets created in the filters' days and groups, with their `period` when one is asked for."""
    lf = tickets.lazy().filter(filters.in_period("created_at") & filters.dimension_expr())
    return lf.with_columns(period_expr("created_at", period)) if period else lf


def open_at(instant: dt.datetime) -> pl.Expr:
    """True for tickets open at `instant`: created before it and not closed by then (closed_at empty or later)."""
    return (pl.col("created_at") < instant) & (pl.col("closed_at").is_null() | (pl.col("closed_at") >= instant))


def open_span(boundaries: pl.Series) -> tuple[pl.Expr, pl.Expr]:
    """First and last index of the sorted instants `boundaries` at which each ticket is open (see `open_at`).

    The ticket is open at every boundary between the two; first > last when it is open at none.
    """
    first = pl.lit(boundaries).search_sorted(pl.col("created_at"), side="right").cast(pl.Int64)
    closed_after = pl.lit(boundaries).search_sorted(pl.col("closed_at"), side="right").cast(pl.Int64)
    last = pl.when(pl.col("closed_at").is_null()).then(len(boundaries)).otherwise(closed_after) - 1
    return first.alias("first_open"), last.alias("last_open")


def open_during(filters: Filters) -> pl.Expr:
    """True for tickets in the selected groups that are open at some instant of the selected days or arrive in them."""
    return (
        filters.dimension_expr()
        & (pl.col("created_at") < filters.end_before)
        & (pl.col("closed_at").is_null() | (pl.col("closed_at") >= filters.start_at))
    )


def period_windows(filters: Filters, period: str | None) -> pl.DataFrame:
    """The filters' periods, numbered by `boundary` (0, 1, …): `period` (its first day; omitted without a
    period), `window_start` and `window_end` (exclusive), both clipped to the selected days."""
    if period is None:
        windows = pl.DataFrame({"window_start": [filters.start_at], "window_end": [filters.end_before]})
    else:
        first = pl.select(pl.lit(filters.start).dt.truncate(PERIODS[period])).item()
        starts = pl.date_range(first, filters.end, PERIODS[period], eager=True).alias("period")
        windows = pl.DataFrame(starts).with_columns(
            pl.max_horizontal(pl.col("period").cast(pl.Datetime("us")), pl.lit(filters.start_at)).alias("window_start"),
            pl.min_horizontal(
                pl.col("period").dt.offset_by(PERIODS[period]).cast(pl.Datetime("us")), pl.lit(filters.end_before)
            ).alias("window_end"),
        )
    return windows.with_row_index("boundary").with_columns(pl.col("boundary").cast(pl.Int64))


def _group(lf: pl.LazyFrame, keys: list[str], aggs: list[pl.Expr]) -> pl.DataFrame:
    """Aggregate by keys (or over everything); counts come out as Int64 so differences can go negative."""
    out = lf.group_by(keys).agg(aggs) if keys else lf.select(aggs)
    return out.with_columns(cs.unsigned_integer().cast(pl.Int64)).collect()


def _keys(by: list[str], period: str | None) -> list[str]:
    return by + (["period"] if period else [])


def _volume(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    return _group(created_in(ds.tables["tickets"], filters, period), _keys(by, period), [pl.len().alias("tickets")])


def _actioned(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    lf = ds.tables["tickets"].lazy().filter(filters.in_period("first_action_at") & filters.dimension_expr())
    if period:
        lf = lf.with_columns(period_expr("first_action_at", period))
    return _group(lf, _keys(by, period), [pl.len().alias("actioned")])


def duration_hours(start: str, end: str) -> pl.Expr:
    """Hours from `start` to `end` (null when either is empty)."""
    return (pl.col(end) - pl.col(start)).dt.total_microseconds() / HOUR_US


def duration_aggs(start: str, end: str, percentiles: Sequence[int] = (50, 90)) -> list[pl.Expr]:
    """tickets, measured, pNN_hours per percentile and mean_hours of end − start (non-negative durations only)."""
    hours = duration_hours(start, end)
    valid = hours.filter(hours >= 0)
    return [
        pl.len().alias("tickets"),
        valid.count().alias("measured"),
        *[valid.quantile(p / 100, interpolation="linear").alias(f"p{p}_hours") for p in percentiles],
        valid.mean().alias("mean_hours"),
    ]


def duration_summary(
    ds: Dataset,
    filters: Filters,
    end: str,
    by: Sequence[str] = (),
    period: str | None = None,
    percentiles: Sequence[int] = (50, 90),
) -> pl.DataFrame:
    """Hours from created_at to `end` for tickets created in the period (the time_to_* metrics), any percentiles."""
    keys = _keys(list(by), period)
    out = _group(created_in(ds.tables["tickets"], filters, period), keys, duration_aggs("created_at", end, percentiles))
    return out.sort(keys) if keys else out


def _duration(end: str) -> Callable[[Dataset, Filters, list[str], str | None], pl.DataFrame]:
    def compute(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
        return duration_summary(ds, filters, end, by, period)

    return compute


def with_sla_outcome(
    tickets: pl.LazyFrame, policy: SlaPolicy, as_of: dt.datetime, rule_values: pl.Series | None = None
) -> pl.LazyFrame:
    """Each ticket's SLA outcome as the `sla` metric counts it, with `as_of` as the data's "now":
    `sla_rule`, `sla_target_seconds`, `sla_measured` and `sla_met_policy` (within target; false when not measured).

    `sla_rule` holds the rule's name, or its entry in `rule_values` (one per rule, e.g. the rollups' codes).
    """
    target = pl.col("sla_target_seconds")
    waited = (pl.col("first_action_at").fill_null(as_of) - pl.col("created_at")).dt.total_microseconds() / 1e6
    acted = pl.col("first_action_at").is_not_null()
    measured = target.is_not_null() & (acted | (waited > target))
    names = pl.Series([rule.name for rule in policy.rules], dtype=pl.String) if rule_values is None else rule_values
    targets = pl.Series([rule.target_seconds for rule in policy.rules], dtype=pl.Float64)
    index = policy.rule_index_expr()  # the rules' conditions are evaluated once per ticket
    return (
        tickets.with_columns(index.alias("_sla_index"))
        .with_columns(
            pl.lit(names).gather(pl.col("_sla_index")).alias("sla_rule"),
            pl.lit(targets).gather(pl.col("_sla_index")).alias("sla_target_seconds"),
        )
        .drop("_sla_index")
        .with_columns(measured.alias("sla_measured"))
        .with_columns((pl.col("sla_measured") & acted & (waited <= target)).alias("sla_met_policy"))
    )


def _sla(ds: Dataset, filters: Filters, by: list[str], period: str | None, *, policy: SlaPolicy) -> pl.DataFrame:
    lf = with_sla_outcome(created_in(ds.tables["tickets"], filters, period), policy, data_as_of(ds))
    out = _group(
        lf,
        _keys(by, period),
        [
            pl.len().alias("tickets"),
            pl.col("sla_measured").sum().alias("measured"),
            pl.col("sla_met_policy").sum().alias("met"),
        ],
    )
    return out.with_columns(ratio("met", "measured").alias("attainment"))


def _proactive(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    known = pl.col("source").is_not_null()
    out = _group(
        created_in(ds.tables["tickets"], filters, period),
        _keys(by, period),
        [
            pl.len().alias("tickets"),
            known.sum().alias("known_source"),
            pl.col("source").is_in(PROACTIVE_SOURCES).sum().alias("proactive"),
        ],
    )
    return out.with_columns(ratio("proactive", "known_source").alias("proactive_share"))


def _appeals(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    decided = created_in(ds.tables["tickets"], filters, period).filter(pl.col("decision").is_not_null())
    out = _group(
        decided,
        _keys(by, period),
        [
            pl.len().alias("tickets"),
            pl.col("appealed").fill_null(False).sum().alias("appealed"),
            (pl.col("appealed").fill_null(False) & pl.col("appeal_overturned").fill_null(False))
            .sum()
            .alias("overturned"),
        ],
    )
    return out.with_columns(
        ratio("appealed", "tickets").alias("appeal_rate"), ratio("overturned", "appealed").alias("overturn_rate")
    )


def _qa_accuracy(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    qa = ds.tables["qa_reviews"].lazy()
    own = [d for d in ("vendor", "policy_domain") if d not in ds.reports["qa_reviews"].missing_fields]
    lf = qa.filter(filters.in_period("reviewed_at") & filters.dimension_expr(own))
    wanted = [*DIMENSIONS, *by]
    through_ticket = list(dict.fromkeys(d for d in wanted if d not in own and (d in filters.selections() or d in by)))
    if through_ticket:
        tickets = ds.tables["tickets"].lazy().select("ticket_id", *through_ticket)
        lf = lf.drop(through_ticket, strict=False).join(tickets, on="ticket_id", how="inner")
        lf = lf.filter(filters.dimension_expr(through_ticket))
    if period:
        lf = lf.with_columns(period_expr("reviewed_at", period))
    out = _group(lf, _keys(by, period), [pl.len().alias("reviews"), pl.col("is_correct").sum().alias("correct")])
    return out.with_columns(ratio("correct", "reviews").alias("accuracy"), *quality.wilson_bounds("correct", "reviews"))


def _per_million_dau(ds: Dataset | RolledUpSource, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    keys = _keys(by, period)
    tickets = summarize(ds, "volume", filters, by, period)
    dau = (
        ds.tables["platform_metrics"]
        .lazy()
        .filter(
            (pl.col("date") >= filters.start) & (pl.col("date") <= filters.end) & filters.dimension_expr(["market"])
        )
    )
    if period:
        dau = dau.with_columns(period_expr("date", period))
    dau_keys = dau_keys_of(keys)
    return per_million_dau(tickets, _group(dau, dau_keys, [pl.col("dau").sum().alias("dau_days")]), dau_keys)


def dau_keys_of(keys: list[str]) -> list[str]:
    """The group keys the platform_metrics table has (market, period): DAU is summed over these."""
    return [k for k in keys if k in ("market", "period")]


def per_million_dau(tickets: pl.DataFrame, dau_sum: pl.DataFrame, dau_keys: list[str]) -> pl.DataFrame:
    """Ticket counts with the summed DAU of their market/period (`dau_days`) and `tickets_per_million_dau`."""
    if dau_keys:
        out = tickets.join(dau_sum, on=dau_keys, how="left")
    else:  # grouped by ticket dimensions only: every group is normalised by the same user base
        out = tickets.with_columns(
            pl.lit(dau_sum["dau_days"][0] if dau_sum.height else None, pl.Int64).alias("dau_days")
        )
    return out.with_columns(
        pl.when(pl.col("dau_days") > 0)
        .then(pl.col("tickets") / pl.col("dau_days") * 1e6)
        .alias("tickets_per_million_dau")
    )


def _open_backlog(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    if period:
        raise ValueError("open_backlog is a point-in-time figure at the end of the period; use it without --period")
    lf = ds.tables["tickets"].lazy().filter(open_at(filters.end_before) & filters.dimension_expr())
    return _group(lf, by, [pl.len().alias("open_tickets")])


def _backlog(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    keys = _keys(by, period)
    windows = period_windows(filters, period)
    tickets = ds.tables["tickets"].lazy().filter(open_during(filters)).collect().lazy()
    if by:
        groups = tickets.select(by).unique().collect().with_row_index("_group")
    else:
        groups = pl.DataFrame({"_group": [0]}, schema={"_group": pl.UInt32})
    grid = groups.join(windows, how="cross")

    def count(lf: pl.LazyFrame, column: str | None, name: str, group_by: list[str]) -> pl.DataFrame:
        lf = lf.with_columns(period_expr(column, period)) if period and column else lf
        return _group(lf, group_by, [pl.len().alias(name)])

    arrivals = count(tickets.filter(pl.col("created_at") >= filters.start_at), "created_at", "arrivals", keys)
    closures = count(tickets.filter(pl.col("closed_at") < filters.end_before), "closed_at", "closures", keys)
    before = count(tickets.filter(pl.col("created_at") < filters.start_at), None, "open_before", by)
    flow = backlog_flow(grid, arrivals, closures, before, keys, by)
    # Oldest open ticket at each end boundary: in a group's tickets sorted by creation, the first whose last open
    # boundary reaches the boundary (running maximum), provided it was already open then.
    first_open, last_open = open_span(windows["window_end"])
    spans = tickets.with_columns(first_open, last_open).filter(pl.col("first_open") <= pl.col("last_open")).collect()
    reach = (
        (
            spans.join(groups, on=by, nulls_equal=True)
            if by
            else spans.with_columns(pl.lit(0, pl.UInt32).alias("_group"))
        )
        .sort("_group", "created_at")
        .with_columns(pl.col("last_open").cum_max().over("_group").alias("reach"))
        .unique(["_group", "reach"], keep="first", maintain_order=True)
        .select("_group", "reach", "first_open", "created_at")
    )
    out = flow.join_asof(
        reach, left_on="boundary", right_on="reach", by="_group", strategy="forward", check_sortedness=False
    ).with_columns(
        pl.when(pl.col("first_open") <= pl.col("boundary"))
        .then(duration_hours("created_at", "window_end"))
        .alias("oldest_open_hours")
    )
    return out.select(*keys, "open_start", "arrivals", "closures", "open_end", "oldest_open_hours")


def backlog_flow(
    grid: pl.DataFrame,
    arrivals: pl.DataFrame,
    closures: pl.DataFrame,
    before: pl.DataFrame,
    keys: list[str],
    by: list[str],
) -> pl.DataFrame:
    """The backlog identity on the group × period grid (`_group`, `boundary`): arrivals and closures per period,
    open_before per group, then open_end = open_before + running (arrivals − closures) and open_start."""
    flow = grid
    for part, on in ((arrivals, keys), (closures, keys), (before, by)):
        flow = flow.join(part, on=on, how="left", nulls_equal=True) if on else flow.join(part, how="cross")
    return (
        flow.with_columns(pl.col("arrivals", "closures", "open_before").fill_null(0))
        .sort("_group", "boundary")
        .with_columns(
            (pl.col("open_before") + (pl.col("arrivals") - pl.col("closures")).cum_sum().over("_group")).alias(
                "open_end"
            )
        )
        .with_columns((pl.col("open_end") - pl.col("arrivals") + pl.col("closures")).alias("open_start"))
    )


def _exposure(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    actioned = created_in(ds.tables["tickets"], filters, period).filter(pl.col("first_action_at").is_not_null())
    views = pl.col("views_before_action").drop_nulls()
    out = _group(
        actioned,
        _keys(by, period),
        [
            pl.len().alias("tickets"),
            (duration_hours("created_at", "first_action_at") <= 24).sum().alias("_within_24h"),
            views.count().alias("_views_known"),
            (views == 0).sum().alias("_zero_views"),
            views.quantile(0.5, interpolation="linear").alias("p50_views"),
            views.quantile(0.9, interpolation="linear").alias("p90_views"),
        ],
    )
    return out.select(
        *_keys(by, period),
        "tickets",
        ratio("_zero_views", "_views_known").alias("zero_view_share"),
        ratio("_within_24h", "tickets").alias("within_24h_share"),
        "p50_views",
        "p90_views",
    )


def _automation(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    known = pl.col("automated").is_not_null()
    out = _group(
        created_in(ds.tables["tickets"], filters, period),
        _keys(by, period),
        [
            pl.len().alias("tickets"),
            known.sum().alias("known"),
            pl.col("automated").fill_null(False).sum().alias("automated"),
        ],
    )
    return out.with_columns(ratio("automated", "known").alias("automated_share"))


def _human_decisions(ds: Dataset, filters: Filters, period: str | None) -> pl.LazyFrame:
    """Human decisions (not automated) whose first action falls in the period."""
    lf = (
        ds.tables["tickets"]
        .lazy()
        .filter(filters.in_period("first_action_at") & filters.dimension_expr() & ~pl.col("automated").fill_null(False))
    )
    return lf.with_columns(period_expr("first_action_at", period)) if period else lf


def _handle_time(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    seconds = pl.col("handle_seconds").drop_nulls()
    return _group(
        _human_decisions(ds, filters, period),
        _keys(by, period),
        [
            seconds.count().alias("reviews"),
            seconds.mean().alias("mean_handle_seconds"),
            seconds.quantile(0.5, interpolation="linear").alias("p50_handle_seconds"),
            seconds.quantile(0.9, interpolation="linear").alias("p90_handle_seconds"),
            (seconds.sum() / 3600).alias("handle_hours"),
        ],
    )


THROUGHPUT_GROUPS = ("vendor", "site", "language")


def _throughput(ds: Dataset, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    if set(by) - set(THROUGHPUT_GROUPS):
        raise ValueError(f"throughput can only be grouped by {', '.join(THROUGHPUT_GROUPS)}")
    keys = _keys(by, period)
    filters = Filters(filters.start, filters.end, vendor=filters.vendor)  # staffing has no other dimensions
    handled = _group(
        _human_decisions(ds, filters, period).filter(pl.col("vendor").is_not_null()),
        keys,
        [pl.len().alias("handled")],
    )
    staffing = (
        ds.tables["staffing"]
        .lazy()
        .filter(
            (pl.col("date") >= filters.start) & (pl.col("date") <= filters.end) & filters.dimension_expr(["vendor"])
        )
    )
    if period:
        staffing = staffing.with_columns(period_expr("date", period))
    hours = _group(staffing, keys, [pl.col("productive_hours").sum().alias("productive_hours")])
    return per_productive_hour(handled, hours, keys)


def per_productive_hour(handled: pl.DataFrame, hours: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Human decisions and staffed productive hours side by side per group (0 where one side has none),
    with `handled_per_productive_hour`."""
    out = (
        handled.join(hours, on=keys, how="full", coalesce=True)
        if keys
        else pl.concat([handled, hours], how="horizontal")
    )
    out = out.with_columns(pl.col("handled").fill_null(0), pl.col("productive_hours").fill_null(0.0))
    return out.with_columns(ratio("handled", "productive_hours").alias("handled_per_productive_hour"))


def ratio(numerator: str | pl.Expr, denominator: str | pl.Expr) -> pl.Expr:
    """numerator / denominator (column names or expressions), null where the denominator is not positive."""
    num = pl.col(numerator) if isinstance(numerator, str) else numerator
    den = pl.col(denominator) if isinstance(denominator, str) else denominator
    return pl.when(den > 0).then(num / den)


_IMPLEMENTATIONS: dict[str, Callable[[Dataset, Filters, list[str], str | None], pl.DataFrame]] = {
    "volume": _volume,
    "actioned": _actioned,
    "time_to_first_action": _duration("first_action_at"),
    "time_to_close": _duration("closed_at"),
    "proactive": _proactive,
    "appeals": _appeals,
    "qa_accuracy": _qa_accuracy,
    "per_million_dau": _per_million_dau,
    "open_backlog": _open_backlog,
    "backlog": _backlog,
    "exposure": _exposure,
    "automation": _automation,
    "handle_time": _handle_time,
    "throughput": _throughput,
}
