"""Forecast & capacity: forecasts with their intervals, backtests, demand vs supply, the FTE gap per vendor and
week, projected backlog and live-queue staffing per half hour."""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go
import polars as pl

from dashboard.charts.common import add_band, each_group, legend_below, margin
from dashboard.palette import PALETTE, recolour, series_colours


def forecast_chart(history: pl.DataFrame, forecast: pl.DataFrame, title: str = "") -> go.Figure:
    """Recent daily history, the forecast mean and its 80 % and 95 % intervals."""
    fig = go.Figure()
    days = forecast["ds"].to_list()
    for lo, hi, name, alpha in (("lo_95", "hi_95", "95 % interval", 0.15), ("lo_80", "hi_80", "80 % interval", 0.3)):
        add_band(
            fig, days, forecast[lo].to_list(), forecast[hi].to_list(), fillcolor=f"rgba(51,102,204,{alpha})", name=name
        )
    fig.add_scatter(x=history["ds"].to_list(), y=history["y"].to_list(), name="actual", line={"color": "#424242"})
    fig.add_scatter(x=days, y=forecast["mean"].to_list(), name="forecast", line={"color": PALETTE[0], "dash": "dash"})
    fig.update_layout(
        title=title,
        height=340,
        margin=margin(40 if title else 10),
        yaxis_title="tickets per day",
        legend=legend_below(),
        hovermode="x unified",
    )
    return fig


def backtest_chart(backtests: pl.DataFrame) -> go.Figure:
    """How good were past forecasts: each fold's forecast and 80 % interval against what happened."""
    fig = go.Figure()
    for i, _, part in each_group(backtests, "fold", "ds"):
        days = part["ds"].to_list()
        add_band(
            fig,
            days,
            part["lo_80"].to_list(),
            part["hi_80"].to_list(),
            fillcolor="rgba(51,102,204,0.2)",
            name="80 % interval",
            legendgroup="band",
            showlegend=i == 0,
        )
        fig.add_scatter(
            x=days,
            y=part["mean"].to_list(),
            name="past forecast",
            legendgroup="fc",
            showlegend=i == 0,
            line={"color": PALETTE[0], "dash": "dash"},
        )
    actual = backtests.unique(["ds"]).sort("ds")
    fig.add_scatter(x=actual["ds"].to_list(), y=actual["actual"].to_list(), name="actual", line={"color": "#424242"})
    fig.update_layout(
        height=300, margin=margin(), yaxis_title="tickets per day", legend=legend_below(-0.25), hovermode="x unified"
    )
    return fig


def gap_heatmap(plan: pl.DataFrame, by: str = "vendor") -> go.Figure:
    """FTE surplus (blue) or deficit (red) per group of `by` (a vendor) and week."""
    vendors = sorted(plan[by].unique().to_list())
    weeks = sorted(plan["week"].unique().to_list())
    lookup = {(r[by], r["week"]): r["gap_fte"] for r in plan.iter_rows(named=True)}
    z = [[lookup.get((v, w)) for w in weeks] for v in vendors]
    limit = max((abs(x) for row in z for x in row if x is not None), default=1.0) or 1.0
    digits = fte_digits(limit)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=weeks,
            y=vendors,
            zmin=-limit,
            zmax=limit,
            colorscale="RdBu",  # red deficit, blue surplus: readable without telling red from green
            colorbar={"title": "FTE"},
            text=[[signed(x, digits) for x in row] for row in z],
            texttemplate="%{text}",
            textfont={"size": 12},
            hovertemplate=f"%{{y}}<br>week of %{{x|%d %b}}<br>%{{z:+.{digits + 1}f}} FTE<extra></extra>",
        )
    )
    fig.update_layout(height=60 + 45 * len(vendors), margin=margin())
    return fig


def fte_digits(largest: float) -> int:
    """Decimals that show FTE figures up to `largest` in size, so a small team's deficit never reads as 0.0."""
    return 1 if largest >= 10 else 2 if largest >= 0.1 else 3


def signed(value: float | None, digits: int) -> str:
    """A surplus (+) or deficit (−) as cell text; one that rounds to zero is "0" (never "-0.0"), none is empty."""
    if value is None:
        return ""
    text = f"{value:+.{digits}f}"
    return "0" if float(text) == 0 else text


def demand_supply_chart(plan: pl.DataFrame) -> go.Figure:
    """All groups: required FTE (mean and 80 % upper bound) against supplied FTE per week (no supply bars where
    supply is not known at the plan's split)."""
    weekly = plan.group_by("week").agg(pl.col("required_fte", "required_fte_hi_80", "supply_fte").sum()).sort("week")
    weeks = weekly["week"].to_list()
    fig = go.Figure()
    if plan["supply_fte"].null_count() < plan.height:
        fig.add_bar(x=weeks, y=weekly["supply_fte"].to_list(), name="supply", marker_color="#90A4AE")
    fig.add_scatter(x=weeks, y=weekly["required_fte"].to_list(), name="required (forecast)", line={"color": PALETTE[1]})
    fig.add_scatter(
        x=weeks,
        y=weekly["required_fte_hi_80"].to_list(),
        name="required (80 % upper bound)",
        line={"color": PALETTE[1], "dash": "dot"},
    )
    fig.update_layout(height=320, margin=margin(), yaxis_title="FTE", legend=legend_below())
    return fig


def backlog_chart(plan: pl.DataFrame, colours: Mapping[str, str] | None = None, by: str = "vendor") -> go.Figure:
    """Projected backlog (hours of work) at the end of each week, per group of `by` (a vendor) in its category colour
    (`colours`, see `palette.series_colours`)."""
    fig = go.Figure()
    for _, group, part in each_group(plan, by, "week"):
        fig.add_scatter(x=part["week"].to_list(), y=part["backlog_hours_end"].to_list(), name=group)
    fig.update_layout(height=300, margin=margin(), yaxis_title="backlog (hours of work)", legend=legend_below())
    fig.update_yaxes(rangemode="nonnegative")  # a backlog is never below zero: no empty negative half
    return recolour(fig, series_colours(plan[by].unique(), colours))


def interval_staffing_chart(staffing: pl.DataFrame, colours: Mapping[str, str] | None = None) -> go.Figure:
    """Agents needed per half hour for each live queue (bars) and the offered load in erlangs (line), both in the
    queue's category colour (`colours`, see `palette.series_colours`)."""
    fig = go.Figure()
    for _, queue, part in each_group(staffing, "queue", "interval_start"):
        starts = part["interval_start"].to_list()
        fig.add_bar(x=starts, y=part["agents"].to_list(), name=f"{queue}: agents", legendgroup=queue)
        fig.add_scatter(
            x=starts,
            y=part["traffic_erlangs"].to_list(),
            name=f"{queue}: load (erlangs)",
            legendgroup=queue,
            line={"dash": "dot"},
        )
    fig.update_layout(barmode="stack", height=320, margin=margin(), yaxis_title="agents", legend=legend_below())
    return recolour(fig, series_colours(staffing["queue"].unique(), colours))


def plan_vs_actual_chart(compared: pl.DataFrame) -> go.Figure:
    """All vendors per week: planned against actual human-review tickets (bars) and required against staffed FTE."""
    weekly = compared.group_by("week").agg(pl.exclude("vendor", "week").sum()).sort("week")
    weeks = weekly["week"].to_list()
    fig = go.Figure()
    fig.add_bar(x=weeks, y=weekly["planned_human_tickets"].to_list(), name="tickets planned", marker_color="#90A4AE")
    fig.add_bar(x=weeks, y=weekly["actual_human_tickets"].to_list(), name="tickets arrived", marker_color=PALETTE[0])
    for column, name, dash in (
        ("planned_required_fte", "FTE required (plan)", "dot"),
        ("actual_required_fte", "FTE required (actual work)", None),
        ("actual_supply_fte", "FTE staffed", "dash"),
    ):
        fig.add_scatter(
            x=weeks, y=weekly[column].to_list(), name=name, yaxis="y2", line={"color": PALETTE[1], "dash": dash}
        )
    fig.update_layout(
        height=340,
        margin=margin(),
        barmode="group",
        yaxis_title="human-review tickets",
        yaxis2={"title": "FTE", "overlaying": "y", "side": "right", "rangemode": "tozero"},
        legend=legend_below(),
    )
    return fig
