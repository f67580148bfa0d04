"""Leadership overview: KPI tiles vs the previous equal period, weekly trend, top movers, events."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from queries.analyses.turnaround import sla_due_dates
from queries.definitions import METRICS
from queries.display import definition_words
from queries.engines import Source, created_days, engine_for, small_table
from queries.filters import Filters
from queries.metrics import missing_inputs, summarize
from queries.sla import SlaPolicy, load_sla_policy


@dataclass(frozen=True)
class Kpi:
    """One KPI tile: value now and in the previous equal period, and how to read it."""

    key: str
    label: str
    value: float | None
    previous: float | None
    unit: str  # "count", "hours", "share" or "per_million"
    higher_is_better: bool | None  # None: a change is neither good nor bad in itself
    definition: str
    unavailable: str | None = None  # what to map when the source cannot give it
    no_previous: str | None = None  # why there is nothing to compare with (see `previous_gap`); previous is None

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous


# (tile key, metric, measure, label, unit, higher is better)
KPI_TILES: tuple[tuple[str, str, str, str, str, bool | None], ...] = (
    ("received", "volume", "tickets", "Tickets received", "count", None),
    ("actioned", "actioned", "actioned", "Tickets actioned", "count", None),
    ("open_backlog", "open_backlog", "open_tickets", "Open backlog", "count", False),
    ("p50_time_to_action", "time_to_first_action", "p50_hours", "P50 time to action", "hours", False),
    ("p90_time_to_action", "time_to_first_action", "p90_hours", "P90 time to action", "hours", False),
    ("sla_attainment", "sla", "attainment", "SLA attainment", "share", True),
    ("proactive_share", "proactive", "proactive_share", "Proactive detection", "share", True),
    ("qa_accuracy", "qa_accuracy", "accuracy", "QA accuracy", "share", True),
    ("overturn_rate", "appeals", "overturn_rate", "Appeal overturn rate", "share", False),
    ("per_million_dau", "per_million_dau", "tickets_per_million_dau", "Tickets per 1M DAU", "per_million", None),
)


def previous_gap(ds: Source, filters: Filters, previous_tickets: int) -> str | None:
    """Why the previous equal period has no data to compare with, or None when it has.

    It has none when it starts before the source's first ticket day (wholly or partly outside the data: its
    figures would cover fewer days) or when no ticket of the filters was created in it. A measure that is 0
    in a previous period that is covered and has tickets (e.g. no appeal overturned) is a real value.
    """
    previous = filters.previous()
    days = created_days(ds)
    if days is None:
        return "the source has no tickets."
    span = f"the previous period ({previous.start} to {previous.end})"
    if previous.start < days[0]:
        return f"{span} starts before the data, which start on {days[0]}."
    if previous_tickets == 0:
        return f"no tickets of the filters were created in {span}."
    return None


def overview_kpis(ds: Source, filters: Filters, sla_policy: SlaPolicy | None = None) -> list[Kpi]:
    """Every KPI tile for the filters and for the previous equal period (none when `previous_gap` says so)."""
    results: dict[tuple[str, Filters], pl.DataFrame] = {}

    def measure(metric: str, measure_name: str, f: Filters) -> float | None:
        if (metric, f) not in results:
            results[(metric, f)] = summarize(ds, metric, f, sla_policy=sla_policy)
        frame = results[(metric, f)]
        return frame[measure_name][0] if frame.height else None

    gap = previous_gap(ds, filters, measure("volume", "tickets", filters.previous()) or 0)
    tiles = []
    for key, metric, measure_name, label, unit, better in KPI_TILES:
        definition = definition_words(METRICS[metric].definition)
        missing = missing_inputs(ds, metric)
        if metric == "sla" and missing is None:
            label, definition = _sla_words(ds, filters, sla_policy or load_sla_policy(), label, definition)
        value = previous = None
        if missing is None:
            value = measure(metric, measure_name, filters)
            previous = None if gap else measure(metric, measure_name, filters.previous())
            declined = engine_for(ds).declined_note  # e.g. rollups: no histogram for several dimensions
            if value is None and declined and results[(metric, filters)]["measured"].sum():
                missing = f"{label}: {declined}"
        tiles.append(Kpi(key, label, value, previous, unit, better, definition, missing, gap))
    return tiles


def _sla_words(ds: Source, filters: Filters, policy: SlaPolicy, label: str, definition: str) -> tuple[str, str]:
    """The SLA tile's label and definition, saying what the policy measures (due dates when tickets of the period
    were measured against their own due_at)."""
    due_dates = sla_due_dates(ds, filters, policy)
    short = policy.short_label(due_dates)
    words = f"This policy measures {policy.describe(due_dates)}."
    return (f"{label} ({short})" if short else label), f"{words} {definition}"


def top_movers(
    ds: Source, filters: Filters, by: tuple[str, ...] = ("policy_domain", "market"), n: int = 10
) -> pl.DataFrame:
    """Groups with the largest change in tickets vs the previous period, largest absolute change first."""
    current = summarize(ds, "volume", filters, by=by)
    previous = summarize(ds, "volume", filters.previous(), by=by).rename({"tickets": "previous_tickets"})
    movers = current.join(previous, on=list(by), how="full", coalesce=True, nulls_equal=True).with_columns(
        pl.col("tickets").fill_null(0), pl.col("previous_tickets").fill_null(0)
    )
    return (
        movers.with_columns((pl.col("tickets") - pl.col("previous_tickets")).alias("change"))
        .with_columns(
            pl.when(pl.col("previous_tickets") > 0)
            .then(pl.col("change") / pl.col("previous_tickets"))
            .alias("change_share")
        )
        .sort([pl.col("change").abs(), *by], descending=[True] + [False] * len(by))
        .head(n)
    )


def weekly_trend(ds: Source, filters: Filters, weeks: int = 26, by: str = "policy_domain") -> pl.DataFrame:
    """Tickets per full week (Monday start) by `by`, for the `weeks` weeks up to the end of the filters.

    Only weeks entirely inside the data's range are returned, so a partial week never looks like a drop.
    """
    last_monday = filters.end - dt.timedelta(days=filters.end.weekday())
    last_full = last_monday if filters.end.weekday() == 6 else last_monday - dt.timedelta(days=7)
    first_monday = last_full - dt.timedelta(weeks=weeks - 1)
    window = Filters.of(first_monday, last_full + dt.timedelta(days=6), filters.selections())
    days = created_days(ds)
    if days is not None and days[0] > first_monday:
        first_full = days[0] + dt.timedelta(days=(7 - days[0].weekday()) % 7)
        if first_full > window.end:  # not one full week of data yet
            return pl.DataFrame(schema={"week": pl.Date, "tickets": pl.Int64})
        window = Filters.of(first_full, window.end, filters.selections())
    column = by if ds.has("tickets", by) else None
    out = summarize(ds, "volume", window, by=[column] if column else [], period="week")
    return out.rename({"period": "week"})


def events_in(ds: Source, filters: Filters, start: dt.date | None = None) -> pl.DataFrame:
    """Events overlapping [start or filters.start, filters.end] that concern the selected domains and markets."""
    events = small_table(ds, "events")
    if events is None:
        return pl.DataFrame(schema={"start": pl.Date, "end": pl.Date, "title": pl.String, "kind": pl.String})
    first = start or filters.start
    selections = filters.selections()
    keep = (pl.col("start") <= filters.end) & (pl.col("end").fill_null(pl.col("start")) >= first)
    for column in ("policy_domain", "market"):
        if column in selections:
            keep = keep & (pl.col(column).is_null() | pl.col(column).is_in(selections[column]))
    return events.filter(keep).with_columns(pl.col("end").fill_null(pl.col("start"))).sort("start")


def top_weekly(trend: pl.DataFrame, by: str, top: int, other: str = "Other") -> pl.DataFrame:
    """The weekly trend with the `top` values of `by` with most tickets kept and the rest summed per week into
    `other` (weekly totals unchanged); as it is when there are no more than `top` values."""
    ranked = trend.group_by(by).agg(pl.col("tickets").sum()).sort(["tickets", by], descending=[True, False])
    if ranked.height <= top:
        return trend
    kept = ranked[by].head(top).implode()
    rest = trend.filter(~pl.col(by).is_in(kept) | pl.col(by).is_null()).group_by("week").agg(pl.col("tickets").sum())
    rest = rest.with_columns(pl.lit(other).cast(trend.schema[by]).alias(by)).select(trend.columns)
    return pl.concat([trend.filter(pl.col(by).is_in(kept)), rest.cast(trend.schema)]).sort("week", by)
