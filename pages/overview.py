"""Overview for leadership: KPIs vs the previous period, weekly trend with events, top movers."""

from __future__ import annotations

import streamlit as st

from dashboard import loaders
from dashboard.charts.volumes import movers_chart, weekly_trend_chart
from dashboard.components import count_column, kpi_tiles, percent_column, table
from dashboard.context import PageContext


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
    kpi_tiles(kpis, filters)
    unavailable = [k.unavailable for k in kpis if k.unavailable]
    if unavailable:
        st.caption("Not available from this source: " + " ".join(unavailable))

    st.subheader("Weekly tickets by policy domain")
    st.caption("Full weeks (Monday start) up to the end of the period; ▼ marks events, hover for details.")
    st.plotly_chart(weekly_trend_chart(trend, events, highlight=(filters.start, filters.end)), key="overview.trend")

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
