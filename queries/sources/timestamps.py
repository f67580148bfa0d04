"""Reading timestamps: ISO 8601 or a format, epoch numbers, wall-clock times in a time zone (across DST changes)
and zone names written in the values, always to naive UTC (Bellwether's one time representation)."""

from __future__ import annotations

import datetime as dt
import re
from functools import partial

import polars as pl

from queries.contract import TIME_RANGE
from queries.errors import SourceError
from queries.sources.mapping import EPOCH_US, ISO, known_zone

TIME = pl.Datetime("us")
_ISO_DATETIME = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M")
_ISO_DATETIME_OFFSET = tuple(f + "%#z" for f in _ISO_DATETIME)  # Z, +02, +02:00, +0200
_OFFSET = re.compile(r"%[:#]*z")  # an offset directive: the values carry their own offset
_ZONE = r"([A-Za-z][A-Za-z0-9_/+\-]*)\s*$"  # the zone name or abbreviation at the end of a value (%Z)
SHIFTED, EARLIER = 1, 2
# How a wall-clock time was read where it is not one instant: counted per field ("time adjusted" on Data health).
TIME_NOTES = {
    SHIFTED: "nonexistent local time (DST gap): shifted forward",
    EARLIER: "ambiguous local time (DST overlap): earlier instant",
}
# Zone abbreviations with one meaning, as UTC offsets in minutes. Others (IST, CST, BST, AST, …) mean several
# zones: values that carry them are refused unless the table's timezone says which.
ABBREVIATIONS = {
    "UTC": 0,
    "GMT": 0,
    "UT": 0,
    "Z": 0,
    "WET": 0,
    "WEST": 60,
    "CET": 60,
    "CEST": 120,
    "MET": 60,
    "MEST": 120,
    "EET": 120,
    "EEST": 180,
    "MSK": 180,
    "EST": -300,
    "EDT": -240,
    "MST": -420,
    "MDT": -360,
    "PST": -480,
    "PDT": -420,
    "AKST": -540,
    "AKDT": -480,
    "HST": -600,
    "JST": 540,
    "KST": 540,
    "HKT": 480,
    "SGT": 480,
    "AWST": 480,
    "ACST": 570,
    "ACDT": 630,
    "AEST": 600,
    "AEDT": 660,
    "NZST": 720,
    "NZDT": 780,
}
_EPOCH_US_RANGE = tuple(int((t - dt.datetime(1970, 1, 1)).total_seconds()) * 1_000_000 for t in TIME_RANGE)


def parse_text_time(text: pl.Expr, fmt: str | None, zone: str | None, column: str) -> tuple[pl.Expr, pl.Expr | None]:
    """Trimmed text as naive UTC, and per value a TIME_NOTES code where a wall-clock time was adjusted (None when no
    time zone applies). `fmt`: None or ISO for ISO 8601 (offsets and a trailing UTC converted), an epoch unit, or a
    strftime format (with %z: the offset converted; ending in %Z: the zone in the value, see `zone_of`). Times
    without an offset or zone are wall-clock times in `zone`, or UTC without one. `column` names the values in
    messages."""
    if fmt in EPOCH_US:
        return from_epoch(text.cast(pl.Float64, strict=False), fmt), None
    if fmt is None or fmt == ISO:
        return _iso(text, zone)
    if fmt.rstrip().endswith("%Z"):
        return _zone_named(text, fmt, zone, column)
    if _OFFSET.search(fmt):
        parsed = text.str.to_datetime(fmt, strict=False, time_unit="us", time_zone="UTC")
        return parsed.dt.replace_time_zone(None), None
    naive = text.str.to_datetime(fmt, strict=False, time_unit="us")
    return localized(naive, zone) if zone else (naive, None)


def parse_typed_time(
    col: pl.Expr, dtype: pl.DataType, fmt: str | None, zone: str | None
) -> tuple[pl.Expr, pl.Expr | None] | None:
    """A typed (Parquet) column as naive UTC, with TIME_NOTES codes as `parse_text_time`: datetimes with a zone
    converted; naive datetimes and dates are wall-clock times in `zone` (UTC without one); numbers are epoch
    numbers with an epoch `fmt`, else null (unparseable: the reason says which epoch setting reads them). None for
    a type that cannot be a timestamp."""
    if isinstance(dtype, pl.Datetime) and dtype.time_zone:
        return _utc(col).cast(TIME), None
    if isinstance(dtype, pl.Datetime) or dtype == pl.Date:
        naive = col.cast(TIME)
        return localized(naive, zone) if zone else (naive, None)
    if dtype.is_numeric():
        return (from_epoch(col.cast(pl.Float64), fmt), None) if fmt in EPOCH_US else (pl.lit(None, TIME), None)
    return None


def epoch_hint(text: pl.Expr) -> pl.Expr:
    """For numbers that are not timestamps as written: the epoch unit their number of digits suggests (9–11 digits:
    seconds, 12–14: milliseconds, 15–17: microseconds since 1970), else null."""
    digits = text.str.extract(r"^\s*\+?(\d+)(?:\.\d*)?\s*$", 1).str.len_bytes()
    return (
        pl.when(digits.is_between(9, 11))
        .then(pl.lit("epoch_s"))
        .when(digits.is_between(12, 14))
        .then(pl.lit("epoch_ms"))
        .when(digits.is_between(15, 17))
        .then(pl.lit("epoch_us"))
    )


def from_epoch(number: pl.Expr, unit: str) -> pl.Expr:
    """Epoch numbers (`unit` of EPOCH_US) as naive UTC; NaN and infinities are null. A value beyond the contract's
    TIME_RANGE becomes its bound, so it is rejected or quarantined as out of range, never an impossible year."""
    us = number * EPOCH_US[unit]
    kept = pl.when(us.is_finite()).then(us.clip(*_EPOCH_US_RANGE).round(0))
    return pl.from_epoch(kept.cast(pl.Int64), time_unit="us")


def localized(naive: pl.Expr, zone: str) -> tuple[pl.Expr, pl.Expr]:
    """Wall-clock times in `zone` as naive UTC, and a TIME_NOTES code per value that is not exactly one instant.

    A time in a DST gap (clocks forward) does not exist: it takes the offset in force before the change, so it is
    shifted forward by the gap (02:30 becomes 03:30), as Python's zoneinfo reads it. A time in a DST overlap
    (clocks back) happens twice: the earlier instant, also the offset before the change. The offset before is
    read a day earlier (no zone changes its offset twice in a day)."""
    day = pl.duration(days=1)
    exact = _utc(naive.dt.replace_time_zone(zone, ambiguous="null", non_existent="null"))
    before = _utc((naive - day).dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")) + day
    after = _utc((naive + day).dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")) - day
    # In a gap the offset before is the smaller (read as UTC, the time comes later), in an overlap the larger.
    kind = pl.when(before > after).then(pl.lit(SHIFTED, pl.UInt8)).otherwise(pl.lit(EARLIER, pl.UInt8))
    note = pl.when(exact.is_null() & naive.is_not_null()).then(kind)
    return pl.coalesce(exact, before), note


def zone_of(token: str, zone: str | None) -> str | int | None:
    """What a zone written in a value means: an offset in minutes (UTC, GMT, an abbreviation with one meaning), an
    IANA zone name, or `zone` (the table's timezone) for other text; None when there is no telling."""
    if token.upper() in ABBREVIATIONS:
        return ABBREVIATIONS[token.upper()]
    if "/" in token and known_zone(token):
        return token
    return zone


def _utc(aware: pl.Expr) -> pl.Expr:
    return aware.dt.convert_time_zone("UTC").dt.replace_time_zone(None)


def _iso(text: pl.Expr, zone: str | None) -> tuple[pl.Expr, pl.Expr | None]:
    """ISO 8601 with a space or T, optional seconds and fraction, an optional offset or trailing UTC; or a date."""
    marked = text.str.ends_with("UTC")
    iso = pl.when(marked).then(text.str.head(-3).str.strip_chars_end()).otherwise(text)
    iso = iso.str.replace(" ", "T", literal=True, n=1)
    aware = pl.coalesce(
        *[
            iso.str.to_datetime(f, strict=False, time_unit="us", time_zone="UTC").dt.replace_time_zone(None)
            for f in _ISO_DATETIME_OFFSET
        ]
    )
    naive = pl.coalesce(
        *[iso.str.to_datetime(f, strict=False, time_unit="us") for f in _ISO_DATETIME],
        iso.str.to_date("%Y-%m-%d", strict=False).cast(TIME),
    )
    if zone is None:
        return pl.coalesce(aware, naive), None
    local, note = localized(naive, zone)
    wall = aware.is_null() & ~marked
    return pl.when(aware.is_not_null()).then(aware).when(marked).then(naive).otherwise(local), pl.when(wall).then(note)


def _zone_named(text: pl.Expr, fmt: str, zone: str | None, column: str) -> tuple[pl.Expr, pl.Expr]:
    """A format ending in %Z: the time is read with the rest of the format, the zone written after it by
    `zone_of`, distinct zone by distinct zone (a value without one is in `zone`, or UTC)."""
    stamp = text.str.replace(_ZONE, "").str.strip_chars_end()
    naive = stamp.str.to_datetime(fmt[: fmt.rindex("%Z")].rstrip(), strict=False, time_unit="us")
    parts = pl.struct(naive.alias("naive"), text.str.extract(_ZONE, 1).alias("zone"), text.alias("text"))
    read = parts.map_batches(
        partial(_by_zone, zone=zone, column=column),
        return_dtype=pl.Struct({"value": TIME, "note": pl.UInt8}),
    )
    return read.struct.field("value"), read.struct.field("note")


def _by_zone(parts: pl.Series, zone: str | None, column: str) -> pl.Series:
    frame = parts.struct.unnest()
    naive = pl.col("naive")
    value, note = localized(naive, zone) if zone else (naive, pl.lit(None, pl.UInt8))
    for token in frame["zone"].drop_nulls().unique().sort():
        meaning = zone_of(token, zone)
        if meaning is None:
            example = frame.filter(pl.col("zone") == token)["text"][0]
            raise SourceError(
                f"The times in column {column} name a time zone by an abbreviation with several meanings (or none), "
                "so Bellwether cannot tell which instant they are.",
                quote=f"Values such as {example!r} (zone {token!r}).",
                fix='Set the zone they are in as timezone = "<IANA name, e.g. America/Chicago>" in the mapping '
                "file's table section, or export the times with an offset (+02:00) or an IANA zone name.",
            )
        if isinstance(meaning, int):
            there, why = naive - pl.duration(minutes=meaning), pl.lit(None, pl.UInt8)
        else:
            there, why = localized(naive, meaning)
        matches = pl.col("zone") == token
        value, note = pl.when(matches).then(there).otherwise(value), pl.when(matches).then(why).otherwise(note)
    return frame.select(pl.struct(value.cast(TIME).alias("value"), note.cast(pl.UInt8).alias("note"))).to_series()
