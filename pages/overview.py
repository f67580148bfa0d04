"""Overview for leadership: KPIs vs the previous period, weekly trend with events, top movers."""

from __future__ import annotations

import streamlit as st

from dashboard import loaders
from dashboard.charts import movers_chart, weekly_trend_chart
from dashboard.components import kpi_tiles
from dashboard.context import PageContext


def render(ctx: PageContext) -> None:
    st.title("Overview")
    if st.session_state.get("demo.generated"):
        st.info(f"Generated the demo warehouse into `{ctx.source.path}` on first start. It is synthetic data.")
    if not ctx.ready(aggregates=True):
        return
    filters = ctx.filters
    previous = filters.previous()
    st.caption(f"{filters.describe()} · compared with {previous.start} to {previous.end}")
    kpis, trend, movers, events = loaders.overview(ctx.dataset, ctx.signature, filters)
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
    st.caption("Largest change in tickets received vs the previous period.")
    left, right = st.columns([3, 2])
    with left:
        st.dataframe(
            movers,
            hide_index=True,
            key="overview.movers",
            column_config={
                "policy_domain": "Policy domain",
                "market": "Market",
                "tickets": st.column_config.NumberColumn("Tickets", format="localized"),
                "previous_tickets": st.column_config.NumberColumn("Previous", format="localized"),
                "change": st.column_config.NumberColumn("Change", format="%+d"),
                "change_share": st.column_config.NumberColumn("Change %", format="percent"),
            },
        )
    with right:
        st.plotly_chart(movers_chart(movers), key="overview.movers_chart")
