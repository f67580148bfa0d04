"""Decision quality with honest uncertainty: QA accuracy, moderator–QA agreement, error types, appeals,
QA sample sizes, policy-gap candidates, and error rates before vs after policy changes and training.

Proportions carry Wilson 95 % score intervals and their `n`; differences between two proportions carry
Newcombe's hybrid score interval (built from the two Wilson intervals). A difference is called
significant only when its interval excludes zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import polars as pl
from scipy import stats

from queries.calc import ratio
from queries.engines import Source, decision_counts, reviewed_tickets, small_table
from queries.filters import Filters
from queries.intervals import Z_95, difference_bounds, wilson_bounds
from queries.metrics import missing_inputs, summarize

TRAINING_EVENT_KINDS = ("policy_change", "training")

DEFINITIONS = {
    "gap_signals": "Ranked by the number of signals, then by lowest QA accuracy. The signals:\n"
    "- **Low agreement across vendors**: at least two vendors, and at least half of those compared, are "
    "significantly less accurate here than on their own other reviews.\n"
    "- **High overturns**: the overturn rate of appealed human decisions is significantly above the other "
    "groups'.\n"
    "- **Split decisions**: vendors decide similar tickets (same policy domain, market, surface and "
    "detection source) differently — violating vs non-violating — beyond what chance explains across the table.",
    "accuracy": "QA accuracy: correct QA reviews / QA reviews in the period (the `qa_accuracy` metric).",
    "ci": "Wilson 95 % score interval of the share; with few reviews it is wide, with none it is empty.",
    "kappa": "Cohen's kappa between the moderator's and QA's decision: (p_o − p_e) / (1 − p_e), where p_o is "
    "the share of reviews where both decided the same and p_e the share expected by chance from each side's "
    "decision mix. 1 = perfect agreement, 0 = no better than chance. Interval: ±1.96 × √(p_o(1 − p_o) / "
    "(n (1 − p_e)²)).",
    "error_share": "QA reviews that found this kind of error / all QA reviews of the group.",
    "reviews_needed": "Reviews needed so that the Wilson 95 % interval is at most ±margin around the observed "
    "accuracy (0.5 when nothing was reviewed, the most demanding case).",
    "vs_rest": "Compared with all other rows pooled (rows without a vendor or group are left out): better/worse "
    "only when the 95 % interval of the difference (Newcombe's hybrid score method) excludes zero; empty when "
    "the difference is not significant.",
    "vendors_worse": "Vendors whose QA accuracy here is significantly lower than their own accuracy on all "
    "their other reviews. A gap shared by several vendors points at the policy or guidance.",
    "split": "Groups of similar tickets (same policy domain, market, surface and detection source) handled by at "
    "least two vendors with 30+ decisions each, and those where the vendors' violating shares differ "
    "(chi-square test at 95 %). The row is flagged when the groups' evidence combined (Fisher's method) is "
    "significant after a Bonferroni correction over the rows, so chance alone rarely flags any row.",
    "error_rate_change": "Error rate (1 − QA accuracy) after minus before the event, in the windows either "
    "side of its first day; interval: Newcombe's hybrid score method.",
}


def versus_rest(
    frame: pl.DataFrame, successes: str, n: str, name: str, *, keys: Sequence[str], higher_is_better: bool
) -> pl.DataFrame:
    """Add `{name}_vs_rest`: "better"/"worse" than all other rows pooled, only when the difference is significant.

    Rows with an empty key (e.g. no vendor: automated decisions) are neither compared nor part of the rest.
    """
    known = pl.all_horizontal([pl.col(k).is_not_null() for k in keys]) if keys else pl.lit(True)

    def rest(column: str) -> pl.Expr:
        return pl.when(known).then(pl.col(column)).sum() - pl.col(column)

    _, low, high = difference_bounds(pl.col(successes), pl.col(n), rest(successes), rest(n))
    higher, lower = ("better", "worse") if higher_is_better else ("worse", "better")
    flag = pl.when(known & (low > 0)).then(pl.lit(higher)).when(known & (high < 0)).then(pl.lit(lower))
    return frame.with_columns(flag.alias(f"{name}_vs_rest"))


def _grouped(lf: pl.LazyFrame, keys: list[str]) -> tuple[pl.LazyFrame, list[str]]:
    """The frame and the columns to group it by: the keys, or one constant column to aggregate everything."""
    return (lf, keys) if keys else (lf.with_columns(pl.lit(True).alias("_all")), ["_all"])


def qa_reviews_in(ds: Source, filters: Filters, columns: Sequence[str] = ()) -> pl.LazyFrame:
    """The QA reviews the `qa_accuracy` metric counts for these filters, with `columns` it lacks (e.g. market)
    taken from the reviewed ticket. Reviews of unknown tickets drop out only when a ticket field is needed."""
    own = [d for d in ("vendor", "policy_domain") if d not in ds.reports["qa_reviews"].missing_fields]
    lf = small_table(ds, "qa_reviews").lazy().filter(filters.in_period("reviewed_at") & filters.dimension_expr(own))
    through_ticket = list(dict.fromkeys(c for c in (*filters.selections(), *columns) if c not in own))
    if through_ticket:
        tickets = reviewed_tickets(ds, filters, through_ticket).lazy()
        lf = lf.drop(through_ticket, strict=False).join(tickets, on="ticket_id", how="inner")
        lf = lf.filter(filters.dimension_expr(through_ticket))
    return lf


def qa_accuracy(ds: Source, filters: Filters, by: Sequence[str] = (), period: str | None = None) -> pl.DataFrame:
    """QA accuracy (the `qa_accuracy` metric) by group and period with its Wilson interval and `reviews`."""
    return summarize(ds, "qa_accuracy", filters, by=by, period=period)


def agreement(ds: Source, filters: Filters, by: Sequence[str] = ("policy_domain",)) -> pl.DataFrame:
    """Cohen's kappa between moderator and QA decisions per group, with p_o, p_e, `reviews` and a 95 % interval."""
    lf = qa_reviews_in(ds, filters, by).filter(
        pl.col("moderator_decision").is_not_null() & pl.col("qa_decision").is_not_null()
    )
    return cohens_kappa(lf, list(by))


def cohens_kappa(reviews: pl.LazyFrame, keys: list[str]) -> pl.DataFrame:
    """Kappa of `moderator_decision` vs `qa_decision` per key group (over everything without keys)."""
    lf, group = _grouped(reviews, keys)
    totals = lf.group_by(group).agg(
        pl.len().alias("reviews"),
        (pl.col("moderator_decision") == pl.col("qa_decision")).mean().alias("observed_agreement"),
    )
    margins = [
        lf.group_by([*group, side]).agg(pl.len().cast(pl.Float64).alias(f"{side}_n")).rename({side: "decision"})
        for side in ("moderator_decision", "qa_decision")
    ]
    chance = (
        margins[0]
        .join(margins[1], on=[*group, "decision"], how="inner", nulls_equal=True)
        .group_by(group)
        .agg((pl.col("moderator_decision_n") * pl.col("qa_decision_n")).sum().alias("_products"))
    )
    p_o, p_e = pl.col("observed_agreement"), pl.col("expected_agreement")
    se = (p_o * (1 - p_o) / (pl.col("reviews") * (1 - p_e) ** 2)).sqrt()
    out = (
        totals.join(chance, on=group, how="left", nulls_equal=True)
        .with_columns(
            (pl.col("_products").fill_null(0.0) / pl.col("reviews").cast(pl.Float64) ** 2).alias("expected_agreement")
        )
        .with_columns(pl.when(p_e < 1).then((p_o - p_e) / (1 - p_e)).alias("kappa"))
        .with_columns(
            (pl.col("kappa") - Z_95 * se).clip(-1.0, 1.0).alias("kappa_ci_low"),
            (pl.col("kappa") + Z_95 * se).clip(-1.0, 1.0).alias("kappa_ci_high"),
        )
        .select(*keys, "reviews", "observed_agreement", "expected_agreement", "kappa", "kappa_ci_low", "kappa_ci_high")
        .with_columns(pl.col("reviews").cast(pl.Int64))
        .collect()
    )
    return out.sort(keys) if keys else out


def error_types(ds: Source, filters: Filters, by: Sequence[str] = ("vendor",)) -> pl.DataFrame:
    """Errors QA found by type per group: count, share of the group's reviews and share of its errors."""
    keys = list(by)
    lf, group = _grouped(qa_reviews_in(ds, filters, keys), keys)
    reviews = lf.group_by(group).agg(pl.len().cast(pl.Int64).alias("reviews"))
    errors = (
        lf.filter(~pl.col("is_correct"))
        .with_columns(pl.col("error_type").fill_null("unspecified"))
        .group_by([*group, "error_type"])
        .agg(pl.len().cast(pl.Int64).alias("errors"))
    )
    out = errors.join(reviews, on=group, how="left", nulls_equal=True).with_columns(
        ratio("errors", "reviews").alias("error_share"),
        (pl.col("errors") / pl.col("errors").sum().over(group)).alias("share_of_errors"),
    )
    return (
        out.select(*keys, "error_type", "errors", "reviews", "error_share", "share_of_errors")
        .collect()
        .sort([*keys, "error_type"])
    )


def reviews_needed_expr(accuracy: pl.Expr, margin: float, z: float = Z_95) -> pl.Expr:
    """Fewest reviews whose Wilson interval at this accuracy is at most ±margin wide (closed form).

    With t = 1/n the half-width condition becomes a·t² + b·t + c ≥ 0 with a = z⁴(m² − ¼),
    b = z²(2m² − p(1 − p)), c = m²; n is the reciprocal of its positive root, rounded up.
    """
    if not 0 < margin < 0.5:
        raise ValueError("margin must be between 0 and 0.5 (a share, e.g. 0.02 for ±2 points)")
    p = accuracy.fill_null(0.5)
    z2, m2 = z * z, margin * margin
    a, b, c = z2 * z2 * (m2 - 0.25), z2 * (2 * m2 - p * (1 - p)), m2
    t = (-b - (b * b - 4 * a * c).sqrt()) / (2 * a)
    return (1 / t - 1e-9).ceil().cast(pl.Int64)


def sampling_plan(
    ds: Source, filters: Filters, margin: float = 0.02, by: Sequence[str] = ("vendor", "policy_domain")
) -> pl.DataFrame:
    """Per group: the current QA sample, its interval, and the reviews needed for ±margin at the observed accuracy."""
    out = qa_accuracy(ds, filters, by)
    return out.with_columns(
        ((pl.col("ci_high") - pl.col("ci_low")) / 2).alias("margin_now"),
        reviews_needed_expr(pl.col("accuracy"), margin).alias("reviews_needed"),
    ).with_columns(
        (pl.col("reviews_needed") - pl.col("reviews")).clip(lower_bound=0).alias("reviews_short"),
        ratio("reviews_needed", "reviews").alias("sample_multiple"),
    )


def appeals(ds: Source, filters: Filters, by: Sequence[str] = ("policy_domain",)) -> pl.DataFrame:
    """The `appeals` metric by group with Wilson intervals of both rates and a significant-only overturn flag."""
    out = summarize(ds, "appeals", filters, by=by).with_columns(
        *wilson_bounds("appealed", "tickets", names=("appeal_ci_low", "appeal_ci_high")),
        *wilson_bounds("overturned", "appealed", names=("overturn_ci_low", "overturn_ci_high")),
    )
    return versus_rest(out, "overturned", "appealed", "overturn", keys=by, higher_is_better=False)


def policy_gaps(
    ds: Source,
    filters: Filters,
    by: Sequence[str] = ("policy_domain",),
    *,
    min_reviews: int = 20,
    min_decisions: int = 30,
) -> pl.DataFrame:
    """Policy-gap candidates: groups where several vendors are less accurate than elsewhere, overturns are
    significantly high, or vendors split on similar tickets; most signals first, then lowest accuracy."""
    keys = list(by)
    if not keys:
        raise ValueError("policy gaps need at least one grouping, e.g. policy_domain")
    qa = qa_reviews_in(ds, filters, [*keys, "vendor"]).collect()
    accuracy = (
        qa.group_by(keys)
        .agg(pl.len().cast(pl.Int64).alias("reviews"), pl.col("is_correct").sum().cast(pl.Int64).alias("correct"))
        .with_columns(ratio("correct", "reviews").alias("accuracy"), *wilson_bounds("correct", "reviews"))
    )
    out = (
        accuracy.join(_vendors_worse(qa, keys, min_reviews), on=keys, how="left", nulls_equal=True)
        .join(
            cohens_kappa(qa.lazy().drop_nulls(["moderator_decision", "qa_decision"]), keys).select(*keys, "kappa"),
            on=keys,
            how="left",
            nulls_equal=True,
        )
        .with_columns(pl.col("vendors_compared", "vendors_worse").fill_null(0))
    )
    if missing_inputs(ds, "appeals") is None and ds.has("tickets", "vendor"):
        out = out.join(_human_overturns(ds, filters, keys), on=keys, how="left", nulls_equal=True)
    else:
        out = out.with_columns(pl.lit(None, pl.String).alias("overturn_vs_rest"))
    out = out.join(_decision_splits(ds, filters, keys, min_decisions), on=keys, how="left", nulls_equal=True)
    out = out.with_columns(
        ((pl.col("vendors_worse") >= 2) & (pl.col("vendors_worse") * 2 >= pl.col("vendors_compared"))).alias(
            "low_agreement"
        ),
        (pl.col("overturn_vs_rest") == "worse").fill_null(False).alias("high_overturns"),
        pl.col("split_decisions").fill_null(False),
    ).with_columns(
        pl.sum_horizontal(pl.col("low_agreement", "high_overturns", "split_decisions").cast(pl.Int64)).alias("signals"),
        _evidence().alias("evidence"),
    )
    return out.sort(["signals", "accuracy", *keys], descending=[True, False] + [False] * len(keys), nulls_last=True)


def _evidence() -> pl.Expr:
    """One readable line per policy-gap candidate: which signals fired and the numbers behind them."""
    return pl.concat_str(
        [
            pl.when(pl.col("low_agreement")).then(
                pl.format("{} of {} vendors less accurate here than elsewhere; ", "vendors_worse", "vendors_compared")
            ),
            pl.when(pl.col("high_overturns")).then(
                pl.format(
                    "human overturn rate {}% ({} appeals), above the other groups; ",
                    (pl.col("overturn_rate") * 100).round(0).cast(pl.Int64),
                    "appealed",
                )
            ),
            pl.when(pl.col("split_decisions")).then(
                pl.format("vendors split on {} of {} similar-ticket groups; ", "cells_split", "cells_compared")
            ),
        ],
        ignore_nulls=True,
    ).str.strip_chars_end("; ")


def _human_overturns(ds: Source, filters: Filters, keys: list[str]) -> pl.DataFrame:
    """Overturn rate of appealed human decisions (those with a vendor) per group, compared with the other groups.

    Automated decisions are left out: their overturns point at models, not at the policy or its guidance."""
    per_vendor = summarize(ds, "appeals", filters, by=[*keys, "vendor"]).filter(pl.col("vendor").is_not_null())
    out = per_vendor.group_by(keys).agg(pl.col("appealed", "overturned").sum())
    out = out.with_columns(
        ratio("overturned", "appealed").alias("overturn_rate"),
        *wilson_bounds("overturned", "appealed", names=("overturn_ci_low", "overturn_ci_high")),
    )
    return versus_rest(out, "overturned", "appealed", "overturn", keys=keys, higher_is_better=False)


def _vendors_worse(qa: pl.DataFrame, keys: list[str], min_reviews: int) -> pl.DataFrame:
    """Per group: vendors compared, and those significantly less accurate there than on their other reviews."""
    by_vendor = qa.filter(pl.col("vendor").is_not_null())
    cells = by_vendor.group_by([*keys, "vendor"]).agg(pl.len().alias("n_in"), pl.col("is_correct").sum().alias("s_in"))
    totals = by_vendor.group_by("vendor").agg(pl.len().alias("n_all"), pl.col("is_correct").sum().alias("s_all"))
    _, _, high = difference_bounds(
        pl.col("s_in"), pl.col("n_in"), pl.col("s_all") - pl.col("s_in"), pl.col("n_all") - pl.col("n_in")
    )
    compared = (
        cells.join(totals, on="vendor")
        .filter((pl.col("n_in") >= min_reviews) & (pl.col("n_all") - pl.col("n_in") >= min_reviews))
        .with_columns((high < 0).alias("worse"), (pl.col("s_in") / pl.col("n_in")).alias("vendor_accuracy"))
    )
    return compared.group_by(keys).agg(
        pl.len().cast(pl.Int64).alias("vendors_compared"),
        pl.col("worse").sum().cast(pl.Int64).alias("vendors_worse"),
        pl.col("vendor_accuracy").min().alias("lowest_vendor_accuracy"),
        pl.col("vendor_accuracy").max().alias("highest_vendor_accuracy"),
    )


def _decision_splits(ds: Source, filters: Filters, keys: list[str], min_decisions: int) -> pl.DataFrame:
    """Per group: similar-ticket cells where at least two vendors made `min_decisions` violating/non-violating
    human decisions, those whose vendors differ (chi-square test of vendor × decision at 95 %), and whether the
    group splits: the cells' evidence combined (Fisher's method) is significant with a Bonferroni correction
    over the groups, so a table of many groups raises no false alarm more than 5 % of the time."""
    if not ds.has("tickets", "vendor", "decision"):
        return pl.DataFrame(
            schema={k: pl.String for k in keys}
            | {"cells_compared": pl.Int64, "cells_split": pl.Int64, "split_decisions": pl.Boolean}
        )
    similar = [c for c in ("policy_domain", "market", "surface", "source") if ds.has("tickets", c)]
    cell = list(dict.fromkeys([*keys, *similar]))
    per_vendor = (
        decision_counts(ds, filters, [*cell, "vendor"])
        .lazy()
        .filter(pl.col("vendor").is_not_null() & (pl.col("decisions") >= min_decisions))
        .rename({"decisions": "n"})
        .with_columns(
            ((pl.col("violating").sum() / pl.col("n").sum()).over(cell)).alias("pooled"),
            pl.len().over(cell).alias("vendors"),
        )
        .filter(pl.col("vendors") >= 2)
    )
    expected = pl.col("n") * pl.col("pooled")
    cells = (
        per_vendor.group_by(cell)
        .agg(
            ((pl.col("violating") - expected) ** 2 / (expected * (1 - pl.col("pooled")))).sum().alias("chi2"),
            (pl.len() - 1).alias("df"),
        )
        .collect()
    )
    p_values = np.nan_to_num(stats.chi2.sf(cells["chi2"].fill_nan(0.0).to_numpy(), cells["df"].to_numpy()), nan=1.0)
    cells = cells.with_columns(pl.Series("p_value", np.maximum(p_values, 1e-300)))
    out = cells.group_by(keys).agg(
        pl.len().cast(pl.Int64).alias("cells_compared"),
        (pl.col("p_value") < 0.05).sum().cast(pl.Int64).alias("cells_split"),
        (-2 * pl.col("p_value").log()).sum().alias("fisher"),
    )
    combined = stats.chi2.sf(out["fisher"].to_numpy(), 2 * out["cells_compared"].to_numpy())
    return out.select(*keys, "cells_compared", "cells_split").with_columns(
        pl.Series("split_decisions", combined < 0.05 / max(out.height, 1))
    )


def change_events(ds: Source) -> pl.DataFrame:
    """Policy changes and training events, newest first (empty when the source has no events)."""
    events = small_table(ds, "events")
    if events is None:
        return pl.DataFrame(
            schema={
                "start": pl.Date,
                "title": pl.String,
                "kind": pl.String,
                "policy_domain": pl.String,
                "market": pl.String,
            }
        )
    return (
        events.filter(pl.col("kind").is_in(TRAINING_EVENT_KINDS))
        .select("start", "title", "kind", "policy_domain", "market")
        .sort("start", descending=True)
    )


def training_effects(
    ds: Source,
    filters: Filters,
    start: dt.date,
    window_days: int = 28,
    policy_domain: str | None = None,
    market: str | None = None,
) -> pl.DataFrame:
    """Error rates per vendor × policy domain in the `window_days` before `start` and from `start` on, the change
    and its 95 % interval; the selection's dates are replaced by the windows, the event's domain/market narrow it."""
    narrowed = {k: v for k, v in (("policy_domain", policy_domain), ("market", market)) if v}
    selection = replace(filters, **{k: (v,) for k, v in narrowed.items()})
    before = replace(selection, start=start - dt.timedelta(days=window_days), end=start - dt.timedelta(days=1))
    after = replace(selection, start=start, end=start + dt.timedelta(days=window_days - 1))
    keys = ["vendor", "policy_domain"]

    def window(f: Filters, suffix: str) -> pl.DataFrame:
        return summarize(ds, "qa_accuracy", f, by=keys).select(
            *keys,
            pl.col("reviews").alias(f"reviews_{suffix}"),
            (pl.col("reviews") - pl.col("correct")).alias(f"errors_{suffix}"),
        )

    out = window(before, "before").join(window(after, "after"), on=keys, how="full", coalesce=True, nulls_equal=True)
    out = out.with_columns(pl.col("^(reviews|errors)_.*$").fill_null(0)).filter(pl.col("vendor").is_not_null())
    change, low, high = difference_bounds(
        pl.col("errors_after"), pl.col("reviews_after"), pl.col("errors_before"), pl.col("reviews_before")
    )
    flag = pl.when(high < 0).then(pl.lit("fewer errors")).when(low > 0).then(pl.lit("more errors"))
    return out.with_columns(
        ratio("errors_before", "reviews_before").alias("error_rate_before"),
        ratio("errors_after", "reviews_after").alias("error_rate_after"),
        *wilson_bounds("errors_before", "reviews_before", names=("before_ci_low", "before_ci_high")),
        *wilson_bounds("errors_after", "reviews_after", names=("after_ci_low", "after_ci_high")),
        change.alias("error_rate_change"),
        low.alias("change_ci_low"),
        high.alias("change_ci_high"),
        flag.alias("significant"),
    ).sort(keys)
