"""Turnaround, SLA and queue health: how fast tickets are actioned, what is waiting, who saw it meanwhile.

Builds on the metrics (`queries.metrics.summarize`, one definition each) and adds the shapes the
Turnaround & SLA page draws: duration distributions, SLA agreement with the source, backlog aging,
exposure rankings and the hour-of-week grid. P99 and the distributions come from the engine's duration buckets
(`queries.engines.duration_buckets`: exact on ticket rows, P99 within PERCENTILE_ERROR_BOUND elsewhere) and the
hour-of-week arrivals from its half-hour arrivals; the parts that still read ticket rows take them from the
source's engine (`queries.engines.held_rows`) and are left out where it keeps aggregates only. Every instant is UTC.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from queries.calc import HOUR_US, keys_of, period_windows
from queries.contract import PROACTIVE_SOURCES
from queries.engines import (
    Source,
    arrivals,
    duration_buckets,
    held_rows,
    open_tickets,
    sla_flags,
    views_while_waiting,
)
from queries.filters import Filters
from queries.frames import (
    created_in,
    duration_hours,
    duration_summary,
    open_at,
    open_span,
    with_sla_outcome,
    with_time_flags,
)
from queries.histogram import SMALLEST, R, percentiles
from queries.metrics import data_as_of, missing_inputs, summarize
from queries.sla import DUE_RULE, SlaPolicy

TURNAROUND_PERCENTILES = (50, 90, 99)
MEASURES = {"first_action_at": "Time to first action", "closed_at": "Time to close"}  # end column → label
# Age of open tickets: (label, lower bound in hours); each bucket runs up to the next lower bound.
AGE_BUCKETS = (("< 1 h", 0.0), ("1–4 h", 1.0), ("4–24 h", 4.0), ("1–3 d", 24.0), ("> 3 d", 72.0))
AGE_BUCKET = pl.Enum([label for label, _ in AGE_BUCKETS])
# Histogram bins: [0, 1 s), then four per decade of seconds up to 10^7 s (≈ 116 days), then everything longer. Each
# edge is the nearest edge of the duration buckets (queries.histogram: bucket k ≥ 2 starts at SMALLEST·R^(k−2) s), so
# every engine counts the bins exactly from `duration_buckets`.
_EDGE_STEPS = pl.Series([round(math.log(10 ** (i / 4) / SMALLEST, R)) for i in range(29)], dtype=pl.Int32)
HISTOGRAM_EDGES_HOURS = (0.0, *(SMALLEST * R**j / 3600 for j in _EDGE_STEPS))
SLA_GROUPINGS = ("sla_rule", "queue", "priority", "source")
EXPOSURE_RATE_GROUPS = ("policy_domain", "surface")


def turnaround(
    ds: Source, filters: Filters, end: str, by: Sequence[str] = (), period: str | None = None
) -> pl.DataFrame:
    """P50/P90/P99 and mean hours from created_at to `end` (a MEASURES key) by group and period.

    Exact from ticket rows; elsewhere the time_to_* metric with P99 from the duration buckets (within
    PERCENTILE_ERROR_BOUND; null where the engine cannot honour the filters, as its P50/P90)."""
    rows = held_rows(ds)
    if rows is not None:
        return duration_summary(rows, filters, end, by, period, TURNAROUND_PERCENTILES)
    metric = "time_to_first_action" if end == "first_action_at" else "time_to_close"
    keys = keys_of(by, period)
    out = summarize(ds, metric, filters, by, period)
    buckets = duration_buckets(ds, filters, end, by, period)
    p99 = None
    if buckets is not None and buckets.height:
        counts = buckets.lazy().rename({"tickets": "count"})
        p99 = percentiles(counts, keys, [0.99], ["p99_hours"]).with_columns(pl.col("p99_hours") / 3600).collect()
    if p99 is None:
        out = out.with_columns(pl.lit(None, pl.Float64).alias("p99_hours"))
    elif keys:
        out = out.join(p99, on=keys, how="left", nulls_equal=True)
    else:
        out = pl.concat([out, p99], how="horizontal")
    return out.select(*keys, "tickets", "measured", "p50_hours", "p90_hours", "p99_hours", "mean_hours")


def duration_histogram(ds: Source, filters: Filters, end: str, by: str | None = None) -> pl.DataFrame | None:
    """Measured durations in log-spaced bins: `lower_hours` ≤ duration < `upper_hours` (null: no upper bound).

    `share` is the bin's share of the group's measured tickets, `cum_share` the share below `upper_hours`
    (the ECDF at the bin's upper edge). Only bins with tickets are returned; None where the engine cannot honour
    the filters (`duration_buckets`).
    """
    keys = [by] if by else []
    buckets = duration_buckets(ds, filters, end, keys)
    if buckets is None:
        return None
    edges = pl.Series(HISTOGRAM_EDGES_HOURS)
    bins = pl.DataFrame(
        {
            "bin": range(1, len(edges) + 1),
            "lower_hours": edges,
            "upper_hours": [*edges[1:], None],
        },
        schema_overrides={"bin": pl.Int64, "upper_hours": pl.Float64},
    )
    # Buckets 0 and 1 (below SMALLEST) fall in the first bin; bucket k ≥ 2 after every edge step ≤ k − 2.
    step = pl.lit(_EDGE_STEPS).search_sorted(pl.col("bucket") - 2, side="right").cast(pl.Int64)
    counts = buckets.group_by(*keys, (step + 1).alias("bin")).agg(pl.col("tickets").sum())
    total = pl.col("tickets").sum().over(keys) if keys else pl.col("tickets").sum()
    cumulative = pl.col("tickets").cum_sum().over(keys) if keys else pl.col("tickets").cum_sum()
    return (
        counts.join(bins, on="bin")
        .sort(*keys, "bin")
        .with_columns((pl.col("tickets") / total).alias("share"), (cumulative / total).alias("cum_share"))
        .select(*keys, "lower_hours", "upper_hours", "tickets", "share", "cum_share")
    )


def sla_attainment(ds: Source, filters: Filters, policy: SlaPolicy, by: str) -> pl.DataFrame:
    """The `sla` metric by one of SLA_GROUPINGS; by `sla_rule` in policy order with each rule's target and measure,
    then the tickets measured against their own due_at (sla.DUE_RULE, no target)."""
    out = summarize(ds, "sla", filters, by=[by], sla_policy=policy)
    if by != "sla_rule":
        return out
    rules = pl.DataFrame(
        {
            "sla_rule": policy.groups,
            "measure": [*(r.measure for r in policy.rules), policy.due_measure],
            "target_seconds": [*(r.target_seconds for r in policy.rules), None],
            "order": range(len(policy.rules) + 1),
        },
        schema_overrides={"target_seconds": pl.Float64},
    )
    return rules.join(out, on="sla_rule", how="inner").sort("order").drop("order")


def sla_due_dates(ds: Source, filters: Filters, policy: SlaPolicy) -> bool:
    """True when tickets of the filters were measured against their own due_at (what the SLA words then say)."""
    return (
        ds.has("tickets", "due_at")
        and DUE_RULE in summarize(ds, "sla", filters, by=["sla_rule"], sla_policy=policy)["sla_rule"].to_list()
    )


def sla_agreement(ds: Source, filters: Filters, policy: SlaPolicy) -> pl.DataFrame:
    """One row: our SLA outcome against the source's own `sla_met`, over tickets created in the period with one.

    `compared`: tickets the policy measures (see the `sla` metric); attainment of both over those same
    tickets, `disagree` where they differ, and `source_only` flags on tickets the policy does not measure.
    """
    ratio = {  # computed on the compared tickets only, so both attainments count the same tickets
        "attainment_ours": "met_ours",
        "attainment_source": "met_source",
        "disagree_share": "disagree",
    }
    return (
        sla_flags(ds, filters, policy)
        .with_columns((pl.col("flagged") - pl.col("compared")).alias("source_only"))
        .with_columns(
            pl.when(pl.col("compared") > 0).then(pl.col(num) / pl.col("compared")).alias(name)
            for name, num in ratio.items()
        )
    )


def sla_disagreements(ds: Source, filters: Filters, policy: SlaPolicy, n: int = 20) -> pl.DataFrame:
    """The first `n` tickets (oldest first) where our SLA outcome and the source's `sla_met` differ."""
    flagged = created_in(held_rows(ds), filters).filter(pl.col("sla_met").is_not_null())
    return (
        with_sla_outcome(flagged, policy, data_as_of(ds))
        .filter(pl.col("sla_measured") & (pl.col("sla_met_policy") != pl.col("sla_met")))
        .sort("created_at", "ticket_id")
        .head(n)
        .select(
            "ticket_id",
            "queue",
            "priority",
            "source",
            "created_at",
            "first_action_at",
            "closed_at",
            (duration_hours("created_at", "sla_end_at") * 3600).alias("waited_seconds"),
            "sla_rule",
            "sla_target_seconds",
            "due_at",
            pl.col("sla_met_policy").alias("met_ours"),
            pl.col("sla_met").alias("met_source"),
        )
        .collect()
    )


def backlog_aging(ds: Source, filters: Filters) -> pl.DataFrame:
    """Open tickets at the end of each day by age bucket (AGE_BUCKETS), every day × bucket present.

    Open at midnight b: created_at < b and closed_at empty or ≥ b (as the `backlog` metric); age = b − created_at.
    """
    days = period_windows(filters, "day")
    first_open, last_open = open_span(days["window_end"])
    lowers = pl.Series([lower for _, lower in AGE_BUCKETS])
    open_pairs = (
        open_tickets(ds, filters)
        .lazy()
        .select("created_at", first_open, last_open)
        .filter(pl.col("first_open") <= pl.col("last_open"))
        .select("created_at", pl.int_ranges("first_open", pl.col("last_open") + 1).alias("boundary"))
        .explode("boundary")
        .join(days.lazy(), on="boundary")
        .with_columns(
            (pl.lit(lowers).search_sorted(duration_hours("created_at", "window_end"), side="right") - 1).alias("b")
        )
        .group_by("period", "b")
        .agg(pl.len().cast(pl.Int64).alias("open_tickets"))
        .collect()
    )
    buckets = pl.DataFrame({"b": range(len(AGE_BUCKETS)), "age_bucket": [label for label, _ in AGE_BUCKETS]})
    grid = days.select("period").join(buckets, how="cross")
    return (
        grid.join(open_pairs.with_columns(pl.col("b").cast(pl.Int64)), on=["period", "b"], how="left")
        .with_columns(pl.col("open_tickets").fill_null(0), pl.col("age_bucket").cast(AGE_BUCKET))
        .sort("period", "b")
        .select("period", "age_bucket", "open_tickets")
    )


def oldest_open(ds: Source, filters: Filters, by: str = "queue") -> pl.DataFrame:
    """Per group, tickets open at the end of the period and the oldest of them (age in hours), oldest first."""
    end = filters.end_before
    oldest = pl.col("ticket_id", "created_at", "first_action_at").sort_by("created_at", "ticket_id").first()
    return (
        with_time_flags(open_tickets(ds, filters).lazy())
        .filter(open_at(end))
        .group_by(by)
        .agg(pl.len().cast(pl.Int64).alias("open_tickets"), oldest.name.prefix("oldest_"))
        .with_columns(_age_hours(end, "oldest_created_at").alias("oldest_age_hours"))
        .sort("oldest_age_hours", by, descending=[True, False])
        .collect()
    )


def _age_hours(instant: dt.datetime, column: str = "created_at") -> pl.Expr:
    """Hours from the timestamp column to `instant`."""
    return (pl.lit(instant) - pl.col(column)).dt.total_microseconds() / HOUR_US


def exposure_by(ds: Source, filters: Filters, by: str = "policy_domain") -> pl.DataFrame:
    """The `exposure` metric by group, with the group's P50/P90 hours to first action to spot slow, high-reach work."""
    speed = summarize(ds, "time_to_first_action", filters, [by]).select(
        by, pl.col("p50_hours").alias("p50_hours_to_action"), pl.col("p90_hours").alias("p90_hours_to_action")
    )
    exposure = summarize(ds, "exposure", filters, by=[by])
    return exposure.join(speed, on=by, how="left", nulls_equal=True).sort("tickets", descending=True)


def open_exposure_ranking(ds: Source, filters: Filters, n: int = 25) -> pl.DataFrame:
    """Tickets open at the end of the period, ranked by views so far (most first), then age.

    `views_so_far`: views_before_action when the first action came before the end; otherwise an estimate,
    hours open × views per hour of waiting of actioned tickets created in the period in the same policy domain
    and surface (Σ views_before_action / Σ hours to first action; all actioned tickets when the group has none).
    `estimated` says which.
    """
    end = filters.end_before
    groups = [c for c in EXPOSURE_RATE_GROUPS if ds.has("tickets", c)]
    sums = views_while_waiting(ds, filters, groups)
    rate = pl.when(pl.col("waited_hours") > 0).then(pl.col("views_sum") / pl.col("waited_hours"))
    overall = sums.select(pl.col("views_sum", "waited_hours").sum()).select(rate.alias("rate"))["rate"][0]
    lf = with_time_flags(open_tickets(ds, filters).lazy()).filter(open_at(end))
    if groups:
        rates = sums.lazy().select(*groups, rate.alias("views_per_hour"))
        lf = lf.join(rates, on=groups, how="left", nulls_equal=True)
    else:
        lf = lf.with_columns(pl.lit(None, pl.Float64).alias("views_per_hour"))
    known = pl.col("first_action_at").lt(end).fill_null(False) & pl.col("views_before_action").is_not_null()
    per_hour = pl.col("views_per_hour").fill_null(pl.lit(overall, pl.Float64))
    return (
        lf.with_columns(_age_hours(end).alias("age_hours"), (~known).alias("estimated"))
        .with_columns(
            pl.when(known)
            .then(pl.col("views_before_action").cast(pl.Float64))
            .otherwise(per_hour * pl.col("age_hours"))
            .alias("views_so_far")
        )
        .sort(["views_so_far", "age_hours", "ticket_id"], descending=[True, True, False], nulls_last=True)
        .head(n)
        .select(
            "ticket_id",
            "queue",
            "policy_domain",
            "surface",
            "market",
            "created_at",
            "age_hours",
            "views_so_far",
            "estimated",
        )
        .collect()
    )


def hour_of_week(ds: Source, filters: Filters) -> pl.DataFrame | None:
    """Arrivals and median hours to first action by UTC weekday (1 = Monday) and hour of creation, all 168 cells.

    `arrivals_per_hour` = arrivals / `occurrences` (how often that weekday falls in the period). Arrivals come from
    the engine's half-hour arrivals (None where it cannot honour the filters); the median from ticket rows only
    (null without them).
    """
    slots = arrivals(ds, filters)
    if slots is None:
        return None
    weekday, hour = pl.col("day").dt.weekday().cast(pl.Int8), (pl.col("slot") // 2).cast(pl.Int8)
    cells = slots.group_by(weekday.alias("weekday"), hour.alias("hour")).agg(pl.col("tickets").sum().alias("arrivals"))
    rows = held_rows(ds)
    if rows is not None:
        created, hours = pl.col("created_at"), duration_hours("created_at", "first_action_at")
        speed = (
            created_in(rows, filters)
            .group_by(
                created.dt.weekday().cast(pl.Int8).alias("weekday"), created.dt.hour().cast(pl.Int8).alias("hour")
            )
            .agg(hours.filter(hours >= 0).quantile(0.5, interpolation="linear").alias("p50_hours_to_action"))
            .collect()
        )
        cells = cells.join(speed, on=["weekday", "hour"], how="left")
    else:
        cells = cells.with_columns(pl.lit(None, pl.Float64).alias("p50_hours_to_action"))
    days = pl.date_range(filters.start, filters.end, "1d", eager=True)
    occurrences = pl.DataFrame({"weekday": days.dt.weekday().cast(pl.Int8)}).group_by("weekday").len("occurrences")
    grid = pl.DataFrame({"weekday": range(1, 8)}, schema={"weekday": pl.Int8}).join(
        pl.DataFrame({"hour": range(24)}, schema={"hour": pl.Int8}), how="cross"
    )
    return (
        grid.join(occurrences.with_columns(pl.col("occurrences").cast(pl.Int64)), on="weekday", how="left")
        .join(cells, on=["weekday", "hour"], how="left")
        .with_columns(pl.col("occurrences", "arrivals").fill_null(0))
        .with_columns(
            pl.when(pl.col("occurrences") > 0)
            .then(pl.col("arrivals") / pl.col("occurrences"))
            .alias("arrivals_per_hour")
        )
        .sort("weekday", "hour")
        .select("weekday", "hour", "occurrences", "arrivals", "arrivals_per_hour", "p50_hours_to_action")
    )


def turnaround_by_source(ds: Source, filters: Filters, end: str) -> pl.DataFrame:
    """Turnaround per detection source, marked proactive (the platform's own models) or reactive, with its share."""
    out = turnaround(ds, filters, end, by=["source"])
    detection = (
        pl.when(pl.col("source").is_in(PROACTIVE_SOURCES))
        .then(pl.lit("proactive"))
        .when(pl.col("source").is_not_null())
        .then(pl.lit("reactive"))
        .otherwise(pl.lit("unknown"))
    )
    share = pl.col("tickets") / pl.col("tickets").sum()
    return out.with_columns(detection.alias("detection"), share.alias("ticket_share")).sort("tickets", descending=True)


@dataclass(frozen=True)
class TurnaroundView:
    """The durations part of the page for one measure (a MEASURES key), split and period."""

    end: str  # the measure: a MEASURES key
    by: str | None  # the split
    period: str
    total: pl.DataFrame  # one row: tickets, measured, p50/p90/p99_hours, mean_hours
    over_time: pl.DataFrame  # by split and period
    by_group: pl.DataFrame | None  # by split; None without a split
    histogram: pl.DataFrame | None  # by split; None where the engine cannot honour the filters (duration_buckets)
    by_source: pl.DataFrame | None  # None when the source has no tickets.source


def turnaround_view(ds: Source, filters: Filters, end: str, by: str | None, period: str) -> TurnaroundView:
    """Percentiles in total, over time and by the split, the distribution and the by-source comparison."""
    keys = [by] if by else []
    return TurnaroundView(
        end=end,
        by=by,
        period=period,
        total=turnaround(ds, filters, end),
        over_time=turnaround(ds, filters, end, keys, period),
        by_group=turnaround(ds, filters, end, keys) if by else None,
        histogram=duration_histogram(ds, filters, end, by),
        by_source=turnaround_by_source(ds, filters, end) if ds.has("tickets", "source") else None,
    )


@dataclass(frozen=True)
class Headline:
    """The page's headline figures (one-row metric frames); None when the source lacks a metric's inputs."""

    sla: pl.DataFrame | None
    open_backlog: pl.DataFrame | None
    exposure: pl.DataFrame | None
    proactive: pl.DataFrame | None


def headline(ds: Source, filters: Filters, policy: SlaPolicy) -> Headline:
    """SLA attainment, open backlog at the end, exposure and proactive share for the whole selection."""

    def total(metric: str) -> pl.DataFrame | None:
        return summarize(ds, metric, filters, sla_policy=policy) if missing_inputs(ds, metric) is None else None

    return Headline(total("sla"), total("open_backlog"), total("exposure"), total("proactive"))


@dataclass(frozen=True)
class SlaView:
    """Attainment by one of SLA_GROUPINGS and, when tickets of the period carry `sla_met`, the agreement with it."""

    attainment: pl.DataFrame
    agreement: pl.DataFrame | None
    disagreements: pl.DataFrame | None  # the first tickets rated differently: from ticket rows only
    measures: str  # what the policy measures on these tickets, for people (SlaPolicy.describe)


def sla_view(ds: Source, filters: Filters, policy: SlaPolicy, by: str) -> SlaView:
    """SLA attainment by `by` and the comparison with the source's own SLA flag (the tickets rated differently listed
    from ticket rows only)."""
    agreement = sla_agreement(ds, filters, policy) if ds.has("tickets", "sla_met") else None
    if agreement is not None and agreement["flagged"][0] == 0:
        agreement = None
    listed = agreement is not None and held_rows(ds) is not None
    return SlaView(
        attainment=sla_attainment(ds, filters, policy, by),
        agreement=agreement,
        disagreements=sla_disagreements(ds, filters, policy) if listed else None,
        measures=policy.describe(sla_due_dates(ds, filters, policy)),
    )


@dataclass(frozen=True)
class BacklogView:
    """Daily backlog flow (the `backlog` metric), aging at each day's end and the oldest open ticket per queue."""

    flow: pl.DataFrame
    aging: pl.DataFrame
    oldest: pl.DataFrame | None  # None when the source has no tickets.queue


def backlog_view(ds: Source, filters: Filters) -> BacklogView:
    """Everything the backlog part of the page shows (ages from the engine's open tickets)."""
    return BacklogView(
        flow=summarize(ds, "backlog", filters, period="day"),
        aging=backlog_aging(ds, filters),
        oldest=oldest_open(ds, filters) if ds.has("tickets", "queue") else None,
    )


@dataclass(frozen=True)
class ExposureView:
    """Exposure by policy domain and the exposure-weighted ranking of the open backlog."""

    by_domain: pl.DataFrame
    ranking: pl.DataFrame | None  # None when the source has no tickets.closed_at (no open backlog)


def exposure_view(ds: Source, filters: Filters) -> ExposureView:
    """Everything the exposure part of the page shows (the ranking from the engine's open tickets)."""
    ranked = missing_inputs(ds, "open_backlog") is None
    return ExposureView(exposure_by(ds, filters), open_exposure_ranking(ds, filters) if ranked else None)
