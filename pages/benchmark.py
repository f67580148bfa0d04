"""Public peer benchmark: EU DSA Transparency Database statistics next to your own, on the same scales."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from dashboard import loaders
from dashboard.charts.benchmark import benchmark_chart, category_mix_chart
from dashboard.components import table
from dashboard.context import PageContext
from dashboard.palette import category_colours
from dashboard.url_state import from_url, period_from_url, switch
from queries.analyses.dsa import ATTRIBUTION, OWN, TAXONOMY_CHANGE
from queries.engines import held_rows

DEFAULT_PLATFORMS = ("TikTok", "YouTube", "Instagram", "Facebook")


def render(ctx: PageContext) -> None:
    st.title("Public benchmark (EU DSA Transparency Database)")
    st.caption(ATTRIBUTION)
    daily, platforms = loaders.dsa_daily()
    first, last = daily["date"].min(), daily["date"].max()
    default_start = max(first, last - dt.timedelta(days=364))
    from_url("benchmark.platforms", [p for p in DEFAULT_PLATFORMS if p in platforms], options=platforms, many=True)
    period_from_url("benchmark.period", (default_start, last), first, last)
    c1, c2 = st.columns([3, 2])
    chosen = c1.multiselect(
        "Platforms",
        platforms,
        key="benchmark.platforms",
        help="Names as the platforms report them. Google Shopping dominates all volumes; compare it separately.",
    )
    dates = c2.date_input("Period", min_value=first, max_value=last, key="benchmark.period")
    start, end = (dates[0], dates[1]) if len(dates) == 2 else (default_start, last)
    with_own = (
        ctx.dataset is not None
        and held_rows(ctx.dataset) is not None
        and ctx.dataset.has("tickets", "first_action_at", "decision")
    )
    from_url(
        "benchmark.own",
        with_own,
        parse=switch,
        valid=lambda on: with_own or not on,
        expected="true or false; true only for a source with ticket rows, first actions and decisions",
    )
    include_own = st.toggle(f"Show {OWN.lower()} ({ctx.source.label})", disabled=not with_own, key="benchmark.own")
    if not chosen and not include_own:
        st.info("Pick at least one platform.")
        return
    frame = loaders.dsa_benchmark(tuple(chosen), start, end)
    colours = category_colours(sorted(platforms))  # a platform keeps its colour whichever others are chosen
    if include_own:
        frame = pl.concat([frame, loaders.dsa_own(ctx.dataset, start, end)])
    st.caption(
        "Statements of reasons: one per moderation decision sent to the affected user. For your platform: violating "
        "decisions. Days a platform did not report are gaps in the lines, never zeros. The sidebar filters do not "
        "apply here: the public data has no such groups, so your platform is shown whole for the period above."
    )
    st.plotly_chart(
        benchmark_chart(frame, "statements", "Statements per day (log scale)", colours, log_y=True),
        key="benchmark.volume",
    )
    left, right = st.columns(2)
    left.plotly_chart(
        benchmark_chart(frame, "automated_detection_share", "Share detected by automated means", colours),
        key="benchmark.detection",
    )
    right.plotly_chart(
        benchmark_chart(frame, "automated_decision_share", "Share decided fully automatically", colours),
        key="benchmark.decision",
    )
    st.plotly_chart(
        benchmark_chart(
            frame,
            "moderation_delay_days",
            "Mean moderation delay (days, content creation to decision; log scale)",
            colours,
            log_y=True,
        ),
        key="benchmark.delay",
    )
    st.caption(
        "Log scale, so a delay of minutes shows next to one of months. Moderation delay in the public data has "
        "one-day resolution (dates, not times); a platform's day with a mean delay of 0 is not drawn on it. Yours "
        "runs from ticket creation to first action, so it is a lower bound of the same quantity."
    )
    st.subheader("Reporting gaps")
    gaps = loaders.dsa_gaps(tuple(chosen), start, end)
    if gaps.is_empty():
        st.success("No missing days for these platforms in this period.")
    else:
        table(
            gaps,
            "benchmark.gaps",
            {
                "first_day": st.column_config.DateColumn("First missing day"),
                "last_day": st.column_config.DateColumn("Last missing day"),
                "days": st.column_config.NumberColumn("Days missing", format="localized"),
            },
        )
    if chosen:
        st.subheader("Category mix")
        from_url("benchmark.mix_platform", chosen[0], options=chosen)
        platform = st.selectbox("Platform", chosen, key="benchmark.mix_platform")
        mix = loaders.dsa_category_mix(tuple(chosen), start, end)
        st.plotly_chart(category_mix_chart(mix, platform, TAXONOMY_CHANGE), key="benchmark.mix")
        st.caption(
            f"The Commission re-defined the categories on {TAXONOMY_CHANGE}: series on either side of the line are not "
            "comparable category by category, and no mapping between them is applied."
        )
