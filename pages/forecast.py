"""Forecast & capacity for planners: forecasts with past accuracy, demand vs supply, live staffing, scenarios."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from dashboard import loaders
from dashboard.charts.capacity import (
    backlog_chart,
    backtest_chart,
    demand_supply_chart,
    forecast_chart,
    gap_heatmap,
    interval_staffing_chart,
)
from dashboard.components import decimal_column, percent_column, table
from dashboard.context import PageContext
from dashboard.scenario_controls import scenario_controls, scenario_store_panel
from forecasting.models import MODELS
from forecasting.plan import ALLOCATION_WEEKS, plan_headline
from forecasting.planner import LiveQueue
from queries.engines import groupable
from queries.filters import Filters
from queries.metrics import missing_inputs

# label -> the tickets column the forecast is split by (None: the total)
GROUPINGS = {"Total": None} | {
    c.replace("_", " ").capitalize(): c for c in ("policy_domain", "market", "language", "queue")
}


def render(ctx: PageContext) -> None:
    st.title("Forecast & capacity")
    if not ctx.ready(aggregates=True):
        return
    ds, filters = ctx.dataset, ctx.filters
    left, middle, right = st.columns(3)
    groupings = {k: v for k, v in GROUPINGS.items() if v is None or groupable(ds, v)}
    label = left.selectbox("Forecast by", list(groupings), key="forecast.by")
    weeks = middle.slider("Horizon (weeks)", 4, 12, 8, key="forecast.weeks")
    model = right.selectbox(
        "Model",
        ["auto", *MODELS],
        key="forecast.model",
        help="auto: the model with the lowest backtest MASE per series",
    )
    st.caption(
        f"History: every day up to {filters.end} in the selected groups; forecast: the {weeks} weeks after it. "
        "Rolling-origin backtest with 4 folds of the same horizon."
    )
    view = loaders.forecast_view(ds, filters, groupings[label], weeks * 7, model)
    with st.expander("What-if scenario", icon=":material/tune:"):
        scenario = scenario_controls(ctx)
    forecast_tab, capacity_tab, live_tab, scenarios_tab = st.tabs(
        ["Forecast", "Demand vs supply", "Live queues (Erlang)", "Scenarios"]
    )
    with forecast_tab:
        _forecast(view)
    with capacity_tab:
        _capacity(ctx, scenario, weeks)
    with live_tab:
        _live(ctx, scenario, weeks)
    with scenarios_tab:
        scenario_store_panel(ctx, scenario, weeks)


def _forecast(view) -> None:
    if view.scores.is_empty():
        st.info("No tickets in the selected groups up to the end of the period: nothing to forecast.")
        return
    series = view.scores["series"].to_list()
    chosen = st.selectbox("Series", series, key="forecast.series") if len(series) > 1 else series[0]
    history = view.history.filter(pl.col("series") == chosen)
    forecast = view.forecasts.filter(pl.col("series") == chosen)
    score = view.scores.filter(pl.col("series") == chosen).row(0, named=True)
    st.plotly_chart(forecast_chart(history, forecast), key="forecast.chart")
    cols = st.columns(4)
    cols[0].metric("Model", score["model"], help=score["note"] or None)
    cols[1].metric(
        "MASE (backtest)",
        f"{score['mase']:.2f}",
        delta=f"{score['mase'] - score['baseline_mase']:+.2f} vs naive",
        delta_color="inverse",
        help="Mean absolute error scaled by the in-sample weekly seasonal-naive error; "
        "below 1 beats a same-weekday-last-week forecast.",
    )
    cols[2].metric(
        "80 % interval coverage", f"{score['coverage_80']:.0%}", help="Share of past actuals inside the 80 % band."
    )
    cols[3].metric(
        "95 % interval coverage", f"{score['coverage_95']:.0%}", help="Share of past actuals inside the 95 % band."
    )
    if score["closed_weekdays"]:
        st.caption(
            f"Closed on {score['closed_weekdays']}: no tickets on those weekdays in any week of the history, so they "
            "are neither training data nor forecast."
        )
    st.subheader("How good were past forecasts")
    st.caption("Each backtest fold's forecast from its origin, with its 80 % interval, against what happened.")
    st.plotly_chart(backtest_chart(view.backtests.filter(pl.col("series") == chosen)), key="forecast.backtest")
    if view.note:
        st.caption(view.note)
    table(
        view.scores.drop("history_days"),
        "forecast.scores",
        {c: st.column_config.NumberColumn(format="%.2f") for c in ("mase", "baseline_mase", "bias")}
        | {c: st.column_config.NumberColumn(format="percent") for c in ("coverage_80", "coverage_95")},
    )


def _capacity(ctx: PageContext, scenario, weeks: int) -> None:
    plan = loaders.capacity_plan(ctx.dataset, ctx.filters, weeks * 7, scenario)
    if plan.is_empty():
        missing = missing_inputs(ctx.dataset, "throughput") or missing_inputs(ctx.dataset, "handle_time")
        st.info(
            missing
            or f"No vendor reviewed tickets in the selection over the last {ALLOCATION_WEEKS} weeks and no staffing "
            "serves it: nothing to plan."
        )
        return
    st.caption(_supply_note(ctx.filters, plan))
    headline = plan_headline(plan)
    cols = st.columns(4)
    cols[0].metric(
        "Required FTE (horizon average)",
        _fte(headline.required_fte_avg),
        help="All vendors shown, averaged over the days of the horizon (a partial week counts for its days).",
    )
    cols[1].metric(
        "Worst week: surplus / deficit",
        f"{_fte(headline.worst_gap_fte, '+')} FTE",
        help="Supply − required FTE of the vendor and week with the largest deficit (or smallest surplus); "
        "vendors are not netted against each other.",
    )
    cols[1].caption(f"{headline.worst_vendor}, week of {headline.worst_week}")
    cols[2].metric("Vendor-weeks in deficit", f"{headline.vendor_weeks_in_deficit} of {headline.vendor_weeks}")
    sla = headline.projected_sla
    cols[3].metric(
        "Projected SLA (deferred work)",
        f"{sla:.1%}" if sla is not None else "–",
        help=f"Hours of work cleared within {scenario.sla_hours:g} h in the backlog simulation over all hours of work, "
        "every vendor and week (weighted by work); work still waiting at the end of the horizon with its window "
        "open is not counted.",
    )
    st.subheader("Required vs supplied FTE, " + ("selected vendors" if ctx.filters.vendor else "all vendors"))
    st.plotly_chart(demand_supply_chart(plan), key="capacity.chart")
    st.subheader("Surplus or deficit per vendor and week (FTE)")
    st.plotly_chart(gap_heatmap(plan), key="capacity.gap")
    st.subheader("Projected backlog")
    st.plotly_chart(backlog_chart(plan), key="capacity.backlog")
    table(plan, "capacity.table")


def _fte(value: float, sign: str = "") -> str:
    """FTE with more decimals for small figures, so a small team's deficit never reads as 0.0."""
    decimals = 1 if abs(value) >= 10 else 2 if abs(value) >= 0.1 else 3
    return f"{value:{sign}.{decimals}f}"


def _supply_note(filters: Filters, plan: pl.DataFrame) -> str:
    """What the supply side covers for the current selection."""
    others = {k: v for k, v in filters.selections().items() if k != "vendor"}
    if filters.vendor:
        whose = "its" if len(filters.vendor) == 1 else "their"
        text = f"Demand of {', '.join(filters.vendor)} against {whose} own supply."
    else:
        text = f"Demand of {'the selected' if others else 'all'} tickets against every vendor's supply."
    if others:
        shares = plan.group_by("vendor").agg(pl.col("supply_share").first()).sort("vendor")
        listed = ", ".join(f"{v} {s:.0%}" for v, s in shares.iter_rows() if s is not None)
        selection = "; ".join(f"{k.replace('_', ' ')} {', '.join(v)}" for k, v in others.items())
        text += (
            f" Staffing is not split by {', '.join(k.replace('_', ' ') for k in others)}: each vendor's supply counts "
            f"for the selection ({selection}) by the share of its human review hours of the last "
            f"{ALLOCATION_WEEKS} weeks that fell in it ({listed})."
        )
    return text


def _live(ctx: PageContext, scenario, weeks: int) -> None:
    if not ctx.has_rows("live queues (they need each queue's half-hour arrival profile)"):
        return
    first = ctx.filters.end + dt.timedelta(days=1)
    day = st.date_input(
        "Day", first, min_value=first, max_value=first + dt.timedelta(days=weeks * 7 - 1), key="live.day"
    )
    cols = st.columns(3)
    level = cols[0].slider("Service level", 0.5, 0.99, 0.9, key="live.level")
    patience = cols[1].number_input(
        "Stream patience (s, 0 = none)",
        0,
        3600,
        0,
        step=30,
        key="live.patience",
        help="Mean time until a stream ends unreviewed (Erlang A); 0 uses Erlang C.",
    )
    targets = cols[2].text_input("Targets (queue=seconds)", "live_p0=60, live_p1=300, live_p2=900", key="live.targets")
    queues = [
        LiveQueue(q.strip(), float(t), level, float(patience) or None)
        for q, _, t in (item.partition("=") for item in targets.split(","))
        if q.strip() and t.strip().replace(".", "", 1).isdigit()
    ]
    staffing = loaders.live_staffing(ctx.dataset, ctx.filters, weeks * 7, day, tuple(queues), scenario)
    if staffing.is_empty():
        st.info("No human-reviewed tickets in these queues over the last 8 weeks.")
        return
    summary = (
        staffing.group_by("queue")
        .agg(
            pl.col("volume").sum().alias("tickets"),
            pl.col("agents").max().alias("peak_agents"),
            (pl.col("agents").sum() / 2).alias("agent_hours"),
            pl.col("service_level").min().alias("lowest_service_level"),
        )
        .with_columns(
            (pl.col("agent_hours") / (scenario.paid_hours_per_fte_day * (1 - scenario.shrinkage))).alias("fte")
        )
    )
    st.plotly_chart(interval_staffing_chart(staffing), key="live.chart")
    table(
        summary.sort("queue"),
        "live.summary",
        {
            "tickets": decimal_column("Human-review tickets", digits=0),
            "peak_agents": "Peak agents",
            "agent_hours": decimal_column("Agent hours"),
            "lowest_service_level": percent_column("Lowest interval service level"),
            "fte": decimal_column("FTE (after shrinkage)"),
        },
    )
    st.caption(
        "Real-time queues need enough agents in every half hour, so at low volume they cost more FTE than their "
        "workload alone: compare with Demand vs supply, which staffs deferred work by hours."
    )
