"""Trends & spikes for specialists: volumes by any dimension, spikes with their drill-down, emerging trends."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import polars as pl
import streamlit as st

from dashboard import loaders
from dashboard.charts.volumes import forecast_band_chart, spike_chart, volume_chart
from dashboard.components import count_column, decimal_column, format_value, share_column, table
from dashboard.context import PageContext
from dashboard.palette import MAX_SERIES, OTHER, field_colours
from dashboard.url_state import from_url
from queries.analyses.spikes import SEGMENT_DEFINITION, events_concerning
from queries.analyses.trends import top_and_other
from queries.contract import EVENT_KINDS
from queries.definitions import METRICS
from queries.display import NULL_TEXT, definition_words, display_name, display_value, with_display_values
from queries.engines import created_days, groupable, own_dimensions
from queries.export import safe_csv
from queries.filters import Filters
from queries.metrics import missing_inputs

DIMENSIONS = ("policy_domain", "market", "language", "surface", "source", "queue")
GRAINS = ("day", "week", "month")
MEASURES = {"tickets": "Tickets", "share": "Share of mix", "tickets_per_million_dau": "Per 1M DAU"}
SENSITIVITIES = {0.001: "Fewer alarms", 0.01: "Balanced", 0.05: "More alarms"}
SERIES = (5, 7, 10, 15)  # "top N + other" choices of the volume chart
TOTAL = "total"
WIDER_DAYS = (
    90,
    182,
    365,
)  # a period without spikes: the page offers the first of these windows (to its end) with some
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
    dims = [*(d for d in DIMENSIONS if groupable(ctx.dataset, d)), *own_dimensions(ctx.dataset)]
    st.caption(f"{ctx.filters.describe()} · every view is a link: the filters and the choices below are in the URL.")
    _volumes(ctx, dims)
    _spikes(ctx, dims)
    _emerging(ctx, dims)
    _forecast_band(ctx)
    _link()


def _dimension_name(dimension: str) -> str:
    return "Total (all tickets)" if dimension == TOTAL else display_name(dimension)


def _default_groups(dims: list[str]) -> list[str]:
    """Spikes and emerging trends by policy domain × market where the source has them."""
    return [d for d in ("policy_domain", "market") if d in dims] or dims[:1]


def _names(field: str):
    """format_func for a widget whose options are values of `field`."""
    return lambda value: display_value(field, value)


def _volumes(ctx: PageContext, dims: list[str]) -> None:
    ds, filters = ctx.dataset, ctx.filters
    st.subheader("Volume over time")
    by_options = [TOTAL, *dims]
    from_url("trends.by", "policy_domain" if "policy_domain" in dims else TOTAL, options=by_options)
    from_url("trends.grain", "day" if filters.days <= 62 else "week", options=GRAINS)
    from_url("trends.measure", "tickets", options=list(MEASURES))
    kinds = sorted(set(loaders.trend_events(ds, filters, filters.start)["kind"].drop_nulls()))
    kinds = [k for k in EVENT_KINDS if k in kinds]
    from_url("trends.event_kinds", kinds, options=kinds, many=True)
    left, middle, right, events_column = st.columns([2, 3, 4, 3])
    by = left.selectbox("By", by_options, key="trends.by", format_func=_dimension_name)
    grain = middle.radio("Grain", GRAINS, key="trends.grain", horizontal=True, format_func=str.capitalize)
    measure = right.radio(
        "Measure",
        list(MEASURES),
        key="trends.measure",
        format_func=MEASURES.get,
        horizontal=True,
        help="Share of mix: the group's share of the period's tickets. Per 1M DAU: "
        + definition_words(METRICS["per_million_dau"].definition),
    )
    shown_kinds = events_column.multiselect("Events", kinds, key="trends.event_kinds", format_func=_names("kind"))
    no_dau = missing_inputs(ds, "per_million_dau")
    if measure == "tickets_per_million_dau" and no_dau:
        st.info(f"{no_dau} Showing tickets instead.")
        measure = "tickets"
    volumes = loaders.trend_volumes(ds, filters, None if by == TOTAL else by, grain)
    colours: dict[str, str] = {}
    if by != TOTAL:
        groups = volumes[by].n_unique()
        if groups > MAX_SERIES:
            from_url("trends.series", MAX_SERIES, options=SERIES)
            top = st.selectbox(
                "Series",
                SERIES,
                key="trends.series",
                format_func=lambda n: f"All {groups}" if n >= groups else f"Top {n} + other",
                width=220,
                help=f"The {display_name(by).lower()} values with the most tickets; the rest summed as “{OTHER}”.",
            )
            volumes = top_and_other(volumes, by, top, other=OTHER)
        volumes, colours = with_display_values(volumes, [by]), field_colours(by, loaders.dimension_values(ds, by))
    events = _events(ctx, filters.start, shown_kinds)
    chart = volume_chart(volumes.drop("dau_days"), measure, events, colours)  # any other column is the group
    st.plotly_chart(chart, key="trends.volume_chart")
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
    from_url("trends.spikes_by", _default_groups(dims), options=dims, many=True)
    from_url("trends.sensitivity", 0.01, options=list(SENSITIVITIES))
    from_url("trends.min_excess", 10, parse=int, valid=lambda n: n >= 1, expected="a whole number of at least 1")
    left, middle, right = st.columns([4, 3, 2])
    by = left.multiselect(
        "Spikes by", dims, key="trends.spikes_by", format_func=display_name, help="Each combination is one series."
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
        step=5,
        key="trends.min_excess",
        help="Smaller spikes are not listed, however unusual.",
    )
    scan = loaders.spike_scan(ds, filters, tuple(by), sensitivity, float(min_excess))
    spikes = scan.spikes
    if spikes.is_empty():
        _no_spikes(ctx, tuple(by), sensitivity, float(min_excess))
        return
    _spike_tiles(spikes, filters)
    shown = with_display_values(spikes, by).with_columns(
        pl.concat_str(pl.col("status").str.to_titlecase(), pl.col("kind"), separator=", ").alias("status"),
        pl.col("events").fill_null(NULL_TEXT),
    )
    small = "small"
    table(
        shown.select(*by, "start", "end", "observed", "excess", "ratio", "score", "status", "events"),
        "trends.spike_list",
        {
            **{d: st.column_config.TextColumn(display_name(d)) for d in by},
            "start": st.column_config.DateColumn("Start", help="First day above expected (UTC).", width=small),
            "end": st.column_config.DateColumn("End", help="Last day above expected (UTC).", width=small),
            "observed": st.column_config.NumberColumn(
                "Tickets", format="localized", help="Tickets start–end.", width=small
            ),
            "excess": st.column_config.NumberColumn(
                "Excess", format="%+d", help="Tickets − expected (baseline frozen at the start).", width=small
            ),
            "ratio": st.column_config.NumberColumn(
                "× expected", format="%.2f", help="Tickets / expected.", width=small
            ),
            "score": st.column_config.NumberColumn(
                "Score (sd)", format="%.1f", help="Excess in standard deviations of the expected count.", width=small
            ),
            "status": st.column_config.TextColumn(
                "Status",
                help="New, ongoing or ended at the end of the period; level shift: volume stayed up two "
                "weeks after, else spike.",
            ),
            "events": st.column_config.TextColumn(
                "Events", help="Recorded events that concern it and overlap it or start the day before.", width="medium"
            ),
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


def _spike_tiles(spikes: pl.DataFrame, filters: Filters) -> None:
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
        format_value(spikes["excess"].sum(), "count"),
        help="Observed − expected, summed over the listed spikes.",
    )
    tiles[3].metric(
        "Level shifts",
        f"{spikes.filter(pl.col('kind') == 'level shift').height:,}",
        help="Episodes after which volume stayed up for two weeks: a new normal (launch, policy), not a burst.",
    )


def _no_spikes(ctx: PageContext, by: tuple[str, ...], sensitivity: float, min_excess: float) -> None:
    """Say that the period has no spike; when a wider window up to its end has some, offer it in one click."""
    filters = ctx.filters
    first_day = created_days(ctx.dataset)[0]
    for days in WIDER_DAYS:
        wider = Filters.of(max(filters.end - dt.timedelta(days=days - 1), first_day), filters.end, filters.selections())
        if wider.start >= filters.start:
            continue
        found = loaders.spike_scan(ctx.dataset, wider, by, sensitivity, min_excess).spikes
        if found.height:
            latest = found.sort("start").row(-1, named=True)
            st.info(
                f"No spikes in these {filters.days} days at this sensitivity. The last {wider.days} days had "
                f"{found.height:,} (latest: {_spike_label(latest, by)}).",
                icon=":material/history:",
            )
            st.button(
                f"Show the last {wider.days} days",
                key="trends.widen",
                on_click=_set_period,
                args=(wider.start, wider.end),
                help="Sets the period in the sidebar (and the link) to these days; every section of the page follows.",
            )
            return
        if wider.start == first_day:
            break
    st.success(f"No spikes in {filters.describe()} at this sensitivity, nor in the wider windows before it.")


def _set_period(start: dt.date, end: dt.date) -> None:
    """Callback: the sidebar's period (kept in the URL by the filter bar)."""
    st.session_state["filters.dates"] = (start, end)


def _spike_key(spike: dict, by: tuple[str, ...]) -> str:
    """A spike's stable identifier in the URL: its group's values and start."""
    return "|".join([*(str(spike[c]) for c in by), str(spike["start"])])


def _spike_label(spike: dict, by: tuple[str, ...]) -> str:
    group = " · ".join(display_value(c, spike[c]) for c in by) or "all tickets"
    return f"{group}: {spike['start']} to {spike['end']} (+{spike['excess']:,.0f}, ×{spike['ratio']:.1f})"


def _drill_down(ctx: PageContext, scan) -> None:
    ds, filters, spikes, by = ctx.dataset, ctx.filters, scan.spikes, scan.by
    st.markdown("#### Drill-down")
    rows = {_spike_key(r, by): r for r in spikes.iter_rows(named=True)}
    from_url("trends.spike", next(iter(rows)), options=list(rows), expected="a spike of the list")
    spike = rows[st.selectbox("Spike", list(rows), key="trends.spike", format_func=lambda k: _spike_label(rows[k], by))]
    group = {c: spike[c] for c in by}
    daily = scan.daily
    for column, value in group.items():
        daily = daily.filter(pl.col(column).is_null() if value is None else pl.col(column) == value)
    daily = daily.filter(pl.col("day") >= filters.start)
    events = events_concerning(loaders.trend_events(ds, filters, filters.start), group)
    st.plotly_chart(spike_chart(daily, spike, events), key="trends.spike_chart")
    drill = loaders.spike_drill_down(ds, filters, group, spike["start"], spike["end"])
    days = (drill.normal_end - drill.normal_start).days + 1
    normal = f"normal = the {days} days before ({drill.normal_start} to {drill.normal_end})"
    st.markdown("**What explains the increase**", help=definition_words(SEGMENT_DEFINITION))
    _segments(drill.segments, normal)
    if drill.left_out:
        names = ", ".join(display_name(d).lower() for d in drill.left_out)
        st.caption(f"Not broken down by {names}: this source's aggregates are not grouped by it.")
    left, right = st.columns([2, 3])
    with left:
        st.markdown("**How fast the team acted**")
        _turnaround(drill.turnaround, normal)
    with right:
        st.markdown("**Vendors that handled it**")
        if drill.vendors.is_empty():
            st.info("Vendors need tickets.vendor; map it under [tickets.columns].")
        else:
            vendors = (
                drill.vendors.with_columns(
                    pl.col("p50_hours").map_elements(lambda h: format_value(h, "hours"), pl.String)
                )
                if "p50_hours" in drill.vendors.columns
                else drill.vendors
            )
            table(
                vendors,
                "trends.vendors",
                {
                    "vendor": "Vendor",
                    "tickets": count_column("Tickets"),
                    "share": share_column("Share", "Share of the spike's tickets."),
                    "normal_share": share_column("Normally", "Share of the tickets of the normal period."),
                    "p50_hours": st.column_config.TextColumn(
                        "P50 to action", help="Median time to first action of its tickets."
                    ),
                },
            )


def _segments(segments: pl.DataFrame, normal: str, top: int = 8) -> None:
    """The over-represented segments: share during the spike vs normal and the extra tickets each accounts for."""
    if segments.is_empty():
        st.info("No segment's share grew during the spike (or there is no normal period to compare with).")
        return
    st.caption(
        f"Segments whose share of the spike's tickets is above their share in the {normal}; extra tickets = tickets "
        "− what the segment would have had at its normal share. The series' own dimensions are never listed."
    )
    shown = segments.head(top).with_columns(
        pl.struct("dimension", "value").map_elements(_segment_name, pl.String).alias("segment")
    )
    table(
        shown.select("segment", "spike_share", "normal_share", "lift", "excess_tickets"),
        "trends.segments",
        {
            "segment": st.column_config.TextColumn("Segment", width="medium"),
            "spike_share": share_column("Share in the spike", "Its tickets / all the spike's tickets."),
            "normal_share": share_column("Share normally", "Its tickets / all tickets of the normal period."),
            "lift": decimal_column("× normal", "Share in the spike / share normally (empty: new in the spike).", 1),
            "excess_tickets": st.column_config.ProgressColumn(
                "Extra tickets",
                format="%.0f",
                min_value=0,
                max_value=float(shown["excess_tickets"].max()),
                help="Tickets in the spike − tickets at the normal share.",
            ),
        },
    )


def _segment_name(segment: dict) -> str:
    return f"{display_name(segment['dimension'])}: {display_value(segment['dimension'], segment['value'])}"


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
            help=f"{definition_words(METRICS['time_to_first_action'].definition)} During the spike vs {normal}: "
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
                help=f"Views (or live viewers reached) before the first action of the actioned tickets, {label} "
                f"with linear interpolation; during the spike vs {normal}: {format_value(before, 'count')}.",
            )


def _emerging(ctx: PageContext, dims: list[str]) -> None:
    st.subheader("Emerging trends")
    from_url("trends.emerging_by", _default_groups(dims), options=dims, many=True)
    from_url("trends.weeks", 8, parse=int, valid=lambda n: 6 <= n <= 16, expected="a whole number from 6 to 16")
    left, right = st.columns([3, 2])
    by = left.multiselect("Trends by", dims, key="trends.emerging_by", format_func=display_name)
    weeks = right.slider("Weeks", 6, 16, key="trends.weeks", help="Full weeks (Monday–Sunday) up to the period end.")
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
            with_display_values(shown, by),
            "trends.emerging",
            {
                **{d: st.column_config.TextColumn(display_name(d)) for d in by},
                "weeks": None,
                "tickets": count_column("Tickets"),
                "weekly_rates": st.column_config.LineChartColumn(f"Weekly {unit}"),
                "growth_per_week": share_column("Growth / week"),
                "total_growth": share_column("Growth over the weeks"),
                "p_value": decimal_column("p-value", digits=3),
                "significant": st.column_config.CheckboxColumn("Significant"),
            },
        )


def _forecast_band(ctx: PageContext) -> None:
    st.subheader("Actual vs forecast band")
    domains = (
        loaders.dimension_values(ctx.dataset, "policy_domain") if ctx.dataset.has("tickets", "policy_domain") else []
    )
    from_url("trends.forecast_series", TOTAL, options=[TOTAL, *domains])
    series = st.selectbox(
        "Series",
        [TOTAL, *domains],
        key="trends.forecast_series",
        format_func=lambda s: "Total" if s == TOTAL else display_value("policy_domain", s),
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
