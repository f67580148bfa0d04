"""Targets (config/targets.toml): the goal of a metric's measure, for the whole operation or a selection.

Each `[[targets]]` entry names a metric and one of its measures, a goal and a direction (`at_most`: lower is
better, `at_least`), optionally `from` (the day it starts to apply) and `where` (a selection of dimensions; none =
the whole operation). Entries with the same metric, measure and selection are one target whose goal changed: for
a period, the latest entry whose `from` is on or before the period's end applies (no `from`: from the beginning).
A target is met when the period's actual (`summarize` for the target's selection and the period) is on the right
side of the goal, inclusive.

Whether a difference means anything: shares carry their Wilson 95 % interval, and a goal (or a previous value)
inside it is within the noise; any measure resting on fewer than MIN_SAMPLE tickets (reviews, appeals…) is too
small to judge. Counts compare their change with its Poisson noise. Such results carry a `hint` that replaces the
red/green of a status or a change.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from queries.analyses.formatting import DIRECTION_SIGNS, format_goal, format_value, measure_label, unit_of
from queries.analyses.overview import KPI_TILES, Kpi
from queries.definitions import METRICS
from queries.display import display_name, display_value
from queries.engines import Source, created_days, engine_for
from queries.errors import SourceError
from queries.filters import DIMENSIONS, Filters
from queries.intervals import Z_95, wilson_interval
from queries.metrics import summarize
from queries.sla import SlaPolicy

DEFAULT_TARGETS_FILE = Path(__file__).resolve().parents[2] / "config" / "targets.toml"
KEYS = ("metric", "measure", "goal", "direction", "from", "where")
MIN_SAMPLE = 100  # fewer tickets (reviews, appeals…) behind a figure: too few to call it good or bad
SAMPLE_COUNTS = ("measured", "reviews", "handled", "tickets")  # what a non-share measure rests on, first present
SAMPLE_NOUNS = {
    "measured": "tickets measured",
    "reviews": "reviews",
    "handled": "decisions",
    "tickets": "tickets",
    "appealed": "appeals",
    "known_source": "tickets with a known source",
    "known": "tickets with a known automation flag",
}
TARGETS_SCHEMA: dict[str, pl.DataType] = {
    "metric": pl.String(),
    "measure": pl.String(),
    "where": pl.String(),
    "goal": pl.Float64(),
    "direction": pl.String(),
    "from": pl.Date(),
    "actual": pl.Float64(),
    "previous_actual": pl.Float64(),
    "status": pl.String(),
    "sample": pl.Int64(),
    "hint": pl.String(),
}
"""One row per applicable target: `where` as "dimension=value[,value]; …" ("" = the whole operation); `status`
met, missed or no_data; `previous_actual` null when the previous equal period starts before the data; `sample`
the count the actual rests on; `hint` why met/missed should not be read as good or bad news (small sample,
within the noise), or why there is no data."""


@dataclass(frozen=True)
class Target:
    """One [[targets]] entry: the goal for a metric's measure over a selection, from a day on."""

    metric: str
    measure: str
    goal: float
    direction: str  # "at_most" or "at_least"
    start: dt.date | None  # `from`: None applies from the beginning
    where: tuple[tuple[str, tuple[str, ...]], ...]  # sorted (dimension, sorted values)
    entry: int  # position in the file, from 1

    @property
    def identity(self) -> tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...]]:
        """What makes entries the same target (whose goal changed over time): metric, measure and selection."""
        return self.metric, self.measure, self.where

    @property
    def where_text(self) -> str:
        """The selection as "dimension=value[,value]; …", "" for the whole operation."""
        return "; ".join(f"{d}={','.join(v)}" for d, v in self.where)

    @property
    def where_words(self) -> str:
        """The selection for people: "Policy domain: Youth safety; Market: DE, US", "whole operation" when none."""
        return (
            "; ".join(f"{display_name(d)}: {', '.join(display_value(d, x) for x in v)}" for d, v in self.where)
            or "whole operation"
        )

    @property
    def unit(self) -> str:
        return unit_of(self.metric, self.measure)

    def filters(self, start: dt.date, end: dt.date) -> Filters:
        """The target's selection over start–end."""
        return Filters.of(start, end, dict(self.where))

    def met(self, actual: float) -> bool:
        """True when `actual` is on the goal's side (the goal itself included)."""
        return actual <= self.goal if self.direction == "at_most" else actual >= self.goal

    def describe(self) -> str:
        """For people, e.g. "P90 time to action for Policy domain: Youth safety ≤ 6.0 min"."""
        scope = f" for {self.where_words}" if self.where else ""
        goal = f"{DIRECTION_SIGNS[self.direction]} {format_value(self.goal, self.unit)}"
        return f"{measure_label(self.metric, self.measure)}{scope} {goal}"


@dataclass(frozen=True)
class Targets:
    """Every entry of a targets file (none when there is no file)."""

    entries: tuple[Target, ...]
    file: str | None

    def in_force(self, day: dt.date) -> list[Target]:
        """Per target, the entry that applies on `day` (the latest `from` on or before it), in file order."""
        applying: dict[tuple, Target] = {}
        for t in self.entries:
            if t.start is not None and t.start > day:
                continue
            known = applying.get(t.identity)
            if known is None or (known.start or dt.date.min) < (t.start or dt.date.min):
                applying[t.identity] = t
        return sorted(applying.values(), key=lambda t: t.entry)

    def for_view(
        self, metric: str, measure: str, selections: dict[str, tuple[str, ...]], day: dt.date
    ) -> Target | None:
        """The entry for this measure whose selection is exactly the view's (`Filters.selections()`), on `day`."""
        where = _normalised(selections)
        return next((t for t in self.in_force(day) if t.identity == (metric, measure, where)), None)

    def goal_steps(
        self, metric: str, measure: str, selections: dict[str, tuple[str, ...]], start: dt.date, end: dt.date
    ) -> list[tuple[dt.date, dt.date, Target]]:
        """(first day, last day, entry) of each stretch of start–end with one goal for this measure and view."""
        steps: list[tuple[dt.date, dt.date, Target]] = []
        changes = sorted({start, *(t.start for t in self.entries if t.start and start < t.start <= end)})
        for i, first in enumerate(changes):
            last = changes[i + 1] - dt.timedelta(days=1) if i + 1 < len(changes) else end
            target = self.for_view(metric, measure, selections, first)
            if target is None:
                continue
            if steps and steps[-1][2] == target:
                steps[-1] = (steps[-1][0], last, target)
            else:
                steps.append((first, last, target))
        return steps

    def goal_line(
        self, metric: str, measure: str, selections: dict[str, tuple[str, ...]], start: dt.date, end: dt.date
    ) -> list[tuple[dt.date, dt.date, float, str]]:
        """`goal_steps` as charts draw them: (first day, last day, goal, "≤ 6.0 min")."""
        steps = self.goal_steps(metric, measure, selections, start, end)
        return [(a, b, t.goal, format_goal(t.direction, t.goal, t.unit)) for a, b, t in steps]

    def visible_to(self, vendor: str | None) -> Targets:
        """The entries a vendor-scoped user may see: none that name another vendor (all for unscoped users)."""
        if vendor is None:
            return self
        kept = tuple(t for t in self.entries if dict(t.where).get("vendor", (vendor,)) == (vendor,))
        return Targets(kept, self.file)


@dataclass(frozen=True)
class TargetResult:
    """A target evaluated over a period: its actual, the previous period's, and whether it was met."""

    target: Target
    actual: float | None
    previous: float | None
    sample: int | None
    status: str  # "met", "missed" or "no_data"
    hint: str | None  # why the status is not good or bad news (small sample, within the noise), or why no data

    @property
    def judged(self) -> bool:
        """True when met/missed may be shown as good or bad news (there is data, and enough of it)."""
        return self.status != "no_data" and self.hint is None


def hint_summary(hint: str) -> str:
    """A hint's first words ("within the noise", "only 43 reviews"); the rest says why."""
    return hint.split(":")[0]


def targets_file() -> Path | None:
    """The targets file the app and the CLI read: BELLWETHER_TARGETS, else config/targets.toml when it exists."""
    configured = os.environ.get("BELLWETHER_TARGETS")
    if configured:
        return Path(configured)
    return DEFAULT_TARGETS_FILE if DEFAULT_TARGETS_FILE.exists() else None


def load_targets(path: str | Path | None = None) -> Targets:
    """Read a targets file (default: `targets_file()`; none: no targets), checking every entry strictly."""
    path = Path(path) if path else targets_file()
    if path is None:
        return Targets((), None)
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except FileNotFoundError:
        raise SourceError(
            f"Targets file {path} does not exist.",
            fix="Create it from config/targets.toml, or unset BELLWETHER_TARGETS.",
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(
            f"Targets file {path} is not valid TOML: {exc}.", fix="Fix the syntax at that line."
        ) from None
    unknown = sorted(set(raw) - {"targets"})
    if unknown or not isinstance(raw.get("targets", []), list):
        raise SourceError(
            f"Targets file {path}: " + (f"unknown key {unknown[0]!r}." if unknown else "`targets` is not a list."),
            fix="Write each target as a [[targets]] section (see config/targets.toml).",
        )
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if re.match(r"\s*\[\[\s*targets\s*\]\]", line)]
    bodies = raw.get("targets", [])
    where = [
        f"target {i} (line {lines[i - 1]})" if len(lines) == len(bodies) else f"target {i}"
        for i in range(1, len(bodies) + 1)
    ]
    entries = tuple(
        _entry(path, i, name, body) for i, (name, body) in enumerate(zip(where, bodies, strict=True), start=1)
    )
    seen: dict[tuple, str] = {}
    for t, name in zip(entries, where, strict=True):
        key = (*t.identity, t.start)
        if key in seen:
            raise SourceError(
                f"Targets file {path}: {name} repeats {seen[key]}: same metric, measure, where and from.",
                fix="Remove one of them, or give the later goal its own `from` date.",
            )
        seen[key] = name
    return Targets(entries, str(path))


def _entry(path: Path, i: int, name: str, body: object) -> Target:
    """One [[targets]] section, checked: known metric and measure, a numeric goal, direction, from, where."""
    fix = (
        "Each [[targets]] needs metric, measure (one of the metric's measures), goal (a number; shares as 0–1), "
        "direction ('at_most' or 'at_least'), and optionally from (a date, YYYY-MM-DD) and where (a table of "
        f"dimension = value or [values]; dimensions: {', '.join(DIMENSIONS)})."
    )
    if not isinstance(body, dict):
        raise SourceError(f"Targets file {path}: {name} is not a [[targets]] section.", fix=fix)
    problems = [f"unknown key {k!r}" for k in sorted(set(body) - set(KEYS))]
    problems += [f"no {k}" for k in ("metric", "measure", "goal", "direction") if k not in body]
    metric, measure, goal = body.get("metric"), body.get("measure"), body.get("goal")
    if "metric" in body and metric not in METRICS:
        problems.append(f"metric {metric!r} is not one of {', '.join(METRICS)}")
    elif metric in METRICS and "measure" in body and measure not in _measures(metric):
        problems.append(f"measure {measure!r} is not a measure of {metric} ({', '.join(_measures(metric))})")
    if "goal" in body and (isinstance(goal, bool) or not isinstance(goal, (int, float)) or not math.isfinite(goal)):
        problems.append(f"goal {goal!r} is not a number")
    elif metric in METRICS and measure in _measures(metric) and "goal" in body:
        if unit_of(metric, measure) == "share" and not 0 <= goal <= 1:
            problems.append(f"goal {goal!r} is not a share between 0 and 1 (write 90 % as 0.9)")
        elif goal < 0:
            problems.append(f"goal {goal!r} is negative")
    if "direction" in body and body["direction"] not in DIRECTION_SIGNS:
        problems.append(f"direction {body['direction']!r} is not 'at_most' or 'at_least'")
    start = _date(body.get("from"), problems)
    selection = _where(body.get("where", {}), problems)
    if problems:
        raise SourceError(f"Targets file {path}: {name} is invalid ({'; '.join(problems)}).", fix=fix)
    return Target(metric, measure, float(goal), body["direction"], start, selection, i)


def _measures(metric: str) -> tuple[str, ...]:
    """The measures a target may name: the metric's, without interval bounds."""
    bounds = {b for i in METRICS[metric].intervals for b in i[:2]}
    return tuple(f for f in METRICS[metric].fields if f not in bounds)


def _date(value: object, problems: list[str]) -> dt.date | None:
    """`from` as a date (a TOML date or "YYYY-MM-DD"); notes a problem otherwise."""
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    problems.append(f"from {value!r} is not a date (YYYY-MM-DD)")
    return None


def _where(value: object, problems: list[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`where` as sorted (dimension, sorted values); notes unknown dimensions and values that are not text."""
    if not isinstance(value, dict):
        problems.append("where is not a table of dimension = value")
        return ()
    for d in sorted(set(value) - set(DIMENSIONS)):
        problems.append(f"where names {d!r}, which is not one of {', '.join(DIMENSIONS)}")
    selection = {}
    for d in (d for d in DIMENSIONS if d in value):
        values = value[d] if isinstance(value[d], list) else [value[d]]
        if not values or not all(isinstance(v, str) and v for v in values):
            problems.append(f"where {d} is not a text value or a list of them")
        selection[d] = tuple(str(v) for v in values)
    return _normalised(selection)


def _normalised(selections: dict[str, tuple[str, ...]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(sorted((d, tuple(sorted(set(v)))) for d, v in selections.items() if v))


# --- Evaluation -------------------------------------------------------------------------------------------------


class _Answers:
    """summarize answers of one evaluation, each computed once."""

    def __init__(self, ds: Source, sla_policy: SlaPolicy | None) -> None:
        self.ds, self.sla_policy = ds, sla_policy
        self._frames: dict[tuple[str, Filters], pl.DataFrame] = {}

    def row(self, metric: str, filters: Filters) -> dict | None:
        """The metric's one row for the filters (None when it has none)."""
        if (metric, filters) not in self._frames:
            self._frames[(metric, filters)] = summarize(self.ds, metric, filters, sla_policy=self.sla_policy)
        frame = self._frames[(metric, filters)]
        return frame.row(0, named=True) if frame.height else None


def evaluate_targets(
    ds: Source, targets: Targets, start: dt.date, end: dt.date, sla_policy: SlaPolicy | None = None
) -> list[TargetResult]:
    """Every target in force at `end`, evaluated over start–end for its own selection (and the period before)."""
    answers = _Answers(ds, sla_policy)
    return [_evaluate(ds, t, start, end, answers) for t in targets.in_force(end)]


def results_frame(results: list[TargetResult]) -> pl.DataFrame:
    """Target results as TARGETS_SCHEMA rows."""
    rows = [
        {
            "metric": r.target.metric,
            "measure": r.target.measure,
            "where": r.target.where_text,
            "goal": r.target.goal,
            "direction": r.target.direction,
            "from": r.target.start,
            "actual": r.actual,
            "previous_actual": r.previous,
            "status": r.status,
            "sample": r.sample,
            "hint": r.hint,
        }
        for r in results
    ]
    return pl.DataFrame(rows, schema=TARGETS_SCHEMA)


def readable_frame(results: list[TargetResult], screen: bool = False) -> pl.DataFrame:
    """Target results for people: measure label, selection, goal, actual and previous formatted, status, note. For
    the `screen`, the selection and status in words and capitalised headers; the command line keeps identifiers."""
    rows = []
    for r in results:
        t = r.target
        rows.append(
            {
                "measure": measure_label(t.metric, t.measure),
                "for": t.where_words if screen else (t.where_text or "whole operation"),
                "goal": format_goal(t.direction, t.goal, t.unit),
                "actual": format_value(r.actual, t.unit),
                "previous": format_value(r.previous, t.unit),
                "status": r.status,
                "note": r.hint or "",
            }
        )
    frame = pl.DataFrame(
        rows, schema=dict.fromkeys(("measure", "for", "goal", "actual", "previous", "status", "note"), pl.String)
    )
    if not screen:
        return frame
    status = pl.col("status").str.replace_all("_", " ")
    return frame.with_columns(status.str.slice(0, 1).str.to_uppercase() + status.str.slice(1)).rename(
        lambda c: c.capitalize()
    )


def _evaluate(ds: Source, target: Target, start: dt.date, end: dt.date, answers: _Answers) -> TargetResult:
    filters = target.filters(start, end)
    absent = [d for d, _ in target.where if not ds.has("tickets", d)]
    missing = engine_for(ds).can(target.metric) or (
        f"the source has no tickets.{absent[0]} to select {target.where_words}" if absent else None
    )
    if missing:
        return TargetResult(target, None, None, None, "no_data", missing)
    row = answers.row(target.metric, filters)
    days = created_days(ds)
    covered = days is not None and filters.previous().start >= days[0]  # else its figures would cover fewer days
    before = answers.row(target.metric, filters.previous()) if covered else None
    actual = row[target.measure] if row else None
    previous = before[target.measure] if before else None
    if actual is None:
        declined = engine_for(ds).declined_note if row and row.get("measured") else None
        scope = target.where_words if target.where else "the whole operation"
        why = declined or f"nothing to measure in {start} to {end} for {scope}"
        return TargetResult(
            target, None, previous, measure_sample(target.metric, target.measure, row)[0], "no_data", why
        )
    sample, noun = measure_sample(target.metric, target.measure, row)
    status = "met" if target.met(actual) else "missed"
    return TargetResult(target, actual, previous, sample, status, goal_hint(target, row, sample, noun))


def measure_sample(metric: str, measure: str, row: dict | None) -> tuple[int | None, str]:
    """The count a measure rests on and what it counts: a share's denominator, a count itself, else the first of
    SAMPLE_COUNTS the metric has."""
    if row is None:
        return None, "tickets"
    share = next((s for s in METRICS[metric].shares if s[0] == measure), None)
    if share and share[2] in row:
        return row[share[2]], SAMPLE_NOUNS.get(share[2], share[2])
    if unit_of(metric, measure) == "count" and isinstance(row.get(measure), int):
        return row[measure], "tickets"
    column = next((c for c in SAMPLE_COUNTS if row.get(c) is not None), None)
    return (row[column], SAMPLE_NOUNS[column]) if column else (None, "tickets")


def _share_interval(metric: str, measure: str, row: dict) -> tuple[float, float] | None:
    """The Wilson 95 % interval of a share measure from its counts in the row; None for other measures."""
    share = next((s for s in METRICS[metric].shares if s[0] == measure), None)
    if share is None or share[1] not in row or not row.get(share[2]):
        return None
    return wilson_interval(row[share[1]], row[share[2]])


def goal_hint(target: Target, row: dict, sample: int | None, noun: str) -> str | None:
    """Why met/missed is not news: fewer than MIN_SAMPLE behind it (not for counts, which are the whole story),
    or a share whose interval holds the goal."""
    if sample is not None and sample < MIN_SAMPLE and target.unit != "count":
        return f"only {sample:,} {noun}: too few to judge (under {MIN_SAMPLE})"
    interval = _share_interval(target.metric, target.measure, row)
    if interval and interval[0] <= target.goal <= interval[1]:
        low, high = (format_value(v, "share") for v in interval)
        return f"within the noise: the 95 % interval {low}–{high} holds the goal"
    return None


def change_hint(
    unit: str, value: float, previous: float, now: dict, before: dict, metric: str, measure: str
) -> str | None:
    """Why a change vs the previous period is not news, or None when it is.

    Too few (under MIN_SAMPLE) behind either value (but counts); for shares, the current Wilson 95 % interval holds the
    previous value; for counts and rates per DAU, the change is within 1.96 Poisson standard deviations.
    """
    (sample, noun), (sample_before, _) = measure_sample(metric, measure, now), measure_sample(metric, measure, before)
    small = [n for n in (sample, sample_before) if n is not None and n < MIN_SAMPLE]
    if small and unit != "count":
        return f"only {min(small):,} {noun}: too few to judge a change (under {MIN_SAMPLE})"
    interval = _share_interval(metric, measure, now)
    if interval is not None:
        if interval[0] <= previous <= interval[1]:
            low, high = (format_value(v, "share") for v in interval)
            return f"within the noise: the 95 % interval {low}–{high} holds the previous value"
        return None
    if unit in ("count", "per_million") and sample and sample_before:
        # Poisson counts: the variance of a rate tickets/exposure is rate² / tickets
        noise = Z_95 * math.sqrt(value**2 / sample + previous**2 / sample_before)
        if abs(value - previous) <= noise:
            return "within the noise: the change is within what chance alone gives (95 %)"
    return None


@dataclass(frozen=True)
class TileJudgement:
    """What an Overview tile adds to its value: the goal that applies to the view, and whether a change is news."""

    key: str
    goal: TargetResult | None
    change_hint: str | None


def judge_tiles(
    ds: Source, filters: Filters, targets: Targets, kpis: list[Kpi], sla_policy: SlaPolicy | None = None
) -> dict[str, TileJudgement]:
    """Per KPI tile: the target whose selection is the view's (evaluated over the period), and the change hint."""
    answers = _Answers(ds, sla_policy)
    measures = {key: (metric, measure) for key, metric, measure, *_ in KPI_TILES}
    out = {}
    for kpi in kpis:
        metric, measure = measures[kpi.key]
        if kpi.unavailable:
            out[kpi.key] = TileJudgement(kpi.key, None, None)
            continue
        target = targets.for_view(metric, measure, filters.selections(), filters.end)
        goal = _evaluate(ds, target, filters.start, filters.end, answers) if target else None
        hint = None
        if kpi.value is not None and kpi.previous is not None:
            now, before = answers.row(metric, filters), answers.row(metric, filters.previous())
            hint = change_hint(kpi.unit, kpi.value, kpi.previous, now or {}, before or {}, metric, measure)
        out[kpi.key] = TileJudgement(kpi.key, goal, hint)
    return out


@dataclass(frozen=True)
class GoalHistory:
    """A measure with a goal for the view: its value per full week and the goal's steps over those weeks."""

    metric: str
    measure: str
    weekly: pl.DataFrame  # week (Monday), value
    steps: list[tuple[dt.date, dt.date, float, str]]  # as Targets.goal_line

    @property
    def label(self) -> str:
        return measure_label(self.metric, self.measure)

    @property
    def unit(self) -> str:
        return unit_of(self.metric, self.measure)


def goal_history(
    ds: Source, targets: Targets, filters: Filters, first_week: dt.date, sla_policy: SlaPolicy | None = None
) -> list[GoalHistory]:
    """Per measure with a goal whose selection is exactly the view's: its value in each full week (Monday to
    Sunday) from `first_week` to the period's end, with the goal in force over those weeks (stepping where it
    changed). Measures the source cannot give are left out."""
    last = filters.end - dt.timedelta(days=(filters.end.weekday() + 1) % 7)  # the last Sunday in the period
    if last < first_week:
        return []
    selections = filters.selections()
    where = _normalised(selections)
    weeks = Filters.of(first_week, last, selections)
    out = []
    for metric, measure in dict.fromkeys((t.metric, t.measure) for t in targets.entries if t.where == where):
        steps = targets.goal_line(metric, measure, selections, first_week, last)
        if not steps or engine_for(ds).can(metric):
            continue
        frame = summarize(ds, metric, weeks, period="week", sla_policy=sla_policy)
        weekly = frame.select(pl.col("period").alias("week"), pl.col(measure).cast(pl.Float64).alias("value"))
        out.append(GoalHistory(metric, measure, weekly, steps))
    return out
