"""Turnaround & SLA: durations on log scales with human tick labels (percentiles over time, distributions, per
group), SLA attainment, backlog flow and aging, exposure before action and hour-of-week heatmaps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import plotly.graph_objects as go
import polars as pl

from dashboard.charts.common import (
    GOAL_COLOUR,
    NOT_GIVEN,
    add_goal_line,
    largest_first,
    legend_below,
    margin,
)
from dashboard.palette import PALETTE, recolour, series_colours

GoalSteps = list[tuple[dt.date, dt.date, float, str]]  # (first day, last day, goal, label) per stretch

# Human tick marks for duration axes: (hours, label); wide ranges keep only the COARSE_TICKS.
DURATION_TICKS = tuple(
    (seconds / 3600, label)
    for seconds, label in (
        (1, "1 s"),
        (2, "2 s"),
        (5, "5 s"),
        (10, "10 s"),
        (30, "30 s"),
        (60, "1 min"),
        (120, "2 min"),
        (300, "5 min"),
        (600, "10 min"),
        (1800, "30 min"),
        (3600, "1 h"),
        (7200, "2 h"),
        (14400, "4 h"),
        (43200, "12 h"),
        (86400, "1 d"),
        (259200, "3 d"),
        (604800, "1 w"),
        (2592000, "30 d"),
    )
)
COARSE_TICKS = ("1 s", "10 s", "1 min", "10 min", "1 h", "4 h", "1 d", "3 d", "1 w", "30 d")
PERCENTILE_STYLES = {
    "p50_hours": ("P50", "solid", "#3366CC"),
    "p90_hours": ("P90", "dash", "#FF9900"),
    "p99_hours": ("P99", "dot", "#DC3912"),
}
AGE_COLOURS = ("#C8E6C9", "#81C784", "#FFB74D", "#E57373", "#B71C1C")  # young to old


def duration_label(hours: float | None) -> str:
    """Hours as seconds, minutes, hours or days, whichever reads best."""
    if hours is None:
        return "–"
    if hours < 1 / 60:
        return f"{hours * 3600:.0f} s"
    if hours < 1:
        return f"{hours * 60:.1f} min"
    if hours < 72:
        return f"{hours:,.1f} h"
    return f"{hours / 24:,.1f} d"


def _log_seconds(hours: list[float | None]) -> list[float | None]:
    """Positions on a log10-seconds axis; durations under 1 s sit just left of the 1 s mark."""
    return (pl.Series(hours, dtype=pl.Float64) * 3600).clip(10**-0.25).log10().to_list()


def _duration_axis(low_hours: float, high_hours: float, log_seconds: bool = False) -> dict:
    """Axis settings with human ticks (1 s … 30 d) around low…high."""
    ticks = [(h, label) for h, label in DURATION_TICKS if low_hours / 2 <= h <= high_hours * 2]
    if len(ticks) > 9:
        ticks = [(h, label) for h, label in ticks if label in COARSE_TICKS]
    values = _log_seconds([h for h, _ in ticks]) if log_seconds else [h for h, _ in ticks]
    axis = {"tickvals": values, "ticktext": [label for _, label in ticks]}
    return axis if log_seconds else axis | {"type": "log"}


def _range(frame: pl.DataFrame, columns: list[str]) -> tuple[float, float]:
    values = [v for c in columns for v in frame[c].to_list() if v is not None and v > 0]
    return (min(values), max(values)) if values else (1 / 60, 24.0)


def percentile_trend_chart(
    over_time: pl.DataFrame,
    by: str | None = None,
    stat: str = "p90_hours",
    goals: dict[str, GoalSteps] | None = None,
    colours: Mapping[str, str] | None = None,
) -> go.Figure:
    """Durations per period on a log scale: P50/P90/P99 and mean in total, or one statistic per group in its
    category colour (`colours`, see `palette.series_colours`); the goal of each statistic drawn (`goals`: statistic
    → its goal steps; split by a group, only the shown statistic's)."""
    fig = go.Figure()
    groups: list[str] = []
    if by is None:
        styles = [(c, name, {"color": colour, "dash": dash}) for c, (name, dash, colour) in PERCENTILE_STYLES.items()]
        for column, name, line in [*styles, ("mean_hours", "mean", {"color": "#616161", "width": 1})]:
            if column != "mean_hours" and over_time.height and over_time[column].null_count() == over_time.height:
                continue  # no P99 from aggregates
            fig.add_scatter(
                x=over_time["period"].to_list(),
                y=over_time[column].to_list(),
                name=name,
                mode="lines",
                line=line,
                customdata=[duration_label(v) for v in over_time[column].to_list()],
                hovertemplate=f"{name} %{{customdata}}<extra></extra>",
            )
        columns = [*PERCENTILE_STYLES, "mean_hours"]
    else:
        data = over_time.with_columns(pl.col(by).cast(pl.String).fill_null(NOT_GIVEN))
        groups = largest_first(data, by)
        for group in groups:
            part = data.filter(pl.col(by) == group).sort("period")
            fig.add_scatter(
                x=part["period"].to_list(),
                y=part[stat].to_list(),
                name=group,
                mode="lines",
                customdata=[duration_label(v) for v in part[stat].to_list()],
                hovertemplate=f"{group} %{{customdata}}<extra></extra>",
            )
        columns = [stat]
    low, high = _range(over_time, columns)
    for column, steps in (goals or {}).items():
        if column in columns and steps:
            add_goal_line(fig, steps, f"{PERCENTILE_STYLES.get(column, ('mean',))[0]} goal")
            low, high = min(low, *(s[2] for s in steps)), max(high, *(s[2] for s in steps))
    fig.update_layout(
        height=340,
        margin=margin(),
        yaxis=_duration_axis(low, high),
        legend=legend_below(-0.15),
        hovermode="x unified",
    )
    return recolour(fig, series_colours(groups, colours))


def duration_distribution_chart(
    histogram: pl.DataFrame, by: str | None = None, colours: Mapping[str, str] | None = None
) -> go.Figure:
    """Log-scale histogram (share per bin) with the ECDF on the right axis; one ECDF per group when split, each in
    its category colour (`colours`, see `palette.series_colours`)."""
    fig = go.Figure()
    groups: list = [None]
    if by is not None:
        histogram = histogram.with_columns(pl.col(by).cast(pl.String).fill_null(NOT_GIVEN))
        groups = largest_first(histogram, by)
    for group in groups:
        part = histogram if group is None else histogram.filter(pl.col(by) == group)
        lower, upper = part["lower_hours"].to_list(), part["upper_hours"].to_list()
        labels = [
            f"{duration_label(lo) if lo else '0 s'} – {duration_label(hi) if hi is not None else '…'}"
            for lo, hi in zip(lower, upper, strict=True)
        ]
        if group is None:
            fig.add_bar(
                x=[x + 0.125 if lo else -0.125 for x, lo in zip(_log_seconds(lower), lower, strict=True)],
                y=part["share"].to_list(),
                width=0.25,
                name="share of tickets",
                marker_color="#90A4AE",
                customdata=list(zip(labels, part["tickets"].to_list(), strict=True)),
                hovertemplate="%{customdata[0]}: %{customdata[1]:,} tickets (%{y:.1%})<extra></extra>",
            )
        ends = [
            (x, share)
            for x, hi, share in zip(_log_seconds(upper), upper, part["cum_share"].to_list(), strict=True)
            if hi is not None
        ]
        fig.add_scatter(
            x=[x for x, _ in ends],
            y=[y for _, y in ends],
            yaxis="y2",
            mode="lines",
            name="share done within (ECDF)" if group is None else group,
            line={"color": PALETTE[1]} if group is None else None,
            customdata=[duration_label(hi) for hi in upper if hi],
            hovertemplate=("" if group is None else f"{group}: ") + "%{y:.1%} within %{customdata}<extra></extra>",
        )
    low, high = _range(histogram, ["upper_hours"])
    fig.update_layout(
        height=340,
        margin=margin(),
        xaxis=_duration_axis(low, high, log_seconds=True) | {"title": "duration (log scale)"},
        yaxis={"title": "share of tickets", "tickformat": ".0%", "visible": by is None},
        yaxis2={
            "title": "done within (ECDF)",
            "tickformat": ".0%",
            "overlaying": "y",
            "side": "right",
            "range": [0, 1.02],
            "dtick": 0.25,
            "showgrid": False,
        },
        legend=legend_below(-0.25),
        bargap=0.05,
    )
    return recolour(fig, series_colours([] if by is None else groups, colours))


def group_percentiles_chart(frame: pl.DataFrame, by: str) -> go.Figure:
    """P50, P90 and P99 per group as dots on a log scale, slowest P90 at the top."""
    data = frame.with_columns(pl.col(by).fill_null(NOT_GIVEN)).sort("p90_hours", nulls_last=False)
    labels = [str(v) for v in data[by].to_list()]
    span_x: list[float | None] = []
    span_y: list[str | None] = []
    top = "p90_hours" if data["p99_hours"].null_count() == data.height else "p99_hours"  # no P99 from aggregates
    for label, low, high in zip(labels, data["p50_hours"].to_list(), data[top].to_list(), strict=True):
        span_x += [low, high, None]
        span_y += [label, label, None]
    fig = go.Figure()
    fig.add_scatter(
        x=span_x,
        y=span_y,
        mode="lines",
        line={"color": "#CFD8DC", "width": 6},
        hoverinfo="skip",
        showlegend=False,
    )
    for column, (name, _, dot_colour) in PERCENTILE_STYLES.items():
        if data.height and data[column].null_count() == data.height:
            continue
        fig.add_scatter(
            x=data[column].to_list(),
            y=labels,
            mode="markers",
            name=name,
            marker={"size": 11, "color": dot_colour, "symbol": {"P50": "circle", "P90": "diamond", "P99": "x"}[name]},
            customdata=list(
                zip([duration_label(v) for v in data[column].to_list()], data["measured"].to_list(), strict=True)
            ),
            hovertemplate=f"%{{y}}<br>{name} %{{customdata[0]}} (%{{customdata[1]:,}} measured)<extra></extra>",
        )
    fig.update_layout(
        height=max(220, 32 * data.height + 80),
        margin=margin(),
        xaxis=_duration_axis(*_range(data, list(PERCENTILE_STYLES))),
        legend=legend_below(-0.15),
    )
    return fig


def sla_attainment_chart(frame: pl.DataFrame, group: str, goal: tuple[float, str] | None = None) -> go.Figure:
    """Attainment per group as dots (the axis zooms to the values), lowest at the top, met / measured on hover; the
    attainment goal (value, label) as a vertical line."""
    data = (
        frame.filter(pl.col("measured") > 0)
        .with_columns(pl.col(group).fill_null("(none)"))
        .sort("attainment", descending=True)
    )
    fig = go.Figure(
        go.Scatter(
            x=data["attainment"].to_list(),
            y=[str(v) for v in data[group].to_list()],
            mode="markers+text",
            marker={"size": 14, "color": PALETTE[0]},
            text=[f"{a:.1%}" for a in data["attainment"].to_list()],
            textposition="middle left",
            customdata=list(zip(data["met"].to_list(), data["measured"].to_list(), strict=True)),
            hovertemplate="%{y}<br>%{customdata[0]:,} of %{customdata[1]:,} within target (%{x:.1%})<extra></extra>",
        )
    )
    low = min([*data["attainment"].to_list(), *([goal[0]] if goal else [])], default=0.9)
    if goal:
        fig.add_vline(
            x=goal[0],
            line={"color": GOAL_COLOUR, "dash": "dash", "width": 2},
            annotation_text=f"goal {goal[1]}",
            annotation_position="top",
        )
    fig.update_layout(
        height=max(200, 34 * data.height + 70),
        margin=margin(30 if goal else 10),  # room above the plot for the goal's label
        xaxis={"tickformat": ".0%", "range": [max(0.0, low - 0.04), 1.005], "title": "within target"},
    )
    return fig


def attainment_trend_chart(daily: pl.DataFrame, goal_steps: GoalSteps | None = None) -> go.Figure:
    """SLA attainment per period (`period`, `attainment`) as a line, with the attainment goal as a step line."""
    fig = go.Figure()
    fig.add_scatter(
        x=daily["period"].to_list(),
        y=daily["attainment"].to_list(),
        name="SLA attainment",
        mode="lines+markers",
        line={"color": PALETTE[0]},
        hovertemplate="%{x|%a %d %b %Y}: %{y:.1%} within target<extra></extra>",
    )
    values = [v for v in daily["attainment"].to_list() if v is not None]
    if goal_steps:
        add_goal_line(fig, goal_steps)
        values += [s[2] for s in goal_steps]
    low = min(values, default=0.9)
    fig.update_layout(
        height=300,
        margin=margin(),
        yaxis={"tickformat": ".0%", "range": [max(0.0, low - 0.03), 1.005], "title": "within target"},
        legend=legend_below(),
        hovermode="x unified",
    )
    return fig


def backlog_flow_chart(backlog: pl.DataFrame) -> go.Figure:
    """Arrivals and closures per period as bars, open tickets at each period's end as a line (right axis)."""
    periods = backlog["period"].to_list()
    fig = go.Figure()
    fig.add_bar(x=periods, y=backlog["arrivals"].to_list(), name="arrivals", marker_color=PALETTE[0])
    fig.add_bar(x=periods, y=backlog["closures"].to_list(), name="closures", marker_color="#90A4AE")
    fig.add_scatter(
        x=periods,
        y=backlog["open_end"].to_list(),
        name="open at end of day",
        yaxis="y2",
        mode="lines+markers",
        line={"color": PALETTE[1], "width": 2},
    )
    fig.update_layout(
        barmode="group",
        height=320,
        margin=margin(),
        yaxis={"title": "tickets per day"},
        yaxis2={
            "title": "open tickets",
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
            "tickmode": "auto",
        },
        legend=legend_below(),
        hovermode="x unified",
    )
    return fig


def backlog_aging_chart(aging: pl.DataFrame) -> go.Figure:
    """Open tickets at the end of each day, stacked by age bucket (youngest at the bottom)."""
    fig = go.Figure()
    for i, bucket in enumerate(aging["age_bucket"].unique(maintain_order=True).to_list()):
        part = aging.filter(pl.col("age_bucket") == bucket)
        fig.add_bar(
            x=part["period"].to_list(),
            y=part["open_tickets"].to_list(),
            name=bucket,
            marker_color=AGE_COLOURS[i % len(AGE_COLOURS)],
        )
    fig.update_layout(
        barmode="stack",
        height=300,
        margin=margin(),
        yaxis_title="open at end of day",
        legend=legend_below(title="age", traceorder="normal"),
        hovermode="x unified",
    )
    return fig


def exposure_chart(exposure: pl.DataFrame, by: str = "policy_domain") -> go.Figure:
    """Per group: P90 hours to first action (x, log) against P90 views before action (y); bubble size = tickets.

    Slow handling of high-reach content sits top right.
    """
    data = exposure.filter(pl.col("p90_hours_to_action").is_not_null() & pl.col("p90_views").is_not_null())
    peak = max(data["tickets"].to_list(), default=1) or 1
    fig = go.Figure(
        go.Scatter(
            x=data["p90_hours_to_action"].to_list(),
            y=data["p90_views"].to_list(),
            mode="markers+text",
            text=[str(v) for v in data[by].to_list()],
            textposition="top center",
            textfont={"size": 10},
            marker={
                "size": [12 + 30 * (t / peak) ** 0.5 for t in data["tickets"].to_list()],
                "color": data["zero_view_share"].to_list(),
                "colorscale": "RdYlGn",
                "cmin": 0,
                "cmax": 1,
                "colorbar": {"title": "before any<br>views", "tickformat": ".0%"},
                "line": {"width": 1, "color": "#424242"},
            },
            customdata=list(
                zip(
                    [duration_label(v) for v in data["p90_hours_to_action"].to_list()],
                    data["tickets"].to_list(),
                    data["zero_view_share"].to_list(),
                    data["within_24h_share"].to_list(),
                    strict=True,
                )
            ),
            hovertemplate="%{text}<br>P90 time to action %{customdata[0]}<br>P90 views before action %{y:,.0f}"
            "<br>%{customdata[1]:,} actioned · %{customdata[2]:.1%} before any views · "
            "%{customdata[3]:.1%} within 24 h<extra></extra>",
        )
    )
    fig.update_layout(
        height=380,
        margin=margin(),
        xaxis=_duration_axis(*_range(data, ["p90_hours_to_action"])) | {"title": "P90 time to first action"},
        yaxis={"title": "P90 views before action", "rangemode": "tozero"},
    )
    return fig


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def hour_of_week_chart(grid: pl.DataFrame, value: str) -> go.Figure:
    """Weekday × hour (UTC) heatmap of `arrivals_per_hour` or `p50_hours_to_action` (log colour, human labels)."""
    cells = {(r["weekday"], r["hour"]): r[value] for r in grid.iter_rows(named=True)}
    rows = [[cells.get((d, h)) for h in range(24)] for d in range(1, 8)]
    if value == "p50_hours_to_action":
        z = [_log_seconds(row) for row in rows]
        text = [[duration_label(v) if v is not None else "" for v in row] for row in rows]
        flat = sorted(v for row in rows for v in row if v is not None)
        marks = [flat[0], flat[len(flat) // 2], flat[-1]] if flat else []  # fastest, middle, slowest cell
        colorbar = {"title": "median", "tickvals": _log_seconds(marks), "ticktext": [duration_label(v) for v in marks]}
        colorscale, hover = "YlOrRd", "median time to action %{text}"
    else:
        z = rows
        text = [[f"{v:,.1f}" if v is not None else "" for v in row] for row in rows]
        colorbar, colorscale, hover = {"title": "tickets<br>per hour"}, "Blues", "%{text} tickets per hour (mean)"
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(range(24)),
            y=list(WEEKDAYS),
            text=text,
            texttemplate="%{text}",  # each cell's value, readable without hovering
            textfont={"size": 11},
            colorscale=colorscale,
            colorbar=colorbar,
            hoverongaps=False,
            hovertemplate=f"%{{y}} %{{x}}:00 UTC<br>{hover}<extra></extra>",
        )
    )
    fig.update_layout(
        height=300,
        margin=margin(),
        xaxis={"title": "hour of day (UTC)", "dtick": 1},
        yaxis={"autorange": "reversed"},
    )
    return fig
