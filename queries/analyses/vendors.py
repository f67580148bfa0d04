"""Vendor scorecards, trends and coverage: capacity, throughput, occupancy, SLA and quality per vendor, with
intervals and sample sizes, so a vendor is called better or worse only when the difference is significant.

Staffing has no policy domain, market, surface or source, so the capacity measures (FTE, productive hours,
handled, throughput, handle hours, occupancy, quality-adjusted throughput) follow the period and the vendor
filter only, like the `throughput` metric; SLA, QA and appeal measures follow every filter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

import polars as pl

from queries.analyses.quality import qa_accuracy, versus_rest
from queries.definitions import THROUGHPUT_GROUPS
from queries.engines import Source, small_table
from queries.filters import Filters
from queries.intervals import difference_bounds, wilson_bounds
from queries.metrics import missing_inputs, summarize
from queries.sla import SlaPolicy

SCORECARD_GROUPS = ("site", "language", "queue")
CHANGE_MEASURES = (
    "handled",
    "handled_per_productive_hour",
    "occupancy_share",
    "sla_attainment",
    "qa_accuracy",
    "overturn_rate",
)
# (measure, successes, n): proportions whose change vs the previous period gets a significance test
PROPORTIONS = (
    ("sla_attainment", "sla_met", "sla_measured"),
    ("qa_accuracy", "qa_correct", "qa_reviews"),
    ("overturn_rate", "overturned", "appealed"),
)

DEFINITIONS = {
    "scheduled_fte": "Average scheduled FTE per day of the period (staffing.scheduled_fte summed over the rows "
    "of a day, averaged over the period's days).",
    "productive_hours": "Hours available for review in the period (staffing.productive_hours).",
    "handled": "Human decisions whose first action falls in the period (the `throughput` metric).",
    "handled_per_productive_hour": "Human decisions per productive hour (the `throughput` metric).",
    "handle_hours": "Reviewer working time of those decisions (the `handle_time` metric), in hours.",
    "occupancy_share": "Utilisation: handle hours / productive hours — the share of available review time spent "
    "handling tickets. Above 85 % queues tend to build; far below, capacity is idle or handle time unrecorded.",
    "sla_attainment": "The `sla` metric for tickets the vendor decided: first action within the SLA target.",
    "qa_accuracy": "The `qa_accuracy` metric: correct QA reviews / QA reviews, with its Wilson 95 % interval.",
    "overturn_rate": "The `appeals` metric: appeals that reversed the decision / appealed decisions.",
    "quality_adjusted_per_productive_hour": "Quality-adjusted throughput (rework removed): decisions per "
    "productive hour × QA accuracy of all the vendor's reviews in the period — the decisions that did not need "
    "redoing, per productive hour. Range from the accuracy's Wilson interval.",
    "fte": "Average scheduled FTE per day from the staffing table (all vendors; the vendor filter does not apply).",
    "fte_equivalent": "Each vendor's average scheduled FTE split by its share of handle hours in the domain.",
    "top_vendor_share": "Share of the capacity (productive hours for languages, handle hours for domains) "
    "provided by the largest vendor.",
    "rising_demand": "Tickets up by at least the threshold vs the previous equal period, and significantly so "
    "(the current period's share of both periods' tickets has a Wilson 95 % interval above one half).",
}


def _staffing_filters(filters: Filters) -> Filters:
    """Period and vendor selection only: the dimensions the staffing table has."""
    return Filters(filters.start, filters.end, vendor=filters.vendor)


def _join_all(frames: list[pl.DataFrame], keys: list[str]) -> pl.DataFrame:
    out = frames[0]
    for frame in frames[1:]:
        out = out.join(frame, on=keys, how="full", coalesce=True, nulls_equal=True)
    return out


def _scheduled_fte(ds: Source, filters: Filters, keys: list[str]) -> pl.DataFrame:
    """Average scheduled FTE per day of the period by keys (staffing columns)."""
    staffing = small_table(ds, "staffing").filter(
        (pl.col("date") >= filters.start) & (pl.col("date") <= filters.end) & filters.dimension_expr(["vendor"])
    )
    return staffing.group_by(keys).agg((pl.col("scheduled_fte").sum() / filters.days).alias("scheduled_fte"))


def _capacity(ds: Source, filters: Filters, keys: list[str]) -> pl.DataFrame:
    """Scheduled FTE, productive hours, handled, throughput, handle hours, occupancy and quality-adjusted
    throughput by keys (a subset of vendor, site, language)."""
    staff = _staffing_filters(filters)
    throughput = summarize(ds, "throughput", staff, by=keys)
    handle = summarize(ds, "handle_time", staff, by=keys).select(*keys, "handle_hours", "mean_handle_seconds")
    parts = [throughput, handle]
    if ds.has("staffing", "scheduled_fte"):
        parts.append(_scheduled_fte(ds, staff, keys))
    out = _join_all(parts, keys).with_columns(
        pl.when(pl.col("productive_hours") > 0)
        .then(pl.col("handle_hours").fill_null(0.0) / pl.col("productive_hours"))
        .alias("occupancy_share")
    )
    if missing_inputs(ds, "qa_accuracy") is None:
        accuracy = qa_accuracy(ds, staff, ["vendor"]).select("vendor", "accuracy", "ci_low", "ci_high")
        rate = pl.col("handled_per_productive_hour")
        out = (
            out.join(accuracy, on="vendor", how="left")
            .with_columns(
                (rate * pl.col("accuracy")).alias("quality_adjusted_per_productive_hour"),
                (rate * pl.col("ci_low")).alias("quality_adjusted_low"),
                (rate * pl.col("ci_high")).alias("quality_adjusted_high"),
            )
            .drop("accuracy", "ci_low", "ci_high")
        )
    return out


def _sla(
    ds: Source, filters: Filters, keys: list[str], period: str | None = None, sla_policy: SlaPolicy | None = None
) -> pl.DataFrame:
    out = summarize(ds, "sla", filters, by=keys, period=period, sla_policy=sla_policy).select(
        pl.exclude("tickets", "measured", "met", "attainment"),
        pl.col("measured").alias("sla_measured"),
        pl.col("met").alias("sla_met"),
        pl.col("attainment").alias("sla_attainment"),
    )
    return out.with_columns(*wilson_bounds("sla_met", "sla_measured", names=("sla_ci_low", "sla_ci_high")))


def _qa(ds: Source, filters: Filters, keys: list[str], period: str | None = None) -> pl.DataFrame:
    return qa_accuracy(ds, filters, keys, period).rename(
        {
            "reviews": "qa_reviews",
            "correct": "qa_correct",
            "accuracy": "qa_accuracy",
            "ci_low": "qa_ci_low",
            "ci_high": "qa_ci_high",
        }
    )


def _appeals(ds: Source, filters: Filters, keys: list[str], period: str | None = None) -> pl.DataFrame:
    out = summarize(ds, "appeals", filters, by=keys, period=period).drop("tickets", "appeal_rate")
    return out.with_columns(*wilson_bounds("overturned", "appealed", names=("overturn_ci_low", "overturn_ci_high")))


def scorecard(
    ds: Source,
    filters: Filters,
    by: Sequence[str] = (),
    *,
    sla_policy: SlaPolicy | None = None,
    compare: bool = True,
) -> pl.DataFrame:
    """One row per vendor (× `by`, any of site, language, queue): capacity, throughput, occupancy, SLA, QA
    accuracy and overturns with intervals, significant-only flags vs the other rows, and (with `compare`)
    the previous equal period and the change. Measures the source cannot give are left out."""
    if set(by) - set(SCORECARD_GROUPS):
        raise ValueError(f"a scorecard can be split by {', '.join(SCORECARD_GROUPS)} only")
    keys = ["vendor", *by]
    parts = []
    if missing_inputs(ds, "throughput") is None and set(keys) <= set(THROUGHPUT_GROUPS):
        parts.append(_capacity(ds, filters, keys))
    if missing_inputs(ds, "sla") is None:
        parts.append(_sla(ds, filters, keys, sla_policy=sla_policy))
    if missing_inputs(ds, "qa_accuracy") is None:
        parts.append(_qa(ds, filters, keys))
    if missing_inputs(ds, "appeals") is None:
        parts.append(_appeals(ds, filters, keys))
    if not parts:
        return pl.DataFrame(schema=dict.fromkeys(keys, pl.String))
    out = _join_all(parts, keys).filter(pl.col("vendor").is_not_null())
    for measure, successes, n in PROPORTIONS:
        if measure in out.columns:
            name = measure.removesuffix("_rate").removesuffix("_attainment").removesuffix("_accuracy")
            out = versus_rest(out, successes, n, name, keys=keys, higher_is_better=measure != "overturn_rate")
    if compare:
        out = _with_previous(out, scorecard(ds, filters.previous(), by, sla_policy=sla_policy, compare=False), keys)
    return out.sort(keys)


def _with_previous(current: pl.DataFrame, previous: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Previous-period values, changes, and for shares whether the change is significant (Newcombe 95 %)."""
    measures = [m for m in CHANGE_MEASURES if m in current.columns]
    counts = [c for _, s, n in PROPORTIONS if s in current.columns for c in (s, n)]
    before = previous.select(*keys, *(pl.col(c).alias(f"{c}_previous") for c in [*measures, *counts]))
    out = current.join(before, on=keys, how="left", nulls_equal=True)
    out = out.with_columns((pl.col(m) - pl.col(f"{m}_previous")).alias(f"{m}_change") for m in measures)
    for measure, successes, n in PROPORTIONS:
        if measure in measures:
            _, low, high = difference_bounds(
                pl.col(successes), pl.col(n), pl.col(f"{successes}_previous"), pl.col(f"{n}_previous")
            )
            out = out.with_columns(((low > 0) | (high < 0)).alias(f"{measure}_change_significant"))
    return out.drop([f"{c}_previous" for c in counts])


def trend(ds: Source, filters: Filters, weeks: int = 12, sla_policy: SlaPolicy | None = None) -> pl.DataFrame:
    """Per vendor and full week (Monday to Sunday), for the `weeks` full weeks up to the end of the selection:
    throughput, SLA attainment, QA accuracy and overturn rate with their intervals."""
    last_sunday = filters.end - dt.timedelta(days=(filters.end.weekday() + 1) % 7)
    window = replace(filters, start=last_sunday - dt.timedelta(weeks=weeks) + dt.timedelta(days=1), end=last_sunday)
    period = "week"
    keys = ["vendor", "period"]
    parts = []
    if missing_inputs(ds, "throughput") is None:
        throughput = summarize(ds, "throughput", _staffing_filters(window), by=["vendor"], period=period)
        parts.append(throughput.select(*keys, "handled", "handled_per_productive_hour"))
    if missing_inputs(ds, "sla") is None:
        parts.append(_sla(ds, window, ["vendor"], period, sla_policy))
    if missing_inputs(ds, "qa_accuracy") is None:
        parts.append(_qa(ds, window, ["vendor"], period))
    if missing_inputs(ds, "appeals") is None:
        parts.append(_appeals(ds, window, ["vendor"], period))
    if not parts:
        return pl.DataFrame(schema={"vendor": pl.String, "period": pl.Date})
    return _join_all(parts, keys).filter(pl.col("vendor").is_not_null()).sort(keys)


def handle_time_by_domain(ds: Source, filters: Filters) -> pl.DataFrame:
    """The `handle_time` metric per vendor × policy domain (human decisions with a vendor)."""
    out = summarize(ds, "handle_time", filters, by=["vendor", "policy_domain"])
    return out.filter(pl.col("vendor").is_not_null() & (pl.col("reviews") > 0))


def language_capacity(ds: Source, filters: Filters) -> pl.DataFrame:
    """Scheduled FTE (per day) and productive hours per vendor × language, all vendors, for the period."""
    staff = Filters(filters.start, filters.end)
    staffing = small_table(ds, "staffing").filter((pl.col("date") >= staff.start) & (pl.col("date") <= staff.end))
    fte = pl.col("scheduled_fte").sum() / staff.days if ds.has("staffing", "scheduled_fte") else pl.lit(None)
    return (
        staffing.group_by("vendor", "language")
        .agg(fte.cast(pl.Float64).alias("scheduled_fte"), pl.col("productive_hours").sum().alias("productive_hours"))
        .sort("language", "vendor")
    )


def domain_capacity(ds: Source, filters: Filters) -> pl.DataFrame:
    """Handle hours and FTE equivalent per vendor × policy domain: each vendor's scheduled FTE split by its
    share of handle hours in each domain (period only; capacity is not specific to a filter selection)."""
    staff = Filters(filters.start, filters.end)
    hours = summarize(ds, "handle_time", staff, by=["vendor", "policy_domain"]).filter(
        pl.col("vendor").is_not_null() & (pl.col("handle_hours") > 0)
    )
    out = hours.select("vendor", "policy_domain", "handle_hours").with_columns(
        (pl.col("handle_hours") / pl.col("handle_hours").sum().over("vendor")).alias("vendor_share")
    )
    if ds.has("staffing", "scheduled_fte"):
        fte = _scheduled_fte(ds, staff, ["vendor"])
        out = out.join(fte, on="vendor", how="left").with_columns(
            (pl.col("scheduled_fte") * pl.col("vendor_share")).alias("fte_equivalent")
        )
    else:
        out = out.with_columns(pl.lit(None, pl.Float64).alias("fte_equivalent"))
    return out.select("vendor", "policy_domain", "handle_hours", "vendor_share", "fte_equivalent").sort(
        "policy_domain", "vendor"
    )


def coverage(
    ds: Source,
    filters: Filters,
    dimension: str,
    *,
    low_fte: float = 5.0,
    concentration: float = 0.9,
    rising: float = 0.2,
) -> pl.DataFrame:
    """Per language or policy domain: capacity, vendors, the largest vendor's share, demand now and in the previous
    period, and thin-coverage flags (single vendor, low FTE, significantly rising demand). The vendor filter does
    not apply: coverage is about every vendor."""
    if dimension == "language":
        capacity = language_capacity(ds, filters).rename({"scheduled_fte": "fte"})
        weight = "productive_hours"
    elif dimension == "policy_domain":
        capacity = domain_capacity(ds, filters).rename({"fte_equivalent": "fte"})
        weight = "handle_hours"
    else:
        raise ValueError("coverage is by language or policy_domain")
    per_vendor = capacity.filter(pl.col(weight) > 0)
    out = per_vendor.group_by(dimension).agg(
        pl.col("fte").sum(),
        pl.col(weight).sum(),
        pl.len().cast(pl.Int64).alias("vendors"),
        (pl.col(weight).max() / pl.col(weight).sum()).alias("top_vendor_share"),
        pl.col("vendor").sort_by(weight, descending=True).str.join(", ").alias("vendor_list"),
    )
    if dimension == "language" and missing_inputs(ds, "handle_time") is None:
        handled = summarize(ds, "handle_time", Filters(filters.start, filters.end), by=["language"])
        out = out.join(handled.select("language", "handle_hours"), on="language", how="left").with_columns(
            (pl.col("handle_hours") / pl.col("productive_hours")).alias("occupancy_share")
        )
    out = out.join(_demand(ds, replace(filters, vendor=()), dimension), on=dimension, how="full", coalesce=True)
    rising_expr = (pl.col("change_share") >= rising) & (pl.col("growth_ci_low") > 0.5)
    return (
        out.with_columns(pl.col("vendors").fill_null(0))
        .with_columns(
            ((pl.col("vendors") <= 1) | (pl.col("top_vendor_share") >= concentration).fill_null(False)).alias(
                "single_vendor"
            ),
            ((pl.col("fte").fill_null(0.0) < low_fte) & pl.lit(ds.has("staffing", "scheduled_fte"))).alias("low_fte"),
            rising_expr.fill_null(False).alias("rising_demand"),
        )
        .drop("growth_ci_low", "growth_ci_high")
        .sort(dimension, nulls_last=True)
    )


def _demand(ds: Source, filters: Filters, dimension: str) -> pl.DataFrame:
    """Tickets now and in the previous equal period by dimension, the change, and the interval of the current
    period's share of both (above one half = significantly more tickets now)."""
    now = summarize(ds, "volume", filters, by=[dimension])
    before = summarize(ds, "volume", filters.previous(), by=[dimension]).rename({"tickets": "previous_tickets"})
    out = now.join(before, on=dimension, how="full", coalesce=True, nulls_equal=True).with_columns(
        pl.col("tickets", "previous_tickets").fill_null(0)
    )
    return (
        out.with_columns(
            pl.when(pl.col("previous_tickets") > 0)
            .then(pl.col("tickets") / pl.col("previous_tickets") - 1)
            .alias("change_share"),
            (pl.col("tickets") + pl.col("previous_tickets")).alias("_both"),
        )
        .with_columns(*wilson_bounds("tickets", "_both", names=("growth_ci_low", "growth_ci_high")))
        .drop("_both")
    )
