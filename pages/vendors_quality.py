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
from dashboard.components import SHARE_FORMAT, count_column, decimal_column, explain_missing, share_column, table
from dashboard.context import PageContext
from dashboard.palette import field_colours
from dashboard.url_state import from_url, section_picker
from queries.analyses import quality, vendors
from queries.contract import ERROR_TYPES
from queries.definitions import METRICS
from queries.display import (
    as_percent,
    definition_words,
    display_name,
    display_value,
    interval_text,
    with_display_values,
)
from queries.engines import Source, groupable
from queries.metrics import missing_inputs

# URL value: (label, the scorecard's columns after vendor)
SCORECARD_SPLITS = {
    "vendor": ("Vendor", ()),
    "site": ("Vendor × site", ("site",)),
    "language": ("Vendor × language", ("language",)),
    "queue": ("Vendor × queue", ("queue",)),
}
# measure (the URL value): (label, interval low, interval high, axis title)
TREND_MEASURES = {
    "qa_accuracy": ("QA accuracy", "qa_ci_low", "qa_ci_high", "QA accuracy"),
    "sla_attainment": ("SLA attainment", "sla_ci_low", "sla_ci_high", "SLA attainment"),
    "overturn_rate": ("Appeal overturn rate", "overturn_ci_low", "overturn_ci_high", "overturn rate"),
    "handled_per_productive_hour": ("Throughput", None, None, "decisions per productive hour"),
}
# measure (the URL value): (label, column prefix of its interval and flag, sample size)
SCORECARD_MEASURES = {
    "qa_accuracy": ("QA accuracy", "qa", "qa_reviews"),
    "sla_attainment": ("SLA attainment", "sla", "sla_measured"),
    "overturn_rate": ("Appeal overturn rate", "overturn", "appealed"),
}
APPEAL_GROUPS = ("policy_domain", "vendor", "market")
# URL value: (label, groups)
GAP_GROUPS = {
    "policy_domain": ("Policy domain", ("policy_domain",)),
    "market": ("Policy domain × market", ("policy_domain", "market")),
    "language": ("Policy domain × language", ("policy_domain", "language")),
}
CATEGORIES = ("policy_domain", "queue")  # columns of these tables whose values are shown by their display names
LOW_FTE = "A language or policy domain with fewer scheduled FTE than this is flagged as thinly staffed."
# Capacity coverage by language or policy domain: the columns after the leading ones, their labels and flags.
COVERAGE_COLUMNS = ("top_vendor_share", "vendor_list", "tickets", "change_share", "flags")
FLAGS = {"single_vendor": "single vendor", "low_fte": "low FTE", "rising_demand": "rising demand"}
COVERAGE_CONFIG = {
    "flags": st.column_config.TextColumn(
        "Flags",
        help=f"Single vendor: {vendors.DEFINITIONS['top_vendor_share']} Low FTE: {LOW_FTE} Rising demand: "
        f"{vendors.DEFINITIONS['rising_demand']}",
    ),
    "top_vendor_share": share_column("Top vendor share", vendors.DEFINITIONS["top_vendor_share"]),
    "vendor_list": st.column_config.TextColumn("Vendors (largest first)", width="medium"),
    "tickets": count_column("Tickets", definition_words(METRICS["volume"].definition)),
    "previous_tickets": count_column("Previous", "Tickets in the previous equal period."),
    "change_share": share_column("Change", "Tickets vs the previous equal period."),
}
QA_PERIODS = {"period": "Whole period", "week": "Week", "month": "Month"}
# measure: (label, unit of its change)
CHANGE_LABELS = {
    "handled": ("Handled", "count"),
    "handled_per_productive_hour": ("Per productive h", "num"),
    "occupancy_share": ("Occupancy", "pts"),
    "sla_attainment": ("SLA attainment", "pts"),
    "qa_accuracy": ("QA accuracy", "pts"),
    "overturn_rate": ("Overturn rate", "pts"),
}
CHANGE_FORMATS = {"count": "%+d", "num": "%+.1f", "pts": "%+.1f pts"}
VS_REST = quality.DEFINITIONS["vs_rest"]
CI = quality.DEFINITIONS["ci"]


def _interval_columns(prefix: str, short: str) -> dict:
    """A share's 95 % interval (`{prefix}_ci_low`, `{prefix}_ci_high`), shown as one column (see `_table`)."""
    return {
        f"{prefix}_ci_low": share_column(f"{short} 95 % CI", CI),
        f"{prefix}_ci_high": share_column(f"{short} 95 % CI", CI),
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
    "mean_handle_seconds": decimal_column("Mean handle s", definition_words(METRICS["handle_time"].definition), 0),
    "occupancy_share": share_column("Occupancy", vendors.DEFINITIONS["occupancy_share"]),
    "quality_adjusted_per_productive_hour": decimal_column(
        "Quality-adjusted per h", vendors.DEFINITIONS["quality_adjusted_per_productive_hour"]
    ),
    "quality_adjusted_low": decimal_column("Quality-adjusted 95 % CI", CI),
    "quality_adjusted_high": decimal_column("Quality-adjusted 95 % CI", CI),
    "sla_measured": count_column("SLA n", definition_words(METRICS["sla"].definition)),
    "sla_attainment": share_column("SLA attainment", vendors.DEFINITIONS["sla_attainment"]),
    **_interval_columns("sla", "SLA"),
    "sla_vs_rest": st.column_config.TextColumn("SLA vs others", help=VS_REST),
    "qa_reviews": count_column("QA n", "QA reviews in the period."),
    "qa_accuracy": share_column("QA accuracy", vendors.DEFINITIONS["qa_accuracy"]),
    **_interval_columns("qa", "QA"),
    "qa_vs_rest": st.column_config.TextColumn("QA vs others", help=VS_REST),
    "appealed": count_column("Appealed", definition_words(METRICS["appeals"].definition)),
    "overturn_rate": share_column("Overturn rate", vendors.DEFINITIONS["overturn_rate"]),
    **_interval_columns("overturn", "Overturn"),
    "overturn_vs_rest": st.column_config.TextColumn("Overturns vs others", help=VS_REST),
    "reviews": count_column("Reviews", "QA reviews in the period (n)."),
    "accuracy": share_column("Accuracy", quality.DEFINITIONS["accuracy"]),
    "ci_low": share_column("95 % CI", CI),
    "ci_high": share_column("95 % CI", CI),
    "tickets": count_column("Tickets", definition_words(METRICS["appeals"].definition)),
    "appeal_rate": share_column("Appeal rate", definition_words(METRICS["appeals"].definition)),
    **_interval_columns("appeal", "Appeal"),
}


def _change_table(card: pl.DataFrame, keys: tuple[str, ...]) -> None:
    """Each measure's change vs the previous period (shares in points), and which changes are significant."""
    measures = [m for m in vendors.CHANGE_MEASURES if m in card.columns]
    shares = [f"{m}_change" for m in measures if CHANGE_LABELS[m][1] == "pts"]
    significant = [
        pl.when(pl.col(f"{m}_change_significant")).then(
            pl.lit(CHANGE_LABELS[m][0]) + pl.when(pl.col(f"{m}_change") > 0).then(pl.lit(" ↑")).otherwise(pl.lit(" ↓"))
        )
        for m in measures
        if f"{m}_change_significant" in card.columns
    ]
    frame = as_percent(card, shares).with_columns(
        pl.concat_str(significant, separator=", ", ignore_nulls=True).alias("significant_changes")
    )
    config = {
        f"{m}_change": st.column_config.NumberColumn(
            CHANGE_LABELS[m][0],
            format=CHANGE_FORMATS[CHANGE_LABELS[m][1]],
            help=f"{vendors.DEFINITIONS[m]} This period − the previous one.",
        )
        for m in measures
    }
    config["significant_changes"] = st.column_config.TextColumn(
        "Significant changes", help="The 95 % interval of the change (Newcombe) excludes zero.", width="medium"
    )
    _table(frame, [*keys, *(f"{m}_change" for m in measures), "significant_changes"], "vendors.changes", config)


def _table(frame: pl.DataFrame, columns: list[str], key: str, extra: dict | None = None) -> None:
    """A dataframe of the present columns, labelled and explained on hover, categories by their display names and
    each interval's bounds (`…_low`, `…_high`) as one column, so the table fits the page."""
    shown = [c for c in columns if c in frame.columns]
    config = {c: COLUMNS[c] for c in shown if c in COLUMNS} | (extra or {})
    frame = with_display_values(frame.select(shown), CATEGORIES)
    for low in [c for c in shown if c.endswith("_low") and f"{c[:-4]}_high" in shown]:
        high, name = f"{low[:-4]}_high", f"{low[:-4]}_interval"
        percent = config[low]["type_config"]["format"] == SHARE_FORMAT
        frame = frame.with_columns(interval_text(low, high, percent=percent).alias(name))
        shown = [name if c == low else c for c in shown if c != high]
        config[name] = st.column_config.TextColumn(config[low]["label"], help=config[low].get("help"))
    table(frame.select(shown), key, config)


def _splits_by(ds: Source, column: str) -> bool:
    """True when the source has the tickets column and its metrics group by it (rollups: the five dimensions)."""
    return ds.has("tickets", column) and groupable(ds, column)


def _with_label(frame: pl.DataFrame, keys: tuple[str, ...]) -> pl.DataFrame:
    """A `label` column joining the row's keys (display names), for chart axes."""
    shown = with_display_values(frame, keys)
    return frame.with_columns(pl.concat_str([shown[k].fill_null("—") for k in keys], separator=" · ").alias("label"))


def render(ctx: PageContext) -> None:
    st.title("Vendors & quality")
    if not ctx.ready(aggregates=True):
        return
    st.caption(
        f"{ctx.filters.describe()} · 95 % intervals with their sample sizes (n); a row is marked better or worse "
        "only when the difference is statistically significant."
    )
    section = section_picker("vendors.tab", SECTIONS)
    SECTIONS[section][1](ctx)


def _vendors(ctx: PageContext) -> None:
    ds = ctx.dataset
    if not ds.has("tickets", "vendor"):
        st.info("Vendor scorecards need tickets.vendor; map it under [tickets.columns].")
        return
    splits = {k: v for k, v in SCORECARD_SPLITS.items() if all(_splits_by(ds, c) for c in v[1])}
    from_url("vendors.by", "vendor", options=list(splits))
    by = splits[
        st.selectbox("Scorecard by", list(splits), key="vendors.by", format_func=lambda k: splits[k][0], width=300)
    ][1]
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
    _quality_scorecard(card, keys)

    st.subheader("Change vs the previous period")
    previous = ctx.filters.previous()
    st.caption(
        f"This period − {previous.start} to {previous.end}; shares in percentage points (pts). Current values: the "
        "tables above."
    )
    _change_table(card, keys)

    st.subheader("Weekly trend")
    trend = loaders.vendor_trend(ds, ctx.filters)
    available = [m for m in TREND_MEASURES if m in trend.columns]
    if available:
        from_url("vendors.trend_measure", available[0], options=available)
        measure = st.selectbox(
            "Measure", available, key="vendors.trend_measure", format_func=lambda m: TREND_MEASURES[m][0], width=300
        )
        _, low, high, axis = TREND_MEASURES[measure]
        st.caption(
            "The 12 full weeks (Monday to Sunday) up to the end of the period. 95 % bands appear when at most two "
            "vendors are shown: pick them in the Vendor filter."
        )
        vendor_colours = field_colours("vendor", loaders.dimension_values(ds, "vendor"))  # as on every page
        chart = vendor_trend_chart(trend, measure, low=low, high=high, axis_title=axis, colours=vendor_colours)
        st.plotly_chart(chart, key="vendors.trend")


def _quality_scorecard(card: pl.DataFrame, keys: tuple[str, ...]) -> None:
    """One measure at a time (so the table fits): its value, 95 % interval, sample and flag, beside its chart."""
    available = [m for m in SCORECARD_MEASURES if m in card.columns]
    if not available:
        return
    from_url("vendors.quality_measure", available[0], options=available)
    measure = st.segmented_control(
        "Measure",
        available,
        key="vendors.quality_measure",
        format_func=lambda m: SCORECARD_MEASURES[m][0],
        required=True,
    )
    _, prefix, n = SCORECARD_MEASURES[measure]
    left, right = st.columns([3, 2])
    with left:
        _table(
            card,
            [*keys, n, measure, f"{prefix}_ci_low", f"{prefix}_ci_high", f"{prefix}_vs_rest"],
            "vendors.quality_table",
        )
    right.plotly_chart(
        interval_chart(
            _with_label(card, keys),
            "label",
            measure,
            f"{prefix}_ci_low",
            f"{prefix}_ci_high",
            n,
            flag=f"{prefix}_vs_rest",
        ),
        key="vendors.quality_chart",
    )
    st.caption("95 % intervals; a point is coloured only when it differs significantly from the other rows.")


def _capacity(ctx: PageContext) -> None:
    ds = ctx.dataset
    missing = missing_inputs(ds, "handle_time") or missing_inputs(ds, "throughput")
    if missing or not ds.has("tickets", "vendor", "language", "policy_domain"):
        st.info(missing or "Capacity views need tickets.vendor, language and policy_domain; map them.")
        return
    from_url("vendors.low_fte", 1.0, parse=float, valid=lambda x: x >= 0, expected="a number of FTE, 0 or more")
    low_fte = st.number_input("Low FTE below", min_value=0.0, step=0.5, key="vendors.low_fte", help=LOW_FTE, width=300)
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
            with_display_values(handle, CATEGORIES),
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
    flags = [pl.when(pl.col(f)).then(pl.lit(words)) for f, words in FLAGS.items() if f in frame.columns]
    frame = frame.with_columns(pl.concat_str(flags, separator=", ", ignore_nulls=True).alias("flags"))
    _table(frame, [*leading, *COVERAGE_COLUMNS], f"vendors.{stem}s", COVERAGE_CONFIG | {"fte": fte})
    st.caption(note)
    st.plotly_chart(
        matrix_heatmap(
            with_display_values(matrix, CATEGORIES),
            leading[0],
            "vendor",
            fte_value,
            text_format=".2f",
            colorscale="Blues",
            title="FTE",
        ),
        key=f"vendors.{stem}_matrix",
    )


def _quality(ctx: PageContext) -> None:
    ds = ctx.dataset
    if explain_missing(missing_inputs(ds, "qa_accuracy")):
        return
    st.subheader("QA accuracy by vendor × policy domain")
    overall = loaders.qa_accuracy(ds, ctx.filters, ("vendor", "policy_domain"), None)
    st.caption("Colour: accuracy, darker = lower; hover for the number of reviews. " + CI)
    st.plotly_chart(
        matrix_heatmap(
            with_display_values(overall, CATEGORIES),
            "policy_domain",
            "vendor",
            "accuracy",
            n="reviews",
            colorscale="Reds_r",
            title="accuracy",
        ),
        key="vendors.qa_matrix",
    )
    from_url("vendors.qa_period", "period", options=list(QA_PERIODS))
    period = st.selectbox("Table by", list(QA_PERIODS), key="vendors.qa_period", format_func=QA_PERIODS.get, width=300)
    accuracy = loaders.qa_accuracy(ds, ctx.filters, ("vendor", "policy_domain"), None if period == "period" else period)
    _table(
        accuracy, ["vendor", "policy_domain", "period", "reviews", "accuracy", "ci_low", "ci_high"], "vendors.qa_table"
    )

    st.subheader("Agreement between moderators and QA (Cohen's kappa)")
    if ds.has("qa_reviews", "moderator_decision", "qa_decision"):
        kappa = loaders.agreement(ds, ctx.filters)
        st.caption(quality.DEFINITIONS["kappa"])
        st.plotly_chart(
            interval_chart(
                with_display_values(kappa, CATEGORIES),
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
        errors = with_display_values(loaders.error_types(ds, ctx.filters), ["error_type"])
        st.caption(quality.DEFINITIONS["error_share"])
        chart = error_types_chart(errors, colours=field_colours("error_type", ERROR_TYPES))
        st.plotly_chart(chart, key="vendors.error_types")
    else:
        st.info("Error types need qa_reviews.error_type; map it under [qa_reviews.columns].")
    _sampling(ctx)


def _sampling(ctx: PageContext) -> None:
    st.subheader("QA sampling planner")
    from_url("vendors.margin", 3, parse=int, valid=lambda n: 1 <= n <= 10, expected="a whole number from 1 to 10")
    margin_points = st.slider(
        "Wanted precision (± points)", 1, 10, key="vendors.margin", help=quality.DEFINITIONS["reviews_needed"]
    )
    plan = loaders.sampling_plan(ctx.dataset, ctx.filters, margin_points / 100)
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
            "margin_now": share_column("± now", "Half the width of the current Wilson 95 % interval."),
            "reviews_needed": count_column("Needed", quality.DEFINITIONS["reviews_needed"]),
            "reviews_short": count_column("Short by", "Reviews needed − reviews done (0 when enough)."),
        },
    )


def _appeals(ctx: PageContext) -> None:
    ds = ctx.dataset
    if explain_missing(missing_inputs(ds, "appeals")):
        return
    groups = [g for g in APPEAL_GROUPS if ds.has("tickets", g)]
    if not groups:
        st.info("Appeals by group need tickets.policy_domain, vendor or market; map them under [tickets.columns].")
        return
    from_url("vendors.appeals_by", groups[0], options=groups)
    column = st.selectbox("Appeals by", groups, key="vendors.appeals_by", format_func=display_name, width=300)
    frame = loaders.appeals(ds, ctx.filters, [column])
    st.caption(
        "Among tickets created in the period that got a decision: appeal rate = appealed / decided tickets; overturn "
        "rate = appeals that reversed the decision / appealed. Overturns are a second quality signal: a decision "
        "reversed on appeal was wrong or unclear."
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
        {"overturned": count_column("Overturned", definition_words(METRICS["appeals"].definition))},
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
    groups = {k: v for k, v in GAP_GROUPS.items() if all(_splits_by(ds, c) for c in v[1][1:])}
    from_url("vendors.gaps_by", "policy_domain", options=list(groups))
    by = groups[
        st.selectbox(
            "Look for gaps by", list(groups), key="vendors.gaps_by", format_func=lambda k: groups[k][0], width=300
        )
    ][1]
    gaps = loaders.policy_gaps(ds, ctx.filters, by)
    candidates = gaps.filter(pl.col("signals") > 0)
    st.metric(
        "Policy-gap candidates",
        f"{candidates.height} of {gaps.height}",
        help="Groups with at least one signal: low agreement across vendors, high human overturns, or split "
        "decisions on similar tickets. A problem shared by vendors points at the policy or guidance.",
        border=True,
    )
    st.markdown(quality.DEFINITIONS["gap_signals"])
    evidence = [f"- **{r['label']}**: {r['evidence']}." for r in _with_label(candidates, by).iter_rows(named=True)]
    st.markdown("\n".join(["**The candidates and their evidence**", *evidence]) if evidence else "No candidate.")
    shown = gaps.with_columns(  # "1 of 3": how many fired the signal out of those compared
        pl.format("{} of {}", "vendors_worse", "vendors_compared").alias("vendors_worse"),
        pl.format("{} of {}", "cells_split", "cells_compared").alias("cells_split"),
    )
    columns = [*by, "signals", "reviews", "accuracy", "ci_low", "ci_high"]
    _table(
        shown,
        [*columns, "vendors_worse", "overturn_rate", "cells_split"],
        "vendors.gaps",
        {
            "signals": count_column("Signals", "How many of the three signals fired (0–3)."),
            "vendors_worse": st.column_config.TextColumn("Vendors worse", help=quality.DEFINITIONS["vendors_worse"]),
            "overturn_rate": share_column("Human overturns", "Overturned / appealed human decisions (with a vendor)."),
            "cells_split": st.column_config.TextColumn("Split groups", help=quality.DEFINITIONS["split"]),
        },
    )


def _event_key(event: dict) -> str:
    """An event's stable identifier in the URL: its first day and title."""
    return f"{event['start']}|{event['title']}"


def _event_label(event: dict) -> str:
    scope = [display_value("kind", event["kind"])] + [display_value("policy_domain", event["policy_domain"])] * bool(
        event["policy_domain"]
    )
    return f"{event['start']} · {event['title']} ({', '.join(scope)})"


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
    rows = {_event_key(r): r for r in events.iter_rows(named=True)}
    from_url("vendors.training_event", next(iter(rows)), options=list(rows), expected="an event of the list")
    from_url(
        "vendors.training_window",
        56,
        parse=int,
        valid=lambda n: 14 <= n <= 182 and n % 7 == 0,
        expected="a whole number of weeks in days, 14 to 182",
    )
    left, right = st.columns([3, 1])
    key = left.selectbox(
        "Policy change or training",
        list(rows),
        key="vendors.training_event",
        format_func=lambda k: _event_label(rows[k]),
    )
    window = right.slider("Window (days each side)", 14, 182, step=7, key="vendors.training_window")
    event = rows[key]
    effects = loaders.training_effects(ds, ctx.filters, event["start"], window, event["policy_domain"], event["market"])
    st.caption(
        f"Error rate (1 − QA accuracy) per vendor × policy domain in the {window} days before {event['start']} and "
        f"the {window} days from it; the selected period's dates do not apply, the other filters do. Change: after "
        "− before, with its 95 % interval (Newcombe); “fewer/more errors” only when the interval excludes zero. "
        "Small QA samples give wide intervals: see the sampling planner in the Quality section."
    )
    if effects.is_empty():
        st.info("No QA reviews around this event for the selection.")
        return
    st.plotly_chart(before_after_chart(with_display_values(effects, CATEGORIES)), key="vendors.training_chart")
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
            "error_rate_before": share_column("Error rate before", CI),
            "error_rate_after": share_column("Error rate after", CI),
            "error_rate_change": share_column("Change", quality.DEFINITIONS["error_rate_change"]),
            **_interval_columns("change", "Change"),
            "significant": st.column_config.TextColumn(
                "Significant change", help="Only when the change's 95 % interval excludes zero (else —)."
            ),
        },
    )


# Section (its URL value) → (label, function drawing it with the page context).
SECTIONS = {
    "vendors": ("Vendors", _vendors),
    "capacity": ("Capacity", _capacity),
    "quality": ("Quality", _quality),
    "appeals": ("Appeals", _appeals),
    "policy-gaps": ("Policy gaps", _policy_gaps),
    "training": ("Training", _training),
}
