"""Forecast & capacity for planners: forecasts with past accuracy, demand vs supply, live staffing, scenarios; one
section at a time, the open one in the link."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl
import streamlit as st

from dashboard import loaders
from dashboard.charts.capacity import (
    backlog_chart,
    backtest_chart,
    demand_supply_chart,
    forecast_chart,
    fte_digits,
    gap_heatmap,
    interval_staffing_chart,
)
from dashboard.components import count_column, decimal_column, share_column, table
from dashboard.context import PageContext
from dashboard.palette import category_colours, recolour
from dashboard.scenario_controls import scenario_controls, scenario_store_panel
from dashboard.url_state import from_url, section_picker
from forecasting.models import MODELS
from forecasting.plan import ALLOCATION_WEEKS, Scenario, plan_headline
from forecasting.plan_splits import SPLITS as PLAN_SPLITS  # the plan's splits (--by): `capacity.by` in the link
from forecasting.plan_splits import split_refusal
from forecasting.planner import LiveQueue
from queries.display import NULL_TEXT, display_name, display_value, with_display_values
from queries.engines import groupable
from queries.filters import Filters
from queries.metrics import missing_inputs

TOTAL = "total"  # the forecast of all tickets: the `by` option and the series name
SPLITS = ("policy_domain", "market", "language", "queue")  # the tickets columns a forecast can be split by
LIVE_TARGETS = "live_p0=60, live_p1=300, live_p2=900"  # queue=seconds: the answer-time goal of each live queue
AUTO = "auto"  # the model option that picks, per series, the model with the lowest backtest MASE


def render(ctx: PageContext) -> None:
    st.title("Forecast & capacity")
    if not ctx.ready(aggregates=True):
        return
    from_url("forecast.weeks", 8, parse=int, valid=lambda n: 4 <= n <= 12, expected="a whole number from 4 to 12")
    weeks = st.columns(3)[0].slider("Horizon (weeks)", 4, 12, key="forecast.weeks")
    # Drawn in every section: the hiring table keeps its edits only while it is on screen.
    with st.expander("What-if scenario", icon=":material/tune:"):
        scenario = scenario_controls(ctx)
    # Only the open section runs, and the open section is part of the link.
    section = section_picker("forecast.section", SECTIONS)
    SECTIONS[section][1](ctx, scenario, weeks)


def _split_name(by: str) -> str:
    return "Total" if by == TOTAL else display_name(by)


def _model_name(model: str) -> str:
    return "Best by backtest (auto)" if model == AUTO else display_value("model", model)


def _series_name(by: str, series: str) -> str:
    """A forecast series for people: "Total", or the display name of its value of `by`."""
    return "Total" if series == TOTAL else display_value(by, series)


def _forecast(ctx: PageContext, _scenario: Scenario, weeks: int) -> None:
    """The forecast of the chosen split and model, its past accuracy and every series' scores (no what-if)."""
    ds, filters = ctx.dataset, ctx.filters
    left, right = st.columns(2)
    splits = [TOTAL, *(c for c in SPLITS if groupable(ds, c))]
    from_url("forecast.by", TOTAL, options=splits)
    by = left.selectbox("Forecast by", splits, key="forecast.by", format_func=_split_name)
    from_url("forecast.model", AUTO, options=[AUTO, *MODELS])
    model = right.selectbox(
        "Model",
        [AUTO, *MODELS],
        key="forecast.model",
        format_func=_model_name,
        help="Best by backtest: the model with the lowest backtest MASE per series.",
    )
    st.caption(
        f"History: every day up to {filters.end} in the selected groups; forecast: the {weeks} weeks after it. "
        "Rolling-origin backtest with 4 folds of the same horizon."
    )
    view = loaders.forecast_view(ds, filters, None if by == TOTAL else by, weeks * 7, model)
    if view.scores.is_empty():
        st.info("No tickets in the selected groups up to the end of the period: nothing to forecast.")
        return
    series = view.scores["series"].to_list()
    if len(series) > 1:
        from_url("forecast.series", series[0], options=series, expected="a series of this forecast")
        chosen = st.selectbox("Series", series, key="forecast.series", format_func=lambda s: _series_name(by, s))
    else:
        chosen = series[0]
    history = view.history.filter(pl.col("series") == chosen)
    forecast = view.forecasts.filter(pl.col("series") == chosen)
    score = view.scores.filter(pl.col("series") == chosen).row(0, named=True)
    st.plotly_chart(forecast_chart(history, forecast), key="forecast.chart")
    cols = st.columns([1.6, 1, 1, 1])  # the model's name is the longest value: its tile is wider, not cut
    cols[0].metric("Model", _model_name(score["model"]), help=score["note"] or None)
    cols[1].metric(
        "MASE (backtest)",
        f"{score['mase']:.2f}",
        delta=f"{score['mase'] - score['baseline_mase']:+.2f} vs naive",
        delta_color="inverse",
        help="Mean absolute error scaled by the in-sample weekly seasonal-naive error; "
        "below 1 beats a same-weekday-last-week forecast.",
    )
    cols[2].metric(
        "80 % interval coverage", f"{score['coverage_80']:.0%}", help="Share of past actuals inside the 80 % band."
    )
    cols[3].metric(
        "95 % interval coverage", f"{score['coverage_95']:.0%}", help="Share of past actuals inside the 95 % band."
    )
    if score["note"]:
        st.caption(f"Why {_model_name(score['model'])}: {score['note']}.")
    if score["closed_weekdays"]:
        st.caption(
            f"Closed on {score['closed_weekdays']}: no tickets on those weekdays in any week of the history, so they "
            "are neither training data nor forecast."
        )
    st.subheader("How good were past forecasts")
    st.caption("Each backtest fold's forecast from its origin, with its 80 % interval, against what happened.")
    st.plotly_chart(backtest_chart(view.backtests.filter(pl.col("series") == chosen)), key="forecast.backtest")
    if view.note:
        st.caption(view.note)
    scores = view.scores.with_columns(
        pl.col("series").map_elements(lambda s: _series_name(by, s), return_dtype=pl.String),
        pl.col("closed_weekdays").replace("", None),  # open every day: "—"
    )
    table(
        with_display_values(scores, ["model"]),
        "forecast.scores",
        {c: decimal_column(display_name(c), digits=2) for c in ("mase", "baseline_mase")}
        | {
            "bias": share_column("Bias", "Mean error over mean actual in the backtest: + forecasts ran high."),
            "coverage_80": share_column("80 % coverage", "Share of past actuals inside the 80 % band."),
            "coverage_95": share_column("95 % coverage", "Share of past actuals inside the 95 % band."),
            "history_days": None,
            "note": None,  # the chosen series' note is the caption under its tiles
        },
    )


def _capacity(ctx: PageContext, scenario: Scenario, weeks: int) -> None:
    """The plan per group of the chosen split (`python -m forecasting plan --by`) and week: tiles, charts, table."""
    from_url("capacity.by", "vendor", options=list(PLAN_SPLITS), expected=f"one of {' | '.join(PLAN_SPLITS)}")
    split = st.selectbox(
        "Plan by",
        list(PLAN_SPLITS),
        key="capacity.by",
        format_func=_plan_split_name,
        help="Finer splits share out each vendor's demand and supply, so their rows add up to the vendor rows.",
    )
    keys = PLAN_SPLITS[split]
    refused = split_refusal(ctx.dataset, split)
    if refused:
        st.info(refused)
        return
    result = loaders.split_plan(ctx.dataset, ctx.filters, weeks * 7, scenario, split)
    plan = result.plan
    if plan.is_empty():
        missing = missing_inputs(ctx.dataset, "throughput") or missing_inputs(ctx.dataset, "handle_time")
        st.info(
            missing
            or f"No vendor reviewed tickets in the selection over the last {ALLOCATION_WEEKS} weeks and no staffing "
            "serves it: nothing to plan."
        )
        return
    st.caption(_supply_note(ctx.filters, lambda: loaders.capacity_plan(ctx.dataset, ctx.filters, weeks * 7, scenario)))
    if result.note:
        st.caption(result.note)
    name = _plan_split_name(split)
    headline = plan_headline(plan, keys)
    cols = st.columns(4)
    cols[0].metric(
        "Required FTE (horizon average)",
        _fte(headline.required_fte_avg),
        help="All groups shown, averaged over the days of the horizon (a partial week counts for its days).",
    )
    gap = headline.worst_gap_fte
    cols[1].metric(
        "Worst week: surplus / deficit",
        f"{_fte(gap, '+')} FTE" if gap is not None else NULL_TEXT,
        help=f"Supply − required FTE of the {name.lower()} and week with the largest deficit (or smallest surplus); "
        "groups are not netted against each other.",
    )
    if headline.worst_group is not None:
        cols[1].caption(f"{_group_text(keys, headline.worst_group)}, week of {headline.worst_week}")
    deficit = headline.group_weeks_in_deficit
    cols[2].metric(
        f"{name}{'-' if len(keys) == 1 else ' '}weeks in deficit",
        f"{deficit} of {headline.group_weeks}" if deficit is not None else NULL_TEXT,
    )
    sla = headline.projected_sla
    cols[3].metric(
        "Projected SLA (deferred work)",
        f"{sla:.1%}" if sla is not None else NULL_TEXT,
        help=f"Hours of work cleared within {scenario.sla_hours:g} h in the backlog simulation over all hours of work, "
        "every group and week (weighted by work); work still waiting at the end of the horizon with its window "
        "open is not counted.",
    )
    supplied = headline.supply_fte_avg is not None
    whose = "selected vendors" if ctx.filters.vendor else "all vendors"
    st.subheader(("Required vs supplied FTE, " if supplied else "Required FTE, ") + whose)
    st.plotly_chart(demand_supply_chart(plan), key="capacity.chart")
    if supplied:
        grouped = plan.with_columns(pl.Series("group", [_group_text(keys, g) for g in plan.select(keys).rows()]))
        st.subheader(f"Surplus or deficit per {name.lower()} and week (FTE)")
        st.plotly_chart(gap_heatmap(grouped, "group"), key="capacity.gap")
        st.subheader("Projected backlog")
        if plan["backlog_hours_end"].max() < 0.05:
            st.caption(f"No backlog projected: every {name.lower()} clears each week's work within the week.")
        chart = backlog_chart(grouped, by="group")
        if keys == ("vendor",):
            chart = recolour(chart, category_colours(loaders.dimension_values(ctx.dataset, "vendor")))  # as on Vendors
        st.plotly_chart(chart, key="capacity.backlog")
    covered = "coverage_fte" in plan.columns and (plan["coverage_fte"].max() or 0) > 0  # a floor: shown where set
    shown = PLAN_ORDER if not covered else (*PLAN_ORDER[:2], "coverage_fte", *PLAN_ORDER[2:])  # beside required
    order = (*keys, *shown)
    table(
        with_display_values(plan, keys).select(*order, pl.exclude(order)), "capacity.table", _plan_columns(plan, order)
    )


def _plan_split_name(split: str) -> str:
    """The split's name for people: "Vendor", "Vendor × language", …"""
    first, *rest = PLAN_SPLITS[split]
    return display_name(first) + "".join(f" × {display_name(k).lower()}" for k in rest)


def _group_text(keys: tuple[str, ...], values: tuple) -> str:
    """A group of the plan for people: its values' display names ("atlas_cx · Live P1")."""
    return " · ".join(display_value(k, v) for k, v in zip(keys, values, strict=True))


FTE_COLUMNS = ("required_fte", "required_fte_hi_80", "supply_fte", "gap_fte")
# Short labels next to "Required (FTE)", so the table fits at 1400 px (their help says what they are).
FTE_LABELS = {"required_fte_hi_80": "80 % upper (FTE)", "gap_fte": "Gap (FTE)"}
# The plan table's columns as a planner reads them after the group's keys (the rest are hidden).
PLAN_ORDER = ("week", *FTE_COLUMNS, "sla_projected", "backlog_hours_end", "human_tickets")


def _plan_columns(plan: pl.DataFrame, order: tuple[str, ...]) -> dict:
    """The plan table: what a planner reads per group and week (`order`), FTE at a precision that shows the largest
    figure's size; every other column (the inputs of the tiles' sums, the supply share in the caption) stays in the
    data, hidden."""
    largest = plan.select(pl.max_horizontal(pl.col(FTE_COLUMNS).abs().max())).item() or 0.0
    digits = fte_digits(largest)
    fte_help = {
        "required_fte_hi_80": "Required FTE with the forecast's 80 % upper bound.",
        "gap_fte": "Supply − required: + surplus, − deficit.",
    }
    hidden = [c for c in plan.columns if c not in order]  # so the table fits at 1400 px without scrolling
    return (
        {
            "week": st.column_config.DateColumn("Week of", format="YYYY-MM-DD", help="Monday of the week (UTC)."),
            "human_tickets": count_column("Tickets", "Human-review tickets the forecast brings that week."),
            "backlog_hours_end": decimal_column("Backlog (h)", "Hours of work still waiting at the week's end."),
            "sla_projected": share_column(
                display_name("sla_projected"), "Hours of work cleared within the SLA window."
            ),
            "coverage_fte": decimal_column(
                display_name("coverage_fte"),
                "FTE that keep the staffing's (or the roster's) reviewers on the floor through their covered hours; "
                "required FTE are at least this.",
                digits,
            ),
        }
        | dict.fromkeys(hidden)
        | {c: decimal_column(FTE_LABELS.get(c, display_name(c)), fte_help.get(c), digits) for c in FTE_COLUMNS}
    )


def _fte(value: float, sign: str = "") -> str:
    """FTE with more decimals for small figures (fte_digits)."""
    return f"{value:{sign}.{fte_digits(abs(value))}f}"


def _supply_note(filters: Filters, vendor_plan: Callable[[], pl.DataFrame]) -> str:
    """What the supply side covers for the current selection (`vendor_plan`: the plan per vendor, for its shares)."""
    others = {k: v for k, v in filters.selections().items() if k != "vendor"}
    if filters.vendor:
        whose = "its" if len(filters.vendor) == 1 else "their"
        text = f"Demand of {', '.join(filters.vendor)} against {whose} own supply."
    else:
        text = f"Demand of {'the selected' if others else 'all'} tickets against every vendor's supply."
    if others:
        shares = vendor_plan().group_by("vendor").agg(pl.col("supply_share").first()).sort("vendor")
        listed = ", ".join(f"{v} {s:.0%}" for v, s in shares.iter_rows() if s is not None)
        selection = "; ".join(
            f"{display_name(k).lower()} {', '.join(display_value(k, x) for x in v)}" for k, v in others.items()
        )
        split = ", ".join(display_name(k).lower() for k in others)
        text += (
            f" Staffing is not split by {split}: each vendor's supply counts for the selection ({selection}) by the "
            "share of its human review hours of the last "
            f"{ALLOCATION_WEEKS} weeks that fell in it ({listed})."
        )
    return text


def _live(ctx: PageContext, scenario: Scenario, weeks: int) -> None:
    first = ctx.filters.end + dt.timedelta(days=1)
    last = first + dt.timedelta(days=weeks * 7 - 1)
    if not first <= st.session_state.get("live.day", first) <= last:  # another period or horizon: back to its first day
        del st.session_state["live.day"]
    from_url(
        "live.day",
        first,
        parse=dt.date.fromisoformat,
        valid=lambda d: first <= d <= last,
        expected=f"a day from {first} to {last}",
    )
    day = st.date_input("Day", min_value=first, max_value=last, key="live.day")
    cols = st.columns(3)
    from_url("live.level", 0.9, parse=float, valid=lambda x: 0.5 <= x <= 0.99, expected="a share from 0.5 to 0.99")
    level = cols[0].slider("Service level", 0.5, 0.99, key="live.level")
    from_url("live.patience", 0, parse=int, valid=lambda n: 0 <= n <= 3600, expected="whole seconds from 0 to 3600")
    patience = cols[1].number_input(
        "Stream patience (s, 0 = none)",
        0,
        3600,
        step=30,
        key="live.patience",
        help="Mean time until a stream ends unreviewed (Erlang A); 0 uses Erlang C.",
    )
    from_url("live.targets", LIVE_TARGETS)
    targets = cols[2].text_input(
        "Targets (queue=seconds)", key="live.targets", help="Each live queue's identifier and its answer-time goal."
    )
    queues = [
        LiveQueue(q.strip(), float(t), level, float(patience) or None)
        for q, _, t in (item.partition("=") for item in targets.split(","))
        if q.strip() and t.strip().replace(".", "", 1).isdigit()
    ]
    staffing = loaders.live_staffing(ctx.dataset, ctx.filters, weeks * 7, day, tuple(queues), scenario)
    if staffing is None:
        ctx.has_rows(
            "live queues filtered by two or more dimensions over this many tickets (half-hour arrivals and reviews "
            "per queue are kept by one dimension at a time)"
        )
        return
    if staffing.is_empty():
        st.info("No human-reviewed tickets in these queues over the last 8 weeks.")
        return
    summary = (
        staffing.group_by("queue")
        .agg(
            pl.col("volume").sum().alias("tickets"),
            pl.col("agents").max().alias("peak_agents"),
            (pl.col("agents").sum() / 2).alias("agent_hours"),
            pl.col("service_level").min().alias("lowest_service_level"),
        )
        .with_columns(
            (pl.col("agent_hours") / (scenario.paid_hours_per_fte_day * (1 - scenario.shrinkage))).alias("fte")
        )
    )
    queues = with_display_values(staffing, ["queue"])
    colours = category_colours([display_value("queue", q) for q in loaders.dimension_values(ctx.dataset, "queue")])
    st.plotly_chart(recolour(interval_staffing_chart(queues), colours), key="live.chart")
    table(
        with_display_values(summary.sort("queue"), ["queue"]),
        "live.summary",
        {
            "tickets": count_column("Human-review tickets"),
            "peak_agents": count_column("Peak agents"),
            "agent_hours": decimal_column("Agent hours"),
            "lowest_service_level": share_column("Lowest half-hour service level"),
            "fte": decimal_column("FTE (after shrinkage)"),
        },
    )
    st.caption(
        "Real-time queues need enough agents in every half hour, so at low volume they cost more FTE than their "
        "workload alone: compare with Demand vs supply, which staffs deferred work by hours."
    )


# Section (its URL value) → (label, function drawing it with the page context, the what-if and the horizon in weeks).
SECTIONS = {
    "forecast": ("Forecast", _forecast),
    "capacity": ("Demand vs supply", _capacity),
    "live": ("Live queues (Erlang)", _live),
    "scenarios": ("Scenarios", scenario_store_panel),
}
