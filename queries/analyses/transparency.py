"""Transparency pack: the figures public transparency reports and DSA regulators ask for, from the same extracts.

Every figure carries its definition and period. Actions are violating decisions (the decisions that
remove or restrict content and would carry a statement of reasons); notices are user reports and
trusted-flagger reports.
"""

from __future__ import annotations

import datetime as dt
import html

import polars as pl

from queries.definitions import METRICS
from queries.display import definition_words, display_value
from queries.engines import Source, groupable, small_table
from queries.filters import Filters
from queries.metrics import missing_inputs, summarize

NOTICE_SOURCES = ("user_report", "trusted_flagger")
FIGURES_SCHEMA = {
    "section": pl.String,
    "group": pl.String,
    "figure": pl.String,
    "value": pl.Float64,
    "unit": pl.String,
    "definition": pl.String,
    "period": pl.String,
}


def transparency_figures(ds: Source, filters: Filters) -> pl.DataFrame:
    """All figures of the pack, one row each (FIGURES_SCHEMA); figures the source cannot give are left out
    (actions need decisions by group, which rollups do not keep; see `rows_needed`)."""
    period = f"{filters.start} to {filters.end} (UTC)"
    rows: list[dict] = []

    def add(section: str, group: str, figure: str, value: float | None, unit: str, definition: str) -> None:
        rows.append(
            {
                "section": section,
                "group": group,
                "figure": figure,
                "value": value,
                "unit": unit,
                "definition": definition,
                "period": period,
            }
        )

    actions_def = "Violating decisions whose first action falls in the period."
    for by, section in (("policy_domain", "Actions by policy domain"), ("surface", "Actions by type of content")):
        if ds.has("tickets", by, "decision", "first_action_at") and groupable(ds, "decision"):
            acted = summarize(ds, "actioned", filters, by=["decision", by]).filter(pl.col("decision") == "violating")
            for group, count in acted.select(by, "actioned").iter_rows():
                add(section, str(group), "actions", count, "decisions", actions_def)
    for metric, measure, figure, section in (
        ("proactive", "proactive_share", "Detected proactively", "Detection and automation"),
        ("automation", "automated_share", "Decided by automated means", "Detection and automation"),
    ):
        if missing_inputs(ds, metric) is None:
            value = summarize(ds, metric, filters)[measure][0]
            add(section, "all", figure, value, "share", METRICS[metric].definition)
    if missing_inputs(ds, "time_to_first_action") is None and ds.has("tickets", "source"):
        chosen = filters.selections().get("source")
        sources = tuple(s for s in NOTICE_SOURCES if not chosen or s in chosen)  # narrow, never widen, the selection
        notices = Filters.of(filters.start, filters.end, {**filters.selections(), "source": sources or ("(none)",)})
        median, unit = readable_hours(summarize(ds, "time_to_first_action", notices)["p50_hours"][0])
        add(
            "Speed",
            "notices",
            "Median time to action for notices",
            median,
            unit,
            "P50 time from creation to first action of user and trusted-flagger reports created in the period, "
            "in minutes when under an hour, else in hours.",
        )
    if missing_inputs(ds, "exposure") is None:
        exposure = summarize(ds, "exposure", filters).row(0, named=True)
        add(
            "Speed",
            "all",
            "Actioned before any views",
            exposure["zero_view_share"],
            "share",
            METRICS["exposure"].definition,
        )
        add(
            "Speed",
            "all",
            "Actioned within 24 h",
            exposure["within_24h_share"],
            "share",
            METRICS["exposure"].definition,
        )
    if missing_inputs(ds, "appeals") is None:
        appeals = summarize(ds, "appeals", filters).row(0, named=True)
        add("Appeals", "all", "Decisions appealed", appeals["appealed"], "decisions", METRICS["appeals"].definition)
        add(
            "Appeals", "all", "Restored after appeal", appeals["overturned"], "decisions", METRICS["appeals"].definition
        )
        add("Appeals", "all", "Overturn rate", appeals["overturn_rate"], "share", METRICS["appeals"].definition)
    for row in moderators_by_language(ds, filters).iter_rows(named=True):
        add(
            "Moderators by language",
            row["language"],
            "Moderators (FTE, daily mean)",
            row["scheduled_fte"],
            "FTE",
            "Scheduled FTE per day in the staffing table, averaged over the period.",
        )
        add(
            "Moderators by language",
            row["language"],
            "Human-review tickets per day",
            row["human_tickets_per_day"],
            "tickets",
            "Tickets decided by people whose first action falls in the period, per day.",
        )
    return pl.DataFrame(rows, schema=FIGURES_SCHEMA)


def readable_hours(hours: float | None) -> tuple[float | None, str]:
    """A duration as (value, unit) that reads well and says what it is: minutes under an hour, else hours."""
    if hours is not None and hours < 1:
        return hours * 60, "minutes"
    return hours, "hours"


def moderators_by_language(ds: Source, filters: Filters) -> pl.DataFrame:
    """Scheduled FTE (daily mean) next to human-review demand per day, by language."""
    schema = {"language": pl.String, "scheduled_fte": pl.Float64, "human_tickets_per_day": pl.Float64}
    if not (
        ds.has("staffing", "language", "scheduled_fte")
        and missing_inputs(ds, "handle_time") is None
        and groupable(ds, "language")
    ):
        return pl.DataFrame(schema=schema)
    staffing = small_table(ds, "staffing").filter(
        pl.col("date").is_between(filters.start, filters.end) & filters.dimension_expr(["vendor"])
    )
    fte = (
        staffing.group_by("language", "date")
        .agg(pl.col("scheduled_fte").sum())
        .group_by("language")
        .agg(pl.col("scheduled_fte").sum() / filters.days)
    )
    demand = summarize(ds, "handle_time", filters, by=["language"]).select(
        "language", (pl.col("reviews") / filters.days).alias("human_tickets_per_day")
    )
    return fte.join(demand, on="language", how="full", coalesce=True).select(list(schema)).sort("language")


def rows_needed(ds: Source) -> list[str]:
    """The pack's sections this source leaves out because they group tickets by a field its aggregates lack."""
    needs = {"decision": "Actions by policy domain and by type of content", "language": "Moderators by language"}
    return [section for field, section in needs.items() if ds.has("tickets", field) and not groupable(ds, field)]


SECTION_FIELDS = {  # the field a section's groups are values of
    "Actions by policy domain": "policy_domain",
    "Actions by type of content": "surface",
    "Moderators by language": "language",
}


def readable_figures(figures: pl.DataFrame) -> pl.DataFrame:
    """The figures for people (the page, the printable report): groups as display names ("Adult nudity", "All"),
    figures with a capital, definitions in words; the CSV keeps the identifiers."""

    def group(section: str, value: str) -> str:
        field = SECTION_FIELDS.get(section)
        return display_value(field, value) if field else value[:1].upper() + value[1:]

    return figures.with_columns(
        pl.struct("section", "group")
        .map_elements(lambda r: group(r["section"], r["group"]), return_dtype=pl.String)
        .alias("group"),
        pl.col("figure").str.slice(0, 1).str.to_uppercase() + pl.col("figure").str.slice(1),
        pl.col("definition").map_elements(definition_words, return_dtype=pl.String),
    )


def transparency_html(figures: pl.DataFrame, title: str, generated: dt.datetime) -> str:
    """A self-contained, printable HTML report of the figures (print to PDF from the browser)."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;color:#212121}table{border-collapse:collapse;width:100%;"
        "margin-bottom:1.5em}th,td{border:1px solid #bdbdbd;padding:4px 8px;text-align:left;font-size:12px}"
        "td.num{text-align:right}h2{margin-top:1.5em}@media print{h2{page-break-after:avoid}}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Generated {generated:%Y-%m-%d %H:%M} UTC.</p>",
    ]
    for (section,), rows in readable_figures(figures).group_by("section", maintain_order=True):
        parts.append(
            f"<h2>{html.escape(section)}</h2><table><tr><th>Group</th><th>Figure</th><th>Value</th>"
            "<th>Unit</th><th>Definition</th><th>Period</th></tr>"
        )
        for r in rows.iter_rows(named=True):
            parts.append(
                f"<tr><td>{html.escape(r['group'])}</td><td>{html.escape(r['figure'])}</td>"
                f"<td class='num'>{_format(r['value'], r['unit'])}</td><td>{html.escape(r['unit'])}</td>"
                f"<td>{html.escape(r['definition'])}</td><td>{html.escape(r['period'])}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _format(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "share":
        return f"{value:.1%}"
    if unit in ("decisions", "tickets") and float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}"
