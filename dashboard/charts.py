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
