"""Public benchmark: the EU DSA Transparency Database per platform next to your own figures."""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import polars as pl

from dashboard.charts.common import colour, each_group, largest_first, legend_below, margin


def benchmark_chart(frame: pl.DataFrame, measure: str, title: str, log_y: bool = False) -> go.Figure:
    """One line per platform over time; days a platform did not report are left as gaps, not joined."""
    fig = go.Figure()
    for i, platform, part in each_group(frame, "platform", "date"):
        fig.add_scatter(
            x=part["date"].to_list(),
            y=part[measure].to_list(),
            name=platform,
            mode="lines",
            connectgaps=False,
            line={"color": "#212121" if platform == "Your platform" else colour(i), "width": 1.5},
        )
    fig.update_layout(
        title=title,
        height=300,
        margin=margin(40),
        legend=legend_below(),
        yaxis_type="log" if log_y else "linear",
        yaxis_tickformat=".0%" if measure.endswith("_share") else None,
        hovermode="x unified",
    )
    return fig


def category_mix_chart(mix: pl.DataFrame, platform: str, break_day: dt.date) -> go.Figure:
    """Monthly category shares of one platform as stacked bars, with the taxonomy change marked."""
    part = mix.filter(pl.col("platform") == platform)
    fig = go.Figure()
    for i, category in enumerate(largest_first(part, "category", "statements")):
        rows = part.filter(pl.col("category") == category).sort("month")
        fig.add_bar(x=rows["month"].to_list(), y=rows["share"].to_list(), name=category, marker_color=colour(i))
    fig.add_vline(x=break_day, line_dash="dash", line_color="#424242")
    fig.add_annotation(x=break_day, y=1.04, text="categories re-defined", showarrow=False, yref="paper")
    fig.update_layout(
        barmode="stack", height=360, margin=margin(30), yaxis={"tickformat": ".0%"}, legend={"font": {"size": 10}}
    )
    return fig
