"""Names and numbers for people: the one place stable identifiers become display names.

URLs, exports and the command line keep the identifiers (`policy_domain`, `regulated_goods_gifting`,
`required_fte_avg`); screens show `display_name` / `display_value`, and definitions written with their identifiers
as code spans (queries.definitions, docs/metrics.md) through `definition_words`. Names are derived from the
identifier itself (words, acronyms, units) and from the metric definitions; the tables below hold
only the special cases a rule cannot get right.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import polars as pl

from queries.contract import TABLES
from queries.definitions import METRICS

NULL_TEXT = "—"  # how an empty cell or value reads

# Field and measure names a rule gets wrong.
NAMES = {
    "source": "Detection source",
    "kind": "Kind",
    "ci_low": "95 % low",
    "ci_high": "95 % high",
    "tickets_per_million_dau": "Daily tickets per 1M DAU",
    "per_million_dau": "Daily tickets per 1M DAU",
    "dau": "DAU",
    "dau_days": "DAU × days",
    "p_value": "p-value",
    "handled_per_productive_hour": "Decisions per productive hour",
    "handle_seconds": "Handle time (s)",
    # Forecast & capacity
    "mase": "MASE",
    "baseline_mase": "Seasonal-naive MASE",
    "coverage_80": "80 % interval coverage",
    "coverage_95": "95 % interval coverage",
    "human_tickets": "Human-review tickets",
    "required_fte_hi_80": "Required, 80 % upper (FTE)",
    "gap_fte": "Surplus / deficit (FTE)",
    "backlog_hours_end": "Backlog at end (h)",
    "backlog_hours_at_end": "Backlog at end (h)",
    "sla_projected": "Projected SLA",
    "worst_vendor_week_gap_fte": "Worst vendor-week surplus / deficit (FTE)",
    "worst_vendor_week": "Worst vendor-week",
    "vendor_weeks_in_deficit": "Vendor-weeks in deficit",
}
# Category values a rule gets wrong ("&", hyphens).
VALUES = {
    "regulated_goods_gifting": "Regulated goods & gifting",
    "integrity_spam_scams": "Integrity, spam & scams",
    "sensitive_mature_themes": "Sensitive & mature themes",
    "self_harm_dangerous_acts": "Self-harm & dangerous acts",
    "harassment_bullying": "Harassment & bullying",
    "privacy_security": "Privacy & security",
    "non_violating": "Non-violating",
    "over_enforcement": "Over-enforcement",
    "under_enforcement": "Under-enforcement",
    "ets": "Damped ETS",  # forecast models (forecasting.models.MODELS)
    # EU DSA statement categories (the public benchmark), read in lower case
    "other_violation_tc": "Other violation of terms & conditions",
    "not_specified_notice": "Not specified (notice)",
    "scope_of_platform_service": "Scope of platform service",
}
ACRONYMS = {"qa", "sla", "fte", "dau", "dsa", "ci", "id", "utc", "csv", "url", "p0", "p1", "p2", "p3", "ai"}
UNIT_WORDS = {"hours": "(h)", "seconds": "(s)", "fte": "(FTE)", "avg": "(avg)", "max": "(max)", "min": "(min)"}
# Fields whose values are a vocabulary of identifiers (snake_case words), shown by their display names. Codes
# (market, language) and proper names (vendor, site) are shown as the data gives them.
CATEGORY_FIELDS = frozenset(
    {f.name for t in TABLES.values() for f in t.fields if f.values}
    | {"policy_domain", "surface", "queue", "error_type", "kind", "model", "dsa_category"}
)
IDENTIFIER = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")
CODE_SPAN = re.compile(r"`([^`]+)`")
SETTING = re.compile(r"([a-z][a-z0-9_]*) = ([A-Za-z0-9_]+)")  # `source = proactive_model`: a field and its value
FORMULA = re.compile(r"[a-z0-9_ =+\-−×/()<>≤≥.]+")  # identifiers, numbers and operators: `open_end = open_start + …`
NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


def _words(identifier: str, units: bool) -> str:
    """snake_case as words: acronyms upper case, a trailing unit in brackets (when `units`), first letter capital."""
    tokens = identifier.split("_")
    tail = UNIT_WORDS.get(tokens[-1]) if units and len(tokens) > 1 else None
    words = [t.upper() if t in ACRONYMS else t for t in (tokens[:-1] if tail else tokens)]
    text = " ".join(words + ([tail] if tail else []))
    return text[:1].upper() + text[1:]


def display_name(identifier: str) -> str:
    """A field's, metric's or measure's name for people: "policy_domain" → "Policy domain",
    "required_fte_avg" → "Required FTE (avg)", "p90_hours" → "P90 (h)", "qa_accuracy" → "QA accuracy"."""
    if identifier in NAMES:
        return NAMES[identifier]
    if identifier in METRICS:
        return METRICS[identifier].label
    if not IDENTIFIER.fullmatch(identifier):
        return identifier  # already words
    return _words(identifier, units=True)


def display_value(field: str, value: object) -> str:
    """A value of `field` for people: category identifiers become words ("live_p0" → "Live P0"), codes and
    names stay as they are, an empty value is "—"."""
    if value is None:
        return NULL_TEXT
    text = str(value)
    if field not in CATEGORY_FIELDS:
        return text
    if field == "dsa_category":  # upper-case identifiers: OTHER_VIOLATION_TC
        text = text.lower()
    if text in VALUES:
        return VALUES[text]
    return _words(text, units=False) if IDENTIFIER.fullmatch(text) else text


def definition_words(text: str) -> str:
    """A definition for people: its code spans of identifiers (as queries.definitions and docs/metrics.md write
    them) by display names — "`source = proactive_model`" → "Detection source: Proactive model",
    "`appeal_rate = appealed / tickets`" → "Appeal rate = Appealed / Tickets". A span of file syntax (a quoted
    value, e.g. `measure = "close"` in config/sla.toml) stays code: it is what to type."""
    return CODE_SPAN.sub(_span_words, text)


def _span_words(span: re.Match) -> str:
    code = span.group(1)
    setting = SETTING.fullmatch(code)
    if setting:
        field, value = setting.groups()
        return f"{display_name(field)}: {display_value(field, value)}"
    if FORMULA.fullmatch(code):
        return NAME.sub(lambda name: display_name(name.group(0)), code)
    return span.group(0)


def with_display_values(frame: pl.DataFrame, fields: Iterable[str]) -> pl.DataFrame:
    """`frame` with the values of `fields` (those present) replaced by their display names, for screens only; empty
    values stay empty (a table shows "—", a chart its own word for them)."""
    present = [f for f in fields if f in frame.columns]
    return frame.with_columns(
        pl.col(f).cast(pl.String).map_elements(lambda v, f=f: display_value(f, v), return_dtype=pl.String)
        for f in present
    )


def _round(expr: pl.Expr, digits: int) -> pl.Expr:
    """`expr` rounded to `digits` decimals, a rounded zero without its sign (no "-0.0")."""
    value = expr.cast(pl.Float64).round(digits)
    return pl.when(value == 0).then(pl.lit(0.0)).otherwise(value)


def as_percent(frame: pl.DataFrame, columns: Iterable[str], digits: int = 1) -> pl.DataFrame:
    """Shares (0–1) of `columns` as percentages (0–100) rounded to `digits`; never "-0.0"."""
    present = [c for c in columns if c in frame.columns]
    return frame.with_columns(_round(pl.col(c) * 100, digits).alias(c) for c in present)


def signless_zeros(frame: pl.DataFrame, digits: dict[str, int]) -> pl.DataFrame:
    """The columns in `digits` with every value that rounds to zero at that many decimals set to 0.0, so a table
    never shows "-0.0"; other values keep their precision."""
    present = {c: d for c, d in digits.items() if c in frame.columns}
    return frame.with_columns(
        pl.when(pl.col(c).round(d) == 0).then(pl.lit(0.0)).otherwise(pl.col(c)).alias(c) for c, d in present.items()
    )


def interval_text(low: str, high: str, *, percent: bool, digits: int = 1) -> pl.Expr:
    """An interval's bounds as one text, "3.6–4.8%" for shares (0–1) or "45.4–49.2"; empty when a bound is."""
    scale = 100 if percent else 1
    bounds = [_round(pl.col(c) * scale, digits).cast(pl.String) for c in (low, high)]
    return pl.format("{}–{}" + ("%" if percent else ""), *bounds)
