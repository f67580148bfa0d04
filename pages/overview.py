"""Overview for leadership: KPIs vs the previous period and their targets, weekly trend with events, top movers,
every target, the weekly review to download (or print), and the alerts of the last days."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from dashboard import loaders
from dashboard.charts.volumes import movers_chart, weekly_trend_chart
from dashboard.components import count_column, kpi_tiles, percent_column, table
from dashboard.context import PageContext
from dashboard.snapshot import chromium_path
from queries.analyses.alerts import alerts_frame
from queries.analyses.targets import Targets, readable_frame

ALERT_DAYS = 7  # the alerts section checks the last week of the period
# Printing the page (the browser's print, or "Save as PDF"): no sidebar, no controls, the page laid out as on a wide
# screen and scaled to the paper, tiles and charts kept whole.
PRINT_CSS = """
<style>
@media print {
  @page { size: A4 landscape; margin: 10mm; }
  [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
  [data-testid="stToolbar"], [data-testid="stDecoration"], [data-testid="stStatusWidget"],
  [data-testid="stDownloadButton"], [data-testid="stButton"], [data-testid="stExpander"] { display: none !important; }
  [data-testid="stMain"] { margin-left: 0 !important; zoom: 0.7; }
  [data-testid="stMainBlockContainer"] { padding: 0 !important; max-width: 100% !important; }
  [data-testid="stMetric"], [data-testid="stPlotlyChart"], [data-testid="stDataFrame"] { break-inside: avoid; }
  [data-testid="stMetricLabel"] * { white-space: normal !important; word-break: normal !important; }
}
</style>
"""


def render(ctx: PageContext) -> None:
    st.title("Overview")
    if st.session_state.get("demo.generated"):
        st.info(f"Generated the demo warehouse into `{ctx.source.path}` on first start. It is synthetic data.")
    if not ctx.ready(aggregates=True):
        return
    filters = ctx.filters
    previous = filters.previous()
    kpis, trend, movers, events = loaders.overview(ctx.dataset, filters)
    no_previous = kpis[0].no_previous  # the same for every tile: it is about the period
    compared = (
        f"no previous data: {no_previous}" if no_previous else f"compared with {previous.start} to {previous.end}"
    )
    st.caption(f"{filters.describe()} · {compared}")
    st.html(PRINT_CSS)
    goals = loaders.targets().visible_to(ctx.user.vendor)
    kpi_tiles(kpis, filters, loaders.tile_judgements(ctx.dataset, filters, goals))
    unavailable = [k.unavailable for k in kpis if k.unavailable]
    if unavailable:
        st.caption("Not available from this source: " + " ".join(unavailable))
    _review(ctx, goals)

    st.subheader("Weekly tickets by policy domain")
    st.caption("Full weeks (Monday start) up to the end of the period; ▼ marks events, hover for details.")
    st.plotly_chart(weekly_trend_chart(trend, events, highlight=(filters.start, filters.end)), key="overview.trend")

    _movers(ctx, movers, no_previous)
    _targets(ctx, goals)
    _alerts(ctx, goals)


def _movers(ctx: PageContext, movers: pl.DataFrame, no_previous: str | None) -> None:
    st.subheader("Top movers: policy domain × market")
    if not ctx.dataset.has("tickets", "policy_domain", "market"):
        st.info("Top movers need tickets.policy_domain and tickets.market; map them under [tickets.columns].")
        return
    if no_previous:
        st.info(f"Top movers compare with the previous period, which has no data: {no_previous}")
        return
    st.caption("Largest change in tickets received vs the previous period.")
    left, right = st.columns([3, 2])
    with left:
        table(
            movers,
            "overview.movers",
            {
                "policy_domain": "Policy domain",
                "market": "Market",
                "tickets": count_column("Tickets"),
                "previous_tickets": count_column("Previous"),
                "change": st.column_config.NumberColumn("Change", format="%+d"),
                "change_share": percent_column("Change %"),
            },
        )
    with right:
        st.plotly_chart(movers_chart(movers), key="overview.movers_chart")


def _review(ctx: PageContext, goals: Targets) -> None:
    """The weekly review of this view to download: HTML (opens anywhere, no network) or PDF."""
    shown, filters = ctx.source.shown, ctx.filters
    left, right, note = st.columns([1, 1, 4])
    left.download_button(
        "Weekly review (HTML)",
        data=lambda: loaders.snapshot_html(ctx.dataset, filters, goals, shown),
        file_name=f"bellwether-review-{filters.start}-to-{filters.end}.html",
        mime="text/html",
        icon=":material/download:",
        on_click="ignore",
        key="overview.review_html",
    )
    if chromium_path():
        right.download_button(
            "Weekly review (PDF)",
            data=lambda: loaders.snapshot_pdf(ctx.dataset, filters, goals, shown),
            file_name=f"bellwether-review-{filters.start}-to-{filters.end}.pdf",
            mime="application/pdf",
            icon=":material/picture_as_pdf:",
            on_click="ignore",
            key="overview.review_pdf",
        )
    note.caption(
        "The leadership review of this period and selection: tiles, targets, trend, movers, spikes, SLA, backlog, "
        "the next weeks' forecast and plan, freshness — as `python -m queries snapshot` writes it. Printing this "
        "page also works (sidebar and controls are left out)."
    )


def _targets(ctx: PageContext, goals: Targets) -> None:
    if not goals.entries:
        return
    st.subheader("Targets")
    results = loaders.target_results(ctx.dataset, ctx.filters, goals)
    st.caption(
        f"Every target in force on {ctx.filters.end} ({goals.file}), over the period, each for its own selection. "
        "A result resting on fewer than 100 tickets, or within the noise, is not news (see the note)."
    )
    table(readable_frame(results), "overview.targets")


def _alerts(ctx: PageContext, goals: Targets) -> None:
    until = ctx.filters.end
    since = max(ctx.filters.start, until - dt.timedelta(days=ALERT_DAYS - 1))
    with st.expander(f"Alerts from {since} to {until}", icon=":material/notifications:"):
        st.caption(
            "What `python -m queries alerts` would report for these days: spikes, SLA below its goal, backlog aging, "
            "missed targets and days outside the forecast's 95 % band, for the whole operation."
        )
        if not st.toggle("Check now", key="overview.alerts"):
            return
        run = loaders.alert_run(ctx.dataset, since, until, goals, ctx.source.key)
        if run.alerts:
            table(
                alerts_frame(run.alerts).drop("key", "groups"),
                "overview.alerts_table",
                {"link": st.column_config.LinkColumn("View", display_text="Open")},
            )
        else:
            st.success("No alert for these days.")
        for note in run.skipped:
            st.caption(f"Not checked: {note}")
