"""Ticket volumes over time (Overview, Trends & spikes): weekly mix, movers, volumes, spikes and forecast bands,
with events drawn on every time chart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import plotly.graph_objects as go
import polars as pl

from dashboard.charts.common import NOT_GIVEN, add_band, largest_first, legend_below, margin
from dashboard.palette import PALETTE, recolour, series_colours
from queries.display import display_value

EVENT_COLOURS = {
    "policy_change": "#7B1FA2",
    "model_launch": "#1565C0",
    "product_launch": "#00838F",
    "news_event": "#C62828",
    "outage": "#424242",
    "holiday": "#2E7D32",
    "training": "#EF6C00",
}
WEEK_MS = 7 * 24 * 3600 * 1000
A_MONDAY = "2024-01-01"  # weeks start on Mondays
TREND_AXIS = {
    "tickets": "tickets",
    "share": "share of tickets",
    "tickets_per_million_dau": "daily tickets per 1M DAU",
}


def weekly_trend_chart(
    trend: pl.DataFrame,
    events: pl.DataFrame,
    highlight: tuple[dt.date, dt.date] | None = None,
    colours: Mapping[str, str] | None = None,
) -> go.Figure:
    """Stacked weekly tickets by the trend's group column, each group in its category colour (`colours`, see
    `palette.series_colours`), with events as shaded spans and markers."""
    group = next((c for c in trend.columns if c not in ("week", "tickets")), None)
    if group:
        trend = trend.with_columns(pl.col(group).fill_null(NOT_GIVEN))
    fig = go.Figure()
    names = largest_first(trend, group) if group else []
    for name in names:
        part = trend.filter(pl.col(group) == name).sort("week")
        fig.add_bar(
            x=part["week"].to_list(),
            y=part["tickets"].to_list(),
            name=str(name),
            hovertemplate=f"{name}<br>week of %{{x|%d %b %Y}}<br>%{{y:,}} tickets<extra></extra>",
        )
    if not group:
        fig.add_bar(x=trend["week"].to_list(), y=trend["tickets"].to_list(), name="tickets", marker_color=PALETTE[0])
    # each bar spans its week (Monday to Sunday), so the period and the events shaded below line up with it
    fig.update_traces(xperiod=WEEK_MS, xperiod0=A_MONDAY, xperiodalignment="middle", selector={"type": "bar"})
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
        margin=margin(30),
        legend=legend_below(-0.15),
        yaxis_title="tickets per week",
        hovermode="closest",
    )
    return recolour(fig, series_colours(names, colours))


def _add_events(fig: go.Figure, events: pl.DataFrame, top: float | None) -> None:
    """Events as light spans plus one hoverable marker each, above the bars."""
    if events.is_empty() or not top:
        return
    # The spans as one layout update: add_vrect per event re-validates every shape so far (20 events: 317 ms vs 9 ms).
    spans = [
        {
            "type": "rect",
            "xref": "x",
            "yref": "y domain",
            "x0": row["start"],
            "x1": row["end"] + dt.timedelta(days=1),
            "y0": 0,
            "y1": 1,
            "fillcolor": EVENT_COLOURS.get(row.get("kind") or "", "#757575"),
            "opacity": 0.08,
            "line_width": 0,
        }
        for row in events.iter_rows(named=True)
    ]
    fig.update_layout(shapes=[*fig.layout.shapes, *spans])
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
            f"{r['title']}<br>{display_value('kind', r['kind'])} · {r['start']:%d %b %Y}"
            + (f" – {r['end']:%d %b %Y}" if r["end"] != r["start"] else "")
            for r in events.iter_rows(named=True)
        ],
        hovertemplate="%{text}<extra></extra>",
    )


def _change_bars(changes: list[float], labels: list[str], customdata: list, hovertemplate: str) -> go.Bar:
    """Horizontal bars of a change per group, rises red and falls blue."""
    return go.Bar(
        x=changes,
        y=labels,
        orientation="h",
        marker_color=["#C62828" if c > 0 else "#1565C0" for c in changes],
        customdata=customdata,
        hovertemplate=hovertemplate,
    )


def movers_chart(movers: pl.DataFrame, by: tuple[str, ...] = ("policy_domain", "market")) -> go.Figure:
    """Horizontal bars of the change in tickets per group, rises red and falls blue."""
    data = movers.sort(pl.col("change").abs())
    fig = go.Figure(
        _change_bars(
            data["change"].to_list(),
            [" · ".join(str(r[c]) for c in by) for r in data.iter_rows(named=True)],
            list(zip(data["previous_tickets"].to_list(), data["tickets"].to_list(), strict=True)),
            "%{y}<br>%{customdata[0]:,} → %{customdata[1]:,} tickets (%{x:+,})<extra></extra>",
        )
    )
    fig.update_layout(
        height=max(220, 28 * data.height + 60), margin=margin(), xaxis_title="change in tickets vs previous period"
    )
    return fig


def volume_chart(
    volumes: pl.DataFrame, measure: str, events: pl.DataFrame, colours: Mapping[str, str] | None = None
) -> go.Figure:
    """One line per group (the largest 15) of tickets, share of mix (stacked) or daily tickets per 1M DAU, each
    group in its category colour (`colours`, see `palette.series_colours`).

    Periods cut by the selection are hollow markers; for ticket counts they stay off the line,
    which would otherwise plunge at a partial first or last week. Events as in the Overview.
    """
    group = next((c for c in volumes.columns if c not in ("period", *TREND_AXIS, "days", "partial")), None)
    data = volumes.with_columns(pl.col(group).cast(pl.String).fill_null(NOT_GIVEN)) if group else volumes
    labels = [str(name) for name in largest_first(data, group)[:15]] if group else ["all tickets"]
    value_format = ".1%" if measure == "share" else ",.2f"
    fig = go.Figure()
    for label in labels:
        part = (data.filter(pl.col(group) == label) if group else data).sort("period")
        partial = part["partial"].to_list()
        values = part[measure].to_list()
        shared = {
            "x": part["period"].to_list(),
            "customdata": list(zip(part["tickets"].to_list(), part["days"].to_list(), strict=True)),
            "hovertemplate": f"{label}<br>%{{x|%d %b %Y}}: %{{y:{value_format}}}"
            "<br>%{customdata[0]:,} tickets in %{customdata[1]} days<extra></extra>",
        }
        cut = measure == "tickets" and any(partial)
        fig.add_scatter(
            y=[None if p and cut else v for v, p in zip(values, partial, strict=True)],
            name=label,
            legendgroup=label,
            mode="lines+markers",
            stackgroup="share" if measure == "share" else None,
            marker={"symbol": ["circle-open" if p else "circle" for p in partial], "size": 6},
            **shared,
        )
        if cut:
            fig.add_scatter(
                y=[v if p else None for v, p in zip(values, partial, strict=True)],
                name=label,
                legendgroup=label,
                showlegend=False,
                mode="markers",
                marker={"symbol": "circle-open", "size": 8},
                **shared,
            )
    top = 1.0 if measure == "share" else data[measure].max()
    _add_events(fig, events, top)
    fig.update_layout(
        height=380,
        margin=margin(30),
        legend=legend_below(-0.15),
        yaxis={"title": TREND_AXIS[measure], "tickformat": ".0%" if measure == "share" else None},
        hovermode="closest",
    )
    return recolour(fig, series_colours(labels, colours))


def spike_chart(daily: pl.DataFrame, spike: dict, events: pl.DataFrame) -> go.Figure:
    """One group's daily tickets against its expected volume, with the spike shaded and events marked."""
    fig = go.Figure()
    fig.add_bar(
        x=daily["day"].to_list(),
        y=daily["tickets"].to_list(),
        name="tickets",
        marker_color="#90A4AE",
        hovertemplate="%{x|%a %d %b %Y}<br>%{y:,} tickets<extra></extra>",
    )
    fig.add_scatter(
        x=daily["day"].to_list(),
        y=daily["expected"].to_list(),
        name="expected",
        line={"color": PALETTE[0], "dash": "dash"},
        hovertemplate="%{x|%a %d %b %Y}<br>expected %{y:,.1f}<extra></extra>",
    )
    fig.add_vrect(
        x0=spike["start"],
        x1=spike["end"] + dt.timedelta(days=1),
        fillcolor="#C62828",
        opacity=0.12,
        line_width=0,
        annotation_text=f"+{spike['excess']:,.0f} tickets (×{spike['ratio']:.1f})",
        annotation_position="top left",
    )
    _add_events(fig, events, daily["tickets"].max())
    fig.update_layout(height=320, margin=margin(30), legend=legend_below(), yaxis_title="tickets per day", bargap=0.1)
    return fig


def forecast_band_chart(band: pl.DataFrame, events: pl.DataFrame) -> go.Figure:
    """Actual daily tickets against past forecasts and their 95 % band; days outside the band marked red."""
    days = band["ds"].to_list()
    fig = go.Figure()
    add_band(
        fig, days, band["lo_95"].to_list(), band["hi_95"].to_list(), fillcolor="rgba(51,102,204,0.15)", name="95 % band"
    )
    fig.add_scatter(x=days, y=band["mean"].to_list(), name="forecast", line={"color": PALETTE[0], "dash": "dash"})
    fig.add_scatter(x=days, y=band["actual"].to_list(), name="actual", line={"color": "#424242"})
    outside = band.filter(pl.col("outside").is_not_null())
    fig.add_scatter(
        x=outside["ds"].to_list(),
        y=outside["actual"].to_list(),
        mode="markers",
        name="outside the band",
        marker={"color": "#C62828", "size": 9},
        text=outside["outside"].to_list(),
        hovertemplate="%{x|%a %d %b %Y}<br>%{y:,.0f} tickets: %{text} the 95 % band<extra></extra>",
    )
    _add_events(fig, events, band["hi_95"].max())
    fig.update_layout(
        height=320, margin=margin(30), yaxis_title="tickets per day", legend=legend_below(), hovermode="x unified"
    )
    return fig
