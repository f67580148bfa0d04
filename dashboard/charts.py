"""Charts as pure functions: DataFrame in, Plotly figure out. No Streamlit here."""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import polars as pl

PALETTE = (
    "#3366CC",
    "#DC3912",
    "#FF9900",
    "#109618",
    "#990099",
    "#0099C6",
    "#DD4477",
    "#66AA00",
    "#B82E2E",
    "#316395",
    "#994499",
    "#22AA99",
    "#AAAA11",
    "#6633CC",
    "#E67300",
)
EVENT_COLOURS = {
    "policy_change": "#7B1FA2",
    "model_launch": "#1565C0",
    "product_launch": "#00838F",
    "news_event": "#C62828",
    "outage": "#424242",
    "holiday": "#2E7D32",
    "training": "#EF6C00",
}


def weekly_trend_chart(
    trend: pl.DataFrame, events: pl.DataFrame, highlight: tuple[dt.date, dt.date] | None = None
) -> go.Figure:
    """Stacked weekly tickets by the trend's group column, with events as shaded spans and markers."""
    group = next((c for c in trend.columns if c not in ("week", "tickets")), None)
    if group:
        trend = trend.with_columns(pl.col(group).fill_null("(not given)"))
    fig = go.Figure()
    if group:
        order = trend.group_by(group).agg(pl.col("tickets").sum()).sort("tickets", descending=True)[group].to_list()
        for i, name in enumerate(order):
            part = trend.filter(pl.col(group) == name).sort("week")
            fig.add_bar(
                x=part["week"].to_list(),
                y=part["tickets"].to_list(),
                name=str(name),
                marker_color=PALETTE[i % len(PALETTE)],
                hovertemplate=f"{name}<br>week of %{{x|%d %b %Y}}<br>%{{y:,}} tickets<extra></extra>",
            )
    else:
        fig.add_bar(x=trend["week"].to_list(), y=trend["tickets"].to_list(), name="tickets", marker_color=PALETTE[0])
    if highlight:
        fig.add_vrect(
            x0=highlight[0],
            x1=highlight[1] + dt.timedelta(days=1),
            fillcolor="#FFD54F",
            opacity=0.15,
            line_width=0,
            annotation_text="selected period",
            annotation_position="top left",
        )
    _add_events(fig, events, trend.group_by("week").agg(pl.col("tickets").sum())["tickets"].max())
    fig.update_layout(
        barmode="stack",
        height=380,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": -0.15},
        yaxis_title="tickets per week",
        hovermode="closest",
    )
    return fig


def _add_events(fig: go.Figure, events: pl.DataFrame, top: float | None) -> None:
    """Events as light spans plus one hoverable marker each, above the bars."""
    if events.is_empty() or not top:
        return
    for row in events.iter_rows(named=True):
        colour = EVENT_COLOURS.get(row.get("kind") or "", "#757575")
        fig.add_vrect(
            x0=row["start"], x1=row["end"] + dt.timedelta(days=1), fillcolor=colour, opacity=0.08, line_width=0
        )
    fig.add_scatter(
        x=events["start"].to_list(),
        y=[top * 1.06] * events.height,
        mode="markers",
        name="events",
        marker={
            "symbol": "triangle-down",
            "size": 11,
            "color": [EVENT_COLOURS.get(k or "", "#757575") for k in events["kind"].to_list()],
        },
        text=[
            f"{r['title']}<br>{r['kind']} · {r['start']:%d %b %Y}"
            + (f" – {r['end']:%d %b %Y}" if r["end"] != r["start"] else "")
            for r in events.iter_rows(named=True)
        ],
        hovertemplate="%{text}<extra></extra>",
    )


def movers_chart(movers: pl.DataFrame, by: tuple[str, ...] = ("policy_domain", "market")) -> go.Figure:
    """Horizontal bars of the change in tickets per group, rises red and falls blue."""
    data = movers.sort(pl.col("change").abs())
    labels = [" · ".join(str(r[c]) for c in by) for r in data.iter_rows(named=True)]
    fig = go.Figure(
        go.Bar(
            x=data["change"].to_list(),
            y=labels,
            orientation="h",
            marker_color=["#C62828" if c > 0 else "#1565C0" for c in data["change"].to_list()],
            customdata=list(zip(data["previous_tickets"].to_list(), data["tickets"].to_list(), strict=True)),
            hovertemplate="%{y}<br>%{customdata[0]:,} → %{customdata[1]:,} tickets (%{x:+,})<extra></extra>",
        )
    )
    fig.update_layout(
        height=max(220, 28 * data.height + 60),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis_title="change in tickets vs previous period",
    )
    return fig


def forecast_chart(history: pl.DataFrame, forecast: pl.DataFrame, title: str = "") -> go.Figure:
    """Recent daily history, the forecast mean and its 80 % and 95 % intervals."""
    fig = go.Figure()
    days = forecast["ds"].to_list()
    for lo, hi, name, alpha in (("lo_95", "hi_95", "95 % interval", 0.15), ("lo_80", "hi_80", "80 % interval", 0.3)):
        fig.add_scatter(
            x=days + days[::-1],
            y=forecast[hi].to_list() + forecast[lo].to_list()[::-1],
            fill="toself",
            fillcolor=f"rgba(51,102,204,{alpha})",
            line={"width": 0},
            name=name,
            hoverinfo="skip",
        )
    fig.add_scatter(x=history["ds"].to_list(), y=history["y"].to_list(), name="actual", line={"color": "#424242"})
    fig.add_scatter(x=days, y=forecast["mean"].to_list(), name="forecast", line={"color": PALETTE[0], "dash": "dash"})
    fig.update_layout(
        title=title,
        height=340,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        yaxis_title="tickets per day",
        legend={"orientation": "h", "y": -0.2},
        hovermode="x unified",
    )
    return fig


def backtest_chart(backtests: pl.DataFrame) -> go.Figure:
    """How good were past forecasts: each fold's forecast and 80 % interval against what happened."""
    fig = go.Figure()
    for i, (fold,) in enumerate(backtests.select("fold").unique().sort("fold").iter_rows()):
        part = backtests.filter(pl.col("fold") == fold).sort("ds")
        days = part["ds"].to_list()
        fig.add_scatter(
            x=days + days[::-1],
            y=part["hi_80"].to_list() + part["lo_80"].to_list()[::-1],
            fill="toself",
            fillcolor="rgba(51,102,204,0.2)",
            line={"width": 0},
            name="80 % interval",
            legendgroup="band",
            showlegend=i == 0,
            hoverinfo="skip",
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
        height=300,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis_title="tickets per day",
        legend={"orientation": "h", "y": -0.25},
        hovermode="x unified",
    )
    return fig


def gap_heatmap(plan: pl.DataFrame) -> go.Figure:
    """FTE surplus (blue) or deficit (red) per vendor and week."""
    vendors = sorted(plan["vendor"].unique().to_list())
    weeks = sorted(plan["week"].unique().to_list())
    lookup = {(r["vendor"], r["week"]): r["gap_fte"] for r in plan.iter_rows(named=True)}
    z = [[lookup.get((v, w)) for w in weeks] for v in vendors]
    limit = max((abs(x) for row in z for x in row if x is not None), default=1.0) or 1.0
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=weeks,
            y=vendors,
            zmin=-limit,
            zmax=limit,
            colorscale="RdBu",
            colorbar={"title": "FTE"},
            text=[[f"{x:+.1f}" if x is not None else "" for x in row] for row in z],
            texttemplate="%{text}",
            hovertemplate="%{y}<br>week of %{x|%d %b}<br>%{z:+.2f} FTE<extra></extra>",
        )
    )
    fig.update_layout(height=60 + 45 * len(vendors), margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


def demand_supply_chart(plan: pl.DataFrame) -> go.Figure:
    """All vendors: required FTE (mean and 80 % upper bound) against supplied FTE per week."""
    weekly = plan.group_by("week").agg(pl.col("required_fte", "required_fte_hi_80", "supply_fte").sum()).sort("week")
    fig = go.Figure()
    fig.add_bar(x=weekly["week"].to_list(), y=weekly["supply_fte"].to_list(), name="supply", marker_color="#90A4AE")
    fig.add_scatter(
        x=weekly["week"].to_list(),
        y=weekly["required_fte"].to_list(),
        name="required (forecast)",
        line={"color": PALETTE[1]},
    )
    fig.add_scatter(
        x=weekly["week"].to_list(),
        y=weekly["required_fte_hi_80"].to_list(),
        name="required (80 % upper bound)",
        line={"color": PALETTE[1], "dash": "dot"},
    )
    fig.update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis_title="FTE",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def backlog_chart(plan: pl.DataFrame) -> go.Figure:
    """Projected backlog (hours of work) at the end of each week, per vendor."""
    fig = go.Figure()
    for i, vendor in enumerate(sorted(plan["vendor"].unique().to_list())):
        part = plan.filter(pl.col("vendor") == vendor).sort("week")
        fig.add_scatter(
            x=part["week"].to_list(),
            y=part["backlog_hours_end"].to_list(),
            name=vendor,
            line={"color": PALETTE[i % len(PALETTE)]},
        )
    fig.update_layout(
        height=300,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis_title="backlog (hours of work)",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def interval_staffing_chart(staffing: pl.DataFrame) -> go.Figure:
    """Agents needed per half hour for each live queue (bars) and the offered load in erlangs (line)."""
    fig = go.Figure()
    for i, queue in enumerate(sorted(staffing["queue"].unique().to_list())):
        part = staffing.filter(pl.col("queue") == queue).sort("interval_start")
        fig.add_bar(
            x=part["interval_start"].to_list(),
            y=part["agents"].to_list(),
            name=f"{queue}: agents",
            marker_color=PALETTE[i % len(PALETTE)],
        )
        fig.add_scatter(
            x=part["interval_start"].to_list(),
            y=part["traffic_erlangs"].to_list(),
            name=f"{queue}: load (erlangs)",
            line={"color": PALETTE[i % len(PALETTE)], "dash": "dot"},
        )
    fig.update_layout(
        barmode="stack",
        height=320,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis_title="agents",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig
