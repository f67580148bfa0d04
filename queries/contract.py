"""The data contract: the tables Bellwether reads, their fields, types and allowed values.

This module is the single source of truth. Validation (`queries.validation`), the demo
generator (`queries.demo`) and `docs/data-contract.md` (rendered by
`python -m queries contract`) all read it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import polars as pl


class Kind(StrEnum):
    """The logical type of a field; each maps to one Polars dtype after loading."""

    STRING = "string"
    TIMESTAMP = "timestamp"
    DATE = "date"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"

    @property
    def dtype(self) -> pl.DataType:
        return _DTYPES[self]


_DTYPES: dict[Kind, pl.DataType] = {
    Kind.STRING: pl.String(),
    # Timestamps are UTC, stored without a time-zone tag (naive = UTC everywhere in Bellwether).
    Kind.TIMESTAMP: pl.Datetime("us"),
    Kind.DATE: pl.Date(),
    Kind.NUMBER: pl.Float64(),
    Kind.INTEGER: pl.Int64(),
    Kind.BOOLEAN: pl.Boolean(),
}


@dataclass(frozen=True)
class Field:
    """One column of a contract table."""

    name: str
    kind: Kind
    description: str
    required: bool = False
    values: tuple[str, ...] | None = None  # allowed values; None = free text
    min_value: float | None = None
    max_value: float | None = None


@dataclass(frozen=True)
class Table:
    """One contract table: its grain, its fields and the columns that must be unique."""

    name: str
    grain: str
    description: str
    fields: tuple[Field, ...]
    unique_key: tuple[str, ...] = ()

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    @property
    def schema(self) -> dict[str, pl.DataType]:
        return {f.name: f.kind.dtype for f in self.fields}


SOURCES = ("user_report", "proactive_model", "trusted_flagger", "escalation", "appeal", "legal")
DECISIONS = ("violating", "non_violating", "escalated")
PRIORITIES = ("P0", "P1", "P2", "P3")
ERROR_TYPES = ("over_enforcement", "under_enforcement", "wrong_policy", "technical", "other")
EVENT_KINDS = (
    "policy_change",
    "product_launch",
    "model_launch",
    "news_event",
    "outage",
    "holiday",
    "training",
    "other",
)
PROACTIVE_SOURCES = ("proactive_model",)

TICKETS = Table(
    name="tickets",
    grain="one row per ticket (a reported or machine-flagged item routed for a decision)",
    description="Every ticket with its routing, timestamps and outcome.",
    unique_key=("ticket_id",),
    fields=(
        Field("ticket_id", Kind.STRING, "Unique ticket identifier.", required=True),
        Field("created_at", Kind.TIMESTAMP, "When the ticket entered the system (UTC).", required=True),
        Field(
            "first_action_at",
            Kind.TIMESTAMP,
            "First moderator or automated decision (UTC); empty while waiting.",
        ),
        Field("closed_at", Kind.TIMESTAMP, "When the ticket was closed (UTC); empty while open."),
        Field(
            "updated_at",
            Kind.TIMESTAMP,
            "Last change of the row (UTC); used by `dedupe_by` for snapshot extracts.",
        ),
        Field("queue", Kind.STRING, "Review queue the ticket was routed to, e.g. live_p0, reports."),
        Field(
            "surface", Kind.STRING, "Where the content lives, e.g. live_stream, live_comment, gift, profile, replay."
        ),
        Field("policy_domain", Kind.STRING, "Policy area, e.g. harassment_bullying, youth_safety."),
        Field("market", Kind.STRING, "Market (ISO 3166-1 alpha-2 country code recommended)."),
        Field("language", Kind.STRING, "Content language (ISO 639-1 code recommended)."),
        Field("source", Kind.STRING, "How the ticket was detected.", values=SOURCES),
        Field("priority", Kind.STRING, "P0 (imminent harm) to P3.", values=PRIORITIES),
        Field("vendor", Kind.STRING, "Team or outsourced vendor that decided; empty for automated decisions."),
        Field("site", Kind.STRING, "Vendor site (city or centre)."),
        Field("decision", Kind.STRING, "Outcome of the first decision.", values=DECISIONS),
        Field(
            "handle_seconds",
            Kind.NUMBER,
            "Reviewer working time spent on the ticket, in seconds.",
            min_value=0,
        ),
        Field("automated", Kind.BOOLEAN, "True when decided by automation without human review."),
        Field(
            "views_before_action",
            Kind.INTEGER,
            "Views (or live viewers reached) between creation and first action.",
            min_value=0,
        ),
        Field("appealed", Kind.BOOLEAN, "True when the decision was appealed."),
        Field("appeal_overturned", Kind.BOOLEAN, "True when an appeal reversed the decision."),
        Field("sla_met", Kind.BOOLEAN, "SLA outcome as computed by the source system, if it has one."),
        Field(
            "due_at",
            Kind.TIMESTAMP,
            "Due time of the ticket's SLA as the source system computed it (UTC); when given, the ticket's SLA is "
            "met when it is actioned (or closed: `due_measure` in config/sla.toml) by then, whatever the rules say.",
        ),
    ),
)

STAFFING = Table(
    name="staffing",
    grain="one row per date × vendor × site × queue × language",
    description="Planned and delivered vendor capacity.",
    unique_key=("date", "vendor", "site", "queue", "language"),
    fields=(
        Field("date", Kind.DATE, "Calendar day (UTC).", required=True),
        Field("vendor", Kind.STRING, "Vendor or internal team.", required=True),
        Field("site", Kind.STRING, "Vendor site."),
        Field("queue", Kind.STRING, "Queue the capacity serves; empty = all queues of the site."),
        Field("language", Kind.STRING, "Language skill of the capacity (ISO 639-1)."),
        Field("scheduled_fte", Kind.NUMBER, "Full-time equivalents scheduled that day.", min_value=0),
        Field(
            "productive_hours",
            Kind.NUMBER,
            "Hours actually available for review (after shrinkage).",
            min_value=0,
        ),
        Field(
            "shrinkage",
            Kind.NUMBER,
            "Share (0–1) of paid time not available for review: breaks, training, wellness, absence.",
            min_value=0,
            max_value=1,
        ),
        Field("headcount", Kind.INTEGER, "People employed on the line that day.", min_value=0),
        Field("attrition", Kind.INTEGER, "People who left that day.", min_value=0),
        Field(
            "min_on_floor",
            Kind.NUMBER,
            "Coverage: reviewers the line keeps at work through every covered hour of that day, whatever the volume.",
            min_value=0,
        ),
        Field(
            "covered_hours",
            Kind.NUMBER,
            "Hours of that day the line is staffed (0–24); empty = 24, round the clock.",
            min_value=0,
            max_value=24,
        ),
    ),
)

QA_REVIEWS = Table(
    name="qa_reviews",
    grain="one row per QA review of a decision",
    description="Quality-assurance re-reviews of sampled decisions.",
    fields=(
        Field("ticket_id", Kind.STRING, "The reviewed ticket.", required=True),
        Field("reviewed_at", Kind.TIMESTAMP, "When QA reviewed it (UTC).", required=True),
        Field("vendor", Kind.STRING, "Vendor whose decision was reviewed."),
        Field("policy_domain", Kind.STRING, "Policy area of the ticket."),
        Field("moderator_decision", Kind.STRING, "The decision under review.", values=DECISIONS),
        Field("qa_decision", Kind.STRING, "QA's decision.", values=DECISIONS),
        Field("is_correct", Kind.BOOLEAN, "True when QA agrees with the decision.", required=True),
        Field("error_type", Kind.STRING, "Kind of error when not correct.", values=ERROR_TYPES),
    ),
)

PLATFORM_METRICS = Table(
    name="platform_metrics",
    grain="one row per date × market",
    description="User base, used to normalise volumes per 1M daily active users.",
    unique_key=("date", "market"),
    fields=(
        Field("date", Kind.DATE, "Calendar day (UTC).", required=True),
        Field("market", Kind.STRING, "Market, same codes as tickets.market.", required=True),
        Field("dau", Kind.INTEGER, "Daily active users.", required=True, min_value=0),
    ),
)

EVENTS = Table(
    name="events",
    grain="one row per annotated event",
    description="Annotations drawn on time charts: policy changes, launches, news events, outages.",
    fields=(
        Field("start", Kind.DATE, "First day of the event.", required=True),
        Field("end", Kind.DATE, "Last day (inclusive); empty = one day."),
        Field("title", Kind.STRING, "Short label.", required=True),
        Field("kind", Kind.STRING, "Kind of event.", values=EVENT_KINDS),
        Field("policy_domain", Kind.STRING, "Policy area it concerns; empty = all."),
        Field("market", Kind.STRING, "Market it concerns; empty = all."),
        Field("vendor", Kind.STRING, "Vendor it concerns (e.g. a training or staffing episode); empty = all."),
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in (TICKETS, STAFFING, QA_REVIEWS, PLATFORM_METRICS, EVENTS)}

# Timestamps and dates must lie strictly between these (UTC): placeholders such as 9999-12-31, 1900-01-01 or
# Unix time 0 are impossible times, rejected as "FIELD out of range".
TIME_RANGE = (dt.datetime(1970, 1, 1), dt.datetime(2100, 1, 1))
# A timestamp later than its file was written (modification time) plus this is "in the future": the row is
# kept and counted, but its time does not count for freshness or the default period.
FUTURE_TOLERANCE = dt.timedelta(days=1)
# Timestamps that are not events, so never "in the future" nor the data's "now": updated_at only orders snapshots
# (dedupe_by), due_at is a deadline, often ahead of the data.
UNDATED_TIMESTAMPS = ("updated_at", "due_at")

# Rules that involve two fields: (table, later field, earlier field, reason). A rule is about its later field: when
# it fails, that field is quarantined (set to null for the row, counted), in this order, each against the values the
# rules before it left (a first_action_at quarantined for being before created_at is not compared with closed_at).
ORDER_RULES: tuple[tuple[str, str, str, str], ...] = (
    ("tickets", "closed_at", "created_at", "closed before created"),
    ("tickets", "first_action_at", "created_at", "first action before created"),
    ("tickets", "closed_at", "first_action_at", "closed before first action"),
    ("events", "end", "start", "end before start"),
)
# Columns of the loaded tickets (not contract fields): true for a ticket whose closed_at (first_action_at) was
# quarantined, so closed (acted on) at a time that is not known. The backlog leaves a ticket closed at an unknown
# time out (never open, neither arriving nor closing); the SLA leaves out a ticket whose end time is unknown (never
# counted late while "waiting"). `load-warehouse` writes them, and a warehouse tickets table with boolean columns of
# these names is read with them.
CLOSED_UNKNOWN = "closed_unknown"
ACTED_UNKNOWN = "acted_unknown"
TIME_UNKNOWN = {"first_action_at": ACTED_UNKNOWN, "closed_at": CLOSED_UNKNOWN}  # timestamp field -> its flag


def contract_markdown() -> str:
    """Render the contract as the Markdown in docs/data-contract.md."""
    lines = [
        "# Data contract",
        "",
        "<!-- Generated by `python -m queries docs`; edit queries/contract.py. -->",
        "",
        "Bellwether reads five tables. Only `tickets` is needed; pages whose tables or fields are",
        "missing say what to map instead of failing. Timestamps are UTC (see *Time zones and timestamp",
        "formats* below). Column names and formats of your own extracts map onto these fields with a",
        "mapping file (see README).",
        "",
        "A row without a usable value in a required field is **rejected**: excluded from every metric.",
        "A bad value in an optional field is **quarantined**: that field is set to null for the row, which",
        "is kept (a ticket with a valid `ticket_id` and `created_at` always counts as received). Both are",
        "counted by reason, with examples, on the Data health page and by `python -m queries validate`.",
        "",
    ]
    for table in TABLES.values():
        lines += [f"## `{table.name}`", "", f"{table.description} Grain: {table.grain}.", ""]
        if table.unique_key:
            lines += [f"Unique key: {', '.join(f'`{k}`' for k in table.unique_key)}.", ""]
        lines += ["| field | type | required | allowed values | meaning |", "|---|---|---|---|---|"]
        for f in table.fields:
            allowed = ", ".join(f"`{v}`" for v in f.values) if f.values else _range_text(f)
            lines.append(
                f"| `{f.name}` | {f.kind.value} | {'yes' if f.required else ''} | {allowed} | {f.description} |"
            )
        rules = [r for r in ORDER_RULES if r[0] == table.name]
        if rules:
            lines += [
                "",
                "Order rules (else the first field is quarantined): "
                + "; ".join(f"`{a}` ≥ `{b}` (*{why}*)" for _, a, b, why in rules)
                + ".",
            ]
        lines.append("")
    lines += [
        "## Rejected rows and quarantined fields",
        "",
        "The rules, in order of precedence. For required fields they reject the row (counted once, under its",
        "first failing rule); for optional fields they quarantine the field (counted once per field, under its",
        "first failing rule):",
        "",
        "1. *missing FIELD* — a required field is empty (rejects the row).",
        "2. *unparseable FIELD* — a timestamp, date, number or boolean that cannot be read. A number where a",
        "   timestamp is expected says which epoch setting would read it (`… (a number: set [tickets.datetime_formats]",
        '   created_at = "epoch_ms")`).',
        "3. *unknown FIELD value* — a value outside the allowed values (map it with `[TABLE.values.FIELD]`;",
        "   `validate` lists the unknown values and prints that block).",
        "4. *FIELD out of range* — below the minimum or above the maximum; for timestamps and dates, not",
        f"   strictly between {TIME_RANGE[0]:%Y-%m-%d %H:%M} and {TIME_RANGE[1]:%Y-%m-%d} (placeholders such as",
        "   `9999-12-31`, Unix time 0, or epoch milliseconds read as seconds).",
        "5. The order rules above (each quarantines its first field).",
        "6. *duplicate KEY* — every row of a key that appears more than once (set `dedupe_by`",
        "   for snapshot extracts, which keeps the last row per key instead); rejects the rows.",
        "",
        "A quarantined field counts as not given for that row: an unknown `source` counts as unknown in the",
        "shares, a quarantined `first_action_at` leaves the ticket out of time to first action, a quarantined",
        "`closed_at` leaves it out of time to close. A ticket whose `closed_at` is quarantined was closed, at a",
        f"time that is not known (`{CLOSED_UNKNOWN}`): the backlog leaves it out, rather than count it open forever.",
        f"Likewise a ticket whose SLA end (`first_action_at`, `{ACTED_UNKNOWN}`; or `closed_at` for a resolution",
        "SLA) is quarantined is left out of the SLA, rather than counted late while it seems to wait. If your",
        'export writes a placeholder such as `9999-12-31` for "not closed yet", add it to `null_values`: it then',
        "reads as empty (open) instead of being quarantined as out of range.",
        "",
        "Fields with allowed values match whatever the case, the Unicode form (NFKC) and invisible",
        "characters (zero-width spaces, byte-order marks): `User_Report` is `user_report`; so do the",
        "keys of a mapping's `[TABLE.values.FIELD]`. Exact matches win: a value that is exactly a key of",
        "`[TABLE.values.FIELD]` takes its mapping, one that is exactly an allowed value stays itself; only other",
        'values are folded, matched against the folded keys first, then the folded allowed values (`"p1" = "P2"`',
        "maps `p1` and `P１`, but an exact `P1` stays `P1`).",
        "",
        "Lines of a CSV without a value in any column that maps to a field (blank lines, separators only, or",
        "values only in columns no field maps to, which are never read) are not rows: neither read nor rejected.",
        "",
        f"Rows with a timestamp (other than {' and '.join(f'`{n}`' for n in UNDATED_TIMESTAMPS)}) later than their "
        "file was written plus",
        f"{FUTURE_TOLERANCE.days} day are **in the future**: kept and counted (Data health, `validate`), but",
        "such a time neither counts as the table's latest value nor moves the default period or the data's",
        '"now" (the latest ticket time, at which a ticket still waiting is past its SLA target or not); the',
        "row's other times still count.",
        "",
        *_TIME_SETTINGS,
    ]
    return "\n".join(lines)


_TIME_SETTINGS = (
    "## Time zones and timestamp formats",
    "",
    "Each table of a mapping file can say how its timestamps are written:",
    "",
    '- `timezone = "America/Los_Angeles"` (any IANA name): times without an offset are wall-clock times in',
    "  that zone and are converted to UTC. A time that does not exist there (the hour skipped when clocks go",
    "  forward) is read with the offset before the change, i.e. shifted forward (02:30 becomes 03:30); a time",
    "  that happens twice (the hour repeated when clocks go back) is the earlier instant. Both are kept, counted",
    "  and shown on Data health (*time adjusted*). Without `timezone`, times without an offset are read as UTC,",
    "  and Data health says so.",
    "- Values with an offset (`Z`, `+02:00`; `%z` in a format) or a trailing ` UTC` are converted to UTC whatever",
    "  `timezone` says.",
    "  With `%Z` at the end of a format, the zone written in the value is used: an IANA name (`Europe/Berlin`),",
    "  `UTC`/`GMT`, or an abbreviation with one meaning (`CET`, `CEST`, `EST`, `PDT`, …). An abbreviation with",
    "  several meanings (`IST`, `CST`, `BST`, …) or none is refused, naming the column, unless `timezone` says",
    "  which zone the times are in.",
    '- `datetime_format = "%d/%m/%Y %H:%M"` sets the format of every timestamp of the table (default: ISO',
    '  8601); `[TABLE.datetime_formats]` sets it per field and wins over it: a strftime format, `"iso"`, or',
    '  epoch numbers `"epoch_s"`, `"epoch_ms"`, `"epoch_us"` (seconds, milliseconds or microseconds since',
    "  1970-01-01 UTC, as text or as numeric columns).",
    "- A timestamp split over two columns (a date and a time) maps as a list:",
    '  `first_action_at = ["fa_date", "fa_time"]` under `[TABLE.columns]` joins them with a space before',
    "  parsing them with that field's format.",
    "",
    "Dates (`date`, `start`, `end`) are calendar days: `timezone` does not apply to them. Warehouse tables hold",
    "typed timestamps, read as UTC: these settings are refused there (point `table` at a view that converts).",
    "",
    "A column whose name is a field's (whatever the letter case) is taken for that field unless the mapping",
    "maps another; `validate` and Data health name each one (`` `source` taken from your column `source` ``), so",
    "a surprising automatic match is visible.",
    "",
    "## Your own dimensions",
    "",
    "Columns the contract does not name (region, product area, reporter type) map by name under",
    '`[tickets.dimensions]`, e.g. `region = "Supervisor District"`: read as trimmed text (empty is no value),',
    "they appear as sidebar filters (kept in the URL), as `--by` groups of `summarize` and `spikes`, as splits",
    "of the pages and in their exports, on extracts and warehouses alike. A name is lower-case letters, digits",
    "and `_`, starting with a letter, and is not a tickets field. Large extracts served from rollups group by",
    "the contract's dimensions only, and say so when asked for your own.",
    "",
    "## A drafted mapping",
    "",
    "`python -m queries init-mapping --source FILE_OR_FOLDER --out mapping.toml` reads the header and the first",
    "5,000 rows and writes a commented draft: the likely id, the created/first-action/closed/updated times (by",
    "name and by how many values parse), a `datetime_format` (or per-field formats, epochs included) that parses",
    "the sample, a `timezone` hint when times carry no zone, fixed-value fields with a values block of the values",
    "seen, other categorical columns as `[tickets.dimensions]`, and `dedupe_by` when ids repeat. Unedited, it",
    "loads a typical export; lines marked `check` are guesses to look at. It never replaces an existing file",
    "unless `--force` is given. The Data health page offers the same draft as a download.",
    "",
)


def _range_text(f: Field) -> str:
    if f.min_value is not None and f.max_value is not None:
        return f"{f.min_value:g}–{f.max_value:g}"
    if f.min_value is not None:
        return f"≥ {f.min_value:g}"
    return ""
