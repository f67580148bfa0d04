"""Trends & spikes for specialists: volumes by any dimension, spikes with their drill-down, emerging trends."""

from __future__ import annotations

from urllib.parse import urlencode

import polars as pl
import streamlit as st

from dashboard import loaders
from dashboard.charts.volumes import contributions_chart, forecast_band_chart, spike_chart, volume_chart
from dashboard.components import count_column, decimal_column, format_value, percent_column, table
from dashboard.context import PageContext
from queries.analyses.spikes import events_concerning
from queries.contract import EVENT_KINDS
from queries.definitions import METRICS
from queries.engines import groupable
from queries.export import safe_csv
from queries.metrics import missing_inputs

DIMENSIONS = {
    "policy_domain": "Policy domain",
    "market": "Market",
    "language": "Language",
    "surface": "Surface",
    "source": "Detection source",
    "queue": "Queue",
}
GRAINS = ("day", "week", "month")
MEASURES = {"tickets": "Tickets", "share": "Share of mix", "tickets_per_million_dau": "Per 1M DAU"}
SENSITIVITIES = {0.001: "Fewer alarms", 0.01: "Balanced", 0.05: "More alarms"}
TOTAL = "total"
SPIKE_HELP = (
    "Expected volume: each group's level over the 28 days before (leaving out earlier spikes and dips) × its "
    "weekday pattern. Windows of 1–7 days are tested against it; one Benjamini–Hochberg threshold across all "
    "groups and days keeps the share of false alarms near the sensitivity. Level shifts (volume stays up "
    "two weeks after) are marked and stop being reported once the baseline has adopted the new level."
)


def render(ctx: PageContext) -> None:
    st.title("Trends & spikes")
    if not ctx.ready(aggregates=True):
        return
    dims = [d for d in DIMENSIONS if groupable(ctx.dataset, d)]
    st.caption(f"{ctx.filters.describe()} · every view is a link: the filters and the choices below are in the URL.")
    _volumes(ctx, dims)
    _spikes(ctx, dims)
    _emerging(ctx, dims)
    _forecast_band(ctx)
    _link()


def _from_url(key: str, options: list, default: object, many: bool = False) -> None:
    """On the page's first run, take a widget's value from the URL parameter of the same name."""
    if key in st.session_state:
        return
    if many:
        chosen = [v for v in st.query_params.get_all(key) if v in options]
        st.session_state[key] = chosen or default
    else:
        wanted = st.query_params.get(key)
        st.session_state[key] = next((o for o in options if str(o) == wanted), default)


def _to_url(key: str) -> None:
    value = st.session_state.get(key)
    wanted = [str(v) for v in value] if isinstance(value, list) else str(value)
    current = st.query_params.get_all(key) if isinstance(wanted, list) else st.query_params.get(key)
    if current != wanted:
        st.query_params[key] = wanted


def _volumes(ctx: PageContext, dims: list[str]) -> None:
    ds, filters = ctx.dataset, ctx.filters
    st.subheader("Volume over time")
    by_options = [TOTAL, *dims]
    _from_url("trends.by", by_options, "policy_domain" if "policy_domain" in dims else TOTAL)
    _from_url("trends.grain", list(GRAINS), "day" if filters.days <= 62 else "week")
    _from_url("trends.measure", list(MEASURES), "tickets")
    kinds = sorted(set(loaders.trend_events(ds, filters, filters.start)["kind"].drop_nulls()))
    left, middle, right, events_column = st.columns([2, 3, 4, 3])
    by = left.selectbox(
        "By", by_options, key="trends.by", format_func=lambda d: DIMENSIONS.get(d, "Total (all tickets)")
    )
    grain = middle.radio("Grain", GRAINS, key="trends.grain", horizontal=True)
    measure = right.radio(
        "Measure",
        list(MEASURES),
        key="trends.measure",
        format_func=MEASURES.get,
        horizontal=True,
        help="Share of mix: the group's share of the period's tickets. Per 1M DAU: "
        + METRICS["per_million_dau"].definition,
    )
    shown_kinds = events_column.multiselect(
        "Events", [k for k in EVENT_KINDS if k in kinds], default=kinds, key="trends.event_kinds"
    )
    for key in ("trends.by", "trends.grain", "trends.measure"):
        _to_url(key)
    no_dau = missing_inputs(ds, "per_million_dau")
    if measure == "tickets_per_million_dau" and no_dau:
        st.info(f"{no_dau} Showing tickets instead.")
        measure = "tickets"
    volumes = loaders.trend_volumes(ds, filters, None if by == TOTAL else by, grain)
    events = _events(ctx, filters.start, shown_kinds)
    st.plotly_chart(volume_chart(volumes, measure, events), key="trends.volume_chart")
    st.caption(
        "Hollow markers: a period cut by the selected dates (hover shows its days); its ticket count is not "
        "comparable with a full period's, so it stays off the line. ▼ marks events; hover for details."
    )


def _events(ctx: PageContext, start, kinds: list[str]) -> pl.DataFrame:
    events = loaders.trend_events(ctx.dataset, ctx.filters, start)
    return events.filter(pl.col("kind").is_in(kinds))


def _spikes(ctx: PageContext, dims: list[str]) -> None:
    ds, filters = ctx.dataset, ctx.filters
    st.subheader("Spikes", help=SPIKE_HELP)
    _from_url("trends.spikes_by", dims, [d for d in ("policy_domain", "market") if d in dims] or dims[:1], many=True)
    _from_url("trends.sensitivity", list(SENSITIVITIES), 0.01)
    left, middle, right = st.columns([4, 3, 2])
    by = left.multiselect(
        "Spikes by", dims, key="trends.spikes_by", format_func=DIMENSIONS.get, help="Each combination is one series."
    )
    sensitivity = middle.select_slider(
        "Sensitivity",
        list(SENSITIVITIES),
        key="trends.sensitivity",
        format_func=lambda q: f"{SENSITIVITIES[q]} ({q:.1%} false discoveries)",
        help="Target share of false alarms among the flagged days (Benjamini–Hochberg across all groups).",
    )
    min_excess = right.number_input(
        "Minimum excess tickets",
        min_value=1,
        value=10,
        step=5,
        key="trends.min_excess",
        help="Smaller spikes are not listed, however unusual.",
    )
    for key in ("trends.spikes_by", "trends.sensitivity"):
        _to_url(key)
    scan = loaders.spike_scan(ds, filters, tuple(by), sensitivity, float(min_excess))
    spikes = scan.spikes
    active = spikes.filter(pl.col("status") != "ended")
    tiles = st.columns(4)
    tiles[0].metric("Spikes", f"{spikes.height:,}", help=f"Episodes found in {filters.describe()}. {SPIKE_HELP}")
    tiles[1].metric(
        "New or ongoing",
        f"{active.height:,}",
        help="Still above expected on the last day of the period; new = began in its last 3 days.",
    )
    tiles[2].metric(
        "Excess tickets",
        format_value(spikes["excess"].sum() if spikes.height else 0, "count"),
        help="Observed − expected, summed over the listed spikes.",
    )
    tiles[3].metric(
        "Level shifts",
        f"{spikes.filter(pl.col('kind') == 'level shift').height:,}",
        help="Episodes after which volume stayed up for two weeks: a new normal (launch, policy), not a burst.",
    )
    if spikes.is_empty():
        st.success("No spikes in this period at this sensitivity.")
        return
    table(
        spikes,
        "trends.spike_list",
        {
            **{d: DIMENSIONS[d] for d in by},
            "start": st.column_config.DateColumn("Start", help="First day above expected (UTC)."),
            "end": st.column_config.DateColumn("End", help="Last day above expected (UTC)."),
            "days": st.column_config.NumberColumn("Days"),
            "observed": count_column("Observed", "Tickets start–end."),
            "expected": decimal_column(
                "Expected", "Expected tickets start–end, from the baseline frozen at the start.", 0
            ),
            "excess": st.column_config.NumberColumn("Excess", format="%+.0f", help="Observed − expected."),
            "ratio": decimal_column("× expected", "Observed / expected.", 2),
            "score": decimal_column("Score", "Excess in standard deviations of the expected count."),
            "status": st.column_config.TextColumn("Status", help="new, ongoing or ended at the end of the period."),
            "kind": st.column_config.TextColumn("Kind", help="level shift: volume stayed up two weeks after."),
            "events": st.column_config.TextColumn("Events", help="Recorded events that overlap it and concern it."),
        },
    )
    st.download_button(
        "Download the spike list (CSV)",
        safe_csv(spikes),
        file_name=f"spikes_{filters.start}_{filters.end}.csv",
        mime="text/csv",
        key="trends.download",
        icon=":material/download:",
    )
    _drill_down(ctx, scan)


def _spike_label(spike: dict, by: tuple[str, ...]) -> str:
    group = " · ".join(str(spike[c]) for c in by) or "all tickets"
    return f"{group}: {spike['start']} to {spike['end']} (+{spike['excess']:,.0f}, ×{spike['ratio']:.1f})"


def _drill_down(ctx: PageContext, scan) -> None:
    ds, filters, spikes, by = ctx.dataset, ctx.filters, scan.spikes, scan.by
    st.markdown("#### Drill-down")
    rows = list(spikes.iter_rows(named=True))
    keys = ["|".join([*(str(r[c]) for c in by), str(r["start"])]) for r in rows]  # in the URL
    labels = [_spike_label(r, by) for r in rows]  # in the widget
    if st.session_state.get("trends.spike") not in labels:  # first run, or the list changed under it
        wanted = st.query_params.get("trends.spike")
        st.session_state["trends.spike"] = labels[keys.index(wanted)] if wanted in keys else labels[0]
    index = labels.index(st.selectbox("Spike", labels, key="trends.spike"))
    if st.query_params.get("trends.spike") != keys[index]:
        st.query_params["trends.spike"] = keys[index]
    spike = rows[index]
    group = {c: spike[c] for c in by}
    daily = scan.daily
    for column, value in group.items():
        daily = daily.filter(pl.col(column).is_null() if value is None else pl.col(column) == value)
    daily = daily.filter(pl.col("day") >= filters.start)
    events = events_concerning(loaders.trend_events(ds, filters, filters.start), group)
    st.plotly_chart(spike_chart(daily, spike, events), key="trends.spike_chart")
    if not ctx.has_rows("breaking a spike down (what explains it, how fast the team acted, which vendors)"):
        return
    drill = loaders.spike_drill_down(ds, filters, group, spike["start"], spike["end"])
    days = (drill.normal_end - drill.normal_start).days + 1
    normal = f"normal = the {days} days before ({drill.normal_start} to {drill.normal_end})"
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**What explains the increase**")
        st.caption(f"Change in tickets per day during the spike vs {normal}, per dimension.")
        if drill.contributions.is_empty():
            st.info("No other dimension (market, surface, source, language) to break the spike down by.")
        else:
            st.plotly_chart(contributions_chart(drill.contributions), key="trends.contributions")
    with right:
        st.markdown("**How fast the team acted**")
        _turnaround(drill.turnaround, normal)
        st.markdown("**Vendors that handled it**")
        if drill.vendors.is_empty():
            st.info("Vendors need tickets.vendor; map it under [tickets.columns].")
        else:
            table(
                drill.vendors,
                "trends.vendors",
                {
                    "vendor": "Vendor",
                    "tickets": count_column("Tickets"),
                    "share": percent_column("Share"),
                    "normal_share": percent_column("Normal share"),
                    "p50_hours": decimal_column(
                        "P50 hours to action", "Median time to first action of its spike tickets.", 2
                    ),
                },
            )


def _turnaround(turnaround: pl.DataFrame, normal: str) -> None:
    if turnaround.is_empty():
        st.info("Time to action needs tickets.first_action_at; map it under [tickets.columns].")
        return
    during, usual = turnaround.row(0, named=True), turnaround.row(1, named=True)
    columns = st.columns(2)
    for column, (label, field) in zip(columns, (("P50", "p50_hours"), ("P90", "p90_hours")), strict=True):
        value, before = during[field], usual[field]
        delta = None if value is None or before is None else value - before
        change = None if delta is None else format_value(abs(delta), "hours")
        column.metric(
            f"{label} time to action",
            format_value(value, "hours"),
            delta=None if change in (None, "0 s") else ("+" if delta > 0 else "-") + change,
            delta_color="inverse",
            help=f"{METRICS['time_to_first_action'].definition} During the spike vs {normal}: "
            f"{format_value(before, 'hours')}.",
        )
    if "p50_views" in turnaround.columns:
        columns = st.columns(2)
        for column, (label, field) in zip(columns, (("P50", "p50_views"), ("P90", "p90_views")), strict=True):
            value, before = during[field], usual[field]
            column.metric(
                f"{label} views before action",
                format_value(value, "count"),
                delta=None if value is None or before is None or value == before else f"{value - before:+,.0f}",
                delta_color="inverse",
                help=f"Views (or live viewers reached) before the first action, {label} with linear "
                f"interpolation; during the spike vs {normal}: {format_value(before, 'count')}.",
            )


def _emerging(ctx: PageContext, dims: list[str]) -> None:
    st.subheader("Emerging trends")
    left, right = st.columns([3, 2])
    default = [d for d in ("policy_domain", "market") if d in dims] or dims[:1]
    by = left.multiselect("Trends by", dims, default=default, key="trends.emerging_by", format_func=DIMENSIONS.get)
    weeks = right.slider("Weeks", 6, 16, 8, key="trends.weeks", help="Full weeks (Monday–Sunday) up to the period end.")
    trends, measure = loaders.emerging_trends(ctx.dataset, ctx.filters, tuple(by), weeks)
    unit = "daily tickets per 1M DAU" if measure == "tickets_per_million_dau" else "tickets (no DAU in this source)"
    st.caption(
        f"Groups whose weekly {unit} kept rising over the last {weeks} full weeks: Theil–Sen growth per week "
        "(robust to one unusual week) and a one-sided Kendall trend test, significant at a 5 % false discovery "
        "rate across the groups. A one-week burst is a spike, not a trend."
    )
    rising = trends.filter(pl.col("significant"))
    if rising.is_empty():
        st.success(f"No group kept growing significantly over the last {weeks} weeks.")
    shown = rising if rising.height else trends.head(5)
    if shown.height:
        if not rising.height:
            st.caption("Fastest-growing groups, none significant:")
        table(
            shown,
            "trends.emerging",
            {
                **{d: DIMENSIONS[d] for d in by},
                "weeks": None,
                "tickets": count_column("Tickets"),
                "weekly_rates": st.column_config.LineChartColumn(f"Weekly {unit}"),
                "growth_per_week": percent_column("Growth / week"),
                "total_growth": percent_column("Growth over the weeks"),
                "p_value": decimal_column("p-value", digits=4),
                "significant": st.column_config.CheckboxColumn("Significant"),
            },
        )


def _forecast_band(ctx: PageContext) -> None:
    st.subheader("Actual vs forecast band")
    if not ctx.has_rows("the forecast band (the Forecast & capacity page's backtest)"):
        return
    domains = (
        loaders.dimension_values(ctx.dataset, "policy_domain") if ctx.dataset.has("tickets", "policy_domain") else []
    )
    series = st.selectbox(
        "Series",
        [TOTAL, *domains],
        key="trends.forecast_series",
        format_func=lambda s: "Total" if s == TOTAL else s,
        help="Past forecasts of the Forecast & capacity page (rolling-origin backtest, auto model).",
    )
    band = loaders.forecast_band(ctx.dataset, ctx.filters, None if series == TOTAL else series)
    if band.is_empty():
        st.info("Not enough history before the period end for a backtest.")
        return
    outside = band.filter(pl.col("outside").is_not_null())
    st.caption(
        f"Each day's actual tickets against what was forecast for it from earlier origins (backtest folds of "
        f"{loaders.FORECAST_BAND_HORIZON_DAYS} days up to {ctx.filters.end}). {outside.height} of {band.height} "
        "days fell outside the 95 % band (red)."
    )
    st.plotly_chart(forecast_band_chart(band, _events(ctx, band["ds"].min(), list(EVENT_KINDS))), key="trends.band")


def _link() -> None:
    st.subheader("Link to this view")
    query = urlencode([(k, v) for k in st.query_params for v in st.query_params.get_all(k)])
    base = (st.context.url or "").split("?")[0]
    st.code(f"{base}?{query}", language=None, wrap_lines=True)
    st.caption("The period, filters and choices above are in this address; anyone with access sees the same view.")
