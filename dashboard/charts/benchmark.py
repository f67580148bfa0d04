"""Public benchmark: the EU DSA Transparency Database per platform next to your own figures."""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import polars as pl

from dashboard.charts.common import each_group, largest_first, legend_below, margin
from dashboard.palette import MAX_SERIES, OTHER, category_colours
from queries.analyses.dsa import OWN
from queries.display import display_value

OWN_COLOUR = "#212121"


def benchmark_chart(
    frame: pl.DataFrame, measure: str, title: str, colours: dict[str, str], log_y: bool = False
) -> go.Figure:
    """One line per platform over time, each in its colour (`colours`; your platform black); days a platform did
    not report are left as gaps, not joined."""
    fig = go.Figure()
    for _, platform, part in each_group(frame, "platform", "date"):
        fig.add_scatter(
            x=part["date"].to_list(),
            y=part[measure].to_list(),
            name=platform,
            mode="lines",
            connectgaps=False,
            line={"color": colours.get(platform, OWN_COLOUR), "width": 2.5 if platform == OWN else 1.5},
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


def category_mix_chart(mix: pl.DataFrame, platform: str, break_day: dt.date, top: int = MAX_SERIES) -> go.Figure:
    """Monthly category shares of one platform as stacked bars, the `top` categories with most statements and the
    rest as "Other", with the taxonomy change marked."""
    part = mix.filter(pl.col("platform") == platform)
    ranked = largest_first(part, "category", "statements")
    kept = ranked[:top]
    part = part.with_columns(
        pl.when(pl.col("category").is_in(kept)).then(pl.col("category")).otherwise(pl.lit(OTHER)).alias("category")
    )
    part = part.group_by("month", "category").agg(pl.col("share", "statements").sum())
    names = [*kept, *([OTHER] if len(ranked) > top else [])]
    colours = category_colours(sorted(mix["category"].unique().to_list()))
    fig = go.Figure()
    for category in names:
        rows = part.filter(pl.col("category") == category).sort("month")
        shown = category if category == OTHER else display_value("dsa_category", category)
        fig.add_bar(
            x=rows["month"].to_list(),
            y=rows["share"].to_list(),
            name=shown,
            marker_color=colours[category],
            hovertemplate=f"{shown}<br>%{{x|%b %Y}}: %{{y:.1%}}<extra></extra>",
        )
    fig.add_vline(x=break_day, line_dash="dash", line_color="#424242")
    fig.add_annotation(x=break_day, y=1.04, text="categories re-defined", showarrow=False, yref="paper")
    fig.update_layout(
        barmode="stack", height=420, margin=margin(30), yaxis={"tickformat": ".0%"}, legend=legend_below(-0.12)
    )
    return fig
