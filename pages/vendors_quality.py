"""Vendors & quality for leadership, vendor managers, QA and policy: scorecards with honest uncertainty, capacity
coverage, QA accuracy and agreement, appeals, policy-gap candidates and error rates around policy changes."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import loaders
from dashboard.charts.quality import (
    before_after_chart,
    error_types_chart,
    interval_chart,
    matrix_heatmap,
    vendor_trend_chart,
)
from dashboard.components import count_column, decimal_column, explain_missing, percent_column, table
from dashboard.context import PageContext
from queries.analyses import quality, vendors
from queries.definitions import METRICS
from queries.metrics import missing_inputs

SCORECARD_SPLITS = {
    "Vendor": (),
    "Vendor × site": ("site",),
    "Vendor × language": ("language",),
    "Vendor × queue": ("queue",),
}
# label: (measure, interval low, interval high, axis title)
TREND_MEASURES = {
    "QA accuracy": ("qa_accuracy", "qa_ci_low", "qa_ci_high", "QA accuracy"),
    "SLA attainment": ("sla_attainment", "sla_ci_low", "sla_ci_high", "SLA attainment"),
    "Appeal overturn rate": ("overturn_rate", "overturn_ci_low", "overturn_ci_high", "overturn rate"),
    "Throughput": ("handled_per_productive_hour", None, None, "decisions per productive hour"),
}
# title: (measure, column prefix of its interval and flag, sample size)
SCORECARD_CHARTS = {
    "QA accuracy": ("qa_accuracy", "qa", "qa_reviews"),
    "SLA attainment": ("sla_attainment", "sla", "sla_measured"),
}
APPEAL_GROUPS = {"Policy domain": "policy_domain", "Vendor": "vendor", "Market": "market"}
GAP_GROUPS = {
    "Policy domain": ("policy_domain",),
    "Policy domain × market": ("policy_domain", "market"),
    "Policy domain × language": ("policy_domain", "language"),
}
# Capacity coverage by language or policy domain: the columns after the leading ones, their labels and flags.
COVERAGE_COLUMNS = (
    "vendors",
    "top_vendor_share",
    "vendor_list",
    "tickets",
    "previous_tickets",
    "change_share",
    "single_vendor",
    "low_fte",
    "rising_demand",
)
COVERAGE_CONFIG = {
    "single_vendor": st.column_config.CheckboxColumn("Single vendor", help=vendors.DEFINITIONS["top_vendor_share"]),
    "low_fte": st.column_config.CheckboxColumn("Low FTE", help=vendors.DEFINITIONS["fte"]),
    "rising_demand": st.column_config.CheckboxColumn("Rising demand", help=vendors.DEFINITIONS["rising_demand"]),
    "top_vendor_share": percent_column("Top vendor share", vendors.DEFINITIONS["top_vendor_share"]),
    "vendor_list": st.column_config.TextColumn("Vendors (largest first)"),
    "vendors": count_column("Vendors"),
    "tickets": count_column("Tickets", METRICS["volume"].definition),
    "previous_tickets": count_column("Previous", "Tickets in the previous equal period."),
    "change_share": percent_column("Change", "Tickets vs the previous equal period."),
}
QA_PERIODS = {"Whole period": None, "Week": "week", "Month": "month"}
CHANGE_LABELS = {
    "handled": ("Handled", "count"),
    "handled_per_productive_hour": ("Per productive h", "num"),
    "occupancy_share": ("Occupancy", "pct"),
    "sla_attainment": ("SLA attainment", "pct"),
    "qa_accuracy": ("QA accuracy", "pct"),
    "overturn_rate": ("Overturn rate", "pct"),
}
VS_REST = quality.DEFINITIONS["vs_rest"]
CI = quality.DEFINITIONS["ci"]

LOW_FTE = "A language or policy domain with fewer scheduled FTE than this is flagged as thinly staffed."


def _interval_columns(prefix: str, short: str) -> dict:
    """Labels of the bounds of a share's 95 % interval (`{prefix}_ci_low`, `{prefix}_ci_high`)."""
    return {
        f"{prefix}_ci_low": percent_column(f"{short} low", CI),
        f"{prefix}_ci_high": percent_column(f"{short} high", CI),
    }


COLUMNS = {
    "vendor": "Vendor",
    "site": "Site",
    "language": "Language",
    "queue": "Queue",
    "policy_domain": "Policy domain",
    "market": "Market",
    "period": st.column_config.DateColumn("Period from", help="First day of the week (Monday) or month, UTC."),
    "scheduled_fte": decimal_column("Scheduled FTE", vendors.DEFINITIONS["scheduled_fte"], 2),
    "productive_hours": decimal_column("Productive h", vendors.DEFINITIONS["productive_hours"]),
    "handled": count_column("Handled", vendors.DEFINITIONS["handled"]),
    "handled_per_productive_hour": decimal_column(
        "Per productive h", vendors.DEFINITIONS["handled_per_productive_hour"]
    ),
    "handle_hours": decimal_column("Handle h", vendors.DEFINITIONS["handle_hours"]),
    "mean_handle_seconds": decimal_column("Mean handle s", METRICS["handle_time"].definition, 0),
    "occupancy_share": percent_column("Occupancy", vendors.DEFINITIONS["occupancy_share"]),
    "quality_adjusted_per_productive_hour": decimal_column(
        "Quality-adjusted per h", vendors.DEFINITIONS["quality_adjusted_per_productive_hour"]
    ),
    "quality_adjusted_low": decimal_column("… low", CI),
    "quality_adjusted_high": decimal_column("… high", CI),
    "sla_measured": count_column("SLA n", METRICS["sla"].definition),
    "sla_attainment": percent_column("SLA attainment", vendors.DEFINITIONS["sla_attainment"]),
    **_interval_columns("sla", "SLA"),
    "sla_vs_rest": st.column_config.TextColumn("SLA vs others", help=VS_REST),
    "qa_reviews": count_column("QA n", "QA reviews in the period."),
    "qa_accuracy": percent_column("QA accuracy", vendors.DEFINITIONS["qa_accuracy"]),
    **_interval_columns("qa", "QA"),
    "qa_vs_rest": st.column_config.TextColumn("QA vs others", help=VS_REST),
    "appealed": count_column("Appealed", METRICS["appeals"].definition),
    "overturn_rate": percent_column("Overturn rate", vendors.DEFINITIONS["overturn_rate"]),
    **_interval_columns("overturn", "Overturn"),
    "overturn_vs_rest": st.column_config.TextColumn("Overturns vs others", help=VS_REST),
    "reviews": count_column("Reviews", "QA reviews in the period (n)."),
    "accuracy": percent_column("Accuracy", quality.DEFINITIONS["accuracy"]),
    "ci_low": percent_column("95 % low", CI),
    "ci_high": percent_column("95 % high", CI),
    "tickets": count_column("Tickets", METRICS["appeals"].definition),
    "appeal_rate": percent_column("Appeal rate", METRICS["appeals"].definition),
    **_interval_columns("appeal", "Appeal"),
}


def _change_columns() -> dict:
    """Labels for the previous value, the change and its significance of each compared measure."""
    config: dict = {}
    for measure, (label, unit) in CHANGE_LABELS.items():
        make = {"pct": percent_column, "count": count_column, "num": decimal_column}[unit]
        config[f"{measure}_previous"] = make(f"{label} before", "Previous equal period.")
        config[measure] = make(label, vendors.DEFINITIONS[measure])
        config[f"{measure}_change"] = make(f"Δ {label}", "This period − the previous one (shares: in points).")
        config[f"{measure}_change_significant"] = st.column_config.CheckboxColumn(
            f"Δ {label} significant", help="The 95 % interval of the change (Newcombe) excludes zero."
        )
    return config


def _table(frame: pl.DataFrame, columns: list[str], key: str, extra: dict | None = None) -> None:
    """A dataframe of the present columns, labelled and explained on hover."""
    shown = [c for c in columns if c in frame.columns]
    config = {c: COLUMNS[c] for c in shown if c in COLUMNS} | (extra or {})
    data = frame.select(shown).with_columns(pl.col(pl.String).fill_null("–"))  # empty flag: not significant
    table(data, key, config)


def _with_label(frame: pl.DataFrame, keys: tuple[str, ...]) -> pl.DataFrame:
    """A `label` column joining the row's keys, for chart axes."""
    return frame.with_columns(pl.concat_str([pl.col(k).fill_null("–") for k in keys], separator=" · ").alias("label"))


def render(ctx: PageContext) -> None:
    st.title("Vendors & quality")
    if not ctx.ready():
        return
    st.caption(
        f"{ctx.filters.describe()} · 95 % intervals with their sample sizes (n); a row is marked better or worse "
        "only when the difference is statistically significant."
    )
    for tab, section in zip(st.tabs(list(SECTIONS)), SECTIONS.values(), strict=True):
        with tab:
            section(ctx)


def _vendors(ctx: PageContext) -> None:
    ds = ctx.dataset
    if not ds.has("tickets", "vendor"):
        st.info("Vendor scorecards need tickets.vendor; map it under [tickets.columns].")
        return
    splits = {k: v for k, v in SCORECARD_SPLITS.items() if all(ds.has("tickets", c) for c in v)}
    label = st.selectbox("Scorecard by", list(splits), key="vendors.by")
    by = splits[label]
    keys = ("vendor", *by)
    card = loaders.vendor_scorecard(ds, ctx.filters, by)

    st.subheader("Capacity and throughput")
    if "handled" in card.columns:
        st.caption("Period and vendor filter only: the staffing table has no policy domain, market, surface or source.")
        _table(
            card,
            [
                *keys,
                "scheduled_fte",
                "productive_hours",
                "handled",
                "handled_per_productive_hour",
                "handle_hours",
                "occupancy_share",
                "quality_adjusted_per_productive_hour",
                "quality_adjusted_low",
                "quality_adjusted_high",
            ],
            "vendors.capacity_table",
        )
    elif "queue" in by:
        st.info("Staffing is not split by queue (the `throughput` metric groups by vendor, site and language only).")
    else:
        st.info(missing_inputs(ds, "throughput") or "")

    st.subheader("Quality and SLA")
    _table(
        card,
        [
            *keys,
            "sla_measured",
            "sla_attainment",
            "sla_ci_low",
            "sla_ci_high",
            "sla_vs_rest",
            "qa_reviews",
            "qa_accuracy",
            "qa_ci_low",
            "qa_ci_high",
            "qa_vs_rest",
            "appealed",
            "overturn_rate",
            "overturn_ci_low",
            "overturn_ci_high",
            "overturn_vs_rest",
        ],
        "vendors.quality_table",
    )
    labelled = _with_label(card, keys)
    for column, (title, (value, prefix, n)) in zip(st.columns(2), SCORECARD_CHARTS.items(), strict=True):
        if value in card.columns:
            column.markdown(f"**{title}** (95 % interval; coloured only when significantly different)")
            column.plotly_chart(
                interval_chart(
                    labelled, "label", value, f"{prefix}_ci_low", f"{prefix}_ci_high", n, flag=f"{prefix}_vs_rest"
                ),
                key=f"vendors.{prefix}_chart",
            )

    st.subheader("Change vs the previous period")
    previous = ctx.filters.previous()
    st.caption(
        f"Against {previous.start} to {previous.end}. For shares, “significant” means the 95 % interval of the "
        "change excludes zero."
    )
    changes = [
        c for m in vendors.CHANGE_MEASURES for c in (f"{m}_previous", m, f"{m}_change", f"{m}_change_significant")
    ]
    _table(card, [*keys, *changes], "vendors.changes", _change_columns())

    st.subheader("Weekly trend")
    trend = loaders.vendor_trend(ds, ctx.filters)
    available = {k: v for k, v in TREND_MEASURES.items() if v[0] in trend.columns}
    if available:
        measure = st.selectbox("Measure", list(available), key="vendors.trend_measure")
        value, low, high, axis = available[measure]
        st.caption(
            "The 12 full weeks (Monday to Sunday) up to the end of the period. 95 % bands appear when at most two "
            "vendors are shown: pick them in the Vendor filter."
        )
        st.plotly_chart(vendor_trend_chart(trend, value, low=low, high=high, axis_title=axis), key="vendors.trend")


def _capacity(ctx: PageContext) -> None:
    ds = ctx.dataset
    missing = missing_inputs(ds, "handle_time") or missing_inputs(ds, "throughput")
    if missing or not ds.has("tickets", "vendor", "language", "policy_domain"):
        st.info(missing or "Capacity views need tickets.vendor, language and policy_domain; map them.")
        return
    low_fte = st.number_input("Low FTE below", min_value=0.0, value=1.0, step=0.5, key="vendors.low_fte", help=LOW_FTE)
    handle, language_matrix, languages, domain_matrix, domains = loaders.vendor_capacity(ds, ctx.filters, low_fte)
    st.caption(
        "Capacity is every vendor's (the vendor filter does not apply); demand follows the other filters. "
        "Flags: single vendor (one vendor gives ≥ 90 % of the capacity), low FTE, rising demand (≥ 20 % more "
        "tickets than the previous period, and significantly so)."
    )
    st.subheader("By language")
    _coverage(
        languages,
        language_matrix,
        ["language", "fte", "productive_hours", "occupancy_share"],
        fte=decimal_column("Scheduled FTE", vendors.DEFINITIONS["fte"], 2),
        fte_value="scheduled_fte",
        note="Scheduled FTE per vendor and language (average per day).",
        stem="language",
    )
    st.subheader("By policy domain")
    _coverage(
        domains,
        domain_matrix,
        ["policy_domain", "fte", "handle_hours"],
        fte=decimal_column("FTE equivalent", vendors.DEFINITIONS["fte_equivalent"], 2),
        fte_value="fte_equivalent",
        note=vendors.DEFINITIONS["fte_equivalent"],
        stem="domain",
    )
    st.subheader("Handle time by policy domain")
    st.caption(
        "Mean handle seconds of human decisions per vendor and policy domain; hover for the number of decisions."
    )
    st.plotly_chart(
        matrix_heatmap(
            handle,
            "policy_domain",
            "vendor",
            "mean_handle_seconds",
            n="reviews",
            text_format=".0f",
            colorscale="Oranges",
            title="s",
        ),
        key="vendors.handle_time",
    )


def _coverage(
    frame: pl.DataFrame,
    matrix: pl.DataFrame,
    leading: list[str],
    *,
    fte: st.column_config.NumberColumn,
    fte_value: str,
    note: str,
    stem: str,
) -> None:
    """Capacity coverage by `leading[0]`: a table (the leading columns, then vendors, demand and flags), `note`,
    and the vendor × group heatmap of the matrix's `fte_value`."""
    _table(frame, [*leading, *COVERAGE_COLUMNS], f"vendors.{stem}s", COVERAGE_CONFIG | {"fte": fte})
    st.caption(note)
    st.plotly_chart(
        matrix_heatmap(matrix, leading[0], "vendor", fte_value, text_format=".2f", colorscale="Blues", title="FTE"),
        key=f"vendors.{stem}_matrix",
    )


def _quality(ctx: PageContext) -> None:
    ds = ctx.dataset
    if explain_missing(missing_inputs(ds, "qa_accuracy")):
        return
    st.subheader("QA accuracy by vendor × policy domain")
    overall = loaders.qa_accuracy(ds, ctx.filters, ("vendor", "policy_domain"), None)
    st.caption("Colour: accuracy; hover for the number of reviews. " + CI)
    st.plotly_chart(
        matrix_heatmap(overall, "policy_domain", "vendor", "accuracy", n="reviews", title="accuracy"),
        key="vendors.qa_matrix",
    )
    period_label = st.selectbox("Table by", list(QA_PERIODS), key="vendors.qa_period")
    table = loaders.qa_accuracy(ds, ctx.filters, ("vendor", "policy_domain"), QA_PERIODS[period_label])
    _table(table, ["vendor", "policy_domain", "period", "reviews", "accuracy", "ci_low", "ci_high"], "vendors.qa_table")

    st.subheader("Agreement between moderators and QA (Cohen's kappa)")
    if ds.has("qa_reviews", "moderator_decision", "qa_decision"):
        kappa = loaders.agreement(ds, ctx.filters)
        st.caption(quality.DEFINITIONS["kappa"])
        st.plotly_chart(
            interval_chart(
                kappa,
                "policy_domain",
                "kappa",
                "kappa_ci_low",
                "kappa_ci_high",
                "reviews",
                percent=False,
                axis_title="Cohen's kappa",
            ),
            key="vendors.kappa",
        )
    else:
        st.info("Kappa needs qa_reviews.moderator_decision and qa_decision; map them under [qa_reviews.columns].")

    st.subheader("Error types")
    if ds.has("qa_reviews", "error_type"):
        errors = loaders.error_types(ds, ctx.filters)
        st.caption(quality.DEFINITIONS["error_share"])
        st.plotly_chart(error_types_chart(errors), key="vendors.error_types")
    else:
        st.info("Error types need qa_reviews.error_type; map it under [qa_reviews.columns].")

    st.subheader("QA sampling planner")
    margin_points = st.slider(
        "Wanted precision (± points)", 1, 10, 3, key="vendors.margin", help=quality.DEFINITIONS["reviews_needed"]
    )
    plan = loaders.sampling_plan(ds, ctx.filters, margin_points / 100)
    short = plan.filter(pl.col("reviews_short") > 0)
    cols = st.columns(3)
    cols[0].metric(
        "Groups precise enough",
        f"{plan.height - short.height} of {plan.height}",
        help=f"Vendor × policy domain groups whose current sample already gives ±{margin_points} points.",
        border=True,
    )
    cols[1].metric(
        "More reviews needed",
        f"{short['reviews_short'].sum():,}",
        help="Sum over the groups of (reviews needed − reviews done) in a period as long as this one.",
        border=True,
    )
    cols[2].metric(
        "Reviews done", f"{plan['reviews'].sum():,}", help="QA reviews in the period (all groups).", border=True
    )
    _table(
        plan.sort("reviews_short", descending=True),
        [
            "vendor",
            "policy_domain",
            "reviews",
            "accuracy",
            "ci_low",
            "ci_high",
            "margin_now",
            "reviews_needed",
            "reviews_short",
        ],
        "vendors.sampling",
        {
            "margin_now": percent_column("± now", "Half the width of the current Wilson 95 % interval."),
            "reviews_needed": count_column("Needed", quality.DEFINITIONS["reviews_needed"]),
            "reviews_short": count_column("Short by", "Reviews needed − reviews done (0 when enough)."),
        },
    )


def _appeals(ctx: PageContext) -> None:
    ds = ctx.dataset
    if explain_missing(missing_inputs(ds, "appeals")):
        return
    groups = {k: v for k, v in APPEAL_GROUPS.items() if ds.has("tickets", v)}
    if not groups:
        st.info("Appeals by group need tickets.policy_domain, vendor or market; map them under [tickets.columns].")
        return
    label = st.selectbox("Appeals by", list(groups), key="vendors.appeals_by")
    column = groups[label]
    frame = loaders.appeals(ds, ctx.filters, [column])
    st.caption(
        METRICS["appeals"].definition
        + " Overturns are a second quality signal: a decision reversed on appeal was wrong or unclear."
        + (" An empty vendor is an automated decision." if column == "vendor" else "")
    )
    _table(
        frame,
        [
            column,
            "tickets",
            "appealed",
            "appeal_rate",
            "appeal_ci_low",
            "appeal_ci_high",
            "overturned",
            "overturn_rate",
            "overturn_ci_low",
            "overturn_ci_high",
            "overturn_vs_rest",
        ],
        "vendors.appeals_table",
        {"overturned": count_column("Overturned", METRICS["appeals"].definition)},
    )
    st.plotly_chart(
        interval_chart(
            _with_label(frame, (column,)),
            "label",
            "overturn_rate",
            "overturn_ci_low",
            "overturn_ci_high",
            "appealed",
            flag="overturn_vs_rest",
            axis_title="overturn rate of appealed decisions",
        ),
        key="vendors.appeals_chart",
    )


def _policy_gaps(ctx: PageContext) -> None:
    ds = ctx.dataset
    missing = missing_inputs(ds, "qa_accuracy")
    if missing or not ds.has("qa_reviews", "policy_domain"):
        st.info(missing or "Policy gaps need qa_reviews.policy_domain; map it under [qa_reviews.columns].")
        return
    groups = {k: v for k, v in GAP_GROUPS.items() if all(ds.has("tickets", c) for c in v[1:])}
    label = st.selectbox("Look for gaps by", list(groups), key="vendors.gaps_by")
    gaps = loaders.policy_gaps(ds, ctx.filters, groups[label])
    candidates = gaps.filter(pl.col("signals") > 0)
    st.metric(
        "Policy-gap candidates",
        f"{candidates.height} of {gaps.height}",
        help="Groups with at least one signal: low agreement across vendors, high human overturns, or split "
        "decisions on similar tickets. A problem shared by vendors points at the policy or guidance.",
        border=True,
    )
    st.markdown(
        "Ranked by the number of signals, then by lowest QA accuracy. The signals:\n"
        "- **Low agreement across vendors**: at least two vendors, and at least half of those compared, are "
        "significantly less accurate here than on their own other reviews.\n"
        "- **High overturns**: the overturn rate of appealed human decisions is significantly above the other "
        "groups'.\n"
        "- **Split decisions**: vendors decide similar tickets (same policy domain, market, surface and "
        "detection source) differently — violating vs non-violating — beyond what chance explains across the table."
    )
    _table(
        gaps,
        [
            *groups[label],
            "signals",
            "evidence",
            "reviews",
            "accuracy",
            "ci_low",
            "ci_high",
            "kappa",
            "vendors_compared",
            "vendors_worse",
            "appealed",
            "overturn_rate",
            "cells_compared",
            "cells_split",
        ],
        "vendors.gaps",
        {
            "signals": count_column("Signals", "How many of the three signals fired (0–3)."),
            "evidence": st.column_config.TextColumn("Evidence", width="large"),
            "kappa": decimal_column("Kappa", quality.DEFINITIONS["kappa"], 2),
            "vendors_compared": count_column("Vendors compared", "Vendors with enough reviews here and elsewhere."),
            "vendors_worse": count_column("Vendors worse here", quality.DEFINITIONS["vendors_worse"]),
            "appealed": count_column("Human appeals", "Appealed human decisions (with a vendor)."),
            "overturn_rate": percent_column("Human overturn rate", "Overturned / appealed human decisions."),
            "cells_compared": count_column("Similar groups compared", quality.DEFINITIONS["split"]),
            "cells_split": count_column("Split", quality.DEFINITIONS["split"]),
        },
    )


def _training(ctx: PageContext) -> None:
    ds = ctx.dataset
    missing = missing_inputs(ds, "qa_accuracy")
    events = loaders.change_events(ds)
    if missing or events.is_empty():
        st.info(
            missing
            or "Training needs events of kind policy_change or training; add an events table (see the data contract)."
        )
        return
    rows = events.to_dicts()
    left, right = st.columns([3, 1])
    index = left.selectbox(
        "Policy change or training",
        range(len(rows)),
        key="vendors.training_event",
        format_func=lambda i: (
            f"{rows[i]['start']} · {rows[i]['title']} ({rows[i]['kind']}"
            + (f", {rows[i]['policy_domain']}" if rows[i]["policy_domain"] else "")
            + ")"
        ),
    )
    window = right.slider("Window (days each side)", 14, 182, 56, step=7, key="vendors.training_window")
    event = rows[index]
    effects = loaders.training_effects(ds, ctx.filters, event["start"], window, event["policy_domain"], event["market"])
    st.caption(
        f"Error rate (1 − QA accuracy) per vendor × policy domain in the {window} days before {event['start']} and "
        f"the {window} days from it; the selected period's dates do not apply, the other filters do. Change: after "
        "− before, with its 95 % interval (Newcombe); “fewer/more errors” only when the interval excludes zero. "
        "Small QA samples give wide intervals: see the sampling planner on the Quality tab."
    )
    if effects.is_empty():
        st.info("No QA reviews around this event for the selection.")
        return
    st.plotly_chart(before_after_chart(effects), key="vendors.training_chart")
    _table(
        effects,
        [
            "vendor",
            "policy_domain",
            "reviews_before",
            "error_rate_before",
            "reviews_after",
            "error_rate_after",
            "error_rate_change",
            "change_ci_low",
            "change_ci_high",
            "significant",
        ],
        "vendors.training_table",
        {
            "reviews_before": count_column("n before"),
            "reviews_after": count_column("n after"),
            "error_rate_before": percent_column("Error rate before", CI),
            "error_rate_after": percent_column("Error rate after", CI),
            "error_rate_change": percent_column("Change", quality.DEFINITIONS["error_rate_change"]),
            **_interval_columns("change", "Change"),
            "significant": st.column_config.TextColumn(
                "Significant change", help="Only when the change's 95 % interval excludes zero."
            ),
        },
    )


# Tab label → section; each section gets the page context.
SECTIONS = {
    "Vendors": _vendors,
    "Capacity": _capacity,
    "Quality": _quality,
    "Appeals": _appeals,
    "Policy gaps": _policy_gaps,
    "Training": _training,
}
