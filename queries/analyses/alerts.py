"""Alerts: what broke since a day, found in the data, each with a stable key, its numbers and a link to the view.

Every check looks at each day from `since` to `until` (inclusive), and a run of days a check flags in a row is one
alert, from its first to its last day; `ongoing` when it still holds on `until`, else `ended`. Checks look back
LOOKBACK_DAYS before `since`, so an alert that began earlier keeps its first day (and its key) from run to run.
The message is for people (groups by their display names, queries.display); the key, the groups and the link keep
the stable identifiers.

* **spike**: the spike detector's episodes (queries.analyses.spikes) by policy domain, and by policy domain ×
  market; a market's spike inside its domain's spike is named in the domain's alert instead of alerting again.
* **sla**: a day on which an SLA rule's attainment is clearly below the goal: its Wilson 95 % interval lies
  wholly under the `sla`/`attainment` target of the whole operation (config/targets.toml), or under
  DEFAULT_SLA_GOAL when there is none.
* **backlog_aging**: open tickets older than the longest SLA target at the end of a day have grown by at least
  AGING_GROWTH (and AGING_MIN_TICKETS) over the week before. Needs ticket rows.
* **target**: a target missed over the 7 days ending on a day, where the miss is news (enough tickets, outside
  the noise; see queries.analyses.targets).
* **forecast_band**: a day's tickets outside the 95 % band of the forecast made the day before `since` (by at least
  10 tickets), per total and policy domain. The forecast lives in `forecasting`, which builds these with
  `band_alerts`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import polars as pl

from queries.analyses.formatting import format_goal, format_value, measure_label
from queries.analyses.spikes import MERGE_GAP_DAYS, SpikeSettings, detect_spikes
from queries.analyses.targets import Target, Targets, goal_hint, measure_sample
from queries.display import display_name, display_value
from queries.engines import Source, created_days, engine_for, open_tickets
from queries.filters import DIMENSIONS, Filters
from queries.frames import open_at, with_time_flags
from queries.intervals import wilson_interval
from queries.metrics import missing_inputs, summarize
from queries.sla import SlaPolicy

DEFAULT_BASE_URL = "http://localhost:8501"
LOOKBACK_DAYS = 14  # checks start this long before `since`, so an alert's first day does not move with `since`
DEFAULT_SLA_GOAL = 0.9  # SLA attainment floor when config/targets.toml has no sla/attainment target
TARGET_WINDOW_DAYS = 7  # a target is evaluated over the 7 days ending on each day
AGING_GROWTH = 0.25  # aged open tickets up by a quarter on the week before…
AGING_MIN_TICKETS = 20  # …and by at least this many
CONTEXT_DAYS = 28  # a link opens the 28 days up to the alert's last day (the dashboard's default period)
KINDS = ("spike", "sla", "backlog_aging", "target", "forecast_band")
# The view each kind of alert opens: the page and its own URL parameters, by the identifiers the page's
# from_url/section_picker options name (pages/turnaround.py: SECTIONS, SLA_BY), never their labels.
ALERT_VIEWS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "spike": ("trends", ()),
    "sla": ("turnaround", (("turnaround.tab", "sla"), ("turnaround.sla_by", "sla_rule"))),
    "backlog_aging": ("turnaround", (("turnaround.tab", "backlog"),)),
    "target": ("overview", ()),
    "forecast_band": ("trends", ()),
}
ALERT_SCHEMA: dict[str, pl.DataType] = {
    "kind": pl.String(),
    "key": pl.String(),
    "severity": pl.String(),
    "status": pl.String(),
    "start": pl.Date(),
    "end": pl.Date(),
    "groups": pl.String(),
    "message": pl.String(),
    "link": pl.String(),
}
"""One row per alert: `groups` as "column=value; …" ("" = the whole operation), `severity` critical or warning,
`status` ongoing (still holds on the last day evaluated) or ended."""


@dataclass(frozen=True)
class Alert:
    """Something that broke: which check, for which groups, from when to when, the numbers, and where to look."""

    kind: str
    severity: str  # "critical" or "warning"
    start: dt.date
    end: dt.date
    groups: tuple[tuple[str, str], ...]  # (column, value), e.g. (("policy_domain", "hate"), ("market", "BR"))
    message: str
    link: str
    status: str  # "ongoing" or "ended"

    @property
    def groups_text(self) -> str:
        """The groups as identifiers, "column=value; …" (machine fields: `groups` in ALERT_SCHEMA)."""
        return "; ".join(f"{c}={v}" for c, v in self.groups)

    @property
    def key(self) -> str:
        """Stable identity: kind, groups and first day (e.g. "spike|policy_domain=hate;market=BR|2026-03-03")."""
        return f"{self.kind}|{';'.join(f'{c}={v}' for c, v in self.groups)}|{self.start}"

    def as_record(self) -> dict:
        """The alert as JSON-ready values (groups as an object)."""
        return {
            "kind": self.kind,
            "key": self.key,
            "severity": self.severity,
            "status": self.status,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "groups": dict(self.groups),
            "message": self.message,
            "link": self.link,
        }


@dataclass(frozen=True)
class AlertSettings:
    """How the checks decide and where links point (`base_url`: the dashboard; `link_source`: its `src` key)."""

    spike_by: tuple[str, ...] = ("policy_domain", "market")
    sensitivity: float = SpikeSettings.sensitivity
    base_url: str = field(default_factory=lambda: os.environ.get("BELLWETHER_BASE_URL", DEFAULT_BASE_URL))
    link_source: str | None = None


@dataclass(frozen=True)
class AlertRun:
    """The alerts of a run, most severe and most recent first, and the checks this source could not make."""

    since: dt.date
    until: dt.date
    alerts: list[Alert]
    skipped: list[str]  # "backlog_aging: …why…" (the kind's identifier: the command line's `not_checked`)

    @property
    def skipped_words(self) -> list[str]:
        """The checks not made, for people: "Backlog aging: …why…"."""
        return [f"{display_value('kind', kind)}: {why}" for kind, _, why in (s.partition(": ") for s in self.skipped)]


def alerts_frame(alerts: Sequence[Alert]) -> pl.DataFrame:
    """Alerts as ALERT_SCHEMA rows."""
    rows = [
        {
            "kind": a.kind,
            "key": a.key,
            "severity": a.severity,
            "status": a.status,
            "start": a.start,
            "end": a.end,
            "groups": a.groups_text,
            "message": a.message,
            "link": a.link,
        }
        for a in alerts
    ]
    return pl.DataFrame(rows, schema=ALERT_SCHEMA)


def view_link(
    settings: AlertSettings,
    page: str,
    start: dt.date,
    end: dt.date,
    selections: Sequence[tuple[str, str | tuple[str, ...]]] = (),
    extra: Sequence[tuple[str, str]] = (),
) -> str:
    """The dashboard address of a view: base URL, page, period, selections (dimensions only), page parameters."""
    params: list[tuple[str, str]] = [("start", start.isoformat()), ("end", end.isoformat())]
    for column, values in selections:
        if column in DIMENSIONS:
            params += [(column, v) for v in ((values,) if isinstance(values, str) else values)]
    params += list(extra)
    if settings.link_source:
        params.append(("src", settings.link_source))
    return f"{settings.base_url.rstrip('/')}/{page}?{urlencode(params)}"


def alert_link(
    settings: AlertSettings,
    kind: str,
    start: dt.date,
    end: dt.date,
    selections: Sequence[tuple[str, str | tuple[str, ...]]] = (),
) -> str:
    """The address of the view an alert of `kind` opens (ALERT_VIEWS) for start–end and its selections."""
    page, extra = ALERT_VIEWS[kind]
    return view_link(settings, page, start, end, selections, extra)


def groups_words(groups: Sequence[tuple[str, str]], whole: str = "all tickets") -> str:
    """Groups for people: "Policy domain: Youth safety; Market: BR" (`whole` when there is none)."""
    return "; ".join(f"{display_name(c)}: {display_value(c, v)}" for c, v in groups) or whole


def context_start(ds: Source, end: dt.date) -> dt.date:
    """The first day of a link's period: CONTEXT_DAYS up to `end`, not before the data."""
    days = created_days(ds)
    first = end - dt.timedelta(days=CONTEXT_DAYS - 1)
    return max(first, days[0]) if days else first


def order(alerts: list[Alert]) -> list[Alert]:
    """Critical first, then the latest, then by kind and groups (a stable order for messages and tests)."""
    return sorted(alerts, key=lambda a: (a.severity != "critical", -a.end.toordinal(), KINDS.index(a.kind), a.key))


def runs(days: Sequence[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """(first, last) of each run of days, bridging gaps of up to MERGE_GAP_DAYS (one problem seen in pieces)."""
    out: list[tuple[dt.date, dt.date]] = []
    for day in sorted(days):
        if out and day <= out[-1][1] + dt.timedelta(days=1 + MERGE_GAP_DAYS):
            out[-1] = (out[-1][0], day)
        else:
            out.append((day, day))
    return out


def detect_alerts(
    ds: Source,
    since: dt.date,
    until: dt.date,
    targets: Targets,
    sla_policy: SlaPolicy,
    settings: AlertSettings,
) -> AlertRun:
    """Every check but the forecast band's (see forecasting.alerts), for the days since–until."""
    if until < since:
        raise ValueError(f"--until {until} is before --since {since}")
    alerts: list[Alert] = []
    skipped: list[str] = []
    for kind, check in (
        ("spike", lambda: spike_alerts(ds, since, until, settings)),
        ("sla", lambda: sla_alerts(ds, since, until, targets, sla_policy, settings)),
        ("backlog_aging", lambda: backlog_alerts(ds, since, until, sla_policy, settings)),
        ("target", lambda: target_alerts(ds, since, until, targets, sla_policy, settings)),
    ):
        found, why = check()
        alerts += found
        if why:
            skipped.append(f"{kind}: {why}")
    return AlertRun(since, until, order(alerts), skipped)


# --- spikes -----------------------------------------------------------------------------------------------------


def spike_alerts(ds: Source, since: dt.date, until: dt.date, settings: AlertSettings) -> tuple[list[Alert], str | None]:
    """Spike episodes that reach into since–until, at the first `spike_by` column and at all of them."""
    by = [c for c in settings.spike_by if ds.has("tickets", c)]
    missing = [c for c in settings.spike_by if c not in by]
    window = Filters(since - dt.timedelta(days=LOOKBACK_DAYS), until)
    detector = SpikeSettings(sensitivity=settings.sensitivity)
    levels = [by[:1], by] if len(by) > 1 else [by]
    found = [detect_spikes(ds, window, level, detector).filter(pl.col("end") >= since) for level in levels]
    alerts = []
    parents = found[0]
    children = found[-1] if len(levels) > 1 else parents.clear()
    folded: set[int] = set()
    for spike in parents.iter_rows(named=True):
        inside = _inside(children, spike, by[:1])
        folded |= {i for i, _ in inside}
        alerts.append(_spike_alert(ds, spike, by[:1] if levels[0] else [], [c for _, c in inside], by, until, settings))
    for i, spike in enumerate(children.iter_rows(named=True)):
        if i not in folded:
            alerts.append(_spike_alert(ds, spike, by, [], by, until, settings))
    why = f"not tested by {', '.join(missing)}: the source has no such tickets field" if missing else None
    return alerts, why


def _inside(children: pl.DataFrame, parent: dict, keys: list[str]) -> list[tuple[int, dict]]:
    """The finer spikes (index, row) of the parent's group whose days overlap the parent's."""
    return [
        (i, c)
        for i, c in enumerate(children.iter_rows(named=True))
        if all(c[k] == parent[k] for k in keys) and c["start"] <= parent["end"] and parent["start"] <= c["end"]
    ]


def _spike_alert(
    ds: Source,
    spike: dict,
    by: list[str],
    inside: list[dict],
    all_by: list[str],
    until: dt.date,
    settings: AlertSettings,
) -> Alert:
    groups = tuple((c, str(spike[c])) for c in by)
    status = "ended" if spike["end"] < until else "ongoing"
    message = (
        f"Spike ({groups_words(groups)}): {spike['observed']:,} tickets vs {spike['expected']:,.0f} expected "
        f"(×{spike['ratio']:.1f}, +{spike['excess']:,.0f}) {_span(spike['start'], spike['end'])}, {status}."
    )
    finer = [c for c in all_by if c not in by]
    top = sorted(inside, key=lambda c: -c["excess"])[:3]
    if top and finer:
        named = [
            f"{' × '.join(display_value(f, c[f]) for f in finer)} (×{c['ratio']:.1f}, +{c['excess']:,.0f})" for c in top
        ]
        message += f" Mostly {' × '.join(display_name(f) for f in finer)}: {', '.join(named)}."
    link = alert_link(settings, "spike", context_start(ds, spike["end"]), spike["end"], groups)
    severe = any(s["ratio"] >= 2 and s["excess"] >= 100 for s in [spike, *inside])
    return Alert(
        "spike", "critical" if severe else "warning", spike["start"], spike["end"], groups, message, link, status
    )


def _span(start: dt.date, end: dt.date) -> str:
    return f"on {start}" if start == end else f"from {start} to {end}"


# --- SLA --------------------------------------------------------------------------------------------------------


def sla_goal(targets: Targets, day: dt.date) -> tuple[float, str]:
    """The attainment every SLA rule should reach on `day`, and where it comes from."""
    target = targets.for_view("sla", "attainment", {}, day)
    if target is None:
        return DEFAULT_SLA_GOAL, "the default floor: no SLA attainment target is set"
    return target.goal, f"the SLA attainment target of {Path(targets.file or '').name}"


def sla_alerts(
    ds: Source, since: dt.date, until: dt.date, targets: Targets, policy: SlaPolicy, settings: AlertSettings
) -> tuple[list[Alert], str | None]:
    """Runs of days on which an SLA rule's attainment is clearly (Wilson 95 % upper bound) below the goal."""
    missing = engine_for(ds).can("sla", ["sla_rule"])
    if missing:
        return [], missing
    window = Filters(since - dt.timedelta(days=LOOKBACK_DAYS), until)
    daily = summarize(ds, "sla", window, by=["sla_rule"], period="day", sla_policy=policy)
    below: dict[str, dict[dt.date, dict]] = {}
    for row in daily.filter((pl.col("measured") > 0) & pl.col("sla_rule").is_not_null()).iter_rows(named=True):
        goal, _ = sla_goal(targets, row["period"])
        if wilson_interval(row["met"], row["measured"])[1] < goal:
            below.setdefault(row["sla_rule"], {})[row["period"]] = row
    alerts = []
    for rule, days in sorted(below.items()):
        for first, last in runs(list(days)):
            if last < since:
                continue
            met = sum(days[d]["met"] for d in days if first <= d <= last)
            measured = sum(days[d]["measured"] for d in days if first <= d <= last)
            goal, source = sla_goal(targets, last)
            attainment = met / measured
            status = "ongoing" if last == until else "ended"
            message = (
                f"SLA below goal for {rule}: {format_value(attainment, 'share')} within target ({met:,} of "
                f"{measured:,}) vs a goal of {format_value(goal, 'share')} ({source}) {_span(first, last)}, {status}."
            )
            link = alert_link(settings, "sla", context_start(ds, last), last)
            severity = "critical" if attainment < goal - 0.1 else "warning"
            alerts.append(Alert("sla", severity, first, last, (("sla_rule", rule),), message, link, status))
    return alerts, None


# --- backlog aging ----------------------------------------------------------------------------------------------


def aged_open(ds: Source, days: Sequence[dt.date], hours: float) -> dict[dt.date, int]:
    """Open tickets older than `hours` at the end of each day (open as in the `backlog` metric), from the engine's
    open tickets."""
    tickets = with_time_flags(open_tickets(ds, Filters(min(days), max(days))).lazy())
    counts = {}
    for day in days:
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
        old = open_at(end) & (pl.col("created_at") < end - dt.timedelta(hours=hours))
        counts[day] = tickets.filter(old).select(pl.len()).collect().item()
    return counts


def backlog_alerts(
    ds: Source, since: dt.date, until: dt.date, policy: SlaPolicy, settings: AlertSettings
) -> tuple[list[Alert], str | None]:
    """Runs of days on which open tickets older than the longest SLA target grew by AGING_GROWTH over a week."""
    missing = missing_inputs(ds, "backlog")
    if missing:
        return [], missing
    if not policy.rules:
        return [], f"the SLA policy {policy.file} has no rule, so there is no SLA window to age against."
    hours = max(r.target_seconds for r in policy.rules) / 3600
    first = since - dt.timedelta(days=LOOKBACK_DAYS)
    days = [first + dt.timedelta(days=i) for i in range(-7, (until - first).days + 1)]
    aged = aged_open(ds, days, hours)
    growing = {
        d: (aged[d], aged[d - dt.timedelta(days=7)])
        for d in days[7:]
        if aged[d] - aged[d - dt.timedelta(days=7)]
        >= max(AGING_MIN_TICKETS, AGING_GROWTH * aged[d - dt.timedelta(days=7)])
    }
    alerts = []
    for start, last in runs(list(growing)):
        if last < since:
            continue
        now, before = growing[last]
        status = "ongoing" if last == until else "ended"
        growth = f"+{now / before - 1:.0%}" if before else "from none"
        message = (
            f"Backlog aging: {now:,} open tickets older than {format_value(hours, 'hours')} (the longest SLA target) "
            f"at the end of {last}, up from {before:,} a week before ({growth}); "
            f"growing {_span(start, last)}, {status}."
        )
        link = alert_link(settings, "backlog_aging", context_start(ds, last), last)
        severity = "critical" if now >= 2 * before else "warning"
        alerts.append(Alert("backlog_aging", severity, start, last, (), message, link, status))
    return alerts, None


# --- targets ----------------------------------------------------------------------------------------------------


def target_alerts(
    ds: Source, since: dt.date, until: dt.date, targets: Targets, policy: SlaPolicy, settings: AlertSettings
) -> tuple[list[Alert], str | None]:
    """Runs of days whose trailing 7 days missed a target in force that day, where the miss is news."""
    first = since - dt.timedelta(days=LOOKBACK_DAYS)
    days = [first + dt.timedelta(days=i) for i in range((until - first).days + 1)]
    data = created_days(ds)
    if data is None:
        return [], None
    missed: dict[tuple, dict[dt.date, tuple[Target, float, int | None, str]]] = {}
    unanswered = []
    for target in {t.identity: t for t in targets.entries}.values():
        absent = [d for d, _ in target.where if not ds.has("tickets", d)]
        why = engine_for(ds).can(target.metric) or (f"no tickets.{absent[0]}" if absent else None)
        if why:
            unanswered.append(f"{target.describe()} ({why})")
            continue
        for day in days:
            entry = next((t for t in targets.in_force(day) if t.identity == target.identity), None)
            if entry is None or day < data[0]:
                continue
            window = target.filters(max(day - dt.timedelta(days=TARGET_WINDOW_DAYS - 1), data[0]), day)
            frame = summarize(ds, target.metric, window, sla_policy=policy)
            row = frame.row(0, named=True) if frame.height else None
            actual = row[target.measure] if row else None
            if actual is None or entry.met(actual):
                continue
            sample, noun = measure_sample(target.metric, target.measure, row)
            if goal_hint(entry, row, sample, noun) is None:
                missed.setdefault(target.identity, {})[day] = (entry, actual, sample, noun)
    alerts = []
    for found in missed.values():
        for start, last in runs(list(found)):
            if last < since:
                continue
            alerts.append(_target_alert(ds, *found[last], start, last, until, settings))
    why = "not evaluated: " + "; ".join(unanswered) if unanswered else None
    return alerts, why


def _target_alert(
    ds: Source,
    entry: Target,
    actual: float,
    sample: int | None,
    noun: str,
    start: dt.date,
    last: dt.date,
    until: dt.date,
    settings: AlertSettings,
) -> Alert:
    status = "ongoing" if last == until else "ended"
    unit = entry.unit
    scope = f" for {entry.where_words}" if entry.where else ""
    counted = f" ({sample:,} {noun})" if sample is not None else ""
    message = (
        f"Target missed: {measure_label(entry.metric, entry.measure)}{scope} was {format_value(actual, unit)} vs "
        f"goal {format_goal(entry.direction, entry.goal, unit)} over the {TARGET_WINDOW_DAYS} days to {last}"
        f"{counted}; missed in the {TARGET_WINDOW_DAYS} days ending each day {_span(start, last)}, {status}."
    )
    window_start = last - dt.timedelta(days=TARGET_WINDOW_DAYS - 1)
    link = alert_link(settings, "target", window_start, last, entry.where)
    miss = abs(actual - entry.goal) / entry.goal if entry.goal else np.inf
    severity = "critical" if miss > 0.2 else "warning"
    groups = (("metric", entry.metric), ("measure", entry.measure), *((d, ",".join(v)) for d, v in entry.where))
    return Alert("target", severity, start, last, groups, message, link, status)


# --- forecast band (the forecast comes from `forecasting`) ------------------------------------------------------


def band_alerts(
    ds: Source, bands: pl.DataFrame, column: str, since: dt.date, until: dt.date, settings: AlertSettings
) -> list[Alert]:
    """Runs of days outside the 95 % band by at least the spike detector's minimum excess (10 tickets), per series,
    from `bands`: series (`total` or a value of `column`), ds, actual, mean, lo_95, hi_95 — a forecast made before
    `since` against what happened since."""
    margin = SpikeSettings.min_excess_tickets  # a day just past the band by a ticket or two is no news
    outside = bands.filter(pl.col("ds").is_between(since, until)).with_columns(
        pl.when(pl.col("actual") >= pl.col("hi_95") + margin)
        .then(pl.lit("above"))
        .when(pl.col("actual") <= pl.col("lo_95") - margin)
        .then(pl.lit("below"))
        .alias("side")
    )
    alerts = []
    for (series, side), part in outside.filter(pl.col("side").is_not_null()).group_by(
        "series", "side", maintain_order=True
    ):
        days = {r["ds"]: r for r in part.iter_rows(named=True)}
        for first, last in runs(list(days)):
            stretch = [days[d] for d in days if first <= d <= last]
            actual = sum(r["actual"] for r in stretch)
            mean = sum(r["mean"] for r in stretch)
            bound = sum(r["hi_95" if side == "above" else "lo_95"] for r in stretch)
            groups = () if series == "total" else ((column, series),)
            status = "ongoing" if last == until else "ended"
            message = (
                f"Tickets {side} the forecast ({groups_words(groups)}): {actual:,.0f} vs "
                f"{mean:,.0f} forecast (95 % band {'up to' if side == 'above' else 'down to'} {bound:,.0f}) "
                f"{_span(first, last)}, {status}."
            )
            link = alert_link(settings, "forecast_band", context_start(ds, last), last, groups)
            far = actual > 1.5 * bound if side == "above" else actual < 0.5 * bound
            severity = "critical" if far else "warning"
            alerts.append(Alert("forecast_band", severity, first, last, groups, message, link, status))
    return alerts
