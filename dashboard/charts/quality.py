"""Vendors & quality: estimates with their 95 % intervals, vendor × group matrices, QA error types, vendor trends
and error rates before and after an event."""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go
import polars as pl

from dashboard.charts.common import add_band, each_group, legend_below, margin
from dashboard.palette import PALETTE, recolour, series_colours

FLAG_COLOURS = {"better": "#2E7D32", "worse": "#C62828"}


def _error_bars(value: pl.Series, low: pl.Series, high: pl.Series, bar_colour: str) -> dict:
    """Horizontal error bars from each value down to `low` and up to `high`."""
    return {
        "type": "data",
        "symmetric": False,
        "array": (high - value).to_list(),
        "arrayminus": (value - low).to_list(),
        "color": bar_colour,
    }


def interval_chart(
    frame: pl.DataFrame,
    label: str,
    value: str,
    low: str,
    high: str,
    n: str,
    *,
    flag: str | None = None,
    axis_title: str = "",
    reference: float | None = None,
    percent: bool = True,
) -> go.Figure:
    """One dot per row with its 95 % interval; coloured only where `flag` says a difference is significant."""
    data = frame.filter(pl.col(value).is_not_null()).sort(value)
    flags = data[flag].to_list() if flag else [None] * data.height
    number = ".1%" if percent else ".2f"
    fig = go.Figure(
        go.Scatter(
            x=data[value].to_list(),
            y=[str(v) for v in data[label].to_list()],
            mode="markers",
            marker={"size": 10, "color": [FLAG_COLOURS.get(f or "", "#607D8B") for f in flags]},
            error_x=_error_bars(data[value], data[low], data[high], "#90A4AE"),
            customdata=list(zip(data[low].to_list(), data[high].to_list(), data[n].to_list(), flags, strict=True)),
            hovertemplate=f"%{{y}}<br>%{{x:{number}}} (95 %: %{{customdata[0]:{number}}}–%{{customdata[1]:{number}}})"
            "<br>n = %{customdata[2]:,}<br>%{customdata[3]}<extra></extra>",
        )
    )
    if reference is not None:
        fig.add_vline(x=reference, line_dash="dot", line_color="#757575", annotation_text="all")
    fig.update_layout(
        height=max(200, 30 * data.height + 70),
        margin=margin(20),
        xaxis={"title": axis_title, "tickformat": ".0%" if percent else None},
        showlegend=False,
    )
    return fig


def matrix_heatmap(
    frame: pl.DataFrame,
    x: str,
    y: str,
    value: str,
    *,
    n: str | None = None,
    text_format: str = ".0%",
    colorscale: str = "RdYlGn",
    title: str = "",
) -> go.Figure:
    """A y × x matrix of `value` (e.g. vendor × policy domain), with the sample size on hover."""
    xs = sorted(frame[x].drop_nulls().unique().to_list())
    ys = sorted(frame[y].drop_nulls().unique().to_list())
    lookup = {(r[y], r[x]): (r[value], r[n] if n else None) for r in frame.iter_rows(named=True)}
    z = [[lookup.get((b, a), (None, None))[0] for a in xs] for b in ys]
    counts = [[lookup.get((b, a), (None, None))[1] for a in xs] for b in ys]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=xs,
            y=ys,
            colorscale=colorscale,
            colorbar={"title": title, "tickformat": text_format},
            customdata=counts,
            text=[[f"n {c:,}" if c is not None else "" for c in row] for row in counts],
            texttemplate=f"%{{z:{text_format}}}" + ("<br><sub>%{text}</sub>" if n else ""),
            hovertemplate=f"%{{y}} · %{{x}}<br>%{{z:{text_format}}}"
            + ("<br>n = %{customdata:,}" if n else "")
            + "<extra></extra>",
        )
    )
    fig.update_layout(height=80 + 40 * len(ys), margin=margin())
    return fig


def error_types_chart(
    errors: pl.DataFrame, group: str = "vendor", colours: Mapping[str, str] | None = None
) -> go.Figure:
    """Stacked bars per group: the share of its QA reviews that found each kind of error, each kind in its category
    colour (`colours`, see `palette.series_colours`)."""
    fig = go.Figure()
    for _, kind, part in each_group(errors, "error_type", group):
        fig.add_bar(
            y=[str(v) for v in part[group].to_list()],
            x=part["error_share"].to_list(),
            orientation="h",
            name=kind,
            customdata=list(zip(part["errors"].to_list(), part["reviews"].to_list(), strict=True)),
            hovertemplate=f"%{{y}}<br>{kind}: %{{x:.1%}} of reviews"
            "<br>%{customdata[0]:,} of %{customdata[1]:,} reviews<extra></extra>",
        )
    fig.update_layout(
        barmode="stack",
        height=max(220, 34 * errors[group].n_unique() + 90),
        margin=margin(),
        xaxis={"title": "share of QA reviews with this error", "tickformat": ".0%"},
        legend=legend_below(-0.25),
    )
    return recolour(fig, series_colours(errors["error_type"].unique(), colours))


def vendor_trend_chart(
    trend: pl.DataFrame,
    value: str,
    *,
    low: str | None = None,
    high: str | None = None,
    axis_title: str = "",
    colours: Mapping[str, str] | None = None,
) -> go.Figure:
    """One line per vendor over the periods in its category colour (`colours`, see `palette.series_colours`); 95 %
    bands when the measure has them and at most two vendors are shown (more overlapping bands are unreadable)."""
    fig = go.Figure()
    percent = low is not None
    bands = bool(low and high) and trend["vendor"].n_unique() <= 2
    for _, vendor, rows in each_group(trend, "vendor", "period"):
        part = rows.filter(pl.col(value).is_not_null())
        days = part["period"].to_list()
        if bands:
            add_band(
                fig,
                days,
                part[low].to_list(),
                part[high].to_list(),
                opacity=0.15,
                legendgroup=vendor,
                showlegend=False,
            )
        fig.add_scatter(
            x=days,
            y=part[value].to_list(),
            name=vendor,
            legendgroup=vendor,
            hovertemplate=f"{vendor}<br>%{{x|%d %b %Y}}<br>%{{y:{'.1%' if percent else ',.1f'}}}<extra></extra>",
        )
    fig.update_layout(
        height=340,
        margin=margin(),
        yaxis={"title": axis_title, "tickformat": ".0%" if percent else None},
        legend=legend_below(),
    )
    return recolour(fig, series_colours(trend["vendor"].unique(), colours))


def before_after_chart(effects: pl.DataFrame) -> go.Figure:
    """Error rate before and after an event per vendor × policy domain, each with its 95 % interval."""
    data = effects.sort("vendor", "policy_domain")
    labels = [f"{r['vendor']} · {r['policy_domain']}" for r in data.iter_rows(named=True)]
    fig = go.Figure()
    for when, dot_colour in (("before", "#90A4AE"), ("after", PALETTE[0])):
        rate = data[f"error_rate_{when}"]
        fig.add_scatter(
            x=rate.to_list(),
            y=labels,
            mode="markers",
            name=when,
            orientation="h",
            offsetgroup=when,
            marker={"size": 10, "color": dot_colour},
            error_x=_error_bars(rate, data[f"{when}_ci_low"], data[f"{when}_ci_high"], dot_colour),
            customdata=data[f"reviews_{when}"].to_list(),
            hovertemplate=f"%{{y}}<br>{when}: %{{x:.1%}} errors, n = %{{customdata:,}}<extra></extra>",
        )
    fig.update_layout(
        height=max(220, 40 * data.height + 80),
        margin=margin(),
        xaxis={"title": "error rate (1 − QA accuracy)", "tickformat": ".0%"},
        legend=legend_below(),
        scattermode="group",
    )
    return fig
