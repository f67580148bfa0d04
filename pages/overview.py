"""Overview for leadership: KPIs vs the previous period and their targets, weekly trend with events, top movers,
every target and its goal over the weeks, the weekly review to download (or print), and the alerts of the last
days."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from dashboard import loaders
from dashboard.charts.targets import goal_history_chart
from dashboard.charts.volumes import movers_chart, weekly_trend_chart
from dashboard.components import kpi_tiles, table, text_table, view_targets
from dashboard.context import PageContext
from dashboard.palette import MAX_SERIES, OTHER, field_colours
from dashboard.snapshot import chromium_path
from dashboard.url_state import from_url, switch
from queries.analyses.alerts import alerts_frame
from queries.analyses.overview import top_weekly
from queries.analyses.targets import Targets, readable_frame
from queries.display import with_display_values

ALERT_DAYS = 7  # the alerts section checks the last week of the period
MOVERS = {
    "policy_domain": ("Policy domain", "text"),
    "market": ("Market", "text"),
    "tickets": ("Tickets", "count"),
    "previous_tickets": ("Previous", "count"),
    "change": ("Change", "count_change"),
    "change_share": ("Change %", "share_change"),
}
# Printing the page (the browser's print, or "Save as PDF"): no sidebar, no controls, tiles and charts kept whole,
# and the page as laid out on screen scaled to the paper. Charts keep the width they were drawn at, so the scale is
# the paper's width over the page's width on screen, kept up to date by the script (0.7 until it runs).
PRINT_CSS = """
<style>
@media print {
  @page { size: A4 landscape; margin: 10mm; }
  [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
  [data-testid="stToolbar"], [data-testid="stDecoration"], [data-testid="stStatusWidget"],
  [data-testid="stDownloadButton"], [data-testid="stButton"], [data-testid="stExpander"],
  [data-testid="stTooltipIcon"], [data-testid="stTooltipHoverTarget"] svg { display: none !important; }
  [data-testid="stMain"] { margin-left: 0 !important; zoom: var(--bellwether-print-zoom, 0.7); }
  [data-testid="stMainBlockContainer"] { padding: 0 !important; max-width: 100% !important; }
  [data-testid="stVerticalBlockBorderWrapper"], [data-testid="stMetric"], [data-testid="stPlotlyChart"],
  [data-testid="stTable"] { break-inside: avoid; }
  [data-testid="stMetricLabel"] * { white-space: normal !important; word-break: normal !important; }
}
</style>
<script>
(() => {
  const paperPx = 1040;  // A4 landscape less the 10 mm margins, in CSS pixels
  const fit = () => {
    const main = document.querySelector('[data-testid="stMainBlockContainer"]');
    if (main && main.clientWidth > 0) {
      const zoom = Math.min(1, paperPx / main.clientWidth).toFixed(3);
      document.documentElement.style.setProperty("--bellwether-print-zoom", zoom);
    }
  };
  fit();
  if (!window.bellwetherPrintFit) {
    window.bellwetherPrintFit = true;
    window.addEventListener("resize", fit);
    window.addEventListener("beforeprint", fit);
  }
})();
</script>
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
    st.html(PRINT_CSS, unsafe_allow_javascript=True)
    goals = view_targets(ctx.user.vendor)
    kpi_tiles(kpis, filters, loaders.tile_judgements(ctx.dataset, filters, goals))
    unavailable = [k.unavailable for k in kpis if k.unavailable]
    if unavailable:
        st.caption("Not available from this source: " + " ".join(unavailable))
    _review(ctx, goals)

    st.subheader("Weekly tickets by policy domain")
    st.caption(
        f"Full weeks (Monday start) up to the end of the period; the {MAX_SERIES} largest policy domains, the rest "
        f"as “{OTHER}”; ▼ marks events, hover for details."
    )
    chart = weekly_trend_chart(
        _top_domains(trend), events, highlight=(filters.start, filters.end), colours=_domain_colours(ctx)
    )
    st.plotly_chart(chart, key="overview.trend")

    _movers(ctx, movers, no_previous)
    first_week = trend["week"].min() if trend.height else filters.start
    _targets(ctx, goals, first_week)
    _alerts(ctx, goals)


def _top_domains(trend: pl.DataFrame) -> pl.DataFrame:
    """The trend's policy domains by their display names, the ones beyond the top MAX_SERIES summed as "Other"."""
    if "policy_domain" not in trend.columns:
        return trend
    return with_display_values(top_weekly(trend, "policy_domain", MAX_SERIES, OTHER), ["policy_domain"])


def _domain_colours(ctx: PageContext) -> dict[str, str]:
    """Each policy domain's colour, the same as on every page (by its place among all the source's domains)."""
    if not ctx.dataset.has("tickets", "policy_domain"):
        return {}
    return field_colours("policy_domain", loaders.dimension_values(ctx.dataset, "policy_domain"))


def _movers(ctx: PageContext, movers: pl.DataFrame, no_previous: str | None) -> None:
    st.subheader("Top movers: policy domain × market")
    if not ctx.dataset.has("tickets", "policy_domain", "market"):
        st.info("Top movers need tickets.policy_domain and tickets.market; map them under [tickets.columns].")
        return
    if no_previous:
        st.info(f"Top movers compare with the previous period, which has no data: {no_previous}")
        return
    st.caption("Largest change in tickets received vs the previous period.")
    movers = with_display_values(movers, ["policy_domain"])
    left, right = st.columns([3, 2])
    with left:
        text_table(movers, MOVERS)
    with right:
        st.plotly_chart(movers_chart(movers), key="overview.movers_chart")


def _review(ctx: PageContext, goals: Targets) -> None:
    """The weekly review of this view to download: HTML (opens anywhere, no network) or PDF."""
    shown, filters = ctx.source.shown, ctx.filters
    left, right, note = st.columns([2, 2, 5])
    formats = [("html", left, loaders.snapshot_html, "text/html", ":material/download:")]
    if chromium_path():  # PDF is printed by headless Chromium
        formats.append(("pdf", right, loaders.snapshot_pdf, "application/pdf", ":material/picture_as_pdf:"))
    for ext, column, render, mime, icon in formats:
        column.download_button(
            f"Review ({ext.upper()})",
            data=lambda render=render: render(ctx.dataset, filters, goals, shown),
            file_name=f"bellwether-review-{filters.start}-to-{filters.end}.{ext}",
            mime=mime,
            icon=icon,
            on_click="ignore",
            key=f"overview.review_{ext}",
            width="stretch",
        )
    note.caption(
        "The leadership review of this period and selection: tiles, targets, trend, movers, spikes, SLA, backlog, "
        "the next weeks' forecast and plan, freshness — as `python -m queries snapshot` writes it. Printing this "
        "page also works (sidebar and controls are left out)."
    )


def _targets(ctx: PageContext, goals: Targets, first_week: dt.date) -> None:
    if not goals.entries:
        return
    st.subheader("Targets")
    results = loaders.target_results(ctx.dataset, ctx.filters, goals)
    st.caption(
        f"Every target in force on {ctx.filters.end} ({goals.file}), over the period, each for its own selection. "
        "A result resting on fewer than 100 tickets, or within the noise, is not news (see the note)."
    )
    st.table(readable_frame(results, screen=True), hide_index=True)
    histories = loaders.goal_histories(ctx.dataset, ctx.filters, goals, first_week)
    if histories:
        st.caption(
            "Each goal of this view over the weeks of the trend above: the measure per full week (solid) against its "
            "goal (dashed), which steps where the goal changed."
        )
        st.plotly_chart(goal_history_chart(histories), key="overview.goals")


def _alerts(ctx: PageContext, goals: Targets) -> None:
    until = ctx.filters.end
    since = max(ctx.filters.start, until - dt.timedelta(days=ALERT_DAYS - 1))
    with st.expander(f"Alerts from {since} to {until}", icon=":material/notifications:"):
        st.caption(
            "What `python -m queries alerts` would report for these days: spikes, SLA below its goal, backlog aging, "
            "missed targets and days outside the forecast's 95 % band, for the whole operation."
        )
        from_url("overview.alerts", False, parse=switch, expected="true or false")
        if not st.toggle("Check now", key="overview.alerts"):
            return
        run = loaders.alert_run(ctx.dataset, since, until, goals, ctx.source.key)
        if run.alerts:
            words = pl.col("severity", "status").str.replace_all("_", " ")
            table(
                with_display_values(alerts_frame(run.alerts).drop("key", "groups"), ["kind"]).with_columns(
                    words.str.slice(0, 1).str.to_uppercase() + words.str.slice(1)
                ),
                "overview.alerts_table",
                {
                    "kind": "Alert",
                    "start": st.column_config.DateColumn("From"),
                    "end": st.column_config.DateColumn("To"),
                    "message": st.column_config.TextColumn("What", width="large"),
                    "link": st.column_config.LinkColumn("View", display_text="Open"),
                },
            )
        else:
            st.success("No alert for these days.")
        for note in run.skipped_words:
            st.caption(f"Not checked: {note}")
