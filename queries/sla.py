"""SLA policy (config/sla.toml): which time-to-first-action target each ticket has."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from queries.errors import SourceError

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent.parent / "config" / "sla.toml"
CONDITIONS = ("queue", "priority", "source", "surface")


@dataclass(frozen=True)
class SlaRule:
    """Tickets matching every condition must get a first action within `target_seconds`."""

    name: str
    target_seconds: float
    conditions: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class SlaPolicy:
    rules: tuple[SlaRule, ...]
    file: str

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
    unknown = sorted(set(raw) - {"rule"})
    if unknown or not isinstance(raw.get("rule", []), list):
        raise SourceError(
            f"SLA policy file {path}: " + (f"unknown key {unknown[0]!r}." if unknown else "`rule` is not a list."),
            fix="Write each rule as a [[rule]] section with name, target_seconds and conditions (see config/sla.toml).",
        )
    return SlaPolicy(tuple(_rule(path, i, body) for i, body in enumerate(raw.get("rule", []), start=1)), str(path))


def _rule(path: Path, i: int, body: object) -> SlaRule:
    """One [[rule]] section, checked: target_seconds > 0, a text name, conditions of text values."""
    fix = (
        f"Each [[rule]] needs target_seconds > 0, an optional text name and only the conditions "
        f"{', '.join(CONDITIONS)} (a text value or a list of them)."
    )
    if not isinstance(body, dict):
        raise SourceError(f"SLA policy file {path}: rule {i} is not a [[rule]] section.", fix=fix)
    problems = [f"unknown key {k!r}" for k in sorted(set(body) - {"name", "target_seconds", *CONDITIONS})]
    target = body.get("target_seconds")
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not target > 0:
        problems.append(f"target_seconds is {target!r}")
    if not isinstance(body.get("name", ""), str):
        problems.append("name is not text")
    conditions = []
    for column in (c for c in CONDITIONS if c in body):
        values = body[column] if isinstance(body[column], list) else [body[column]]
        if not values or not all(isinstance(v, str) for v in values):
            problems.append(f"{column} is not text or a list of text")
        conditions.append((column, tuple(str(v) for v in values)))
    if problems:
        raise SourceError(f"SLA policy file {path}: rule {i} is invalid ({'; '.join(problems)}).", fix=fix)
    return SlaRule(str(body.get("name", f"rule {i}")), float(target), tuple(conditions))
