"""Demand vs supply per vendor and week: the planners' what-if engine.

Demand: a daily ticket forecast per policy domain (FORECAST_SCHEMA, `series` = domain), scaled by
the scenario's uplifts, times (1 − automation share) → human-review tickets, allocated to vendors
by their recent share of each domain's human decisions (optionally shifted), times handle time
→ workload hours. Supply: each vendor's recent productive hours a day, decaying with attrition,
plus planned hires ramping up linearly, minus rework (QA error rate and appeals overturned).

Both sides follow the same selection. Demand comes from the selected tickets. The staffing table only
has vendors (not markets, policy domains, surfaces or sources), so a vendor filter keeps those
vendors' supply, and any other selection gets each vendor's supply × the share of its human review
hours of the last 8 weeks (the weeks that allocate work to vendors) that fell in the selection
(`supply_share`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import polars as pl

from forecasting.capacity import StaffingAssumptions, backlog_projection
from queries.calc import ratio
from queries.engines import Source, small_table
from queries.filters import Filters
from queries.metrics import summarize

SENSITIVE_DOMAINS = ("sensitive_mature_themes", "violent_extremism", "self_harm_dangerous_acts")


@dataclass(frozen=True)
class Hiring:
    """`fte` new reviewers at `vendor` starting in horizon week `start_week` (1 = first week)."""

    vendor: str
    fte: float
    start_week: int = 1
    ramp_weeks: int = 6


UNSKILLED = "(no skilled vendor)"  # where work goes that no vendor of the roster is skilled for


@dataclass(frozen=True)
class RosterLine:
    """The planner's roster of one vendor; None keeps what the history says (or the scenario's general value)."""

    vendor: str
    fte: float | None = None  # people on the roster now, in FTE (instead of the staffing history's)
    attrition_annual: float | None = None  # share leaving per year, without backfill
    shrinkage: float | None = None  # share of paid time not worked
    domains: tuple[str, ...] | None = None  # skills: the policy domains it may review (None: as in the history)
    min_on_floor: float | None = None  # coverage: reviewers at work every hour of the week, whatever the volume


@dataclass(frozen=True)
class EventUplift:
    """An expected event: tickets of `policy_domain` in `market` (None: every domain / market) rise by `uplift`
    (0.4 = +40 %) from `start` to `end`, inclusive (None: from the horizon's start / to its end)."""

    uplift: float
    policy_domain: str | None = None
    market: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None

    def to_dict(self) -> dict:
        return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> EventUplift:
        days = {k: dt.date.fromisoformat(data[k]) if data.get(k) else None for k in ("start", "end")}
        return cls(**(data | days))

    def factor(self, market_share: pl.Expr) -> pl.Expr:
        """Each demand row's extra share of tickets from this event: the uplift on the days and domain it
        covers, times the share of the domain's tickets in its market (`market_share`, 1 for every market)."""
        covered = pl.lit(True)
        if self.policy_domain is not None:
            covered &= pl.col("policy_domain") == self.policy_domain
        if self.start is not None:
            covered &= pl.col("ds") >= self.start
        if self.end is not None:
            covered &= pl.col("ds") <= self.end
        return pl.when(covered).then(self.uplift * market_share).otherwise(0.0)


@dataclass(frozen=True)
class Scenario:
    """Planner controls. Shares and changes are fractions: 0.2 = +20 %."""

    volume_uplift: float = 0.0
    events: tuple[EventUplift, ...] = ()  # expected events by domain, market and days
    automation_change: float = 0.0  # points added to each domain's automated share
    handle_time_change: float = 0.0  # relative change of handle time
    shrinkage: float = 0.32
    max_occupancy: float = 0.85
    paid_hours_per_fte_day: float = 8.0
    sla_hours: float = 24.0
    attrition_annual: float = 0.40
    hiring: tuple[Hiring, ...] = ()
    roster: tuple[RosterLine, ...] = ()  # per-vendor headcount, attrition, shrinkage and skills
    vendor_shift: tuple[tuple[str, str, float], ...] = ()  # (from vendor, to vendor, share of its work)
    exposure_cap_hours: float | None = None  # wellbeing: sensitive-media hours per reviewer per day
    sensitive_domains: tuple[str, ...] = field(default=SENSITIVE_DOMAINS)

    @property
    def assumptions(self) -> StaffingAssumptions:
        return StaffingAssumptions(self.paid_hours_per_fte_day, self.shrinkage, self.max_occupancy)

    def to_dict(self) -> dict:
        return asdict(self) | {"events": [e.to_dict() for e in self.events]}

    @classmethod
    def from_dict(cls, data: dict) -> Scenario:
        data = dict(data)
        # Scenarios saved before events had a market and days carry (domain, uplift) pairs.
        older = [EventUplift(uplift, domain) for domain, uplift in data.pop("uplift_by_domain", ())]
        data["events"] = (*older, *(EventUplift.from_dict(e) for e in data.get("events", ())))
        data["hiring"] = tuple(Hiring(**h) for h in data.get("hiring", ()))
        data["roster"] = tuple(
            RosterLine(**(r | {"domains": None if r.get("domains") is None else tuple(r["domains"])}))
            for r in data.get("roster", ())
        )
        data["vendor_shift"] = tuple(tuple(x) for x in data.get("vendor_shift", ()))
        data["sensitive_domains"] = tuple(data.get("sensitive_domains", SENSITIVE_DOMAINS))
        return cls(**data)


@dataclass(frozen=True)
class PlanningInputs:
    """What history says, per domain and vendor, over the weeks before the forecast starts."""

    automation: pl.DataFrame  # policy_domain, automated_share
    allocation: pl.DataFrame  # policy_domain, vendor, share, aht_seconds
    supply: pl.DataFrame  # vendor, productive_hours_per_day, rework_share, supply_share
    history_start: dt.date
    history_end: dt.date
    market_mix: pl.DataFrame | None = None  # policy_domain, market, share of the domain's tickets; None: no market
    coverage: pl.DataFrame | None = None  # staffing's coverage (staffed_coverage); None: staffing has no minimum


SUPPLY_WEEKS = 4  # supply and rework: the last 4 weeks
ALLOCATION_WEEKS = 8  # automation, vendor allocation, handle times and the selection's share of supply


def planning_inputs(ds: Source, filters: Filters, weeks: int = ALLOCATION_WEEKS) -> PlanningInputs:
    """Automation shares, vendor allocation and handle times, and vendor supply from the history before
    filters.end, in the filters' selection (see the module docstring for supply)."""
    end = filters.end
    window = Filters.of(end - dt.timedelta(weeks=weeks) + dt.timedelta(days=1), end, filters.selections())
    automation = summarize(ds, "automation", window, by=["policy_domain"]).select(
        "policy_domain", pl.col("automated_share").fill_null(0.0)
    )
    handled = summarize(ds, "handle_time", window, by=["policy_domain", "vendor"]).filter(
        pl.col("vendor").is_not_null() & (pl.col("reviews") > 0)
    )
    allocation = handled.with_columns(
        (pl.col("reviews") / pl.col("reviews").sum().over("policy_domain")).alias("share")
    ).select("policy_domain", "vendor", "share", pl.col("mean_handle_seconds").alias("aht_seconds"))
    recent = Filters(end - dt.timedelta(weeks=SUPPLY_WEEKS) + dt.timedelta(days=1), end, vendor=filters.vendor)
    throughput = summarize(ds, "throughput", recent, by=["vendor"])
    rework = _rework(ds, recent)
    supply = throughput.join(rework, on="vendor", how="left").select(
        "vendor",
        (pl.col("productive_hours") / recent.days).alias("productive_hours_per_day"),
        pl.col("rework_share").fill_null(0.0),
    )
    if recent.selections() == filters.selections():  # no selection, or vendors only: their whole supply
        supply = supply.with_columns(pl.lit(1.0).alias("supply_share"))
    else:
        # Over the allocation's window: a vendor given the selection's work is given the supply that served it.
        served = Filters(window.start, window.end, vendor=filters.vendor)
        supply = supply.join(selection_share(ds, served, filters), on="vendor", how="left").with_columns(
            pl.col("supply_share").fill_null(0.0)
        )
    market_mix = None
    if ds.has("tickets", "market"):
        market_mix = summarize(ds, "volume", window, by=["policy_domain", "market"]).select(
            "policy_domain",
            "market",
            (pl.col("tickets") / pl.col("tickets").sum().over("policy_domain")).alias("share"),
        )
    coverage = staffed_coverage(small_table(ds, "staffing"), recent)
    return PlanningInputs(automation, allocation, supply, window.start, window.end, market_mix, coverage)


COVERAGE_LINE = ("vendor", "language", "queue")  # the staffing columns coverage is kept by, where present


def staffed_coverage(staffing: pl.DataFrame | None, f: Filters) -> pl.DataFrame | None:
    """Reviewer-hours a day on the floor per vendor (and language and queue, where the staffing has them; a null one
    is capacity serving every value) in the filters' days and vendors: Σ over the lines of a day of `min_on_floor`
    × `covered_hours` (empty: 24), over the days of the filters. None when the staffing has no `min_on_floor`."""
    if staffing is None or "min_on_floor" not in staffing.columns:
        return None
    hours = pl.col("covered_hours") if "covered_hours" in staffing.columns else pl.lit(None, pl.Float64)
    rows = staffing.filter(pl.col("date").is_between(f.start, f.end) & (pl.col("min_on_floor") > 0))
    if f.vendor:
        rows = rows.filter(pl.col("vendor").is_in(f.vendor))
    keys = [c for c in COVERAGE_LINE if c in staffing.columns]
    return (
        rows.group_by(keys)
        .agg((pl.col("min_on_floor") * hours.fill_null(24.0)).sum() / f.days)
        .rename({"min_on_floor": "coverage_hours_per_day"})
        .sort(keys, nulls_last=True)
    )


def selection_share(ds: Source, served: Filters, filters: Filters, by: tuple[str, ...] = ("vendor",)) -> pl.DataFrame:
    """Per group of `by` (vendor first): the share of its human review hours in `served` that fell in the filters'
    selection (0 for a group without review hours in it)."""
    keys = list(by)
    selected = Filters.of(served.start, served.end, filters.selections())
    hours = [
        summarize(ds, "handle_time", f, by=keys)
        .filter(pl.col("vendor").is_not_null())
        .select(*keys, pl.col("handle_hours").fill_null(0.0).alias(name))
        for f, name in ((served, "all_hours"), (selected, "selected_hours"))
    ]
    joined = (
        hours[0]
        .join(hours[1], on=keys, how="left", nulls_equal=True)
        .with_columns(pl.col("selected_hours").fill_null(0.0))
    )
    return joined.select(*keys, ratio("selected_hours", "all_hours").fill_null(0.0).alias("supply_share"))


def _rework(ds: Source, f: Filters) -> pl.DataFrame:
    """Share of each vendor's decisions that come back as work: its QA error rate (the sample's rate
    applies to all its decisions) plus its share of decisions overturned on appeal."""
    decided = summarize(ds, "appeals", f, by=["vendor"]).select(
        "vendor", pl.col("overturned") / pl.col("tickets").clip(1, None)
    )
    if "qa_reviews" in ds.reports:
        qa = summarize(ds, "qa_accuracy", f, by=["vendor"]).select("vendor", (1 - pl.col("accuracy")).alias("qa_error"))
        decided = decided.join(qa, on="vendor", how="left")
    else:
        decided = decided.with_columns(pl.lit(0.0).alias("qa_error"))
    return decided.select("vendor", (pl.col("overturned") + pl.col("qa_error").fill_null(0.0)).alias("rework_share"))


def demand_by_domain(domain_forecast: pl.DataFrame, inputs: PlanningInputs, scenario: Scenario) -> pl.DataFrame:
    """Daily human-review tickets and workload hours per vendor and policy domain (mean and 80 % upper bound)."""
    fc = domain_forecast.rename({"series": "policy_domain"})
    events = pl.lit(0.0)
    for i, event in enumerate(scenario.events):
        share = pl.lit(1.0)
        if event.market is not None:
            if inputs.market_mix is None:
                raise ValueError(f"An event in market {event.market} needs the tickets' market, which is not mapped.")
            mix = inputs.market_mix.filter(pl.col("market") == event.market).select(
                "policy_domain", pl.col("share").alias(f"share_{i}")
            )
            fc = fc.join(mix, on="policy_domain", how="left")
            share = pl.col(f"share_{i}").fill_null(0.0)
        events = events + event.factor(share)
    fc = fc.with_columns(factor=(1 + scenario.volume_uplift) * (1 + events))
    fc = fc.join(inputs.automation, on="policy_domain", how="left").with_columns(
        human=(1 - (pl.col("automated_share").fill_null(0.0) + scenario.automation_change).clip(0, 1))
        * pl.col("factor")
    )
    alloc = _skilled_allocation(_shifted_allocation(inputs.allocation, scenario.vendor_shift), scenario.roster)
    rows = fc.join(alloc, on="policy_domain", how="inner").with_columns(
        tickets=pl.col("mean") * pl.col("human") * pl.col("share"),
        tickets_hi_80=pl.col("hi_80") * pl.col("human") * pl.col("share"),
        aht=pl.col("aht_seconds") * (1 + scenario.handle_time_change),
    )
    sensitive = pl.col("policy_domain").is_in(scenario.sensitive_domains)
    return rows.select(
        "vendor",
        "policy_domain",
        "ds",
        pl.col("tickets").alias("human_tickets"),
        (pl.col("tickets") * pl.col("aht") / 3600).alias("workload_hours"),
        (pl.col("tickets_hi_80") * pl.col("aht") / 3600).alias("workload_hours_hi_80"),
        pl.when(sensitive).then(pl.col("tickets") * pl.col("aht") / 3600).otherwise(0.0).alias("sensitive_hours"),
    )


DEMAND_MEASURES = ("human_tickets", "workload_hours", "workload_hours_hi_80", "sensitive_hours")


def demand_by_vendor(domain_forecast: pl.DataFrame, inputs: PlanningInputs, scenario: Scenario) -> pl.DataFrame:
    """Daily human-review tickets and workload hours per vendor (mean and 80 % upper bound)."""
    rows = demand_by_domain(domain_forecast, inputs, scenario)
    return rows.group_by("vendor", "ds").agg(pl.col(DEMAND_MEASURES).sum()).sort("vendor", "ds")


def _shifted_allocation(allocation: pl.DataFrame, shifts: tuple[tuple[str, str, float], ...]) -> pl.DataFrame:
    """Move a share of one vendor's allocation to another, per domain; handle time follows the receiving vendor.

    Where the receiving vendor has not handled a domain yet, it gets the domain's work at the giving vendor's
    handle time (the only one known for it there): shifted work is never lost.
    """
    alloc = allocation
    for source, target, share in shifts:
        new_domains = (
            alloc.filter(pl.col("vendor") == source)
            .join(alloc.filter(pl.col("vendor") == target), on="policy_domain", how="anti")
            .with_columns(vendor=pl.lit(target), share=pl.lit(0.0))
            .select(alloc.columns)
        )
        alloc = pl.concat([alloc, new_domains])
        moved = alloc.filter(pl.col("vendor") == source).select(
            "policy_domain", (pl.col("share") * share).alias("moved")
        )
        alloc = (
            alloc.join(moved, on="policy_domain", how="left")
            .with_columns(pl.col("moved").fill_null(0.0))
            .with_columns(
                pl.when(pl.col("vendor") == source)
                .then(pl.col("share") - pl.col("moved"))
                .when(pl.col("vendor") == target)
                .then(pl.col("share") + pl.col("moved"))
                .otherwise(pl.col("share"))
                .alias("share")
            )
            .drop("moved")
        )
    return alloc


def _skilled_allocation(allocation: pl.DataFrame, roster: tuple[RosterLine, ...]) -> pl.DataFrame:
    """Take each domain's work away from the vendors the roster does not skill for it, to the skilled vendors of
    that domain in proportion to their shares; work no skilled vendor takes goes to UNSKILLED (no supply)."""
    allowed = pl.lit(True)
    for line in roster:
        if line.domains is not None:
            allowed &= (pl.col("vendor") != line.vendor) | pl.col("policy_domain").is_in(line.domains)
    marked = allocation.with_columns(allowed.alias("allowed"))
    taken = (
        marked.filter(~pl.col("allowed"))
        .group_by("policy_domain")
        .agg(pl.col("share").sum().alias("taken"), (pl.col("aht_seconds") * pl.col("share")).sum().alias("work"))
    )
    if taken.is_empty():
        return allocation
    kept = marked.filter("allowed").with_columns(pl.col("share").sum().over("policy_domain").alias("kept"))
    kept = kept.join(taken, on="policy_domain", how="left").with_columns(
        pl.when(pl.col("kept") > 0)
        .then(pl.col("share") * (1 + pl.col("taken").fill_null(0.0) / pl.col("kept")))
        .otherwise(pl.col("share"))
        .alias("share")
    )
    orphaned = taken.join(
        kept.filter(pl.col("kept") > 0).select("policy_domain").unique(), on="policy_domain", how="anti"
    ).select(
        "policy_domain",
        pl.lit(UNSKILLED).alias("vendor"),
        pl.col("taken").alias("share"),
        (pl.col("work") / pl.col("taken")).alias("aht_seconds"),  # the handle time of the work it was
    )
    return pl.concat([kept.select(allocation.columns), orphaned.select(allocation.columns)])


def supply_by_vendor(inputs: PlanningInputs, scenario: Scenario, days: list[dt.date]) -> pl.DataFrame:
    """Daily productive hours per vendor over the horizon: attrition decay, hires ramping, rework removed, times
    the share of the vendor's supply that serves the selection (hires serve the same mix).

    A roster line replaces the vendor's history: its FTE give paid hours less its shrinkage (history's productive
    hours are rescaled to its shrinkage when only that is given), and its attrition replaces the scenario's. A
    vendor only on the roster has no rework and serves the whole selection."""
    if not days:
        return pl.DataFrame(schema={"vendor": pl.String, "ds": pl.Date, "supply_hours": pl.Float64})
    roster = {line.vendor: line for line in scenario.roster}
    columns = ("vendor", "productive_hours_per_day", "rework_share", "supply_share")
    history = {row[0]: row[1:] for row in inputs.supply.select(columns).iter_rows()}
    first = days[0]
    rows = []
    for vendor in [*history, *(v for v in roster if v not in history)]:
        base, rework, share = history.get(vendor, (0.0, 0.0, 1.0))
        line = roster.get(vendor, RosterLine(vendor))
        shrinkage = scenario.shrinkage if line.shrinkage is None else line.shrinkage
        hours_per_fte = scenario.paid_hours_per_fte_day * (1 - shrinkage)
        if line.fte is not None:
            base = line.fte * hours_per_fte
        elif line.shrinkage is not None:  # the same people, working a different share of their paid time
            base *= (1 - shrinkage) / (1 - scenario.shrinkage)
        attrition = scenario.attrition_annual if line.attrition_annual is None else line.attrition_annual
        if share == 0:  # serves nothing of the selection
            continue
        for day in days:
            t = (day - first).days + 1
            hours = base * (1 - attrition) ** (t / 365)
            for hire in scenario.hiring:
                if hire.vendor == vendor:
                    started = t - (hire.start_week - 1) * 7
                    ramping = min(1.0, started / (hire.ramp_weeks * 7)) if hire.ramp_weeks else 1.0  # 0: no ramp
                    ramp = ramping if started > 0 else 0.0
                    hours += hire.fte * hours_per_fte * ramp
            rows.append({"vendor": vendor, "ds": day, "supply_hours": hours * (1 - rework) * share})
    return pl.DataFrame(rows, schema={"vendor": pl.String, "ds": pl.Date, "supply_hours": pl.Float64})


def demand_vs_supply(domain_forecast: pl.DataFrame, inputs: PlanningInputs, scenario: Scenario) -> pl.DataFrame:
    """Per vendor and week (Monday start): demand and supply in hours and FTE, the gap, backlog and SLA."""
    demand = demand_by_vendor(domain_forecast, inputs, scenario)
    days = sorted(set(demand["ds"].to_list()))
    supply = supply_by_vendor(inputs, scenario, days)
    daily = demand.join(supply, on=["vendor", "ds"], how="full", coalesce=True).fill_null(0.0)
    if daily.is_empty():  # no vendor reviewed the selection's tickets and none of its supply serves them
        return pl.DataFrame()
    weekly = weekly_plan(daily, ("vendor",), scenario).join(
        inputs.supply.select("vendor", "supply_share", "rework_share"), on="vendor", how="left"
    )
    return with_coverage(weekly, coverage_by(inputs, scenario, ("vendor",)), ("vendor",))


def coverage_fte(hours_per_day: float | pl.Expr, scenario: Scenario) -> float | pl.Expr:
    """FTE a day that keep reviewers on the floor `hours_per_day` reviewer-hours a day (a roster line's
    `min_on_floor` × 24 h): productive hours in the plan's FTE unit (paid hours less the general shrinkage, the unit
    of required and supply FTE). Coverage is presence, not workload, so no occupancy cap applies."""
    return hours_per_day / (scenario.paid_hours_per_fte_day * (1 - scenario.shrinkage))


def coverage_by(inputs: PlanningInputs, scenario: Scenario, keys: tuple[str, ...]) -> pl.DataFrame | None:
    """`coverage_fte` per group of `keys` (vendor, language, queue): the staffing's coverage (`inputs.coverage`),
    replaced for a vendor by the roster's `min_on_floor` where it sets one (at the vendor split only: the roster has
    no finer lines), × the vendor's `supply_share` (a vendor's floor serves all its work, so a selection needs its
    share of it) and × (1 − its `rework_share`): supply FTE are net of rework, and reviewers on the floor are present
    whether they redo work or not, so the floor is staffed when supply before rework reaches it. None when a staffing
    line with a minimum names no group of `keys` (e.g. a null queue)."""
    override = {line.vendor: line.min_on_floor for line in scenario.roster if line.min_on_floor is not None}
    data = inputs.coverage
    if data is None:  # no minimum in the staffing: none at any split
        data = pl.DataFrame(schema=dict.fromkeys({"vendor", *keys}, pl.String) | {"coverage_hours_per_day": pl.Float64})
    data = data.filter(~pl.col("vendor").is_in(list(override)))
    if any(k not in data.columns or data[k].null_count() for k in keys):
        return None
    if keys == ("vendor",):
        roster = pl.DataFrame(
            [(v, m * 24) for v, m in override.items()],
            schema={"vendor": pl.String, "coverage_hours_per_day": pl.Float64},
            orient="row",
        )
        data = pl.concat([data.select(roster.columns), roster])
    shares = inputs.supply.select("vendor", "supply_share", "rework_share")
    net = pl.col("supply_share").fill_null(1.0) * (1 - pl.col("rework_share").fill_null(0.0))
    return (
        data.join(shares, on="vendor", how="left")
        .group_by(keys)
        .agg((coverage_fte(pl.col("coverage_hours_per_day"), scenario) * net).sum().alias("coverage_fte"))
    )


def with_coverage(weekly: pl.DataFrame, coverage: pl.DataFrame | None, keys: tuple[str, ...]) -> pl.DataFrame:
    """The weekly plan with `coverage_fte` per group of `keys` (0 where none; null when not known at the split) and
    `required_fte` (and its 80 % bound) raised to it per group-week, the gap following."""
    if coverage is None:
        return weekly.with_columns(pl.lit(None, pl.Float64).alias("coverage_fte"))
    weekly = weekly.join(coverage, on=list(keys), how="left", nulls_equal=True).with_columns(
        pl.col("coverage_fte").fill_null(0.0)
    )
    return weekly.with_columns(
        pl.max_horizontal(c, "coverage_fte").alias(c) for c in ("required_fte", "required_fte_hi_80")
    ).with_columns((pl.col("supply_fte") - pl.col("required_fte")).alias("gap_fte"))


def weekly_plan(
    daily: pl.DataFrame, keys: tuple[str, ...], scenario: Scenario, simulate_by: tuple[str, ...] | None = None
) -> pl.DataFrame:
    """Per group of `keys` and week (Monday start), from daily demand (DEMAND_MEASURES) and `supply_hours` per group
    of `simulate_by` (default `keys`): demand and supply in hours and FTE, the gap, backlog and SLA.

    The backlog is simulated per group of `simulate_by` (work of one group is only done by that group's supply) and
    summed to `keys`, never netted across those groups. A null `supply_hours` (supply not known at that split) gives
    null supply, gap, backlog and SLA.
    """
    simulate_by = simulate_by or keys
    known_supply = daily["supply_hours"].null_count() == 0
    daily = daily.with_columns(pl.col(DEMAND_MEASURES).fill_null(0.0), pl.col("supply_hours").fill_null(0.0))
    daily = pl.concat(
        _projected(part, scenario)
        for _, part in daily.sort(*simulate_by, "ds").group_by(simulate_by, maintain_order=True)
    )
    if simulate_by != keys:
        measures = (*DEMAND_MEASURES, "supply_hours", "backlog_hours", "sla_met_hours", "sla_measured_hours")
        daily = daily.group_by(*keys, "ds").agg(pl.col(measures).sum())
    assumptions = scenario.assumptions
    per_fte_day = assumptions.productive_hours_per_fte_day
    weekly = (
        daily.with_columns(pl.col("ds").dt.truncate("1w").alias("week"))
        .sort(*keys, "ds")
        .group_by(*keys, "week")
        .agg(
            pl.len().alias("days"),
            pl.col("human_tickets").sum(),
            pl.col("workload_hours").sum(),
            pl.col("workload_hours_hi_80").sum(),
            pl.col("supply_hours").sum(),
            pl.col("sensitive_hours").mean().alias("sensitive_hours_per_day"),
            pl.col("backlog_hours").last().alias("backlog_hours_end"),
            pl.col("sla_met_hours").sum(),
            pl.col("sla_measured_hours").sum(),
        )
        .with_columns(
            # Work-weighted; null, not NaN, for a week without work whose outcome is known.
            ratio("sla_met_hours", "sla_measured_hours").alias("sla_projected"),
            (pl.col("workload_hours") / pl.col("days") / per_fte_day).alias("required_fte"),
            (pl.col("workload_hours_hi_80") / pl.col("days") / per_fte_day).alias("required_fte_hi_80"),
            (
                pl.col("supply_hours")
                / pl.col("days")
                / (assumptions.paid_hours_per_fte_day * (1 - assumptions.shrinkage))
            ).alias("supply_fte"),
        )
    )
    if scenario.exposure_cap_hours:
        weekly = weekly.with_columns(
            pl.max_horizontal("required_fte", pl.col("sensitive_hours_per_day") / scenario.exposure_cap_hours).alias(
                "required_fte"
            )
        )
    weekly = weekly.with_columns((pl.col("supply_fte") - pl.col("required_fte")).alias("gap_fte"))
    if not known_supply:
        unknown = ("supply_hours", "supply_fte", "gap_fte", "backlog_hours_end", "sla_met_hours", "sla_measured_hours")
        weekly = weekly.with_columns(pl.lit(None, pl.Float64).alias(c) for c in (*unknown, "sla_projected"))
    return weekly.sort(*keys, "week")


def _projected(part: pl.DataFrame, scenario: Scenario) -> pl.DataFrame:
    """One group's days with its backlog (hours of work; capacity is supply at the occupancy cap) and SLA hours."""
    sim = backlog_projection(
        part["workload_hours"].to_list(),
        [h * scenario.max_occupancy for h in part["supply_hours"].to_list()],
        sla_days=scenario.sla_hours / 24,
    )
    known = sim["sla_met_share"].is_not_null()
    return part.with_columns(
        backlog_hours=sim["backlog_end"],
        sla_met_hours=(sim["sla_met_share"] * sim["arrivals"]).fill_null(0.0),
        sla_measured_hours=pl.when(known).then(sim["arrivals"]).otherwise(0.0),
    )


@dataclass(frozen=True)
class PlanHeadline:
    """The figures a plan is summed up by (the page's tiles and the scenario comparison). A group is one row key of
    the plan (a vendor, or e.g. a vendor × language); the supply figures are None where supply is not known at the
    plan's split (forecasting.plan_splits)."""

    required_fte_avg: float  # all groups, per day of the horizon
    supply_fte_avg: float | None
    worst_group: tuple[str, ...] | None  # values of the keys of the group-week with the smallest gap (largest deficit)
    worst_week: dt.date | None
    worst_gap_fte: float | None  # never netted across groups
    group_weeks_in_deficit: int | None
    group_weeks: int
    backlog_hours_at_end: float | None  # all groups, at the end of the horizon
    projected_sla: float | None  # SLA-met hours / hours whose outcome is known, every group and week


def plan_headline(plan: pl.DataFrame, keys: tuple[str, ...] = ("vendor",)) -> PlanHeadline:
    """Sum up a weekly plan per group of `keys` (demand_vs_supply's, or a split's): FTE averaged over the horizon's
    days (a partial week weighs its days), the worst group-week, and the projected SLA weighted by work."""
    horizon_days = plan.group_by("week").agg(pl.col("days").max())["days"].sum()
    required = (plan["required_fte"] * plan["days"]).sum() / horizon_days
    if plan["gap_fte"].null_count():  # supply not known at this split: demand only
        return PlanHeadline(required, None, None, None, None, None, plan.height, None, None)
    worst = plan.sort("gap_fte", "week", *keys).row(0, named=True)
    measured = plan["sla_measured_hours"].sum()
    return PlanHeadline(
        required_fte_avg=required,
        supply_fte_avg=(plan["supply_fte"] * plan["days"]).sum() / horizon_days,
        worst_group=tuple(str(worst[k]) for k in keys),
        worst_week=worst["week"],
        worst_gap_fte=worst["gap_fte"],
        group_weeks_in_deficit=plan.filter(pl.col("gap_fte") < 0).height,
        group_weeks=plan.height,
        backlog_hours_at_end=plan.filter(pl.col("week") == pl.col("week").max())["backlog_hours_end"].sum(),
        projected_sla=plan["sla_met_hours"].sum() / measured if measured > 0 else None,
    )
