"""SLA policy (config/sla.toml): which time-to-first-action target each ticket has."""

from __future__ import annotations

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


def load_sla_policy(path: str | Path | None = None) -> SlaPolicy:
    """Read an SLA policy file (default: config/sla.toml) with clear errors for bad rules."""
    path = Path(path) if path else DEFAULT_POLICY_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceError(f"SLA policy file {path} does not exist.", fix="Create it from config/sla.toml.") from None
    except tomllib.TOMLDecodeError as exc:
        raise SourceError(
            f"SLA policy file {path} is not valid TOML: {exc}.", fix="Fix the syntax at that line."
        ) from None
    rules = []
    for i, body in enumerate(raw.get("rule", []), start=1):
        unknown = set(body) - {"name", "target_seconds", *CONDITIONS}
        target = body.get("target_seconds")
        if unknown or not isinstance(target, (int, float)) or target <= 0:
            raise SourceError(
                f"SLA policy file {path}: rule {i} is invalid.",
                fix=f"Each [[rule]] needs target_seconds > 0 and only the conditions {', '.join(CONDITIONS)}.",
            )
        conditions = tuple(
            (c, tuple(body[c]) if isinstance(body[c], list) else (str(body[c]),)) for c in CONDITIONS if c in body
        )
        rules.append(SlaRule(str(body.get("name", f"rule {i}")), float(target), conditions))
    return SlaPolicy(tuple(rules), str(path))
