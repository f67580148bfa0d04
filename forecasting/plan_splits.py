"""The capacity plan at a finer split than the vendor: vendor × language, vendor × queue, or language.

The vendor plan (forecasting.plan.demand_vs_supply) is split, never recomputed, so the rows of a finer split add up
to the vendor rows (required and supply FTE) and those to the total:

- **Demand**: each vendor's daily work in a policy domain is split by the group's share of the vendor's human
  reviews in that domain, in the selection, over the weeks that allocate work to vendors (the last 8). Work shifted
  to a vendor new to a domain is split by the domain's mix over all vendors.
- **Supply**: each vendor's daily supply (attrition, hires, rework and the selection's share included) is split by
  the group's share of the vendor's staffing productive hours over the last 4 weeks (the weeks supply comes from),
  weighted, when tickets are selected beyond vendors, by the group's share of its review hours that fell in the
  selection. Hires follow the same split. Supply by a dimension the staffing rows do not name (a missing column, or
  any empty value in those weeks: an empty queue is capacity serving every queue) is not in the data: the plan then
  has no supply, gap, backlog or SLA at that split, and says so.
- **Coverage**: the staffing's reviewers on the floor (`min_on_floor` × `covered_hours` per line) raise each group's
  required FTE to its own lines' minimum, so where coverage binds for some of a vendor's groups and not others, the
  groups add up to more than the vendor's row, which compares workload and coverage in total (they add up exactly
  where it binds for all of them or none). The roster's `min_on_floor` is a vendor's and applies at the vendor split
  only; staffing lines with a minimum that name no group leave coverage unknown at that split.
- **Backlog and SLA** are simulated per vendor × group (a group's work is done by that group's supply only) and
  summed over vendors for the language split, never netted across vendors or groups; so a vendor's backlog can be
  smaller than the sum of its groups' backlogs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from forecasting.plan import (
    DEMAND_MEASURES,
    SUPPLY_WEEKS,
    PlanningInputs,
    Scenario,
    coverage_by,
    demand_by_domain,
    demand_vs_supply,
    planning_inputs,
    selection_share,
    supply_by_vendor,
    weekly_plan,
    with_coverage,
)
from forecasting.planner import ForecastView, horizon_forecasts, plan_inputs_missing
from queries.engines import Source, small_table
from queries.filters import Filters
from queries.metrics import missing_inputs, summarize

SPLITS = {
    "vendor": ("vendor",),
    "vendor,language": ("vendor", "language"),
    "vendor,queue": ("vendor", "queue"),
    "language": ("language",),
}
NO_VALUE = "(none)"  # the group of tickets without a value for the split's dimension
ROSTER_COVERAGE_NOTE = (
    "The roster's reviewers on the floor are a vendor's minimum: they raise required FTE at the vendor split only, "
    "so where they bind, this split's rows add up to less than the vendor's."
)
COVERAGE_NOTE = (
    "Coverage (the staffing's reviewers on the floor) raises each row's required FTE to its own lines' minimum: where "
    "it binds for some of a vendor's rows and not others, they add up to more than the vendor's row, which compares "
    "workload and coverage in total."
)


def coverage_unknown_note(dimension: str) -> str:
    """Why coverage is missing at a split by `dimension`."""
    return (
        f"Coverage by {dimension} is not in the data: staffing lines with reviewers on the floor name no {dimension}, "
        "so required FTE at this split is the workload's only; the vendor split has the minimum."
    )


@dataclass(frozen=True)
class SplitPlan:
    """Weekly plan rows per group of the split (demand_vs_supply's columns) and why supply is missing, if it is."""

    plan: pl.DataFrame
    note: str = ""


def split_refusal(ds: Source, split: str) -> str | None:
    """Why the source cannot plan at `split` (a key of SPLITS): its engine does not group human reviews by the split's
    dimension (e.g. language on rollups); None when it can."""
    keys = SPLITS[split]
    if keys == ("vendor",):
        return None
    return missing_inputs(ds, "handle_time", ("policy_domain", "vendor", keys[-1]))


def split_plan(ds: Source, filters: Filters, domain_view: ForecastView, scenario: Scenario, split: str) -> SplitPlan:
    """The capacity plan per group of `split` (a key of SPLITS) and week; empty with a note when the source lacks
    what supply needs. Raises ValueError (split_refusal's sentence) when the source cannot split by it."""
    missing = plan_inputs_missing(ds)
    if missing:
        return SplitPlan(pl.DataFrame(), f"No capacity plan: {missing}")
    refused = split_refusal(ds, split)
    if refused:
        raise ValueError(refused)
    inputs = planning_inputs(ds, filters)
    forecasts = horizon_forecasts(filters, domain_view)
    keys = SPLITS[split]
    if keys == ("vendor",):
        return SplitPlan(demand_vs_supply(forecasts, inputs, scenario))
    dimension = keys[-1]
    demand = split_demand(ds, filters, forecasts, inputs, scenario, dimension)
    shares, note = supply_shares(ds, filters, inputs, dimension)
    if shares is None:
        daily = demand.with_columns(pl.lit(None, pl.Float64).alias("supply_hours"))
    else:
        supply = (
            supply_by_vendor(inputs, scenario, sorted(set(demand["ds"].to_list())))
            .join(shares, on="vendor", how="inner")
            .select("vendor", dimension, "ds", (pl.col("supply_hours") * pl.col("share")).alias("supply_hours"))
        )
        on = ["vendor", dimension, "ds"]
        daily = demand.join(supply, on=on, how="full", coalesce=True).with_columns(
            pl.col("supply_hours").fill_null(0.0)
        )
    if daily.is_empty():
        return SplitPlan(pl.DataFrame(), note)
    coverage = coverage_by(inputs, scenario, keys)
    if coverage is None:
        notes = [coverage_unknown_note(dimension)]
    else:
        notes = [COVERAGE_NOTE] if coverage["coverage_fte"].max() else []
    if any(line.min_on_floor for line in scenario.roster):
        notes.append(ROSTER_COVERAGE_NOTE)
    weekly = weekly_plan(daily, keys, scenario, simulate_by=("vendor", dimension))
    return SplitPlan(with_coverage(weekly, coverage, keys), " ".join(filter(None, (note, *notes))))


def split_demand(
    ds: Source,
    filters: Filters,
    forecasts: pl.DataFrame,
    inputs: PlanningInputs,
    scenario: Scenario,
    dimension: str,
) -> pl.DataFrame:
    """Daily demand (DEMAND_MEASURES) per vendor and group of `dimension`: each vendor-domain's work times the group's
    share of the vendor's human reviews in the domain (the domain's mix over all vendors where it has none)."""
    window = Filters.of(inputs.history_start, inputs.history_end, filters.selections())
    reviewed = (
        summarize(ds, "handle_time", window, by=["policy_domain", "vendor", dimension])
        .filter(pl.col("vendor").is_not_null() & (pl.col("reviews") > 0))
        .with_columns(pl.col(dimension).cast(pl.String).fill_null(NO_VALUE))
    )
    own = reviewed.select(
        "vendor",
        "policy_domain",
        dimension,
        (pl.col("reviews") / pl.col("reviews").sum().over("vendor", "policy_domain")).alias("share"),
    )
    mix = (
        reviewed.group_by("policy_domain", dimension)
        .agg(pl.col("reviews").sum())
        .select(
            "policy_domain",
            dimension,
            (pl.col("reviews") / pl.col("reviews").sum().over("policy_domain")).alias("share"),
        )
    )
    rows = demand_by_domain(forecasts, inputs, scenario)
    pair = ["vendor", "policy_domain"]
    split = pl.concat(
        [
            rows.join(own, on=pair, how="inner"),
            rows.join(own, on=pair, how="anti").join(mix, on="policy_domain", how="inner"),
        ]
    )
    return (
        split.with_columns(pl.col(DEMAND_MEASURES) * pl.col("share"))
        .group_by("vendor", dimension, "ds")
        .agg(pl.col(DEMAND_MEASURES).sum())
        .sort("vendor", dimension, "ds")
    )


def supply_shares(
    ds: Source, filters: Filters, inputs: PlanningInputs, dimension: str
) -> tuple[pl.DataFrame | None, str]:
    """Per vendor and group of `dimension`: the group's share of the vendor's supply (shares add up to 1 per vendor),
    or None and why when the staffing rows do not split capacity by `dimension`."""
    start = filters.end - dt.timedelta(weeks=SUPPLY_WEEKS) + dt.timedelta(days=1)
    staffing = small_table(ds, "staffing")
    if staffing is None:
        return None, "No staffing table: supply is not known."
    rows = staffing.filter(pl.col("date").is_between(start, filters.end))
    if filters.vendor:
        rows = rows.filter(pl.col("vendor").is_in(filters.vendor))
    empty = rows.height if dimension not in rows.columns else rows[dimension].null_count()
    if empty:
        return None, (
            f"Supply by {dimension} is not in the data: {empty} of {rows.height} staffing rows from {start} to "
            f"{filters.end} name no {dimension} (capacity serving every {dimension}), so supply, surplus / deficit, "
            "backlog and projected SLA are empty at this split; the vendor split has them."
        )
    staffed = (
        rows.group_by("vendor", dimension)
        .agg(pl.col("productive_hours").sum())
        .with_columns((pl.col("productive_hours") / pl.col("productive_hours").sum().over("vendor")).alias("staffed"))
    )
    if Filters(filters.start, filters.end, vendor=filters.vendor).selections() == filters.selections():
        return staffed.select("vendor", dimension, pl.col("staffed").alias("share")), ""
    # Tickets selected beyond vendors: the groups that served the selection, over the weeks that allocate its work.
    served = Filters(inputs.history_start, inputs.history_end, vendor=filters.vendor)
    selected = selection_share(ds, served, filters, by=("vendor", dimension))
    weighted = staffed.join(selected, on=["vendor", dimension], how="left").with_columns(
        (pl.col("staffed") * pl.col("supply_share").fill_null(0.0)).alias("weight")
    )
    total = pl.col("weight").sum().over("vendor")
    share = pl.when(total > 0).then(pl.col("weight") / total).otherwise(pl.col("staffed"))
    return weighted.select("vendor", dimension, share.alias("share")), ""
