"""What each metric is: its name, label, measures, definition for people and the inputs it needs.

The one place a metric is defined. It computes nothing and imports no engine: each engine
(`queries.engines`) implements every metric it can, `queries.metrics.summarize` asks the source's
engine, and `docs/metrics.md` is written from here (`python -m queries docs`).
"""

from __future__ import annotations

from dataclasses import dataclass

from queries.sla import DUE_RULE

THROUGHPUT_GROUPS = ("vendor", "site", "language")  # the groupings throughput has (staffing's dimensions)


@dataclass(frozen=True)
class Metric:
    """A metric's name, the measures it returns, and its definition for people."""

    name: str
    label: str
    fields: tuple[str, ...]
    definition: str
    needs: tuple[tuple[str, tuple[str, ...]], ...]  # (table, fields) the source must provide
    # Measures that are 0 in a period where the group has nothing to count (the others are null there: no
    # percentile, mean or share of nothing). None: the metric's own computation already gives every period.
    zeros: tuple[str, ...] | None
    # Derived measures, computed once (queries.calc.derive) from the counts every engine returns:
    # (measure, numerator, denominator) shares, null where the denominator is 0; Wilson 95 % bounds
    # (low, high, successes, n). Counts an engine returns only for these are named with a leading "_".
    shares: tuple[tuple[str, str, str], ...] = ()
    intervals: tuple[tuple[str, str, str, str], ...] = ()
    groups: tuple[str, ...] | None = None  # the only groupings the metric has (None: any tickets column)

    @property
    def counted(self) -> tuple[str, ...]:
        """What an engine returns: the measures that are not derived, then the counts only derivations use."""
        derived = {s[0] for s in self.shares} | {b for i in self.intervals for b in i[:2]}
        inputs = [c for s in self.shares for c in s[1:]] + [c for i in self.intervals for c in i[2:]]
        return tuple(dict.fromkeys([*(f for f in self.fields if f not in derived), *inputs]))


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "volume",
            "Tickets received",
            ("tickets",),
            "Tickets created in the period (valid rows only).",
            (("tickets", ()),),
            zeros=("tickets",),
        ),
        Metric(
            "actioned",
            "Tickets actioned",
            ("actioned",),
            "Tickets whose first action (human or automated) falls in the period, whenever they were created.",
            (("tickets", ("first_action_at",)),),
            zeros=("actioned",),
        ),
        Metric(
            "time_to_first_action",
            "Time to first action",
            ("tickets", "measured", "p50_hours", "p90_hours", "mean_hours"),
            "Hours from `created_at` to `first_action_at` for tickets created in the period that have both "
            "timestamps and a non-negative duration (`measured`); P50/P90 with linear interpolation. "
            "Tickets still waiting are not measured. A duration crossing midnight belongs to the day it started.",
            (("tickets", ("first_action_at",)),),
            zeros=("tickets", "measured"),
        ),
        Metric(
            "time_to_close",
            "Time to close",
            ("tickets", "measured", "p50_hours", "p90_hours", "mean_hours"),
            "Hours from `created_at` to `closed_at` for tickets created in the period that have both "
            "timestamps and a non-negative duration; P50/P90 with linear interpolation. Open tickets are not measured.",
            (("tickets", ("closed_at",)),),
            zeros=("tickets", "measured"),
        ),
        Metric(
            "sla",
            "SLA attainment",
            ("tickets", "measured", "met", "attainment"),
            "Share of measured tickets created in the period that met their SLA. A ticket with a due time "
            "(`due_at`, the source's own) is measured against it, whatever the rules say: met when its first action "
            '(its close with `due_measure = "close"` in config/sla.toml) came at or before its due time. Any other '
            "ticket takes the first matching rule in config/sla.toml: met when the time from `created_at` to its "
            'first action (to its close for a rule with `measure = "close"`) is within its target. Measured: '
            "tickets with a due time or a target that were actioned (closed), or are still waiting past it at the "
            "data's latest timestamp that is not in the future (those count as missed). Group by `sla_rule` for "
            f"the matching rule's name (“{DUE_RULE}” for tickets with a due time).",
            (("tickets", ("first_action_at",)),),
            zeros=("tickets", "measured", "met"),
            shares=(("attainment", "met", "measured"),),
        ),
        Metric(
            "proactive",
            "Proactive detection share",
            ("tickets", "known_source", "proactive", "proactive_share"),
            "Share of tickets created in the period, among those with a known source, that were detected by the "
            "platform's own models (`source = proactive_model`) rather than reported.",
            (("tickets", ("source",)),),
            zeros=("tickets", "known_source", "proactive"),
            shares=(("proactive_share", "proactive", "known_source"),),
        ),
        Metric(
            "appeals",
            "Appeals",
            ("tickets", "appealed", "overturned", "appeal_rate", "overturn_rate"),
            "Among tickets created in the period that got a decision (`tickets`): "
            "`appeal_rate = appealed / tickets`; `overturn_rate` = appeals that reversed the decision / `appealed`.",
            (("tickets", ("decision", "appealed", "appeal_overturned")),),
            zeros=("tickets", "appealed", "overturned"),
            shares=(("appeal_rate", "appealed", "tickets"), ("overturn_rate", "overturned", "appealed")),
        ),
        Metric(
            "qa_accuracy",
            "QA accuracy",
            ("reviews", "correct", "accuracy", "ci_low", "ci_high"),
            "QA reviews done in the period where QA agreed with the decision, divided by all QA reviews in the "
            "period, with its Wilson 95 % interval (`ci_low`–`ci_high`). Market, surface and source filters apply "
            "through the reviewed ticket.",
            (("qa_reviews", ()),),
            zeros=("reviews", "correct"),
            shares=(("accuracy", "correct", "reviews"),),
            intervals=(("ci_low", "ci_high", "correct", "reviews"),),
        ),
        Metric(
            "per_million_dau",
            "Tickets per 1M DAU",
            ("tickets", "dau_days", "tickets_per_million_dau"),
            "Daily tickets per million daily active users: tickets created in the period / sum over its days of "
            "DAU of the selected markets × 1,000,000 (0 in a period without tickets whose DAU is known). "
            "Separates abuse growth from user growth.",
            (("platform_metrics", ()), ("tickets", ("market",))),
            zeros=None,
        ),
        Metric(
            "open_backlog",
            "Open backlog",
            ("open_tickets",),
            "Tickets created before the end of the period and not closed by then (`closed_at` empty or later).",
            (("tickets", ("closed_at",)),),
            zeros=("open_tickets",),
        ),
        Metric(
            "backlog",
            "Backlog flow",
            ("open_start", "arrivals", "closures", "open_end", "oldest_open_hours"),
            "Open tickets at the boundaries of each period and the flow between them. A ticket is open at an "
            "instant t when `created_at` < t and `closed_at` is empty or ≥ t (closed exactly at midnight: still "
            "open at that midnight). Each period runs from its first midnight to the midnight after its last day, "
            "clipped to the selected days: `arrivals` = tickets created in it, `closures` = tickets closed in it "
            "(whenever created), `open_start`/`open_end` = tickets open at its first/last boundary, so "
            "`open_end = open_start + arrivals − closures` and each `open_end` is the next period's `open_start`. "
            "The last `open_end` equals `open_backlog`. `oldest_open_hours`: age at the end boundary of the oldest "
            "ticket open then.",
            (("tickets", ("closed_at",)),),
            zeros=None,
        ),
        Metric(
            "exposure",
            "Exposure before action",
            ("tickets", "zero_view_share", "within_24h_share", "p50_views", "p90_views"),
            "Among tickets created in the period that got a first action (`tickets`): `within_24h_share` = share "
            "whose first action came at most 24 h after `created_at`; `zero_view_share` = share with no view "
            "before action (`views_before_action = 0`) and P50/P90 of `views_before_action` (linear "
            "interpolation), both among those whose views are known.",
            (("tickets", ("first_action_at", "views_before_action")),),
            zeros=("tickets",),
            shares=(("zero_view_share", "_zero_views", "_views_known"), ("within_24h_share", "_within_24h", "tickets")),
        ),
        Metric(
            "automation",
            "Automation share",
            ("tickets", "known", "automated", "automated_share"),
            "Share of tickets created in the period, among those where `automated` is known, that were decided by "
            "automation without human review. Human review load = `tickets × (1 − automated_share)`.",
            (("tickets", ("automated",)),),
            zeros=("tickets", "known", "automated"),
            shares=(("automated_share", "automated", "known"),),
        ),
        Metric(
            "handle_time",
            "Handle time",
            ("reviews", "mean_handle_seconds", "p50_handle_seconds", "p90_handle_seconds", "handle_hours"),
            "Reviewer working time of human decisions (`automated = false`) with a known `handle_seconds` whose "
            "first action falls in the period: mean, P50/P90 (linear interpolation) and the total in hours.",
            (("tickets", ("handle_seconds", "first_action_at")),),
            zeros=("reviews", "handle_hours"),
        ),
        Metric(
            "throughput",
            "Throughput",
            ("handled", "productive_hours", "handled_per_productive_hour"),
            "Human decisions whose first action falls in the period (by vendor, site, language) divided by the "
            "productive hours the staffing table reports for the same days and groups. Only vendor, site and "
            "language (and period) can group it, and only the vendor filter applies.",
            (("tickets", ("vendor", "first_action_at")), ("staffing", ("productive_hours",))),
            zeros=("handled", "productive_hours"),
            groups=THROUGHPUT_GROUPS,
        ),
    )
}
