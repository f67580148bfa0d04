"""Plan vs actual: the plan a scenario gave when it was saved, against what then arrived and was staffed.

A saved scenario records a `PlanRecord`: the period and filters it was made on and, per vendor and week, the
planned human-review tickets, workload hours, required FTE and supply FTE. For every week of that plan that has
ended in the data, the actual side is measured the same way the plan was made:
- human-review tickets and workload: the selection's reviews by each vendor and their handle hours;
- required FTE: the actual workload per day over productive hours per FTE-day (the scenario's assumptions);
- supply FTE: the vendor's staffed productive hours, times the plan's share of that supply serving the selection
  and one minus its rework share (as planned), per day over the paid productive hours of an FTE.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from forecasting.plan import Scenario
from queries.calc import ratio
from queries.engines import Source, created_days
from queries.filters import Filters
from queries.metrics import summarize

PLANNED = ("human_tickets", "workload_hours", "required_fte", "supply_fte")
RECORDED = ("vendor", "week", "days", *PLANNED, "supply_share", "rework_share")
RECORD_SCHEMA = {"vendor": pl.String, "week": pl.Date, "days": pl.Int64} | {c: pl.Float64 for c in RECORDED[3:]}


@dataclass(frozen=True)
class PlanRecord:
    """What a saved scenario was made on and the plan it gave: the history's period and filters (selections by
    dimension), the plan's first and last day, and its rows (RECORDED columns, per vendor and week)."""

    period_start: dt.date
    period_end: dt.date
    selections: dict[str, tuple[str, ...]]
    first_day: dt.date
    last_day: dt.date
    plan: pl.DataFrame

    @classmethod
    def of(cls, filters: Filters, horizon_days: int, plan: pl.DataFrame) -> PlanRecord:
        """The record of a plan made from `filters` (history up to filters.end) over `horizon_days`."""
        first = filters.end + dt.timedelta(days=1)
        rows = plan.select(RECORDED) if not plan.is_empty() else pl.DataFrame(schema=RECORD_SCHEMA)
        return cls(
            filters.start,
            filters.end,
            filters.selections(),
            first,
            first + dt.timedelta(days=horizon_days - 1),
            rows,
        )

    def to_dict(self) -> dict:
        """JSON-ready: dates as ISO text, the plan as a list of rows."""
        return {
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "selections": {k: list(v) for k, v in self.selections.items()},
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "plan": self.plan.with_columns(pl.col("week").cast(pl.String)).to_dicts(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> PlanRecord:
        rows = pl.DataFrame(data["plan"], schema={**RECORD_SCHEMA, "week": pl.String}, orient="row")
        return cls(
            dt.date.fromisoformat(data["period_start"]),
            dt.date.fromisoformat(data["period_end"]),
            {k: tuple(v) for k, v in data["selections"].items()},
            dt.date.fromisoformat(data["first_day"]),
            dt.date.fromisoformat(data["last_day"]),
            rows.with_columns(pl.col("week").str.to_date()),
        )

    @property
    def filters(self) -> Filters:
        return Filters.of(self.period_start, self.period_end, self.selections)


def plan_vs_actual(ds: Source, record: PlanRecord, scenario: Scenario) -> pl.DataFrame:
    """Per vendor and week of the recorded plan that has ended in the data: planned and actual human-review tickets,
    workload hours, required FTE and supply FTE, and the tickets' error (actual ÷ planned − 1). Empty when no week
    of the plan has ended yet."""
    days = created_days(ds)
    last = min(record.last_day, days[1]) if days else None
    if last is None or last < record.first_day or record.plan.is_empty():
        return pl.DataFrame()
    window = Filters.of(record.first_day, last, record.selections)
    reviewed = summarize(ds, "handle_time", window, by=["vendor"], period="week").select(
        "vendor", pl.col("period").alias("week"), "reviews", "handle_hours"
    )
    staffed = summarize(
        ds, "throughput", Filters(window.start, window.end, vendor=window.vendor), by=["vendor"], period="week"
    ).select("vendor", pl.col("period").alias("week"), "productive_hours")
    assumptions = scenario.assumptions
    week_end = pl.min_horizontal(pl.col("week") + pl.duration(days=6), pl.lit(record.last_day))
    planned = record.plan.filter(week_end <= pl.lit(days[1]))  # weeks wholly in the data only
    both = planned.join(reviewed, on=["vendor", "week"], how="left").join(staffed, on=["vendor", "week"], how="left")
    out = both.select(
        "vendor",
        "week",
        "days",
        pl.col("human_tickets").alias("planned_human_tickets"),
        pl.col("reviews").fill_null(0).cast(pl.Float64).alias("actual_human_tickets"),
        pl.col("workload_hours").alias("planned_workload_hours"),
        pl.col("handle_hours").fill_null(0.0).alias("actual_workload_hours"),
        pl.col("required_fte").alias("planned_required_fte"),
        (pl.col("handle_hours").fill_null(0.0) / pl.col("days") / assumptions.productive_hours_per_fte_day).alias(
            "actual_required_fte"
        ),
        pl.col("supply_fte").alias("planned_supply_fte"),
        (
            pl.col("productive_hours").fill_null(0.0)
            * pl.col("supply_share")
            * (1 - pl.col("rework_share"))
            / pl.col("days")
            / (assumptions.paid_hours_per_fte_day * (1 - assumptions.shrinkage))
        ).alias("actual_supply_fte"),
    )
    return out.with_columns((ratio("actual_human_tickets", "planned_human_tickets") - 1).alias("tickets_error")).sort(
        "vendor", "week"
    )
