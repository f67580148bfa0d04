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


def benchmark_chart(frame: pl.DataFrame, measure: str, title: str, log_y: bool = False) -> go.Figure:
    """One line per platform over time; days a platform did not report are left as gaps, not joined."""
    fig = go.Figure()
    for i, platform in enumerate(sorted(frame["platform"].unique().to_list())):
        part = frame.filter(pl.col("platform") == platform).sort("date")
        fig.add_scatter(
            x=part["date"].to_list(),
            y=part[measure].to_list(),
            name=platform,
            mode="lines",
            connectgaps=False,
            line={"color": "#212121" if platform == "Your platform" else PALETTE[i % len(PALETTE)], "width": 1.5},
        )
    fig.update_layout(
        title=title,
        height=300,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.2},
        yaxis_type="log" if log_y else "linear",
        yaxis_tickformat=".0%" if measure.endswith("_share") else None,
        hovermode="x unified",
    )
    return fig


def category_mix_chart(mix: pl.DataFrame, platform: str, break_day: dt.date) -> go.Figure:
    """Monthly category shares of one platform as stacked bars, with the taxonomy change marked."""
    part = mix.filter(pl.col("platform") == platform)
    fig = go.Figure()
    order = part.group_by("category").agg(pl.col("statements").sum()).sort("statements", descending=True)["category"]
    for i, category in enumerate(order.to_list()):
        rows = part.filter(pl.col("category") == category).sort("month")
        fig.add_bar(
            x=rows["month"].to_list(), y=rows["share"].to_list(), name=category, marker_color=PALETTE[i % len(PALETTE)]
        )
    fig.add_vline(x=break_day, line_dash="dash", line_color="#424242")
    fig.add_annotation(x=break_day, y=1.04, text="categories re-defined", showarrow=False, yref="paper")
    fig.update_layout(
        barmode="stack",
        height=360,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis={"tickformat": ".0%"},
        legend={"font": {"size": 10}},
    )
    return fig


FLAG_COLOURS = {"better": "#2E7D32", "worse": "#C62828"}


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
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (data[high] - data[value]).to_list(),
                "arrayminus": (data[value] - data[low]).to_list(),
                "color": "#90A4AE",
            },
            customdata=list(zip(data[low].to_list(), data[high].to_list(), data[n].to_list(), flags, strict=True)),
            hovertemplate=f"%{{y}}<br>%{{x:{number}}} (95 %: %{{customdata[0]:{number}}}–%{{customdata[1]:{number}}})"
            "<br>n = %{customdata[2]:,}<br>%{customdata[3]}<extra></extra>",
        )
    )
    if reference is not None:
        fig.add_vline(x=reference, line_dash="dot", line_color="#757575", annotation_text="all")
    fig.update_layout(
        height=max(200, 30 * data.height + 70),
        margin={"l": 10, "r": 10, "t": 20, "b": 10},
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
    fig.update_layout(height=80 + 40 * len(ys), margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


def error_types_chart(errors: pl.DataFrame, group: str = "vendor") -> go.Figure:
    """Stacked bars per group: the share of its QA reviews that found each kind of error."""
    fig = go.Figure()
    for i, kind in enumerate(sorted(errors["error_type"].unique().to_list())):
        part = errors.filter(pl.col("error_type") == kind).sort(group)
        fig.add_bar(
            y=[str(v) for v in part[group].to_list()],
            x=part["error_share"].to_list(),
            orientation="h",
            name=kind,
            marker_color=PALETTE[i % len(PALETTE)],
            customdata=list(zip(part["errors"].to_list(), part["reviews"].to_list(), strict=True)),
            hovertemplate=f"%{{y}}<br>{kind}: %{{x:.1%}} of reviews"
            "<br>%{customdata[0]:,} of %{customdata[1]:,} reviews<extra></extra>",
        )
    fig.update_layout(
        barmode="stack",
        height=max(220, 34 * errors[group].n_unique() + 90),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": "share of QA reviews with this error", "tickformat": ".0%"},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def vendor_trend_chart(
    trend: pl.DataFrame, value: str, *, low: str | None = None, high: str | None = None, axis_title: str = ""
) -> go.Figure:
    """One line per vendor over the periods; 95 % bands when the measure has them and at most two vendors
    are shown (more overlapping bands are unreadable)."""
    fig = go.Figure()
    percent = low is not None
    bands = bool(low and high) and trend["vendor"].n_unique() <= 2
    for i, vendor in enumerate(sorted(trend["vendor"].unique().to_list())):
        part = trend.filter((pl.col("vendor") == vendor) & pl.col(value).is_not_null()).sort("period")
        colour = PALETTE[i % len(PALETTE)]
        days = part["period"].to_list()
        if bands:
            fig.add_scatter(
                x=days + days[::-1],
                y=part[high].to_list() + part[low].to_list()[::-1],
                fill="toself",
                fillcolor=colour,
                opacity=0.15,
                line={"width": 0},
                legendgroup=vendor,
                showlegend=False,
                hoverinfo="skip",
            )
        fig.add_scatter(
            x=days,
            y=part[value].to_list(),
            name=vendor,
            legendgroup=vendor,
            line={"color": colour},
            hovertemplate=f"{vendor}<br>%{{x|%d %b %Y}}<br>%{{y:{'.1%' if percent else ',.1f'}}}<extra></extra>",
        )
    fig.update_layout(
        height=340,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis={"title": axis_title, "tickformat": ".0%" if percent else None},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def before_after_chart(effects: pl.DataFrame) -> go.Figure:
    """Error rate before and after an event per vendor × policy domain, each with its 95 % interval."""
    data = effects.sort("vendor", "policy_domain")
    labels = [f"{r['vendor']} · {r['policy_domain']}" for r in data.iter_rows(named=True)]
    fig = go.Figure()
    for when, colour in (("before", "#90A4AE"), ("after", PALETTE[0])):
        rate = data[f"error_rate_{when}"]
        fig.add_scatter(
            x=rate.to_list(),
            y=labels,
            mode="markers",
            name=when,
            orientation="h",
            offsetgroup=when,
            marker={"size": 10, "color": colour},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (data[f"{when}_ci_high"] - rate).to_list(),
                "arrayminus": (rate - data[f"{when}_ci_low"]).to_list(),
                "color": colour,
            },
            customdata=data[f"reviews_{when}"].to_list(),
            hovertemplate=f"%{{y}}<br>{when}: %{{x:.1%}} errors, n = %{{customdata:,}}<extra></extra>",
        )
    fig.update_layout(
        height=max(220, 40 * data.height + 80),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": "error rate (1 − QA accuracy)", "tickformat": ".0%"},
        legend={"orientation": "h", "y": -0.2},
        scattermode="group",
    )
    return fig


# --- Turnaround & SLA --------------------------------------------------------------------------

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


def percentile_trend_chart(over_time: pl.DataFrame, by: str | None = None, stat: str = "p90_hours") -> go.Figure:
    """Durations per period on a log scale: P50/P90/P99 and mean in total, or one statistic per group."""
    fig = go.Figure()
    if by is None:
        for column, (name, dash, colour) in PERCENTILE_STYLES.items():
            if over_time.height and over_time[column].null_count() == over_time.height:  # no P99 from aggregates
                continue
            fig.add_scatter(
                x=over_time["period"].to_list(),
                y=over_time[column].to_list(),
                name=name,
                mode="lines",
                line={"color": colour, "dash": dash},
                customdata=[duration_label(v) for v in over_time[column].to_list()],
                hovertemplate=f"{name} %{{customdata}}<extra></extra>",
            )
        fig.add_scatter(
            x=over_time["period"].to_list(),
            y=over_time["mean_hours"].to_list(),
            name="mean",
            mode="lines",
            line={"color": "#616161", "width": 1},
            customdata=[duration_label(v) for v in over_time["mean_hours"].to_list()],
            hovertemplate="mean %{customdata}<extra></extra>",
        )
        columns = [*PERCENTILE_STYLES, "mean_hours"]
    else:
        data = over_time.with_columns(pl.col(by).fill_null("(not given)"))
        order = data.group_by(by).agg(pl.col("tickets").sum()).sort("tickets", descending=True)[by].to_list()
        for i, group in enumerate(order):
            part = data.filter(pl.col(by) == group).sort("period")
            fig.add_scatter(
                x=part["period"].to_list(),
                y=part[stat].to_list(),
                name=str(group),
                mode="lines",
                line={"color": PALETTE[i % len(PALETTE)]},
                customdata=[duration_label(v) for v in part[stat].to_list()],
                hovertemplate=f"{group} %{{customdata}}<extra></extra>",
            )
        columns = [stat]
    fig.update_layout(
        height=340,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis=_duration_axis(*_range(over_time, columns)),
        legend={"orientation": "h", "y": -0.15},
        hovermode="x unified",
    )
    return fig


def duration_distribution_chart(histogram: pl.DataFrame, by: str | None = None) -> go.Figure:
    """Log-scale histogram (share per bin) with the ECDF on the right axis; one ECDF per group when split."""
    fig = go.Figure()
    groups: list = [None]
    if by is not None:
        histogram = histogram.with_columns(pl.col(by).fill_null("(not given)"))
        groups = histogram.group_by(by).agg(pl.col("tickets").sum()).sort("tickets", descending=True)[by].to_list()
    for i, group in enumerate(groups):
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
            name="share done within (ECDF)" if group is None else str(group),
            line={"color": PALETTE[1] if group is None else PALETTE[i % len(PALETTE)]},
            customdata=[duration_label(hi) for hi in upper if hi],
            hovertemplate=("" if group is None else f"{group}: ") + "%{y:.1%} within %{customdata}<extra></extra>",
        )
    low, high = _range(histogram, ["upper_hours"])
    fig.update_layout(
        height=340,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
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
        legend={"orientation": "h", "y": -0.25},
        bargap=0.05,
    )
    return fig


def group_percentiles_chart(frame: pl.DataFrame, by: str) -> go.Figure:
    """P50, P90 and P99 per group as dots on a log scale, slowest P90 at the top."""
    data = frame.with_columns(pl.col(by).fill_null("(not given)")).sort("p90_hours", nulls_last=False)
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
    for column, (name, _, colour) in PERCENTILE_STYLES.items():
        if data.height and data[column].null_count() == data.height:
            continue
        fig.add_scatter(
            x=data[column].to_list(),
            y=labels,
            mode="markers",
            name=name,
            marker={"size": 11, "color": colour, "symbol": {"P50": "circle", "P90": "diamond", "P99": "x"}[name]},
            customdata=list(
                zip([duration_label(v) for v in data[column].to_list()], data["measured"].to_list(), strict=True)
            ),
            hovertemplate=f"%{{y}}<br>{name} %{{customdata[0]}} (%{{customdata[1]:,}} measured)<extra></extra>",
        )
    fig.update_layout(
        height=max(220, 32 * data.height + 80),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis=_duration_axis(*_range(data, list(PERCENTILE_STYLES))),
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def sla_attainment_chart(frame: pl.DataFrame, group: str) -> go.Figure:
    """Attainment per group as dots (the axis zooms to the values), lowest at the top, met / measured on hover."""
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
    low = min(data["attainment"].to_list(), default=0.9)
    fig.update_layout(
        height=max(200, 34 * data.height + 70),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"tickformat": ".0%", "range": [max(0.0, low - 0.04), 1.005], "title": "within target"},
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
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis={"title": "tickets per day"},
        yaxis2={
            "title": "open tickets",
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
            "tickmode": "auto",
        },
        legend={"orientation": "h", "y": -0.2},
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
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis_title="open at end of day",
        legend={"orientation": "h", "y": -0.2, "title": "age", "traceorder": "normal"},
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
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
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
            colorscale=colorscale,
            colorbar=colorbar,
            hoverongaps=False,
            hovertemplate=f"%{{y}} %{{x}}:00 UTC<br>{hover}<extra></extra>",
        )
    )
    fig.update_layout(
        height=300,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": "hour of day (UTC)", "dtick": 1},
        yaxis={"autorange": "reversed"},
    )
    return fig


TREND_AXIS = {
    "tickets": "tickets",
    "share": "share of tickets",
    "tickets_per_million_dau": "daily tickets per 1M DAU",
}


def volume_chart(volumes: pl.DataFrame, measure: str, events: pl.DataFrame) -> go.Figure:
    """One line per group (the largest 15) of tickets, share of mix (stacked) or daily tickets per 1M DAU.

    Periods cut by the selection are hollow markers; for ticket counts they stay off the line,
    which would otherwise plunge at a partial first or last week. Events as in the Overview.
    """
    group = next((c for c in volumes.columns if c not in ("period", *TREND_AXIS, "days", "partial")), None)
    data = volumes.with_columns(pl.col(group).cast(pl.String).fill_null("(not given)")) if group else volumes
    names = (
        data.group_by(group).agg(pl.col("tickets").sum()).sort("tickets", descending=True)[group].to_list()[:15]
        if group
        else [None]
    )
    value_format = ".1%" if measure == "share" else ",.2f"
    fig = go.Figure()
    for i, name in enumerate(names):
        part = (data.filter(pl.col(group) == name) if group else data).sort("period")
        label = str(name) if group else "all tickets"
        partial = part["partial"].to_list()
        values = part[measure].to_list()
        common = {
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
            line={"color": PALETTE[i % len(PALETTE)]},
            marker={"symbol": ["circle-open" if p else "circle" for p in partial], "size": 6},
            **common,
        )
        if cut:
            fig.add_scatter(
                y=[v if p else None for v, p in zip(values, partial, strict=True)],
                name=label,
                legendgroup=label,
                showlegend=False,
                mode="markers",
                marker={"symbol": "circle-open", "size": 8, "color": PALETTE[i % len(PALETTE)]},
                **common,
            )
    top = 1.0 if measure == "share" else data[measure].max()
    _add_events(fig, events, top)
    fig.update_layout(
        height=380,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": -0.15},
        yaxis={"title": TREND_AXIS[measure], "tickformat": ".0%" if measure == "share" else None},
        hovermode="closest",
    )
    return fig


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
    fig.update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": -0.2},
        yaxis_title="tickets per day",
        bargap=0.1,
    )
    return fig


def contributions_chart(contributions: pl.DataFrame, top: int = 5) -> go.Figure:
    """Change in tickets per day during a spike vs normal, for the largest movers of each dimension."""
    data = pl.concat(
        [part.head(top) for _, part in contributions.group_by("dimension", maintain_order=True)], how="vertical"
    ).reverse()
    labels = [f"{r['dimension']}: {r['value']}" for r in data.iter_rows(named=True)]
    fig = go.Figure(
        go.Bar(
            x=data["change_tickets_per_day"].to_list(),
            y=labels,
            orientation="h",
            marker_color=["#C62828" if c > 0 else "#1565C0" for c in data["change_tickets_per_day"].to_list()],
            customdata=list(
                zip(
                    data["normal_tickets_per_day"].to_list(),
                    data["spike_tickets_per_day"].to_list(),
                    data["change_share"].to_list(),
                    strict=True,
                )
            ),
            hovertemplate="%{y}<br>%{customdata[0]:,.1f} → %{customdata[1]:,.1f} tickets a day"
            "<br>%{customdata[2]:.0%} of the increase<extra></extra>",
        )
    )
    fig.update_layout(
        height=max(220, 24 * data.height + 60),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis_title="change in tickets per day vs normal",
    )
    return fig


def forecast_band_chart(band: pl.DataFrame, events: pl.DataFrame) -> go.Figure:
    """Actual daily tickets against past forecasts and their 95 % band; days outside the band marked red."""
    days = band["ds"].to_list()
    fig = go.Figure()
    fig.add_scatter(
        x=days + days[::-1],
        y=band["hi_95"].to_list() + band["lo_95"].to_list()[::-1],
        fill="toself",
        fillcolor="rgba(51,102,204,0.15)",
        line={"width": 0},
        name="95 % band",
        hoverinfo="skip",
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
        height=320,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis_title="tickets per day",
        legend={"orientation": "h", "y": -0.2},
        hovermode="x unified",
    )
    return fig
