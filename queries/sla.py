"""SLA policy (config/sla.toml): which target each ticket has, and what it measures (first action or close)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from queries.errors import SourceError

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent.parent / "config" / "sla.toml"
CONDITIONS = ("queue", "priority", "source", "surface")
DUE_RULE = "Due time from the source (due_at)"  # the `sla_rule` of tickets measured against their own due_at
# What an SLA measures -> the ticket's end field: the time from created_at to it is what the target limits.
MEASURES = {"first_action": "first_action_at", "close": "closed_at"}
DEFAULT_MEASURE = "first_action"


@dataclass(frozen=True)
class SlaRule:
    """Tickets matching every condition must reach the rule's end (`measure`) within `target_seconds`."""

    name: str
    target_seconds: float
    conditions: tuple[tuple[str, tuple[str, ...]], ...]
    measure: str = DEFAULT_MEASURE  # a MEASURES key

    @property
    def end(self) -> str:
        """The ticket field the rule measures to: first_action_at or closed_at."""
        return MEASURES[self.measure]


@dataclass(frozen=True)
class SlaPolicy:
    """The rules (first match wins) and what a ticket's own `due_at` is the deadline of (`due_measure`).

    A ticket with a due_at is measured against it, whatever the rules say; the others by their rule."""

    rules: tuple[SlaRule, ...]
    file: str
    due_measure: str = DEFAULT_MEASURE  # a MEASURES key

    @property
    def groups(self) -> tuple[str, ...]:
        """The `sla_rule` values in order: each rule's name, then DUE_RULE (tickets measured against due_at)."""
        return (*(r.name for r in self.rules), DUE_RULE)

    @property
    def due_end(self) -> str:
        """The ticket field that must come by due_at: first_action_at or closed_at."""
        return MEASURES[self.due_measure]

    @property
    def terms(self) -> tuple:
        """Everything that decides an outcome (not the file it was read from): keys caches, compares policies."""
        return self.rules, self.due_measure

    def describe(self, due_dates: bool) -> str:
        """What the policy measures, for people: e.g. "time to close"; with `due_dates` (the source gives due_at)
        the due times first."""
        by_rule = {
            "first_action": "time to first action",
            "close": "time to close",
            "both": "time to first action or to close, by rule",
        }[self._rule_measures()]
        if not due_dates:
            return by_rule
        due = "actioned" if self.due_measure == "first_action" else "closed"
        return f"whether each ticket was {due} by its due_at (the source's due time) where it has one, else {by_rule}"

    def short_label(self, due_dates: bool) -> str:
        """A few words for a tile: "" for time to first action (what an SLA measures by default), else what."""
        if due_dates:
            return "due dates"
        return {"first_action": "", "close": "time to close", "both": "first action or close"}[self._rule_measures()]

    def _rule_measures(self) -> str:
        """The one measure every rule uses (first_action without rules), or "both"."""
        ends = {r.measure for r in self.rules} or {DEFAULT_MEASURE}
        return ends.pop() if len(ends) == 1 else "both"

    def rule_index_expr(self) -> pl.Expr:
        """Position in `rules` (UInt32) of each ticket's rule (first matching rule), null where no rule applies."""
        return self._first_match([pl.lit(i, pl.UInt32) for i in range(len(self.rules))], pl.UInt32())

    def _first_match(self, values: list[pl.Expr], dtype: pl.DataType) -> pl.Expr:
        expr: pl.Expr | pl.When | pl.Then = pl
        for rule, value in zip(self.rules, values, strict=True):
            condition = pl.lit(True)
            for column, allowed in rule.conditions:
                condition = condition & pl.col(column).is_in(allowed).fill_null(False)
            expr = expr.when(condition).then(value)
        return expr.otherwise(pl.lit(None, dtype)) if self.rules else pl.lit(None, dtype)


def policy_file() -> Path:
    """The SLA policy the app and the CLI read by default: BELLWETHER_SLA_POLICY, else config/sla.toml."""
    configured = os.environ.get("BELLWETHER_SLA_POLICY")
    return Path(configured) if configured else DEFAULT_POLICY_FILE


def load_sla_policy(path: str | Path | None = None) -> SlaPolicy:
    """Read an SLA policy file (default: `policy_file()`) with clear errors for bad rules."""
    path = Path(path) if path else policy_file()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceError(f"SLA policy file {path} does not exist.", fix="Create it from config/sla.toml.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(
            f"SLA policy file {path} is not valid TOML: {exc}.", fix="Fix the syntax at that line."
        ) from None
    unknown = sorted(set(raw) - {"rule", "due_measure"})
    if unknown or not isinstance(raw.get("rule", []), list):
        raise SourceError(
            f"SLA policy file {path}: " + (f"unknown key {unknown[0]!r}." if unknown else "`rule` is not a list."),
            fix="Write each rule as a [[rule]] section with name, target_seconds and conditions, and optionally "
            "due_measure at the top (see config/sla.toml).",
        )
    due_measure = raw.get("due_measure", DEFAULT_MEASURE)
    if not isinstance(due_measure, str) or due_measure not in MEASURES:
        raise SourceError(
            f"SLA policy file {path}: due_measure is {due_measure!r}.",
            fix=f"Set due_measure to {_measures()}: what must happen by a ticket's due_at.",
        )
    rules = tuple(_rule(path, i, body) for i, body in enumerate(raw.get("rule", []), start=1))
    return SlaPolicy(rules, str(path), due_measure)


def _measures() -> str:
    return " or ".join(repr(m) for m in MEASURES)


def _rule(path: Path, i: int, body: object) -> SlaRule:
    """One [[rule]] section, checked: target_seconds > 0, a text name, a known measure, conditions of text values."""
    fix = (
        f"Each [[rule]] needs target_seconds > 0, an optional text name, an optional measure ({_measures()}; "
        f"default {DEFAULT_MEASURE!r}) and only the conditions {', '.join(CONDITIONS)} (a text value or a list)."
    )
    if not isinstance(body, dict):
        raise SourceError(f"SLA policy file {path}: rule {i} is not a [[rule]] section.", fix=fix)
    known = {"name", "target_seconds", "measure", *CONDITIONS}
    problems = [f"unknown key {k!r}" for k in sorted(set(body) - known)]
    target = body.get("target_seconds")
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not target > 0:
        problems.append(f"target_seconds is {target!r}")
    name = body.get("name", "")
    if not isinstance(name, str):
        problems.append("name is not text")
    elif name == DUE_RULE:
        problems.append(f"{DUE_RULE!r} is the name of tickets with a due_at")
    measure = body.get("measure", DEFAULT_MEASURE)
    if not isinstance(measure, str) or measure not in MEASURES:
        problems.append(f"measure is {measure!r}")
    conditions = []
    for column in (c for c in CONDITIONS if c in body):
        values = body[column] if isinstance(body[column], list) else [body[column]]
        if not values or not all(isinstance(v, str) for v in values):
            problems.append(f"{column} is not text or a list of text")
        conditions.append((column, tuple(str(v) for v in values)))
    if problems:
        named = f"rule {i} ({name!r})" if isinstance(name, str) and name else f"rule {i}"
        raise SourceError(f"SLA policy file {path}: {named} is invalid ({'; '.join(problems)}).", fix=fix)
    return SlaRule(name or f"rule {i}", float(target), tuple(conditions), measure)
