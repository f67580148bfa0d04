"""Answering metrics from the rollups: the same frames as the rows engine, percentiles from histograms
(within PERCENTILE_ERROR_BOUND), exact from rows where the histograms do not reach (docs/rollups.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl
import polars.selectors as cs

from queries.calc import HOUR_US, period_windows
from queries.definitions import METRICS
from queries.engines.base import (
    ARRIVALS_SCHEMA,
    DURATION_BUCKETS_SCHEMA,
    DURATION_ENDS,
    QUEUE_REVIEWS_SCHEMA,
    SLA_FLAGS_SCHEMA,
    VIEWS_WAITING_SCHEMA,
    open_ticket_rows,
)
from queries.engines.rollups.storage import (
    EXACT_ROWS_LIMIT,
    ROLLUP_DIMENSIONS,
    ROLLUP_METRICS,
    TTC,
    TTFA,
    VIEWS,
    Level,
    Rollups,
)
from queries.engines.rows import RowsEngine
from queries.filters import Filters, period_expr
from queries.frames import open_at_a_day_end, sla_late, with_oldest_open, with_time_flags
from queries.histogram import percentiles
from queries.sla import SlaPolicy
from queries.sources.dataset import Dataset


def rollup_summary(
    r: Rollups, metric: str, filters: Filters, by: list[str], period: str | None, sla_policy: SlaPolicy | None = None
) -> pl.DataFrame:
    """One metric from the rollups: the counts the rows engine gives (`Metric.counted`), same dtypes, sorted.
    `sla_policy`, when given, must be the one the rollups were built with."""
    if metric not in ROLLUP_METRICS:
        supported = ", ".join(ROLLUP_METRICS)
        raise ValueError(f"{metric!r} cannot be answered from rollups; they answer {supported}")
    by = list(by)
    unknown = [b for b in by if b not in ROLLUP_DIMENSIONS and not (metric == "sla" and b == "sla_rule")]
    if unknown:
        raise ValueError(f"rollups group only by {', '.join(ROLLUP_DIMENSIONS)}, not {', '.join(unknown)}")
    if metric == "sla":
        _check_policy(r, sla_policy)
    keys = by + (["period"] if period else [])
    out = _QUERIES[metric](r, filters, by, period, keys)
    return _as_text(r, out.select(*keys, *METRICS[metric].counted), by, keys)


def _check_policy(r: Rollups, policy: SlaPolicy | None) -> None:
    """Refuse a policy other than the one the rollups were built with (None: that one)."""
    if policy is not None and policy.terms != r.sla_policy.terms:
        raise ValueError(
            "the rollups were built with another SLA policy; pass it as build_rollups(..., sla_policy=...)"
        )


def _as_text(r: Rollups, out: pl.DataFrame, by: list[str], keys: list[str]) -> pl.DataFrame:
    """The answer with its codes back to text (exact answers from rows have text already), sorted by its keys."""
    out = out.with_columns(
        pl.lit(pl.Series(r.dictionary[k], dtype=pl.String)).gather(pl.col(k)).alias(k)
        for k in by
        if out.schema[k] == pl.UInt32
    )
    return out.sort(keys) if keys else out


def handled(r: Rollups, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    """Human decisions with a vendor whose first action falls in the period, by `by` (and period): `handled`, the
    `throughput` metric's decisions (rows.throughput adds the staffing hours)."""
    keys = by + (["period"] if period else [])
    actioned = _select(r, level_for(r, filters, [*by, "vendor"]).actioned, filters, period)
    out = _sum(actioned.filter(pl.col("vendor").is_not_null()), keys, ["human"]).rename({"human": "handled"})
    return _as_text(r, out, by, keys)


def decision_counts(r: Rollups, filters: Filters, by: list[str]) -> pl.DataFrame:
    """Human violating / non-violating decisions of tickets created in the filters' days by `by` (the Engine's
    `decision_counts`), from the created-day counts."""
    created = _select(r, level_for(r, filters, by).created, filters, None)
    out = _sum(created.filter(pl.col("human_decided") > 0), by, ["human_decided", "human_violating"])
    return _as_text(r, out.rename({"human_decided": "decisions", "human_violating": "violating"}), by, by)


def arrivals(r: Rollups, filters: Filters) -> pl.DataFrame | None:
    """Tickets per created day × half-hour slot (the Engine's `arrivals`) from the `arrivals` table; with two or more
    dimensions selected, exactly from the rows when affordable (None otherwise)."""
    level = level_for(r, filters, (), histograms=True)
    if level is None:
        return _rows_engine(r, "volume", filters).arrivals(filters) if _rows_affordable(r, "volume", filters) else None
    out = _sum(_select(r, level.arrivals, filters, None), ["day", "slot"], ["tickets"])
    return out.cast(ARRIVALS_SCHEMA).sort("day", "slot")


def duration_buckets(r: Rollups, filters: Filters, end: str, by: list[str], period: str | None) -> pl.DataFrame | None:
    """Measured tickets per `by`, period and duration bucket (the Engine's `duration_buckets`) from the created-day
    histograms, which count in the same buckets; with two or more dimensions, exactly from the rows when affordable
    (None otherwise)."""
    if end not in DURATION_ENDS:
        raise ValueError(f"durations end at {' or '.join(DURATION_ENDS)}, not {end!r}")
    level = level_for(r, filters, by, histograms=True)
    if level is None:
        rows = _rows_affordable(r, "volume", filters)
        return _rows_engine(r, "volume", filters).duration_buckets(filters, end, by, period) if rows else None
    keys = [*by, *(["period"] if period else []), "bucket"]
    measure = TTFA if end == "first_action_at" else TTC
    hist = _select(r, level.created_hist, filters, period).filter(pl.col("measure") == measure)
    out = _sum(hist.with_columns(pl.col("bucket").cast(pl.Int32)), keys, ["count"]).rename({"count": "tickets"})
    return _as_text(r, out, by, keys).select(*keys, "tickets").cast(DURATION_BUCKETS_SCHEMA)


def open_tickets(r: Rollups, filters: Filters) -> pl.DataFrame:
    """The open tickets (the Engine's `open_tickets`), read from the source's rows by the times of their opening and
    closing (few: the backlog at the selected midnights), then checked as on the rows."""
    if r.read_rows is None:
        raise ValueError("the open tickets need the source's rows; these rollups were built without them")
    return open_ticket_rows(r.read_rows(open_at_a_day_end(filters, as_read=True)), filters)


def views_while_waiting(r: Rollups, filters: Filters, by: list[str]) -> pl.DataFrame:
    """Views and hours to first action of actioned tickets with views (the Engine's `views_while_waiting`), from the
    created-day sums."""
    created = _select(r, level_for(r, filters, by).created, filters, None).filter(pl.col("views_known") > 0)
    out = _sum(created, by, ["views_sum", "views_ttfa_sum_us"])
    out = out.with_columns((pl.col("views_ttfa_sum_us") / HOUR_US).alias("waited_hours")).drop("views_ttfa_sum_us")
    return _as_text(r, out, by, by).cast(VIEWS_WAITING_SCHEMA)


def sla_flags(r: Rollups, filters: Filters, policy: SlaPolicy | None) -> pl.DataFrame:
    """The SLA outcome against the source's flag (the Engine's `sla_flags`): ended tickets counted at build, plus those
    still waiting and late at the data's now (measured, missed by the policy: `disagree` where the flag says met)."""
    _check_policy(r, policy)
    names = ["flagged", "flagged_ended", "flagged_met", "flagged_met_source", "flagged_disagree"]
    counts = _sum(_select(r, level_for(r, filters, []).sla, filters, None), [], names)
    late = r.sla_waiting.lazy().filter(
        filters.in_period("created_at") & _in_groups(r, filters) & sla_late(r.as_of) & pl.col("sla_met").is_not_null()
    )
    late = late.select(pl.len().alias("late"), pl.col("sla_met").sum().alias("late_met_source")).collect()
    out = pl.concat([counts, late], how="horizontal").select(
        "flagged",
        (pl.col("flagged_ended") + pl.col("late")).alias("compared"),
        pl.col("flagged_met").alias("met_ours"),
        (pl.col("flagged_met_source") + pl.col("late_met_source")).alias("met_source"),
        (pl.col("flagged_disagree") + pl.col("late_met_source")).alias("disagree"),
    )
    return out.cast(SLA_FLAGS_SCHEMA)


def queue_reviews(r: Rollups, filters: Filters) -> pl.DataFrame | None:
    """Human reviews with a handle time by queue (the Engine's `queue_reviews`) from the `queues` table; with two or
    more dimensions selected, exactly from the rows when affordable (None otherwise)."""
    level = level_for(r, filters, (), histograms=True)
    if level is None:
        affordable = _rows_affordable(r, "handle_time", filters)
        return _rows_engine(r, "handle_time", filters).queue_reviews(filters) if affordable else None
    out = _sum(_select(r, level.queues, filters, None), ["queue"], ["reviews", "handle_sum_seconds"])
    return _as_text(r, out, ["queue"], ["queue"]).cast(QUEUE_REVIEWS_SCHEMA).sort("queue")


def last_active_day(r: Rollups, filters: Filters) -> dt.date | None:
    """The newest day with tickets created, actioned or closed in the filters' groups (their days are not used)."""
    level, groups = level_for(r, filters, ()), _in_groups(r, filters)
    days = [
        t.lazy().filter(groups).select(pl.col("day").max()).collect().item()
        for t in (level.created, level.actioned, level.closed)
    ]
    return max((d for d in days if d is not None), default=None)


def level_for(r: Rollups, filters: Filters, by: Sequence[str], *, histograms: bool = False) -> Level | None:
    """The smallest rollup keyed by every dimension the query filters or groups on (with `histograms`, among
    those that carry them: None when more than one dimension is involved)."""
    needed = set(filters.selections()) | set(by)
    fitting = [
        lv for dims, lv in r.levels.items() if needed <= set(dims) and (lv.created_hist is not None or not histograms)
    ]
    return min(fitting, key=lambda lv: lv.created.height) if fitting else None


def _rows_affordable(r: Rollups, metric: str, filters: Filters) -> bool:
    """True when the rows an exact answer would read (every ticket of the selected days) are at most
    EXACT_ROWS_LIMIT; otherwise percentiles over several dimensions are left null (docs/rollups.md)."""
    table, column = (
        (r.levels[()].actioned, "actioned") if metric == "handle_time" else (r.levels[()].created, "tickets")
    )
    days = table.filter((pl.col("day") >= filters.start) & (pl.col("day") <= filters.end))
    return r.read_rows is not None and int(days[column].sum()) <= EXACT_ROWS_LIMIT


def _from_rows(r: Rollups, metric: str, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    """The metric computed exactly from the source's rows (percentiles filtered or grouped by two or more
    dimensions, which the histograms do not cover): only rows of the selected days are read, at most
    EXACT_ROWS_LIMIT (checked by the caller with _rows_affordable)."""
    if r.read_rows is None:
        raise ValueError(f"{metric} by {', '.join(by) or 'filters'} on several dimensions needs the source's rows")
    return _rows_engine(r, metric, filters).summarize(metric, filters, by, period, r.sla_policy)


def _rows_engine(r: Rollups, metric: str, filters: Filters) -> RowsEngine:
    """The rows engine over the source's rows of the filters' days (first-action days for handle_time)."""
    day = "first_action_at" if metric == "handle_time" else "created_at"
    rows = r.read_rows(filters.in_period(day))
    return RowsEngine(Dataset(r.source, None, r.signature, {"tickets": rows}, {}))


def _in_groups(r: Rollups, filters: Filters) -> pl.Expr:
    """filters.dimension_expr() on the rollups' codes: a value the rollups never saw matches nothing."""
    expr = pl.lit(True)
    for name, values in filters.selections().items():
        position = {v: i for i, v in enumerate(r.dictionary[name])}
        codes = pl.Series([position[v] for v in values if v in position], dtype=pl.UInt32)
        expr = expr & pl.col(name).is_in(codes.implode())
    return expr


def _select(r: Rollups, frame: pl.DataFrame | pl.LazyFrame, filters: Filters, period: str | None) -> pl.LazyFrame:
    lf = frame.lazy().filter((pl.col("day") >= filters.start) & (pl.col("day") <= filters.end) & _in_groups(r, filters))
    return lf.with_columns(period_expr("day", period)) if period else lf


def _sum(lf: pl.LazyFrame, keys: list[str], columns: list[str]) -> pl.DataFrame:
    """Sums by keys; counts (stored as UInt32 to save memory) are summed as Int64."""
    lf = lf.with_columns((cs.by_name(columns) & cs.integer()).cast(pl.Int64))
    aggs = [pl.col(c).sum() for c in columns]
    return (lf.group_by(keys).agg(aggs) if keys else lf.select(aggs)).collect()


def _volume(r, filters, by, period, keys):
    return _sum(_select(r, level_for(r, filters, by).created, filters, period), keys, ["tickets"])


def _actioned(r, filters, by, period, keys):
    return _sum(_select(r, level_for(r, filters, by).actioned, filters, period), keys, ["actioned"])


def _with_percentiles(
    base: pl.DataFrame, hist: pl.LazyFrame | None, keys: list[str], names: list[str], scale: float
) -> pl.DataFrame:
    """base with the histogram's percentiles; null ones when there is no histogram (see _rows_affordable)."""
    if hist is None:
        return base.with_columns(pl.lit(None, pl.Float64).alias(n) for n in names)
    pct = percentiles(hist, keys, [0.5, 0.9], names).with_columns(pl.col(names) / scale).collect()
    if not keys:
        return pl.concat([base, pct], how="horizontal")
    return base.join(pct, on=keys, how="left", nulls_equal=True)


def _duration(metric: str, measure: int, measured: str, total: str):
    def compute(r, filters, by, period, keys):
        level = level_for(r, filters, by, histograms=True)
        if level is None and _rows_affordable(r, metric, filters):
            return _from_rows(r, metric, filters, by, period)
        level = level or level_for(r, filters, by)
        base = _sum(_select(r, level.created, filters, period), keys, ["tickets", measured, total])
        base = base.with_columns(
            pl.when(pl.col(measured) > 0).then(pl.col(total) / pl.col(measured) / HOUR_US).alias("mean_hours")
        ).rename({measured: "measured"})
        hist = level.created_hist
        hist = None if hist is None else _select(r, hist, filters, period).filter(pl.col("measure") == measure)
        return _with_percentiles(base, hist, keys, ["p50_hours", "p90_hours"], 3600.0)

    return compute


def _proactive(r, filters, by, period, keys):
    out = _sum(
        _select(r, level_for(r, filters, by).created, filters, period), keys, ["tickets", "known_source", "proactive"]
    )
    return out


def _appeals(r, filters, by, period, keys):
    created = _select(r, level_for(r, filters, by).created, filters, period)
    out = _sum(created, keys, ["decided", "appealed", "overturned"])
    out = out.rename({"decided": "tickets"})
    out = out.filter(pl.col("tickets") > 0) if keys else out
    return out


def _automation(r, filters, by, period, keys):
    created = _select(r, level_for(r, filters, by).created, filters, period)
    out = _sum(created, keys, ["tickets", "known_automated", "automated"])
    out = out.rename({"known_automated": "known"})
    return out


def _exposure(r, filters, by, period, keys):
    level = level_for(r, filters, by, histograms=True)
    if level is None and _rows_affordable(r, "exposure", filters):
        return _from_rows(r, "exposure", filters, by, period)
    level = level or level_for(r, filters, by)
    base = _sum(_select(r, level.created, filters, period), keys, ["acted", "within_24h", "views_known", "zero_views"])
    base = base.rename({"acted": "tickets", "within_24h": "_within_24h", "views_known": "_views_known"})
    base = base.rename({"zero_views": "_zero_views"})
    base = base.filter(pl.col("tickets") > 0) if keys else base
    hist = level.created_hist
    hist = None if hist is None else _select(r, hist, filters, period).filter(pl.col("measure") == VIEWS)
    return _with_percentiles(base, hist, keys, ["p50_views", "p90_views"], 1.0)


def _handle_time(r, filters, by, period, keys):
    level = level_for(r, filters, by, histograms=True)
    if level is None and _rows_affordable(r, "handle_time", filters):
        return _from_rows(r, "handle_time", filters, by, period)
    level = level or level_for(r, filters, by)
    base = _sum(_select(r, level.actioned, filters, period), keys, ["human", "reviews", "handle_sum_seconds"])
    base = base.filter(pl.col("human") > 0) if keys else base
    base = base.with_columns(
        pl.when(pl.col("reviews") > 0)
        .then(pl.col("handle_sum_seconds") / pl.col("reviews"))
        .alias("mean_handle_seconds"),
        (pl.col("handle_sum_seconds").fill_null(0.0) / 3600).alias("handle_hours"),
    )
    hist = None if level.handle_hist is None else _select(r, level.handle_hist, filters, period)
    return _with_percentiles(base, hist, keys, ["p50_handle_seconds", "p90_handle_seconds"], 1.0)


def _sla(r, filters, by, period, keys):
    level = level_for(r, filters, [b for b in by if b != "sla_rule"])
    counts = _sum(_select(r, level.sla, filters, period), keys, ["tickets", "ended_with_sla", "met"])
    waiting = r.sla_waiting.lazy().filter(filters.in_period("created_at") & _in_groups(r, filters) & sla_late(r.as_of))
    if period:
        waiting = waiting.with_columns(period_expr("created_at", period))
    late = _sum(waiting.with_columns(pl.lit(1).alias("late")), keys, ["late"])
    out = (
        counts.join(late, on=keys, how="left", nulls_equal=True)
        if keys
        else pl.concat([counts, late], how="horizontal")
    )
    out = out.with_columns((pl.col("ended_with_sla") + pl.col("late").fill_null(0)).alias("measured"))
    return out


def _cumulative(
    r: Rollups, frame: pl.DataFrame | pl.LazyFrame, filters: Filters, before: dt.date, keys: list[str], column: str
) -> pl.DataFrame:
    """Sum of `column` over days before `before` (exclusive) in the selected groups."""
    lf = frame.lazy().filter((pl.col("day") < before) & _in_groups(r, filters))
    return _sum(lf, keys, [column])


def _in_backlog(level: Level) -> pl.LazyFrame:
    """The created-day counts of the tickets the backlog counts: not those closed at an unknown time."""
    unknown = pl.col("closed_unknown").cast(pl.Int64)
    return level.created.lazy().with_columns((pl.col("tickets").cast(pl.Int64) - unknown).alias("tickets"))


def _open_backlog(r, filters, by, period, keys):
    if period:
        raise ValueError("open_backlog is a point-in-time figure at the end of the period; use it without --period")
    level = level_for(r, filters, by)
    end = filters.end + dt.timedelta(days=1)
    created = _cumulative(r, _in_backlog(level), filters, end, by, "tickets")
    closed = _cumulative(r, level.closed, filters, end, by, "closures")
    if not by:
        return pl.DataFrame({"open_tickets": [created["tickets"][0] - closed["closures"][0]]})
    out = created.join(closed, on=by, how="left", nulls_equal=True).with_columns(
        (pl.col("tickets") - pl.col("closures").fill_null(0)).alias("open_tickets")
    )
    return out.filter(pl.col("open_tickets") > 0)


def _backlog(r, filters, by, period, keys):
    """Open tickets at midnight t = created before t − closed before t (valid rows close after they open; those
    closed at an unknown time are left out)."""
    level = level_for(r, filters, by)
    windows = period_windows(filters, period)
    start, end = filters.start, filters.end + dt.timedelta(days=1)
    created = _in_backlog(level)
    created_before = _cumulative(r, created, filters, start, by, "tickets").rename({"tickets": "c0"})
    closed_before = _cumulative(r, level.closed, filters, start, by, "closures").rename({"closures": "k0"})
    created_to_end = _cumulative(r, created, filters, end, by, "tickets").rename({"tickets": "c1"})
    # Groups with a ticket open at some instant of the selected days, or arriving in them (as metrics.open_during).
    if by:
        groups = created_to_end.join(closed_before, on=by, how="left", nulls_equal=True).join(
            created_before, on=by, how="left", nulls_equal=True
        )
    else:
        groups = pl.concat([created_to_end, closed_before, created_before], how="horizontal")
    groups = groups.with_columns(pl.col("k0", "c0").fill_null(0))
    if by:  # without grouping there is always the one group, as in queries.metrics
        groups = groups.filter(pl.col("c1") - pl.col("k0") > 0)
    groups = (
        groups.with_columns((pl.col("c0") - pl.col("k0")).alias("open_before"))
        .select(*by, "open_before")
        .with_row_index("_group")
    )
    day_filters = Filters.of(filters.start, filters.end, filters.selections())
    arrivals = _sum(_select(r, created, day_filters, period), keys, ["tickets"]).rename({"tickets": "arrivals"})
    closures = _sum(_select(r, level.closed, day_filters, period), keys, ["closures"])
    grid = groups.join(windows, how="cross")
    flow = grid
    for part in (arrivals, closures):
        flow = flow.join(part, on=keys, how="left", nulls_equal=True) if keys else flow.join(part, how="cross")
    flow = (
        flow.with_columns(pl.col("arrivals", "closures").fill_null(0))
        .sort("_group", "boundary")
        .with_columns(
            (pl.col("open_before") + (pl.col("arrivals") - pl.col("closures")).cum_sum().over("_group")).alias(
                "open_end"
            )
        )
        .with_columns((pl.col("open_end") - pl.col("arrivals") + pl.col("closures")).alias("open_start"))
    )
    flow = _with_oldest_open(r, flow, filters, groups, windows, by)
    return flow.select(*keys, "open_start", "arrivals", "closures", "open_end", "oldest_open_hours")


def _with_oldest_open(
    r: Rollups, flow: pl.DataFrame, filters: Filters, groups: pl.DataFrame, windows: pl.DataFrame, by: list[str]
) -> pl.DataFrame:
    """The backlog flow with `oldest_open_hours` from the tickets open at a day end of the period, read from the
    source's rows as `open_tickets` reads them (few; the same read); null for rollups built without rows."""
    if r.read_rows is None:
        return flow.with_columns(pl.lit(None, pl.Float64).alias("oldest_open_hours"))
    rows = with_time_flags(r.read_rows(open_at_a_day_end(filters, as_read=True)).lazy())
    tickets = rows.filter(open_at_a_day_end(filters) & filters.dimension_expr())
    return with_oldest_open(flow, tickets, _as_text(r, groups, by, []), windows, by)


_QUERIES = {
    "volume": _volume,
    "actioned": _actioned,
    "time_to_first_action": _duration("time_to_first_action", TTFA, "ttfa_measured", "ttfa_sum_us"),
    "time_to_close": _duration("time_to_close", TTC, "ttc_measured", "ttc_sum_us"),
    "sla": _sla,
    "proactive": _proactive,
    "appeals": _appeals,
    "open_backlog": _open_backlog,
    "backlog": _backlog,
    "exposure": _exposure,
    "automation": _automation,
    "handle_time": _handle_time,
}
