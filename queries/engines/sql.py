"""Every `summarize` metric computed inside the warehouse, in SQLAlchemy Core with bound parameters.

Only aggregated rows come back; they become Polars frames with the columns and dtypes of the file path
(`queries.engines.rows`), whose definitions these queries follow one for one. Ratios and Wilson bounds are then
computed in Polars with the same helpers. Percentiles are linear interpolation between order statistics:
`percentile_cont` on PostgreSQL, and on other dialects the two neighbouring order statistics picked with
`row_number()`/`count()` windows and interpolated in SQL (see docs/warehouse.md).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from queries.calc import (
    backlog_flow,
    complete_periods,
    dau_keys_of,
    keys_of,
    per_million_dau,
    per_productive_hour,
    period_windows,
)
from queries.contract import PROACTIVE_SOURCES, TICKETS
from queries.definitions import THROUGHPUT_GROUPS
from queries.engines.base import (
    ARRIVALS_SCHEMA,
    DURATION_BUCKETS_SCHEMA,
    DURATION_ENDS,
    OPEN_TICKETS_SCHEMA,
    QUEUE_REVIEWS_SCHEMA,
    SLA_FLAGS_SCHEMA,
    SLOT_MINUTES,
    SPLIT_DECISIONS,
    VIEWS_WAITING_SCHEMA,
    EngineBase,
    Implementations,
)
from queries.filters import PERIODS, Filters
from queries.frames import duration_hours
from queries.histogram import SMALLEST, R
from queries.sla import DUE_RULE, SlaPolicy, load_sla_policy
from queries.sources.warehouse import Warehouse, WarehouseTable

_KEY_DTYPES: dict[str, pl.DataType] = {**TICKETS.schema, "period": pl.Date(), "sla_rule": pl.String()}
_KEY_DTYPES |= {"day": pl.Date(), "slot": pl.Int64(), "bucket": pl.Int32()}  # arrivals' and durations' keys
_SQLITE_PERIODS = {"day": (), "week": ("weekday 0", "-6 days"), "month": ("start of month",)}


def _key_dtype(key: str) -> pl.DataType:
    """A group column's type: the tickets field's, or text for the source's own dimensions."""
    return _KEY_DTYPES.get(key, pl.String())


_IMPLEMENTATIONS = Implementations()  # metric -> its implementation here, registered where defined


@dataclass(frozen=True)
class Agg:
    """One aggregate column: `rows` (count of rows), `count` (non-null values), `sum` (integer, 0 when empty),
    `fsum` (float, 0.0 when empty), `mean`, `quantile` (linear interpolation at `q`) or `min`."""

    name: str
    how: str
    value: ColumnElement | None = None
    q: float | None = None


class SqlEngine(EngineBase):
    """Metrics computed inside a warehouse: every metric, any grouping the tickets have; only aggregates come back."""

    caption = "Metrics are computed in the warehouse; only aggregates come back."
    rows_why = "With a warehouse source, Bellwether computes metrics in the database and brings back only aggregates."
    rows_fix = "point BELLWETHER_SOURCE at Parquet/CSV extracts of the same tables (see docs/warehouse.md)"

    def summarize(
        self, metric: str, filters: Filters, by: list[str], period: str | None, sla_policy: SlaPolicy | None
    ) -> pl.DataFrame:
        if period is not None and period not in PERIODS:
            raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
        if metric == "sla":
            return _sla(self.source, filters, by, period, sla_policy or load_sla_policy())
        if metric == "per_million_dau":
            return _per_million_dau(self, filters, by, period)
        return _IMPLEMENTATIONS[metric](self.source, filters, by, period)

    def distinct_values(self, column: str) -> list[str]:
        return self.source.distinct_values("tickets", column)

    def created_range(self) -> tuple[dt.date, dt.date] | None:
        return self.source.created_range()

    def small_table(self, name: str) -> pl.DataFrame | None:
        return self.source.read_small(name) if name in self.source.reports else None

    def as_of(self, filters: Filters | None = None) -> dt.datetime:
        groups = dimensions(self.source.tables["tickets"], filters) if filters else sa.true()
        return self.source.latest_timestamp(groups) or dt.datetime.now(dt.UTC).replace(tzinfo=None)

    def reviewed_tickets(self, filters: Filters, columns: Sequence[str]) -> pl.DataFrame:
        wh = self.source
        qa, t = wh.tables["qa_reviews"], _tickets(wh)
        reviewed = sa.select(qa.col("ticket_id")).where(qa.valid, in_period(qa.col("reviewed_at"), filters))
        query = sa.select(t.col("ticket_id").label("ticket_id"), *[t.col(c).label(c) for c in columns]).where(
            t.valid, t.col("ticket_id").in_(reviewed)
        )
        schema = {"ticket_id": pl.String(), **{c: _key_dtype(c) for c in columns}}
        return pl.DataFrame(wh.execute(query), schema=schema, orient="row")

    def decision_counts(self, filters: Filters, by: Sequence[str]) -> pl.DataFrame:
        t = _tickets(self.source)
        decision = t.col("decision")
        where = [*_created_in(t, filters), t.col("automated").is_not(True), decision.in_(SPLIT_DECISIONS)]
        aggs = [Agg("decisions", "rows"), Agg("violating", "sum", flag(decision == "violating"))]
        return aggregate(self.source, where, {b: t.col(b) for b in by}, aggs)

    def arrivals(self, filters: Filters) -> pl.DataFrame:
        t = _tickets(self.source)
        created = t.col("created_at")
        hour, minute = (sa.cast(sa.extract(part, created), sa.Integer) for part in ("hour", "minute"))
        keys = {"day": period_sql(self.source, created, "day"), "slot": hour * 2 + minute // SLOT_MINUTES}
        out = aggregate(self.source, _created_in(t, filters), keys, [Agg("tickets", "rows")])
        return out.cast(ARRIVALS_SCHEMA).sort("day", "slot")

    def duration_buckets(self, filters: Filters, end: str, by: Sequence[str], period: str | None) -> pl.DataFrame:
        if end not in DURATION_ENDS:
            raise ValueError(f"durations end at {' or '.join(DURATION_ENDS)}, not {end!r}")
        t = _tickets(self.source)
        seconds = seconds_sql(self.source, t.col("created_at"), t.col(end))
        keys = _keys(self.source, t, list(by), period, "created_at") | {"bucket": bucket_sql(seconds)}
        out = aggregate(self.source, [*_created_in(t, filters), seconds >= 0], keys, [Agg("tickets", "rows")])
        return out.cast(DURATION_BUCKETS_SCHEMA).sort(list(keys))

    def open_tickets(self, filters: Filters) -> pl.DataFrame:
        wh, t = self.source, _tickets(self.source)
        created, closed = t.col("created_at"), t.col("closed_at")
        after = sa.and_(  # frames.open_at_a_day_end
            closed >= filters.start_at + dt.timedelta(days=1),
            period_sql(wh, closed, "day") > period_sql(wh, created, "day"),
        )
        where = [t.valid, dimensions(t, filters), created < filters.end_before, sa.not_(t.unknown_time("closed_at"))]
        held = [c for c in OPEN_TICKETS_SCHEMA if self.has("tickets", c)]
        query = sa.select(*[t.col(c).label(c) for c in held]).where(*where, sa.or_(closed.is_(None), after))
        out = pl.DataFrame(wh.execute(query), schema={c: OPEN_TICKETS_SCHEMA[c] for c in held}, orient="row")
        absent = [pl.lit(None, dtype).alias(c) for c, dtype in OPEN_TICKETS_SCHEMA.items() if c not in held]
        return out.with_columns(absent).select(list(OPEN_TICKETS_SCHEMA)).sort("created_at", "ticket_id")

    def views_while_waiting(self, filters: Filters, by: Sequence[str]) -> pl.DataFrame:
        t = _tickets(self.source)
        views, acted = t.col("views_before_action"), t.col("first_action_at")
        where = [*_created_in(t, filters), acted.is_not(None), views.is_not(None)]
        hours = hours_sql(self.source, t.col("created_at"), acted)
        aggs = [Agg("views_sum", "sum", views), Agg("waited_hours", "fsum", hours)]
        out = aggregate(self.source, where, {b: t.col(b) for b in by}, aggs)
        return out.cast(VIEWS_WAITING_SCHEMA).sort(list(by))

    def sla_flags(self, filters: Filters, policy: SlaPolicy | None) -> pl.DataFrame:
        t = _tickets(self.source)
        _, measured, met = _sla_outcome(self.source, t, policy or load_sla_policy())
        source = t.col("sla_met")
        aggs = [
            Agg("flagged", "rows"),
            Agg("compared", "sum", flag(measured)),
            Agg("met_ours", "sum", flag(met)),
            Agg("met_source", "sum", flag(sa.and_(measured, source))),
            Agg(
                "disagree",
                "sum",
                flag(sa.and_(measured, sa.or_(sa.and_(met, sa.not_(source)), sa.and_(sa.not_(met), source)))),
            ),
        ]
        where = [*_created_in(t, filters), source.is_not(None)]
        return aggregate(self.source, where, {}, aggs).cast(SLA_FLAGS_SCHEMA)

    def queue_reviews(self, filters: Filters) -> pl.DataFrame:
        t = _tickets(self.source)
        seconds = t.col("handle_seconds")
        where = [*_human_decisions(t, filters), seconds.is_not(None)]
        aggs = [Agg("reviews", "rows"), Agg("handle_sum_seconds", "fsum", seconds)]
        return aggregate(self.source, where, {"queue": t.col("queue")}, aggs).cast(QUEUE_REVIEWS_SCHEMA).sort("queue")


# --- building blocks --------------------------------------------------------------------------------------


def period_sql(wh: Warehouse, value: ColumnElement, period: str) -> ColumnElement:
    """The date each row's period starts (weeks start on Monday), as a SQL expression of type Date."""
    if wh.dialect == "sqlite":
        return sa.type_coerce(sa.func.date(value, *_SQLITE_PERIODS[period]), sa.Date)
    return sa.cast(sa.func.date_trunc(period, sa.cast(value, sa.DateTime)), sa.Date)


def seconds_sql(wh: Warehouse, start: ColumnElement, end: ColumnElement) -> ColumnElement:
    """Seconds from `start` to `end`, exact to the microsecond (NULL when either is empty).

    PostgreSQL: date_part('epoch', end - start), a double exact to the microsecond (faster than extract(),
    which returns numeric). SQLite stores timestamps as ISO text: whole seconds from
    strftime('%s') plus the difference of the fractional-second digits, so no julianday rounding (~40 µs).
    """
    if wh.dialect == "sqlite":
        whole = sa.func.strftime("%s", end) - sa.func.strftime("%s", start)
        fraction = sa.cast(sa.func.substr(end, 20), sa.Float) - sa.cast(sa.func.substr(start, 20), sa.Float)
        return sa.type_coerce(whole + fraction, sa.Float)
    return sa.func.date_part("epoch", end - start, type_=sa.Float)


def hours_sql(wh: Warehouse, start: ColumnElement, end: ColumnElement) -> ColumnElement:
    """Hours from `start` to `end` (see `seconds_sql`)."""
    return seconds_sql(wh, start, end) / 3600.0


def bucket_sql(seconds: ColumnElement) -> ColumnElement:
    """queries.histogram.bucket_expr in SQL: the bucket of non-negative seconds (the same logarithm, floored)."""
    log_bucket = sa.cast(sa.func.floor(sa.func.ln(seconds / SMALLEST) / math.log(R)), sa.Integer) + 2
    return sa.case((seconds == 0, 0), (seconds < SMALLEST, 1), else_=log_bucket)


def in_period(value: ColumnElement, filters: Filters) -> ColumnElement[bool]:
    """The timestamp falls inside the filters' days (bound parameters)."""
    return sa.and_(value >= filters.start_at, value < filters.end_before)


def in_days(value: ColumnElement, filters: Filters) -> ColumnElement[bool]:
    """The date falls inside the filters' days (bound parameters)."""
    return sa.and_(value >= filters.start, value <= filters.end)


def dimensions(wt: WarehouseTable, filters: Filters, columns: list[str] | None = None) -> ColumnElement[bool]:
    """Rows in every selected group (values bound as an expanding IN list); dimensions outside `columns` skipped."""
    return sa.and_(
        sa.true(),
        *[
            wt.col(name).in_(values)
            for name, values in filters.selections().items()
            if columns is None or name in columns
        ],
    )


def flag(condition: ColumnElement[bool]) -> ColumnElement:
    """1 where the condition holds, else 0 (NULL counts as false), for summing."""
    return sa.case((condition, 1), else_=0)


def aggregate(
    wh: Warehouse,
    where: list[ColumnElement[bool]],
    keys: dict[str, ColumnElement],
    aggs: list[Agg],
    *,
    from_: sa.FromClause | None = None,
) -> pl.DataFrame:
    """Group the rows matching `where` by `keys` and compute `aggs`, returning the (small) result as Polars."""
    values: dict[int, str] = {}
    for agg in aggs:
        if agg.value is not None:
            values.setdefault(id(agg.value), f"_v{len(values)}")
    by_id = {id(a.value): a.value for a in aggs if a.value is not None}
    columns = [expr.label(name) for name, expr in keys.items()]
    columns += [by_id[i].label(label) for i, label in values.items()]
    columns = columns or [sa.literal(1).label("_row")]  # count(*) over no other column
    windowed = wh.dialect != "postgresql"
    for i in {id(a.value) for a in aggs if a.how == "quantile"} if windowed else ():
        value, partition = by_id[i], list(keys.values()) or None
        columns += [
            sa.func.row_number()
            .over(partition_by=partition, order_by=value.asc().nulls_last())
            .label(f"{values[i]}_rn"),
            sa.func.count(value).over(partition_by=partition).label(f"{values[i]}_n"),
        ]
    inner = sa.select(*columns).where(*where)
    sub = (inner.select_from(from_) if from_ is not None else inner).subquery()
    outer = sa.select(*[sub.c[k] for k in keys], *[_agg_sql(a, sub, values, windowed) for a in aggs]).select_from(sub)
    if keys:
        outer = outer.group_by(*[sub.c[k] for k in keys])
    rows = wh.execute(outer)
    schema = {k: _key_dtype(k) for k in keys} | {a.name: _agg_dtype(a) for a in aggs}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _agg_sql(agg: Agg, sub: sa.Subquery, values: dict[int, str], windowed: bool) -> ColumnElement:
    v = sub.c[values[id(agg.value)]] if agg.value is not None else None
    if agg.how == "rows":
        out = sa.func.count()
    elif agg.how == "count":
        out = sa.func.count(v)
    elif agg.how == "sum":
        out = sa.cast(sa.func.coalesce(sa.func.sum(v), 0), sa.BigInteger)
    elif agg.how == "fsum":
        out = sa.cast(sa.func.coalesce(sa.func.sum(v), 0.0), sa.Float)
    elif agg.how == "mean":
        out = sa.cast(sa.func.avg(v), sa.Float)
    elif agg.how == "min":
        out = sa.func.min(v)
    elif agg.how == "quantile" and not windowed:
        out = sa.cast(sa.func.percentile_cont(agg.q).within_group(v), sa.Float)
    elif agg.how == "quantile":
        out = _interpolated(v, sub.c[f"{values[id(agg.value)]}_rn"], sub.c[f"{values[id(agg.value)]}_n"], agg.q)
    else:
        raise ValueError(f"unknown aggregate {agg.how!r}")
    return out.label(agg.name)


def _interpolated(v: ColumnElement, rn: ColumnElement, n: ColumnElement, q: float) -> ColumnElement:
    """Exact linear-interpolated quantile of the non-null `v` of a group: with h = (n − 1)·q and i = ⌊h⌋, the
    (i+1)-th and (i+2)-th values in order (rn from row_number, nulls last) interpolated by h − i."""
    position = (n - 1) * sa.cast(sa.literal(q), sa.Float)
    lower_index = sa.cast(position, sa.Integer)
    lower = sa.func.max(sa.case((rn == lower_index + 1, v)))
    upper = sa.func.max(sa.case((rn == lower_index + 2, v)))
    fraction = sa.func.max(position - lower_index)
    return sa.cast(sa.case((fraction > 0, lower + fraction * (upper - lower)), else_=lower), sa.Float)


def _agg_dtype(agg: Agg) -> pl.DataType:
    if agg.how in ("rows", "count", "sum"):
        return pl.Int64()
    if agg.how == "min":
        return pl.Datetime("us")
    return pl.Float64()


def _tickets(wh: Warehouse) -> WarehouseTable:
    return wh.tables["tickets"]


def _keys(wh: Warehouse, wt: WarehouseTable, by: list[str], period: str | None, time_field: str) -> dict:
    keys = {b: wt.col(b) for b in by}
    if period:
        keys["period"] = period_sql(wh, wt.col(time_field), period)
    return keys


def _created_in(wt: WarehouseTable, filters: Filters) -> list[ColumnElement[bool]]:
    return [wt.valid, in_period(wt.col("created_at"), filters), dimensions(wt, filters)]


def _open_at(wt: WarehouseTable, instant: dt.datetime) -> ColumnElement[bool]:
    """Created before `instant` and not closed by then; never one closed at an unknown time (frames.open_at)."""
    closed = wt.col("closed_at")
    return sa.and_(
        wt.col("created_at") < instant,
        sa.not_(wt.unknown_time("closed_at")),
        sa.or_(closed.is_(None), closed >= instant),
    )


# --- the metrics ------------------------------------------------------------------------------------------


def _created_counts(wh: Warehouse, filters: Filters, by: list[str], period: str | None, *counts: Agg) -> pl.DataFrame:
    """Tickets created in the period per group, with further `counts` over the same tickets."""
    t = _tickets(wh)
    return aggregate(
        wh, _created_in(t, filters), _keys(wh, t, by, period, "created_at"), [Agg("tickets", "rows"), *counts]
    )


@_IMPLEMENTATIONS.of("volume")
def _volume(wh: Warehouse, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    return _created_counts(wh, filters, by, period)


@_IMPLEMENTATIONS.of("actioned")
def _actioned(wh: Warehouse, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    t = _tickets(wh)
    where = [t.valid, in_period(t.col("first_action_at"), filters), dimensions(t, filters)]
    return aggregate(wh, where, _keys(wh, t, by, period, "first_action_at"), [Agg("actioned", "rows")])


def _duration(end: str) -> Callable[[Warehouse, Filters, list[str], str | None], pl.DataFrame]:
    def compute(wh: Warehouse, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
        t = _tickets(wh)
        hours = hours_sql(wh, t.col("created_at"), t.col(end))
        measured = sa.case((hours >= 0, hours))
        aggs = [
            Agg("tickets", "rows"),
            Agg("measured", "count", measured),
            Agg("p50_hours", "quantile", measured, 0.5),
            Agg("p90_hours", "quantile", measured, 0.9),
            Agg("mean_hours", "mean", measured),
        ]
        return aggregate(wh, _created_in(t, filters), _keys(wh, t, by, period, "created_at"), aggs)

    return compute


_IMPLEMENTATIONS.of("time_to_first_action")(_duration("first_action_at"))
_IMPLEMENTATIONS.of("time_to_close")(_duration("closed_at"))


def _first_match(policy: SlaPolicy, t: WarehouseTable, values: list[ColumnElement]) -> ColumnElement:
    """CASE over the policy's rules, first matching rule wins (rule values bound); NULL where none applies."""
    if not policy.rules:
        return sa.null()
    whens = [
        (sa.and_(sa.true(), *[t.col(column).in_(allowed) for column, allowed in rule.conditions]), value)
        for rule, value in zip(policy.rules, values, strict=True)
    ]
    return sa.case(*whens, else_=sa.null())


def _sla_outcome(wh: Warehouse, t: WarehouseTable, policy: SlaPolicy) -> tuple[ColumnElement, ...]:
    """As frames.with_sla_outcome: a ticket with a due_at against it, the others by their first matching rule. The
    ticket's SLA group (rule name, or DUE_RULE), whether it is measured and whether it met the SLA."""
    as_of = sa.literal(wh.latest_timestamp() or dt.datetime.now(dt.UTC).replace(tzinfo=None), sa.DateTime)
    due_at = t.col("due_at")
    due = due_at.is_not(None)
    rule = _first_match(policy, t, [sa.literal(r.name, sa.String) for r in policy.rules])
    target = _first_match(policy, t, [sa.literal(r.target_seconds, sa.Float) for r in policy.rules])
    rule_end = _first_match(policy, t, [t.col(r.end) for r in policy.rules])
    end = sa.case((due, t.col(policy.due_end)), else_=rule_end)
    ended = end.is_not(None)
    # An end that happened at an unknown time (quarantined) is never waiting, so never late (frames.with_sla_outcome).
    rule_unknown = _first_match(policy, t, [flag(t.unknown_time(r.end)) for r in policy.rules])
    unknown = sa.case((due, flag(t.unknown_time(policy.due_end))), else_=rule_unknown) == 1
    waited = seconds_sql(wh, t.col("created_at"), sa.func.coalesce(end, as_of))
    late = sa.case((due, due_at < as_of), else_=waited > target)  # read where the ticket has not ended
    in_time = sa.case((due, end <= due_at), else_=waited <= target)  # read where it has
    has_sla = sa.or_(due, target.is_not(None))
    waiting_late = sa.and_(late, sa.not_(unknown))
    measured, met = sa.and_(has_sla, sa.or_(ended, waiting_late)), sa.and_(has_sla, ended, in_time)
    return sa.case((due, sa.literal(DUE_RULE, sa.String)), else_=rule), measured, met


def _sla(wh: Warehouse, filters: Filters, by: list[str], period: str | None, policy: SlaPolicy) -> pl.DataFrame:
    t = _tickets(wh)
    group, measured, met = _sla_outcome(wh, t, policy)
    keys = {b: (group if b == "sla_rule" else t.col(b)) for b in by}
    if period:
        keys["period"] = period_sql(wh, t.col("created_at"), period)
    aggs = [Agg("tickets", "rows"), Agg("measured", "sum", flag(measured)), Agg("met", "sum", flag(met))]
    return aggregate(wh, _created_in(t, filters), keys, aggs)


@_IMPLEMENTATIONS.of("proactive")
def _proactive(wh: Warehouse, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    source = _tickets(wh).col("source")
    known, proactive = (
        Agg("known_source", "count", source),
        Agg("proactive", "sum", flag(source.in_(PROACTIVE_SOURCES))),
    )
    return _created_counts(wh, filters, by, period, known, proactive)


@_IMPLEMENTATIONS.of("appeals")
def _appeals(wh: Warehouse, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    t = _tickets(wh)
    appealed = t.col("appealed").is_(True)
    aggs = [
        Agg("tickets", "rows"),
        Agg("appealed", "sum", flag(appealed)),
        Agg("overturned", "sum", flag(sa.and_(appealed, t.col("appeal_overturned").is_(True)))),
    ]
    where = [*_created_in(t, filters), t.col("decision").is_not(None)]
    return aggregate(wh, where, _keys(wh, t, by, period, "created_at"), aggs)


@_IMPLEMENTATIONS.of("qa_accuracy")
def _qa_accuracy(wh: Warehouse, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    qa, t = wh.tables["qa_reviews"], _tickets(wh)
    own = [d for d in ("vendor", "policy_domain") if d in qa.columns]
    where = [qa.valid, in_period(qa.col("reviewed_at"), filters), dimensions(qa, filters, own)]
    through_ticket = list(dict.fromkeys(d for d in [*filters.selections(), *by] if d not in own))
    from_ = None
    if through_ticket:  # dimensions QA reviews lack come from the reviewed (valid) ticket
        from_ = qa.table.join(t.table, qa.col("ticket_id") == t.col("ticket_id"))
        where += [t.valid, dimensions(t, filters, through_ticket)]
    keys = {b: (t.col(b) if b in through_ticket else qa.col(b)) for b in by}
    if period:
        keys["period"] = period_sql(wh, qa.col("reviewed_at"), period)
    aggs = [Agg("reviews", "rows"), Agg("correct", "sum", flag(qa.col("is_correct").is_(True)))]
    return aggregate(wh, where, keys, aggs, from_=from_)


def _per_million_dau(engine: SqlEngine, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    wh, keys = engine.source, keys_of(by, period)
    tickets = complete_periods(engine.summarize("volume", filters, by, period, None), "volume", filters, by, period)
    pm = wh.tables["platform_metrics"]
    dau_keys = dau_keys_of(keys)
    dau_exprs = {k: (period_sql(wh, pm.col("date"), period) if k == "period" else pm.col(k)) for k in dau_keys}
    where = [pm.valid, in_days(pm.col("date"), filters), dimensions(pm, filters, ["market"])]
    dau_sum = aggregate(wh, where, dau_exprs, [Agg("dau_days", "sum", pm.col("dau"))])
    return per_million_dau(tickets, dau_sum, dau_keys)


@_IMPLEMENTATIONS.of("open_backlog")
def _open_backlog(wh: Warehouse, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    if period:
        raise ValueError("open_backlog is a point-in-time figure at the end of the period; use it without --period")
    t = _tickets(wh)
    where = [t.valid, _open_at(t, filters.end_before), dimensions(t, filters)]
    return aggregate(wh, where, {b: t.col(b) for b in by}, [Agg("open_tickets", "rows")])


@_IMPLEMENTATIONS.of("backlog")
def _backlog(wh: Warehouse, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    """The flow of queries.metrics backlog: counts by group and period from SQL, then the same running sums."""
    t = _tickets(wh)
    keys = by + (["period"] if period else [])
    windows = period_windows(filters, period)
    created, closed = t.col("created_at"), t.col("closed_at")
    during = [  # queries.frames.open_during
        t.valid,
        dimensions(t, filters),
        created < filters.end_before,
        sa.not_(t.unknown_time("closed_at")),
        sa.or_(closed.is_(None), closed >= filters.start_at),
    ]
    groups_query = sa.select(*[t.col(b).label(b) for b in by]).where(*during).distinct()
    if by:
        groups = pl.DataFrame(
            wh.execute(groups_query), schema={b: _key_dtype(b) for b in by}, orient="row"
        ).with_row_index("_group")
    else:
        groups = pl.DataFrame({"_group": [0]}, schema={"_group": pl.UInt32})
    grid = groups.join(windows, how="cross")
    arrivals = aggregate(
        wh, [*during, created >= filters.start_at], _keys(wh, t, by, period, "created_at"), [Agg("arrivals", "rows")]
    )
    closures = aggregate(
        wh, [*during, closed < filters.end_before], _keys(wh, t, by, period, "closed_at"), [Agg("closures", "rows")]
    )
    before = aggregate(
        wh, [*during, created < filters.start_at], {b: t.col(b) for b in by}, [Agg("open_before", "rows")]
    )
    flow = backlog_flow(grid, arrivals, closures, before, keys, by)
    out = flow.join_asof(
        _oldest_by_last_open(wh, t, during, filters, by, period, windows, groups),
        left_on="boundary",
        right_on="last_open",
        by="_group",
        strategy="forward",
        check_sortedness=False,
    ).with_columns(
        pl.when(pl.col("oldest_created") < pl.col("window_end"))
        .then(duration_hours("oldest_created", "window_end"))
        .alias("oldest_open_hours")
    )
    return out.select(*keys, "open_start", "arrivals", "closures", "open_end", "oldest_open_hours")


def _oldest_by_last_open(
    wh: Warehouse,
    t: WarehouseTable,
    during: list[ColumnElement[bool]],
    filters: Filters,
    by: list[str],
    period: str | None,
    windows: pl.DataFrame,
    groups: pl.DataFrame,
) -> pl.DataFrame:
    """Per group and `last_open` (the last boundary a ticket is open at): the oldest created_at among tickets
    open up to at least that boundary (`oldest_created`, a suffix minimum), sorted for an as-of join.

    A ticket is open at boundary b (window_end) when created_at < b ≤ closed_at (or closed_at empty): its last
    boundary is the last one, or the one before the window its closed_at falls in. The oldest ticket whose
    last boundary is ≥ b is open at b exactly when it was created before b.
    """
    closed = t.col("closed_at")
    still_open = sa.or_(closed.is_(None), closed >= filters.end_before)
    closing = period_sql(wh, closed, period) if period else sa.literal(filters.start, sa.Date)
    keys = {b: t.col(b) for b in by} | {"period": sa.case((still_open, sa.null()), else_=closing)}
    oldest = aggregate(wh, during, keys, [Agg("oldest_created", "min", t.col("created_at"))])
    last = windows.height - 1
    if not period:
        windows = windows.with_columns(pl.lit(filters.start).alias("period"))
    lookup = windows.select("period", (pl.col("boundary") - 1).alias("last_open"))
    oldest = oldest.join(lookup, on="period", how="left").with_columns(pl.col("last_open").fill_null(last))
    oldest = (
        oldest.join(groups, on=by, nulls_equal=True)
        if by
        else oldest.with_columns(pl.lit(0, pl.UInt32).alias("_group"))
    )
    return (
        oldest.group_by("_group", "last_open")
        .agg(pl.col("oldest_created").min())
        .sort("_group", "last_open", descending=[False, True])
        .with_columns(pl.col("oldest_created").cum_min().over("_group"))
        .sort("_group", "last_open")
        .select("_group", "last_open", "oldest_created")
    )


@_IMPLEMENTATIONS.of("exposure")
def _exposure(wh: Warehouse, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    t = _tickets(wh)
    views = t.col("views_before_action")
    aggs = [
        Agg("tickets", "rows"),
        Agg("_within_24h", "sum", flag(hours_sql(wh, t.col("created_at"), t.col("first_action_at")) <= 24)),
        Agg("_views_known", "count", views),
        Agg("_zero_views", "sum", flag(views == 0)),
        Agg("p50_views", "quantile", views, 0.5),
        Agg("p90_views", "quantile", views, 0.9),
    ]
    where = [*_created_in(t, filters), t.col("first_action_at").is_not(None)]
    return aggregate(wh, where, _keys(wh, t, by, period, "created_at"), aggs)


@_IMPLEMENTATIONS.of("automation")
def _automation(wh: Warehouse, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    automated = _tickets(wh).col("automated")
    known, decided = Agg("known", "count", automated), Agg("automated", "sum", flag(automated.is_(True)))
    return _created_counts(wh, filters, by, period, known, decided)


def _human_decisions(t: WarehouseTable, filters: Filters) -> list[ColumnElement[bool]]:
    """Human decisions (not automated) whose first action falls in the period."""
    return [
        t.valid,
        in_period(t.col("first_action_at"), filters),
        dimensions(t, filters),
        t.col("automated").is_not(True),
    ]


@_IMPLEMENTATIONS.of("handle_time")
def _handle_time(wh: Warehouse, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    t = _tickets(wh)
    seconds = t.col("handle_seconds")
    aggs = [
        Agg("reviews", "count", seconds),
        Agg("mean_handle_seconds", "mean", seconds),
        Agg("p50_handle_seconds", "quantile", seconds, 0.5),
        Agg("p90_handle_seconds", "quantile", seconds, 0.9),
        Agg("handle_hours", "fsum", seconds),
    ]
    out = aggregate(wh, _human_decisions(t, filters), _keys(wh, t, by, period, "first_action_at"), aggs)
    return out.with_columns(pl.col("handle_hours") / 3600)


@_IMPLEMENTATIONS.of("throughput")
def _throughput(wh: Warehouse, filters: Filters, by: list[str], period: str | None) -> pl.DataFrame:
    if set(by) - set(THROUGHPUT_GROUPS):
        raise ValueError(f"throughput can only be grouped by {', '.join(THROUGHPUT_GROUPS)}")
    t, staffing = _tickets(wh), wh.tables["staffing"]
    keys = by + (["period"] if period else [])
    filters = Filters(filters.start, filters.end, vendor=filters.vendor)  # staffing has no other dimensions
    where = [*_human_decisions(t, filters), t.col("vendor").is_not(None)]
    handled = aggregate(wh, where, _keys(wh, t, by, period, "first_action_at"), [Agg("handled", "rows")])
    where = [staffing.valid, in_days(staffing.col("date"), filters), dimensions(staffing, filters, ["vendor"])]
    hours = aggregate(
        wh,
        where,
        _keys(wh, staffing, by, period, "date"),
        [Agg("productive_hours", "fsum", staffing.col("productive_hours"))],
    )
    return per_productive_hour(handled, hours, keys)
