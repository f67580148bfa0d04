"""The weekly leadership snapshot: every figure of the review for a period, from the analyses the pages use.

KPI tiles against the previous period and their targets, every target, the weekly trend with events, top movers,
top spikes, SLA by rule and per day, time to first action per day, the backlog, and the data's freshness and
caveats. The forecast and the capacity plan come from `forecasting` (forecasting.outlook); the HTML and PDF from
dashboard.snapshot. `figures` is the machine-readable part embedded in the HTML, equal to the CLI's figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from queries.analyses.health import table_health
from queries.analyses.overview import Kpi, events_in, overview_kpis, top_movers, weekly_trend
from queries.analyses.spikes import detect_spikes
from queries.analyses.targets import TargetResult, Targets, TileJudgement, evaluate_targets, judge_tiles, results_frame
from queries.engines import Source, engine_for, held_rows
from queries.filters import Filters
from queries.metrics import data_as_of, missing_inputs, summarize
from queries.sla import SlaPolicy

TOP_SPIKES = 10
SPIKES_BY = ("policy_domain", "market")


@dataclass(frozen=True)
class Snapshot:
    """Everything the leadership review shows for one period; None parts say why in `caveats`."""

    source: str  # as it may be shown (a warehouse URL with its password masked)
    filters: Filters
    generated_at: dt.datetime  # naive UTC
    as_of: dt.datetime
    kpis: list[Kpi]
    tiles: dict[str, TileJudgement]
    targets: list[TargetResult]
    trend: pl.DataFrame
    events: pl.DataFrame
    movers: pl.DataFrame | None
    spikes: pl.DataFrame | None
    sla: pl.DataFrame | None  # attainment by SLA rule over the period
    daily: pl.DataFrame | None  # per day: tickets, P50/P90 hours to first action, SLA attainment
    backlog: pl.DataFrame | None  # the `backlog` metric per day
    freshness: pl.DataFrame  # queries.analyses.health.table_health
    caveats: list[str]


def build_snapshot(
    ds: Source, filters: Filters, targets: Targets, sla_policy: SlaPolicy, source: str, now: dt.datetime
) -> Snapshot:
    """The snapshot of `filters` (its period and selections), generated at `now` (naive UTC: freshness is aged
    to it)."""
    caveats = []
    kpis = overview_kpis(ds, filters, sla_policy)
    if kpis[0].no_previous:
        caveats.append(f"No previous data: {kpis[0].no_previous}")
    caveats += [k.unavailable for k in kpis if k.unavailable]
    trend = weekly_trend(ds, filters)
    first_week = trend["week"].min() if trend.height else filters.start
    movers = None
    if not ds.has("tickets", "policy_domain", "market"):
        caveats.append("Top movers need tickets.policy_domain and tickets.market.")
    elif not kpis[0].no_previous:
        movers = top_movers(ds, filters)
    by = [c for c in SPIKES_BY if ds.has("tickets", c)]
    spikes = detect_spikes(ds, filters, by).head(TOP_SPIKES) if by else None
    sla = daily = backlog = None
    if missing_inputs(ds, "sla") is None:
        sla = summarize(ds, "sla", filters, by=["sla_rule"], sla_policy=sla_policy)
    else:
        caveats.append(missing_inputs(ds, "sla"))
    if missing_inputs(ds, "time_to_first_action") is None:
        daily = _daily(ds, filters, sla_policy)
    if missing_inputs(ds, "backlog") is None:
        backlog = summarize(ds, "backlog", filters, period="day")
    engine = engine_for(ds)
    if engine.caption:
        caveats.append(engine.caption)
    if held_rows(ds) is None:
        caveats.append(f"{engine.rows_why} Parts that need ticket rows (P99, ages of open tickets) are left out.")
    caveats += _rejections(ds)
    return Snapshot(
        source=source,
        filters=filters,
        generated_at=now,
        as_of=data_as_of(ds),
        kpis=kpis,
        tiles=judge_tiles(ds, filters, targets, kpis, sla_policy),
        targets=evaluate_targets(ds, targets, filters.start, filters.end, sla_policy),
        trend=trend,
        events=events_in(ds, filters, start=first_week),
        movers=movers,
        spikes=spikes,
        sla=sla,
        daily=daily,
        backlog=backlog,
        freshness=table_health(ds, now),
        caveats=[c for c in caveats if c],
    )


def _daily(ds: Source, filters: Filters, sla_policy: SlaPolicy) -> pl.DataFrame:
    """Per day of the period: tickets, P50/P90/mean hours to first action and (when the source has it) SLA
    attainment."""
    speed = summarize(ds, "time_to_first_action", filters, period="day").select(
        "period", "tickets", "measured", "p50_hours", "p90_hours", "mean_hours"
    )
    if missing_inputs(ds, "sla") is not None:
        return speed
    sla = summarize(ds, "sla", filters, period="day", sla_policy=sla_policy).select("period", "attainment")
    return speed.join(sla, on="period", how="left")


def _rejections(ds: Source) -> list[str]:
    """One caveat per table with rejected or future-dated rows."""
    out = []
    for r in ds.reports.values():
        if r.rows_rejected:
            out.append(
                f"{r.table}: {r.rows_rejected:,} of {r.rows_read:,} rows were rejected by validation and are not "
                "counted (see Data health)."
            )
        if r.rows_in_future:
            out.append(f"{r.table}: {r.rows_in_future:,} rows carry a timestamp in the future (kept, flagged).")
    return out


def figures(snapshot: Snapshot) -> dict:
    """The snapshot's figures as JSON-ready values: the period, each tile and each target (as `targets` prints)."""
    f = snapshot.filters
    return {
        "period": {"start": f.start.isoformat(), "end": f.end.isoformat(), "selections": f.selections()},
        "previous": {"start": f.previous().start.isoformat(), "end": f.previous().end.isoformat()},
        "as_of": snapshot.as_of.isoformat(),
        "generated_at": snapshot.generated_at.isoformat(),
        "kpis": [
            {
                "key": k.key,
                "label": k.label,
                "value": k.value,
                "previous": k.previous,
                "unit": k.unit,
                "goal": snapshot.tiles[k.key].goal.target.goal if snapshot.tiles[k.key].goal else None,
                "status": snapshot.tiles[k.key].goal.status if snapshot.tiles[k.key].goal else None,
            }
            for k in snapshot.kpis
        ],
        "targets": results_frame(snapshot.targets).with_columns(pl.col("from").cast(pl.String)).to_dicts(),
    }
