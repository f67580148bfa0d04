"""Turnaround & SLA: how fast tickets are actioned and closed, SLA attainment, what is waiting and who saw it."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import loaders
from dashboard.charts.turnaround import (
    backlog_aging_chart,
    backlog_flow_chart,
    duration_distribution_chart,
    duration_label,
    exposure_chart,
    group_percentiles_chart,
    hour_of_week_chart,
    percentile_trend_chart,
    sla_attainment_chart,
)
from dashboard.components import (
    count_column,
    decimal_column,
    explain_missing,
    percent_column,
    table,
    view_targets,
)
from dashboard.context import PageContext
from dashboard.palette import field_colours
from dashboard.url_state import from_url, section_picker
from queries.analyses.turnaround import MEASURES, TURNAROUND_PERCENTILES, Headline, TurnaroundView
from queries.definitions import METRICS
from queries.display import CATEGORY_FIELDS, definition_words, display_name, display_value, with_display_values
from queries.engines import engine_for, groupable, own_dimensions
from queries.metrics import missing_inputs
from queries.sla import load_sla_policy

NONE = "none"  # the split "nothing": one series
SPLITS = {  # stable identifier (in the URL) → label
    NONE: "Nothing",
    "policy_domain": "Policy domain",
    "priority": "Priority",
    "queue": "Queue",
    "market": "Market",
    "source": "Detection source",
    "vendor": "Vendor",
}
STATISTICS = {"p50_hours": "P50", "p90_hours": "P90", "p99_hours": "P99", "mean_hours": "Mean"}
SLA_BY = {"sla_rule": "SLA rule", "queue": "Queue", "priority": "Priority", "source": "Detection source"}
PERIODS = {"day": "Day", "week": "Week"}
DURATION_COLUMNS = {  # hours in the data, minutes in the tables
    "p50_hours": "P50 (min)",
    "p90_hours": "P90 (min)",
    "p99_hours": "P99 (min)",
    "mean_hours": "Mean (min)",
    "p50_hours_to_action": "P50 to action (min)",
    "p90_hours_to_action": "P90 to action (min)",
}


def render(ctx: PageContext) -> None:
    st.title("Turnaround & SLA")
    if not ctx.ready(aggregates=True):
        return
    ds, filters = ctx.dataset, ctx.filters
    st.caption(f"{filters.describe()} · every time and hour on this page is UTC")
    measures = {column: label for column, label in MEASURES.items() if ds.has("tickets", column)}
    if not measures:
        st.info("Turnaround needs tickets.first_action_at or tickets.closed_at; map them under [tickets.columns].")
        return
    splits = {c: label for c, label in SPLITS.items() if c == NONE or groupable(ds, c)}
    splits.update({d: display_name(d) for d in own_dimensions(ds)})
    from_url("turnaround.measure", next(iter(measures)), options=list(measures), aliases=_aliases(measures))
    from_url("turnaround.by", NONE, options=list(splits), aliases=_aliases(SPLITS | {"source": "Source"}))
    from_url("turnaround.period", "day" if filters.days <= 62 else "week", options=list(PERIODS))
    left, middle, right = st.columns(3)
    measure = left.selectbox("Measure", list(measures), key="turnaround.measure", format_func=measures.get)
    split = middle.selectbox("Split by", list(splits), key="turnaround.by", format_func=splits.get)
    period = right.selectbox("Granularity", list(PERIODS), key="turnaround.period", format_func=PERIODS.get)
    view = loaders.turnaround(ds, filters, measure, None if split == NONE else split, period)
    headline = loaders.turnaround_headline(ds, filters)
    _tiles(view, headline, filters.describe())

    # Only the open section runs, and the open section is part of the link.
    section = section_picker("turnaround.tab", SECTIONS, aliases=_aliases(SECTIONS, label=0))
    SECTIONS[section][1](ctx, view, headline)


def _aliases(labels: dict, label: int | None = None) -> dict[str, str]:
    """Label → identifier: links made before the URL kept identifiers carried the labels; they still open."""
    return {(text if label is None else text[label]): key for key, text in labels.items()}


def _tiles(view: TurnaroundView, headline: Headline, period: str) -> None:
    """The headline tiles: the view's percentiles, mean, SLA, backlog, exposure."""
    label = MEASURES[view.end]
    metric = METRICS["time_to_first_action" if view.end == "first_action_at" else "time_to_close"]
    total = view.total.row(0, named=True)
    counted = f"{total['measured']:,} of {total['tickets']:,} tickets created in the period measured."
    tiles = [
        (
            f"P{p} {label.lower()}",
            duration_label(total[f"p{p}_hours"]),
            f"{definition_words(metric.definition)} {counted}",
        )
        for p in TURNAROUND_PERCENTILES
    ]
    tiles.append(
        (
            f"Mean {label.lower()}",
            duration_label(total["mean_hours"]),
            f"{definition_words(metric.definition)} {counted}",
        )
    )
    if headline.sla is not None:
        sla = headline.sla.row(0, named=True)
        counted = f"{sla['met']:,} of {sla['measured']:,} measured tickets."
        tiles.append(
            ("SLA attainment", _share(sla["attainment"]), f"{definition_words(METRICS['sla'].definition)} {counted}")
        )
    if headline.open_backlog is not None:
        open_tickets = headline.open_backlog["open_tickets"][0]
        tiles.append(
            ("Open at end of period", f"{open_tickets:,}", definition_words(METRICS["open_backlog"].definition))
        )
    if headline.exposure is not None:
        exposure = headline.exposure.row(0, named=True)
        for name, field in (
            ("Actioned before any views", "zero_view_share"),
            ("Actioned within 24 h", "within_24h_share"),
        ):
            tiles.append((name, _share(exposure[field]), definition_words(METRICS["exposure"].definition)))
    for offset in range(0, len(tiles), 4):
        for column, (name, value, definition) in zip(st.columns(4), tiles[offset : offset + 4], strict=False):
            column.metric(name, value, help=f"**{name}.** {definition}\n\nPeriod: {period}.", border=True)


def _durations(ctx: PageContext, view: TurnaroundView, headline: Headline) -> None:
    label = MEASURES[view.end]
    st.subheader(f"{label} per {view.period}")
    waiting = "still waiting" if view.end == "first_action_at" else "still open"
    edges = " The first and last weeks hold only the selected days." if view.period == "week" else ""
    st.caption(
        f"Tickets created in each {view.period}, log scale. Tickets {waiting} are not measured; "
        f"a duration crossing midnight counts on the day it started.{edges}"
    )
    stat = "p90_hours"
    if view.by:
        from_url("turnaround.stat", stat, options=list(STATISTICS), aliases=_aliases(STATISTICS))
        stat = st.radio(
            "Statistic", list(STATISTICS), horizontal=True, key="turnaround.stat", format_func=STATISTICS.get
        )
    metric = "time_to_first_action" if view.end == "first_action_at" else "time_to_close"
    targets, f = view_targets(ctx.user.vendor), ctx.filters
    goals = {
        c: targets.goal_line(metric, c, f.selections(), f.start, f.end)
        for c in ("p50_hours", "p90_hours", "mean_hours")
    }
    # groups by their display names, each in its colour on every page (by its place among all the source's values)
    colours = field_colours(view.by, loaders.dimension_values(ctx.dataset, view.by)) if view.by else None
    over_time = with_display_values(view.over_time, CATEGORY_FIELDS)
    st.plotly_chart(percentile_trend_chart(over_time, view.by, stat, goals, colours), key="turnaround.trend")
    st.subheader("Distribution")
    if view.histogram is None:
        st.info(engine_for(ctx.dataset).declined_note or "No distribution for this selection.")
    else:
        st.caption(
            "Share of measured tickets per duration bin (four bins per tenfold, log scale) and the share done "
            "within each duration (ECDF), so the long tail is visible."
        )
        histogram = with_display_values(view.histogram, CATEGORY_FIELDS)
        st.plotly_chart(duration_distribution_chart(histogram, view.by, colours), key="turnaround.distribution")
    if view.by_group is not None:
        st.subheader(f"By {display_name(view.by).lower()}")
        by_group = with_display_values(view.by_group, CATEGORY_FIELDS)
        st.plotly_chart(group_percentiles_chart(by_group, view.by), key="turnaround.groups")
        _table(
            view.by_group,
            "turnaround.groups_table",
            {
                "tickets": count_column("Tickets", "Created in the period"),
                "measured": count_column("Measured", f"With a {label.lower()}"),
            },
        )


def _sla(ctx: PageContext, view: TurnaroundView, headline: Headline) -> None:
    if headline.sla is None:
        st.info(missing_inputs(ctx.dataset, "sla"))
        return
    policy = load_sla_policy()
    caption = st.empty()  # says what the policy measures on these tickets, once they are read below
    with st.expander("SLA policy", icon=":material/rule:"):
        table(
            pl.DataFrame(
                {
                    "Rule": [r.name for r in policy.rules],
                    "Applies to": [
                        ", ".join(
                            f"{display_name(c)}: {' / '.join(display_value(c, x) for x in v)}" for c, v in r.conditions
                        )
                        or "every other ticket"
                        for r in policy.rules
                    ],
                    "Measures": [f"time to {r.measure.replace('_', ' ')}" for r in policy.rules],
                    "Target": [duration_label(r.target_seconds / 3600) for r in policy.rules],
                }
            ),
            "turnaround.sla_policy",
        )
    options = {g: label for g, label in SLA_BY.items() if g == "sla_rule" or groupable(ctx.dataset, g)}
    from_url("turnaround.sla_by", "sla_rule", options=list(options), aliases=_aliases(SLA_BY | {"source": "Source"}))
    group = st.selectbox("Attainment by", list(options), key="turnaround.sla_by", format_func=options.get)
    sla = loaders.turnaround_sla(ctx.dataset, ctx.filters, group)
    caption.caption(
        f"The SLA policy in `{policy.file}` measures {sla.measures} (first matching rule wins; edit the file and "
        "reload). Tickets still waiting past their target or due time count as missed."
    )
    f = ctx.filters
    steps = view_targets(ctx.user.vendor).goal_line("sla", "attainment", f.selections(), f.start, f.end)
    goal = (steps[-1][2], steps[-1][3]) if steps else None  # the goal in force at the end of the period
    st.plotly_chart(sla_attainment_chart(sla.attainment, group, goal), key="turnaround.sla_chart")
    _table(
        sla.attainment.with_columns(("time to " + pl.col("measure").str.replace_all("_", " ")).alias("measure"))
        if "measure" in sla.attainment.columns
        else sla.attainment,
        "turnaround.sla_table",
        {
            "sla_rule": "SLA rule",
            "measure": "Measures",
            "target_seconds": st.column_config.NumberColumn("Target (s)", format="%d"),
            "tickets": count_column("Tickets", "Created in the period"),
            "measured": count_column("Measured", "With a target or due time; reached, or waiting past it"),
            "met": count_column("Within target"),
            "attainment": percent_column("Attainment", definition_words(METRICS["sla"].definition)),
        },
    )
    st.subheader("Agreement with the source's SLA flag")
    if sla.agreement is None:
        st.caption(
            "The source gives no `sla_met` for tickets of this period, so there is nothing to compare. "
            "Map your system's SLA flag to tickets.sla_met to check it against this policy."
        )
        return
    agreement = sla.agreement.row(0, named=True)
    compared = f"Over the {agreement['compared']:,} tickets both rate."
    cols = st.columns(3)
    cols[0].metric("Attainment (this policy)", _share(agreement["attainment_ours"]), help=compared)
    cols[1].metric("Attainment (source's sla_met)", _share(agreement["attainment_source"]), help=compared)
    cols[2].metric(
        "Tickets rated differently",
        f"{agreement['disagree']:,}",
        help=f"{compared} {agreement['source_only']:,} more carry sla_met but have no target in this policy.",
    )
    if agreement["disagree"]:
        listed = " The first ones:" if sla.disagreements is not None else ""
        st.warning(
            f"This policy and the source's sla_met disagree on {agreement['disagree']:,} tickets "
            f"({_share(agreement['disagree_share'])}): check the targets or the source's clock.{listed}",
            icon=":material/flag:",
        )
        if sla.disagreements is not None:
            table(sla.disagreements, "turnaround.sla_disagreements")
    else:
        st.success("This policy and the source's sla_met agree on every ticket both rate.")


def _backlog(ctx: PageContext, view: TurnaroundView, headline: Headline) -> None:
    if explain_missing(missing_inputs(ctx.dataset, "backlog")):
        return
    backlog = loaders.turnaround_backlog(ctx.dataset, ctx.filters)
    st.subheader("Arrivals, closures and open tickets")
    st.caption(
        "Open at a midnight: created before it and not closed by then. Each day, open at its end = open at its "
        f"start + arrivals − closures ({backlog.flow['open_start'][0]:,} open when the period starts)."
    )
    st.plotly_chart(backlog_flow_chart(backlog.flow), key="turnaround.backlog")
    st.subheader("Age of the open tickets")
    st.caption("Open tickets at the end of each day by time since creation.")
    st.plotly_chart(backlog_aging_chart(backlog.aging), key="turnaround.aging")
    with st.expander("Daily figures", icon=":material/table:"):
        st.caption(definition_words(METRICS["backlog"].definition))
        _table(
            backlog.flow,
            "turnaround.backlog_table",
            {
                "period": st.column_config.DateColumn("Day"),
                "open_start": count_column("Open at start"),
                "arrivals": count_column("Arrivals"),
                "closures": count_column("Closures"),
                "open_end": count_column("Open at end"),
                "oldest_open_hours": decimal_column("Oldest open (h)"),
            },
        )
    if backlog.oldest is not None:
        st.subheader("Oldest open ticket per queue")
        st.caption(f"Open at the end of the period ({ctx.filters.end_before:%Y-%m-%d %H:%M} UTC).")
        _table(
            backlog.oldest,
            "turnaround.oldest",
            {
                "queue": "Queue",
                "open_tickets": count_column("Open"),
                "oldest_ticket_id": "Oldest ticket",
                "oldest_created_at": st.column_config.DatetimeColumn("Created (UTC)"),
                "oldest_first_action_at": st.column_config.DatetimeColumn(
                    "First action (UTC)", help="Empty: still waiting for a first action"
                ),
                "oldest_age_hours": decimal_column("Age (h)"),
            },
        )


def _exposure(ctx: PageContext, view: TurnaroundView, headline: Headline) -> None:
    missing = missing_inputs(ctx.dataset, "exposure")
    if missing or not ctx.dataset.has("tickets", "policy_domain"):
        st.info(missing or "Exposure by policy domain needs tickets.policy_domain; map it under [tickets.columns].")
        return
    exposure = loaders.turnaround_exposure(ctx.dataset, ctx.filters)
    st.subheader("Reach before action by policy domain")
    st.caption(
        "Slow handling of high-reach content sits top right; bubble size = tickets actioned, colour = share "
        "actioned before any views."
    )
    st.plotly_chart(exposure_chart(exposure.by_domain), key="turnaround.exposure")
    _table(
        exposure.by_domain,
        "turnaround.exposure_table",
        {
            "policy_domain": "Policy domain",
            "tickets": count_column("Actioned", definition_words(METRICS["exposure"].definition)),
            "zero_view_share": percent_column("Before any views"),
            "within_24h_share": percent_column("Within 24 h"),
            "p50_views": decimal_column("P50 views", digits=0),
            "p90_views": decimal_column("P90 views", digits=0),
        },
    )
    if exposure.ranking is not None:
        st.subheader("Open backlog ranked by exposure")
        st.caption(
            "Tickets open at the end of the period, most views first. Views are the source's views before action "
            "where the ticket was already actioned, else an estimate: hours open × views per hour of waiting seen "
            "for actioned tickets of the same policy domain and surface."
        )
        _table(
            exposure.ranking,
            "turnaround.ranking",
            {
                "ticket_id": "Ticket",
                "queue": "Queue",
                "policy_domain": "Policy domain",
                "surface": "Surface",
                "market": "Market",
                "created_at": st.column_config.DatetimeColumn("Created (UTC)"),
                "age_hours": decimal_column("Open for (h)"),
                "views_so_far": decimal_column("Views so far", digits=0),
                "estimated": st.column_config.CheckboxColumn("Estimated", help="Views estimated from the group's rate"),
            },
        )


def _hour_of_week(ctx: PageContext, view: TurnaroundView, headline: Headline) -> None:
    grid = loaders.hour_of_week(ctx.dataset, ctx.filters)
    if grid is None:
        st.info(engine_for(ctx.dataset).declined_note or "No hour-of-week view for this selection.")
        return
    st.caption(
        "By the weekday and hour (UTC) tickets were created. Gaps in vendor shifts show as slow cells; "
        "use the vendor filter to look at one vendor."
    )
    st.subheader("Arrivals per hour")
    st.plotly_chart(hour_of_week_chart(grid, "arrivals_per_hour"), key="turnaround.arrivals_heatmap")
    st.subheader("Median time to first action")
    if grid["p50_hours_to_action"].is_not_null().any():
        st.plotly_chart(hour_of_week_chart(grid, "p50_hours_to_action"), key="turnaround.speed_heatmap")
    else:
        st.caption(
            "The median by hour of creation is computed from ticket rows, which this source does not hold in memory; "
            "the P50 and P90 by day are in Time to act."
        )


def _sources(ctx: PageContext, view: TurnaroundView, headline: Headline) -> None:
    if view.by_source is None or headline.proactive is None:
        st.info(missing_inputs(ctx.dataset, "proactive") or "Proactive vs reactive needs tickets.source.")
        return
    st.metric(
        "Detected proactively",
        _share(headline.proactive["proactive_share"][0]),
        help=f"**Proactive detection share.** {definition_words(METRICS['proactive'].definition)}",
    )
    st.subheader(f"{MEASURES[view.end]} by detection source")
    st.plotly_chart(group_percentiles_chart(view.by_source, "source"), key="turnaround.sources")
    by_source = view.by_source.with_columns(pl.col("detection").str.to_titlecase())
    _table(
        by_source.select("source", "detection", "ticket_share", pl.exclude("source", "detection", "ticket_share")),
        "turnaround.sources_table",
        {
            "source": "Source",
            "detection": st.column_config.TextColumn(
                "Detection", help="Proactive (found by the platform) or reactive (reported)"
            ),
            "ticket_share": percent_column("Share of tickets"),
            "tickets": count_column("Tickets"),
            "measured": count_column("Measured"),
        },
    )


def _table(frame: pl.DataFrame, key: str, column_config: dict) -> None:
    """A table whose duration columns (hours in the data) read in minutes and empty labels say so; P99 is left
    out where no group has it (sources without ticket rows)."""
    if "p99_hours" in frame.columns and frame.height and frame["p99_hours"].null_count() == frame.height:
        frame = frame.drop("p99_hours")
    durations = {c: label for c, label in DURATION_COLUMNS.items() if c in frame.columns}
    frame = with_display_values(frame, CATEGORY_FIELDS)
    table(
        frame.with_columns(pl.col(pl.String).fill_null("(not given)"), *[pl.col(c) * 60 for c in durations]),
        key,
        {c: decimal_column(label, digits=2) for c, label in durations.items()} | column_config,
    )


def _share(value: float | None) -> str:
    return f"{value:.1%}" if value is not None else "–"


# Section identifier (in the URL) → (label, section); each section gets (ctx, view, headline).
SECTIONS = {
    "time": ("Time to act", _durations),
    "sla": ("SLA", _sla),
    "backlog": ("Backlog", _backlog),
    "exposure": ("Exposure", _exposure),
    "hour-of-week": ("Hour of week", _hour_of_week),
    "sources": ("Proactive vs reactive", _sources),
}
