"""The equal-work DuckDB build: the rollups' work (queries.engines.rollups.build._build_chunk) in DuckDB SQL, and the
check that its outputs equal the rollups'.

From a folder of ticket Parquet files in the contract's names and types (what bench/scale_data.py writes), one DuckDB
connection applies the data contract's rules as the loader does (required fields missing or out of range and
duplicate ticket_ids reject the row, counted by reason; optional fields that are out of range, not finite, of an
unknown fixed value or out of order are set to null, counted by field and reason), then builds the same tables at the
same levels: created, actioned, closed and sla (by SLA rule, from config/sla.toml written as a SQL CASE) at day ×
the five dimensions and, from those, at day × each dimension and day alone; the histograms of hours to first action,
hours to close, views before action (by created day) and handle seconds (by first-action day) in
queries.histogram's buckets at the coarser levels; the tickets still waiting for their SLA; and writes every table
as an uncompressed Arrow file, named as the rollups' chunk files are.

Not done here, because the generated files never need it: text trimmed, blanked or folded, text or numbers parsed
as timestamps, time zones, mappings, snapshots (dedupe_by); the rollups' listing of unknown values, in-future rows
and the data's "now".

Also the `errors` step: rollup percentiles, counts and means against exact DuckDB figures. Only the standard
library is imported up front (bench/run.py measures each step's peak RSS).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

VALID = "SELECT * FROM checked WHERE _reason IS NULL"
ERROR_METRICS = {"time_to_first_action": "first_action_at", "time_to_close": "closed_at"}  # the `errors` step's
FLOATS = ("handle_sum_seconds",)  # the one float value column (actioned and queues tables); the others are integers
TOLERANCE = 1e-9  # relative, for sums of float columns (handle seconds): the engines add in different orders


def bucket_sql(value: str) -> str:
    """queries.histogram.bucket_expr in SQL: the bucket index of a non-negative DOUBLE, null for null."""
    from queries.histogram import SMALLEST, R

    smallest, ln_r = f"CAST({SMALLEST!r} AS DOUBLE)", f"CAST({math.log(R)!r} AS DOUBLE)"
    log_bucket = f"CAST(floor(ln(({value}) / {smallest}) / {ln_r}) AS INTEGER) + 2"
    return f"CASE WHEN ({value}) = 0 THEN 0 WHEN ({value}) < {smallest} THEN 1 ELSE {log_bucket} END"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(_quote(v) for v in values)})"


def _own_checks(field) -> list[tuple[str, str]]:
    """A typed field's own rules in the loader's order (validation.field_checks), as (SQL condition, reason)."""
    from queries.contract import TIME_RANGE, Kind

    name, checks = field.name, []
    if field.kind == Kind.NUMBER:  # NaN and infinities do not parse
        checks.append((f"NOT isfinite({name})", f"unparseable {name}"))
    if field.values:
        checks.append((f"NOT {_in(name, field.values)}", f"unknown {name} value"))
    if field.min_value is not None:
        checks.append((f"{name} < {field.min_value!r}", f"{name} out of range"))
    if field.max_value is not None:
        checks.append((f"{name} > {field.max_value!r}", f"{name} out of range"))
    if field.kind == Kind.TIMESTAMP:
        low, high = (_quote(f"{t:%Y-%m-%d %H:%M:%S}") for t in TIME_RANGE)
        checks.append((f"{name} <= TIMESTAMP {low} OR {name} >= TIMESTAMP {high}", f"{name} out of range"))
    return checks


def _first(checks: list[tuple[str, str]], coded: bool = False) -> str:
    """The reason (`coded`: its 1-based position) of the first condition that holds (a null one does not), else null."""
    whens = " ".join(
        f"WHEN coalesce({c}, false) THEN {i if coded else _quote(why)}" for i, (c, why) in enumerate(checks, start=1)
    )
    return f"CASE {whens} END" if checks else "CAST(NULL AS VARCHAR)"


def checked_sql(present: list[str]) -> tuple[str, dict[str, list[str]]]:
    """SELECT of the files' rows (read_parquet(?)) with the contract's rules: `_reason` (rejected), each checked
    optional field nulled where a rule fails and the code of its reason in `q.<field>`, the TIME_UNKNOWN flags; and
    each checked optional field's reasons (code i is reasons[i - 1]). Duplicates come after (`build`)."""
    from queries.contract import ORDER_RULES, TICKETS, TIME_UNKNOWN, Kind
    from queries.engines.rollups.checked import USED

    fields = [f for f in TICKETS.fields if f.name in present and (f.name in USED or f.kind != Kind.STRING)]
    required = [f for f in fields if f.required]
    orders = [(a, b, why) for t, a, b, why in ORDER_RULES if t == "tickets" and a in present and b in present]
    reasons = {
        f.name: [*(why for _, why in _own_checks(f)), *(why for a, _, why in orders if a == f.name)]
        for f in fields
        if not f.required
    }
    optional = {name: r for name, r in reasons.items() if r}
    row = [(f"{f.name} IS NULL", f"missing {f.name}") for f in required]
    row += [c for f in required for c in _own_checks(f)]
    typed = {f.name: f for f in fields}
    absent = [f for f in TICKETS.fields if f.name in USED and f.name not in present]
    columns = [f.name for f in fields] + [f"CAST(NULL AS {_SQL_TYPES[f.kind]}) AS {f.name}" for f in absent]
    sql = f"SELECT {', '.join(columns)} FROM read_parquet(?)"
    checks = "".join(f', {_first(_own_checks(typed[f]), coded=True)} AS "q.{f}"' for f in optional)
    sql = f"SELECT *, {_first(row)} AS _reason{checks} FROM ({sql})"
    nulled = [f'CASE WHEN "q.{f}" IS NULL THEN {f} END AS {f}' for f in optional]
    sql = f"SELECT * REPLACE ({', '.join(nulled)}) FROM ({sql})" if nulled else sql
    for later, earlier, why in orders:  # each against the values the rules before it left
        broken = f"coalesce({later} < {earlier}, false)"
        if later in optional:
            code = optional[later].index(why) + 1
            sql = f"""SELECT * REPLACE (CASE WHEN {broken} THEN NULL ELSE {later} END AS {later},
                CASE WHEN {broken} THEN {code} ELSE "q.{later}" END AS "q.{later}") FROM ({sql})"""
        else:
            reason = f"coalesce(_reason, CASE WHEN {broken} THEN {_quote(why)} END)"
            sql = f"SELECT * REPLACE ({reason} AS _reason) FROM ({sql})"
    flags = [
        f'"q.{f}" IS NOT NULL AS {flag}' if f in optional else f"false AS {flag}" for f, flag in TIME_UNKNOWN.items()
    ]
    return f"SELECT *, {', '.join(flags)} FROM ({sql})", optional


_SQL_TYPES = {"string": "VARCHAR", "timestamp": "TIMESTAMP", "date": "DATE", "number": "DOUBLE"}
_SQL_TYPES |= {"integer": "BIGINT", "boolean": "BOOLEAN"}


def derived_sql(checked: str, optional: list[str], policy, due: bool) -> str:
    """The checked rows with the derived columns every table groups: days, durations, histogram buckets and the SLA
    outcome (queries.frames.with_sla_outcome: first matching rule, or the ticket's own due_at)."""
    from queries.contract import PROACTIVE_SOURCES
    from queries.engines.rollups.storage import FULL

    whens = []
    for i, rule in enumerate(policy.rules):
        condition = " AND ".join(f"coalesce({_in(c, v)}, false)" for c, v in rule.conditions) or "true"
        whens.append(f"WHEN {condition} THEN {i}")
    index = f"CASE {'WHEN due_at IS NOT NULL THEN ' + str(len(policy.rules)) if due else ''} {' '.join(whens)} END"

    def pick(values: list[str]) -> str:  # the value of the ticket's SLA group
        return f"CASE _i {' '.join(f'WHEN {i} THEN {v}' for i, v in enumerate(values))} END"

    closes = [*(r.measure == "close" for r in policy.rules), policy.due_measure == "close"]
    closes_sql = pick(["true" if c else "false" for c in closes])
    acted, human = "first_action_at IS NOT NULL", "NOT coalesce(automated, false)"
    ttfa, ttc = (
        "date_diff('microsecond', created_at, first_action_at)",
        "date_diff('microsecond', created_at, closed_at)",
    )
    kept = ["ticket_id", "_reason", *(f'"q.{f}"' for f in optional), "created_at", "first_action_at", "closed_at"]
    kept += [f"CAST({d} AS enum_{d}) AS {d}" for d in FULL]  # ENUM types made by `build` from the files' values
    kept += ["queue", "decision", "automated", "appealed", "appeal_overturned", "handle_seconds", "views_before_action"]
    kept += ["due_at", "sla_met", "closed_unknown", "acted_unknown"]
    return f"""SELECT {", ".join(kept)}, CAST(created_at AS DATE) AS day, CAST(first_action_at AS DATE) AS action_day,
            CAST(closed_at AS DATE) AS closed_day, CAST(coalesce(first_action_at, created_at) AS DATE) AS hist_day,
            {ttfa} AS ttfa_us, {ttc} AS ttc_us, {_in("source", PROACTIVE_SOURCES)} AS proactive,
            {human} AS human, decision IS NOT NULL AND coalesce(appealed, false) AS was_appealed,
            {bucket_sql(f"{ttfa} / 1000000")} AS b0, {bucket_sql(f"{ttc} / 1000000")} AS b1,
            {bucket_sql(f"CASE WHEN {acted} THEN CAST(views_before_action AS DOUBLE) END")} AS b2,
            {bucket_sql(f"CASE WHEN {acted} AND {human} THEN handle_seconds END")} AS bh,
            {pick([_quote(n) for n in policy.groups])} AS sla_rule,
            {pick([*(repr(float(r.target_seconds)) for r in policy.rules), "NULL"])} AS sla_target_seconds,
            CASE WHEN {closes_sql} THEN closed_at ELSE first_action_at END AS sla_end_at,
            CASE WHEN {closes_sql} THEN closed_unknown ELSE acted_unknown END AS _end_unknown
        FROM (SELECT *, {index} AS _i FROM ({checked}))"""


def tables_sql(dims: tuple[str, ...]) -> dict[str, tuple[str, list[str]]]:
    """Each count table at the full grain: (SELECT over the valid rows, its value columns)."""
    keys = ", ".join(dims)
    ended = "(sla_rule IS NOT NULL AND sla_end_at IS NOT NULL)"
    in_time = """CASE WHEN due_at IS NOT NULL THEN sla_end_at <= due_at
        ELSE date_diff('microsecond', created_at, sla_end_at) / 1e6 <= sla_target_seconds END"""
    created = {
        "tickets": "count(*)",
        "closed_unknown": "count_if(closed_unknown)",
        "known_source": "count(source)",
        "proactive": "count_if(proactive)",
        "known_automated": "count(automated)",
        "automated": "count_if(coalesce(automated, false))",
        "decided": "count(decision)",
        "human_decided": "count_if(human AND decision IN ('violating', 'non_violating'))",
        "human_violating": "count_if(human AND decision = 'violating')",
        "appealed": "count_if(was_appealed)",
        "overturned": "count_if(was_appealed AND coalesce(appeal_overturned, false))",
        "acted": "count(first_action_at)",
        "within_24h": "count_if(ttfa_us <= 86400000000)",
        "views_known": "count_if(first_action_at IS NOT NULL AND views_before_action IS NOT NULL)",
        "zero_views": "count_if(first_action_at IS NOT NULL AND views_before_action = 0)",
        "views_sum": "CAST(sum(views_before_action) FILTER (WHERE first_action_at IS NOT NULL) AS BIGINT)",
        "views_ttfa_sum_us": """CAST(sum(ttfa_us) FILTER (WHERE first_action_at IS NOT NULL
            AND views_before_action IS NOT NULL) AS BIGINT)""",
        "ttfa_measured": "count_if(ttfa_us >= 0)",
        "ttfa_sum_us": "CAST(sum(ttfa_us) FILTER (WHERE ttfa_us >= 0) AS BIGINT)",
        "ttc_measured": "count_if(ttc_us >= 0)",
        "ttc_sum_us": "CAST(sum(ttc_us) FILTER (WHERE ttc_us >= 0) AS BIGINT)",
    }
    actioned = {
        "actioned": "count(*)",
        "human": "count_if(human)",
        "reviews": "count_if(human AND handle_seconds IS NOT NULL)",
        "handle_sum_seconds": "sum(handle_seconds) FILTER (WHERE human)",
    }
    sla = {
        "tickets": "count(*)",
        "ended_with_sla": f"count_if({ended})",
        "met": f"count_if({ended} AND {in_time})",
        "flagged": "count(sla_met)",
        "flagged_ended": f"count_if(sla_met IS NOT NULL AND {ended})",
        "flagged_met": f"count_if(sla_met IS NOT NULL AND {ended} AND {in_time})",
        "flagged_met_source": f"count_if(sla_met AND {ended})",
        "flagged_disagree": f"count_if(sla_met IS NOT NULL AND {ended} AND ({in_time}) <> sla_met)",
    }

    def select(day: str, values: dict[str, str], extra: str = "", where: str = "") -> tuple[str, list[str]]:
        aggs = ", ".join(f"{sql} AS {name}" for name, sql in values.items())
        sql = f"SELECT {day} AS day, {keys}{extra}, {aggs} FROM ({VALID}) {where} GROUP BY ALL"
        return sql, list(values)

    return {
        "created": select("day", created),
        "actioned": select("action_day", actioned, where="WHERE action_day IS NOT NULL"),
        "closed": select("closed_day", {"closures": "count(*)"}, where="WHERE closed_day IS NOT NULL"),
        "sla": select("day", sla, ", sla_rule"),
    }


def build(source: Path, out: Path, prepared: dict | None = None) -> dict:
    """Build every table from the source's tickets/*.parquet into `out` (one Arrow file per table and level);
    `prepared` is `prepare(source)` (done outside any clock). Rows at the full grain, valid and rejected rows."""
    import duckdb
    import pyarrow as pa

    p = prepared or prepare(source)
    con = duckdb.connect()
    dims, levels = p["dims"], p["levels"]
    # Dimensions as ENUMs (small integer codes, as the rollups' dictionaries): far cheaper to group than text.
    seen = con.sql(f"SELECT {', '.join(f'list(DISTINCT {d})' for d in dims)} FROM read_parquet(?)", params=[p["files"]])
    for dim, values in zip(dims, seen.fetchall()[0], strict=True):
        listed = ", ".join(_quote(v) for v in sorted(v for v in values if v is not None)) or "''"
        con.execute(f"CREATE TYPE enum_{dim} AS ENUM ({listed})")
    con.execute(f"CREATE TEMP TABLE checked AS {p['checked']}", [p["files"]])
    duplicated = "SELECT ticket_id FROM checked WHERE _reason IS NULL GROUP BY ticket_id HAVING count(*) > 1"
    if con.sql(duplicated).limit(1).fetchall():  # ticket_ids valid more than once: every such row is rejected
        con.execute(f"""UPDATE checked SET _reason = 'duplicate ticket_id'
            WHERE _reason IS NULL AND ticket_id IN ({duplicated})""")
    out.mkdir(parents=True, exist_ok=True)

    def write(name: str, sql: str) -> int:
        table = con.sql(sql).to_arrow_table()
        with pa.OSFile(str(out / f"{name}.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        return table.num_rows

    grain = 0
    for name, (sql, values) in p["tables"].items():
        con.execute(f"CREATE TEMP TABLE full_{name} AS {sql}")
        rows = write(p["names"][name, tuple(dims)], f"SELECT * FROM full_{name}")
        grain = rows if name == "created" else grain
        extra = ", sla_rule" if name == "sla" else ""
        sums = ", ".join(f"CAST(sum({v}) AS {'DOUBLE' if v in FLOATS else 'BIGINT'}) AS {v}" for v in values)
        for level in levels[1:]:
            keys = ", ".join(["day", *level]) + extra
            write(p["names"][name, level], f"SELECT {keys}, {sums} FROM full_{name} GROUP BY ALL")
    measures = {
        "created_hist": [("day", f"b{m}", f", {m} AS measure") for m in range(3)],  # TTFA, TTC, VIEWS
        "handle_hist": [("hist_day", "bh", "")],
    }
    for name, parts in measures.items():
        for level in levels[1:]:
            keys = "".join(f", {d}" for d in level)
            selects = [
                f"""SELECT {day} AS day{keys}, CAST({b} AS SMALLINT) AS bucket{measure}, count(*) AS count
                    FROM ({VALID}) WHERE {b} IS NOT NULL GROUP BY ALL"""
                for day, b, measure in parts
            ]
            write(p["names"][name, level], " UNION ALL ".join(selects))
    for name, sql in p["profiles"].items():
        for level in levels[1:]:
            write(p["names"][name, level], sql.format(keys="".join(f", {d}" for d in level)))
    write("rejected", "SELECT _reason, count(*) AS rows FROM checked WHERE _reason IS NOT NULL GROUP BY ALL")
    counted = [
        f"""SELECT '{f}' AS field, CASE "q.{f}" {" ".join(f"WHEN {i} THEN {_quote(r)}" for i, r in enumerate(why, 1))}
            END AS reason, count(*) AS rows FROM ({VALID}) WHERE "q.{f}" IS NOT NULL GROUP BY ALL"""
        for f, why in p["optional"].items()
    ]
    write(
        "quarantined",
        " UNION ALL ".join(counted) if counted else "SELECT NULL AS field, NULL AS reason, 0 AS rows LIMIT 0",
    )
    waiting = "sla_rule IS NOT NULL AND sla_end_at IS NULL AND NOT _end_unknown"
    write(
        "waiting",
        f"""SELECT created_at, {", ".join(dims)}, sla_rule, sla_target_seconds, due_at, sla_met FROM ({VALID})
            WHERE {waiting}""",
    )
    valid, rejected = con.sql("SELECT count(*) FILTER (WHERE _reason IS NULL), count(_reason) FROM checked").fetchall()[
        0
    ]
    return {"groups": grain, "rows": valid, "rejected_rows": rejected}


def prepare(source: Path) -> dict:
    """Everything `build` needs that imports the project (the rules, the SLA policy, the levels) and the SQL."""
    import pyarrow.parquet as pq

    from queries.engines.base import SLOT_MINUTES
    from queries.engines.rollups.storage import FULL, LEVELS, level_name
    from queries.sla import load_sla_policy

    files = sorted((source / "tickets").glob("*.parquet"))
    present = pq.read_schema(files[0]).names
    checked, optional = checked_sql(present)
    tables = tables_sql(FULL)
    hists = ("created_hist", "handle_hist", "arrivals", "queues")
    names = {(t, level): level_name(t, level) for t in (*tables, *hists) for level in LEVELS}
    return {
        "files": [str(f) for f in files],
        "checked": derived_sql(checked, list(optional), load_sla_policy(), "due_at" in present),
        "optional": optional,
        "tables": tables,
        "profiles": {  # the live queues' inputs at each level (base.slot_expr; RowsEngine.queue_reviews)
            "arrivals": f"""SELECT day{{keys}}, CAST(hour(created_at) * 2 + minute(created_at) // {SLOT_MINUTES}
                AS SMALLINT) AS slot, count(*) AS tickets FROM ({VALID}) GROUP BY ALL""",
            "queues": f"""SELECT action_day AS day{{keys}}, queue, count(*) AS reviews,
                sum(handle_seconds) AS handle_sum_seconds FROM ({VALID})
                WHERE human AND handle_seconds IS NOT NULL AND action_day IS NOT NULL GROUP BY ALL""",
        },
        "dims": FULL,
        "levels": LEVELS,
        "names": names,
    }


def step(args: argparse.Namespace) -> dict:
    """bench/run.py's `duckdb_equal` contender: the project imported and the SQL written before the clock starts."""
    prepared = prepare(args.source)
    with tempfile.TemporaryDirectory(prefix="duckdb-equal-") as out:
        began = time.perf_counter()
        built = build(args.source, Path(out), prepared)
        return {"seconds": time.perf_counter() - began, **built}


# ---------------------------------------------------------------------------------------------------------------
# The check: the DuckDB build's tables against the rollups'


def check_step(args: argparse.Namespace) -> dict:
    """bench/run.py's `equal` step: the rollups from the warm cache and a DuckDB build, compared (`compare`)."""
    from queries.engines.rollups.build import build_rollups

    rollups, _ = build_rollups(args.source, cache_dir=args.cache_dir)
    with tempfile.TemporaryDirectory(prefix="duckdb-equal-") as out:
        build(args.source, Path(out))
        return compare(rollups, Path(out))


def compare(rollups, out: Path) -> dict:
    """Every table of the DuckDB build in `out` against the rollups, group by group: counts and integer sums exactly,
    float sums within TOLERANCE (relative), histogram counts per bucket exactly; rejected rows by reason and
    quarantined values by field and reason exactly; the tickets waiting for their SLA per rule. Mismatches: groups
    (or reasons) whose values differ or that only one side has; tables compared; the names of those that differ."""
    import polars as pl

    from queries.engines.rollups.storage import (
        COUNT_TABLES,
        HIST_LEVELS,
        HIST_TABLES,
        LEVELS,
        PROFILE_TABLES,
        level_name,
    )

    differ: dict[str, int] = {}
    compared = 0
    for name, level in [(t, lv) for t in COUNT_TABLES for lv in LEVELS] + [
        (t, lv) for t in (*HIST_TABLES, *PROFILE_TABLES) for lv in HIST_LEVELS
    ]:
        ours = _decoded(getattr(rollups.levels[level], name), rollups.dictionary)
        theirs = read_output(out / f"{level_name(name, level)}.arrow")
        keys = [c for c in ("day", *level, "sla_rule", "measure", "bucket", "slot", "queue") if c in ours.columns]
        differ[level_name(name, level)] = _differences(ours, theirs, keys)
        compared += 1
    rejected = read_output(out / "rejected.arrow")
    differ["rejected"] = _dict_differences(rollups.rejections, dict(rejected.iter_rows()))
    quarantined = read_output(out / "quarantined.arrow")
    differ["quarantined"] = _dict_differences(rollups.quarantined, {(f, r): n for f, r, n in quarantined.iter_rows()})
    waiting = [_decoded(rollups.sla_waiting, rollups.dictionary), read_output(out / "waiting.arrow")]
    per_rule = [
        w.group_by("sla_rule").agg(pl.len().alias("tickets"), pl.col("sla_target_seconds").sum()) for w in waiting
    ]
    differ["waiting"] = _differences(*per_rule, ["sla_rule"])
    compared += 3
    return {
        "duckdb_equal_mismatches": sum(differ.values()),
        "duckdb_equal_tables_compared": compared,
        "duckdb_equal_differing": sorted(name for name, n in differ.items() if n),
    }


def read_output(path: Path):
    """An Arrow file of the DuckDB build, ENUM (dictionary) columns as text (read by pyarrow: Polars misreads the
    index DuckDB leaves under a null entry)."""
    import polars as pl
    import pyarrow as pa
    import pyarrow.ipc as ipc

    with pa.OSFile(str(path)) as source:  # read, not mapped: the file may be written again
        table = ipc.open_file(source).read_all()
    for i, column in enumerate(table.columns):
        if pa.types.is_dictionary(column.type):
            table = table.set_column(i, table.field(i).name, column.cast(pa.string()))
    return pl.from_arrow(table)


def _decoded(frame, dictionary: dict[str, tuple[str, ...]]):
    """A rollup table with its codes (dimensions, sla_rule) turned back into their values."""
    import polars as pl

    return frame.with_columns(
        pl.col(c).replace_strict(
            list(range(len(dictionary[c]))), list(dictionary[c]), default=None, return_dtype=pl.String
        )
        for c in dictionary
        if c in frame.columns
    )


def _differences(ours, theirs, keys: list[str]) -> int:
    """Groups (by `keys`) whose summed values differ between two tables, or that one side lacks; every column of
    either side must be in both (a missing column counts as one difference)."""
    import polars as pl

    values = sorted(c for c in {*ours.columns, *theirs.columns} if c not in keys)
    missing = sum(c not in ours.columns or c not in theirs.columns for c in values)
    values = [c for c in values if c in ours.columns and c in theirs.columns]

    def summed(frame):
        floats = [c for c in values if frame.schema[c].is_float()]
        typed = frame.with_columns(
            pl.col("day").cast(pl.Date) if "day" in keys else [],
            pl.col([k for k in keys if k not in ("day", "measure", "bucket")]).cast(pl.String),
            pl.col([k for k in ("measure", "bucket") if k in keys]).cast(pl.Int64),
            pl.col([c for c in values if c not in floats]).cast(pl.Int64),
            pl.col(floats).cast(pl.Float64),
        )
        return typed.group_by(keys).agg(pl.col(values).sum()) if keys else typed.select(pl.col(values).sum())

    both = summed(ours).join(summed(theirs), on=keys, how="full", coalesce=True, nulls_equal=True, suffix="_duckdb")
    if not values:
        return missing
    apart = [
        ((pl.col(c).fill_null(0) - pl.col(f"{c}_duckdb").fill_null(0)).abs()
         > TOLERANCE * pl.max_horizontal(pl.col(c).abs(), pl.col(f"{c}_duckdb").abs()).fill_null(0))
        if both.schema[c].is_float()
        else pl.col(c).fill_null(0) != pl.col(f"{c}_duckdb").fill_null(0)
        for c in values
    ]  # fmt: skip
    return missing + both.filter(pl.any_horizontal(apart)).height


def _dict_differences(ours: dict, theirs: dict) -> int:
    """Keys whose counts differ (a key only one side has counts as its count against 0)."""
    return sum(ours.get(k, 0) != theirs.get(k, 0) for k in {*ours, *theirs})


# ---------------------------------------------------------------------------------------------------------------
# Exact percentiles and counts: the `errors` step


def errors_step(args: argparse.Namespace) -> dict:
    """Rollup percentiles, counts and means against exact DuckDB figures over many filters and groupings."""
    import duckdb
    import polars as pl

    from queries.engines.rollups.build import build_rollups
    from queries.engines.rollups.read import rollup_summary
    from queries.histogram import PERCENTILE_ERROR_BOUND

    r, _ = build_rollups(args.source, cache_dir=args.cache_dir)
    con = duckdb.connect()
    files = str(args.source / "tickets" / "*.parquet")
    compared = []
    mismatches = 0
    for (filters, by, period), metric in ((c, m) for c in error_cases(r) for m in ERROR_METRICS):
        keys = [*by, *(["period"] if period else [])]
        exact = exact_figures(con, files, ERROR_METRICS[metric], filters, by, period)
        approx = rollup_summary(r, metric, filters, by, period).with_columns(pl.col(by).cast(pl.String))
        if keys:
            both = exact.join(approx, on=keys, how="full", coalesce=True, nulls_equal=True, suffix="_rollup")
        else:
            both = pl.concat([exact, approx.rename(lambda c: f"{c}_rollup")], how="horizontal")
        # Periods without tickets are rows of 0 in the rollups' answer (every period is present) and absent
        # from the exact query's: both count 0.
        counts_differ = pl.any_horizontal(
            pl.col(c).fill_null(0) != pl.col(f"{c}_rollup").fill_null(0) for c in ("tickets", "measured")
        )
        mismatches += both.filter(counts_differ.fill_null(True)).height
        for p in ("p50_hours", "p90_hours", "mean_hours"):
            compared.append(
                both.filter(pl.col(p) > 0).select(
                    pl.lit(f"{metric} {p} by {'×'.join(keys) or 'nothing'}; {filters.describe()}").alias("case"),
                    pl.lit(p).alias("measure"),
                    pl.col("measured"),
                    pl.col(p).alias("exact"),
                    pl.col(f"{p}_rollup").alias("rollup"),
                    ((pl.col(f"{p}_rollup") - pl.col(p)).abs() / pl.col(p)).alias("error"),
                )
            )
    table = pl.concat(compared)
    # A null rollup percentile is one the rollups decline to give (several dimensions beyond the exact-read
    # limit, see docs/rollups.md): counted apart, never scored as an error of zero.
    unanswered = table.filter(pl.col("measure") != "mean_hours", pl.col("rollup").is_null()).height
    pct = table.filter(pl.col("measure") != "mean_hours", pl.col("rollup").is_not_null()).sort("error", descending=True)
    worst = pct.row(0, named=True)
    return {
        "percentile_error_bound": PERCENTILE_ERROR_BOUND,
        "percentile_error_max": round(worst["error"], 5),
        "percentile_error_p99": round(pct["error"].quantile(0.99, interpolation="linear"), 5),
        "percentile_error_max_small_groups": round(pct.filter(pl.col("measured") <= 10)["error"].max() or 0.0, 5),
        "percentiles_compared": pct.height,
        "percentiles_unanswered": unanswered,
        "percentiles_compared_small_groups": pct.filter(pl.col("measured") <= 10).height,
        "percentile_error_worst": {k: worst[k] for k in ("case", "measure", "measured", "exact", "rollup")},
        "mean_error_max": table.filter(pl.col("measure") == "mean_hours")["error"].max(),
        "error_cases": len(error_cases(r)) * len(ERROR_METRICS),
        "count_mismatches": mismatches,
    }


def error_cases(r) -> list[tuple]:
    """(filters, by, period) combinations from everything down to day × four dimensions over one week."""
    import datetime as dt

    from bench.scale_data import DOMAINS, MARKETS
    from queries.filters import Filters

    first, last = r.first_day(), r.last_day()
    week, month, quarter = (Filters(last - dt.timedelta(days=n - 1), last) for n in (7, 28, 91))
    everything = Filters(first, last)
    return [
        (everything, [], None),
        (everything, ["vendor"], None),
        (everything, ["policy_domain", "market"], None),
        (everything, ["source"], "week"),
        (Filters(first, last, market=(MARKETS[-1],)), ["policy_domain"], "month"),
        (Filters(quarter.start, last, policy_domain=(DOMAINS[-1],), market=MARKETS[:2]), ["surface"], "week"),
        (month, ["policy_domain", "market"], "week"),
        (week, ["policy_domain", "market", "vendor", "source"], "day"),
        (Filters(week.start, last, source=("trusted_flagger", "legal")), ["market", "surface"], "day"),
    ]  # fmt: skip


def exact_figures(con, files: str, end: str, filters, by: list[str], period: str | None):
    """Exact tickets, measured, P50/P90 (quantile_cont: linear) and mean hours from created_at to `end`,
    for tickets created in the filters' days and groups, as queries.metrics defines them."""
    keys = [*by, *([f"CAST(date_trunc('{period}', created_at) AS DATE) AS period"] if period else [])]
    where, params = ["created_at >= ?", "created_at < ?"], [files, filters.start_at, filters.end_before]
    for name, values in filters.selections().items():
        where.append(f"list_contains(?, {name})")
        params.append(list(values))
    hours = f"CASE WHEN {end} >= created_at THEN date_diff('microsecond', created_at, {end}) / 3.6e9 END"
    sql = f"""SELECT {"".join(k + ", " for k in keys)} count(*) AS tickets, count(h) AS measured,
            quantile_cont(h, 0.5) AS p50_hours, quantile_cont(h, 0.9) AS p90_hours, avg(h) AS mean_hours
        FROM (SELECT *, {hours} AS h FROM read_parquet(?) WHERE {" AND ".join(where)})
        {"GROUP BY ALL" if keys else ""}"""
    import polars as pl

    exact = pl.from_arrow(con.sql(sql, params=params).to_arrow_table())
    return exact.with_columns(pl.col("tickets", "measured").cast(pl.Int64))
