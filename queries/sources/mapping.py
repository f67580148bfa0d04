"""Mapping files: how a user's extracts map onto the data contract (TOML, one section per table)."""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from queries.contract import TABLES, Kind
from queries.errors import SourceError

_TABLE_KEYS = {
    "path",
    "format",
    "datetime_format",
    "date_format",
    "null_values",
    "separator",
    "encoding",
    "dedupe_by",
    "columns",
    "values",
    "timezone",  # IANA name: times without an offset are wall-clock times there
    "datetime_formats",  # field -> format, "iso" or an epoch unit; wins over datetime_format
    "dimensions",  # tickets only: your own dimensions, name -> column, to filter and group by
    "table",  # warehouse sources only: the table (or view) name, "schema.name" or "name"
}
_TEXT_KEYS = (
    "path",
    "format",
    "datetime_format",
    "date_format",
    "separator",
    "encoding",
    "dedupe_by",
    "table",
    "timezone",
)
FORMATS = ("csv", "parquet")
_DIMENSION_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_RESERVED = {"period", "day", "start", "end", "src", "page", "extra"}  # URL parameters and result columns


def dimension_name(text: str) -> str:
    """A name [tickets.dimensions] accepts, made from a column's name ("Supervisor District" -> supervisor_district)."""
    name = re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")[:36] or "column"
    name = name if name[0].isalpha() else f"d_{name}"
    return f"my_{name}" if name in TABLES["tickets"].names or name in _RESERVED else name


ISO = "iso"  # a per-field format: the default ISO 8601 parsing, whatever datetime_format says
EPOCH_US = {"epoch_s": 1_000_000, "epoch_ms": 1_000, "epoch_us": 1}  # epoch units: microseconds per unit
# Characters that show as nothing: soft hyphen, zero-width space/joiners, direction marks, word joiner, BOM.
_INVISIBLE = "[\u00ad\u200b-\u200f\u2060\ufeff]"
# One strftime directive as Polars (chrono) parses it: optional padding flag, then the specifier; fractional
# seconds (%f, %.f, %.3f, %3f …) and offsets (%z, %:z, %::z, %:::z, %#z) have their own forms.
_DIRECTIVE = re.compile(r"%(?:[-_0]?[YCymbBhdeaAwuUWGgVjDxFvHkIlPpMSfZstnRTXrc+%]|\.?[369]?f|:{1,3}z|#z|z)")


@dataclass(frozen=True)
class TableMapping:
    """How one contract table is read: where, in which format, with which column names."""

    path: str | None = None
    format: str | None = None
    datetime_format: str | None = None
    date_format: str | None = None
    null_values: tuple[str, ...] = ()
    separator: str = ","
    encoding: str = "utf8"
    dedupe_by: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # contract field -> source column
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # field -> {source value: contract value}
    table: str | None = None  # warehouse table or view, "schema.name" or "name"; None = the contract table name
    timezone: str | None = None  # IANA name of the wall-clock time of values without an offset; None = UTC
    datetime_formats: dict[str, str] = field(default_factory=dict)  # timestamp field -> format (wins over the table's)
    joined: dict[str, tuple[str, str]] = field(default_factory=dict)  # timestamp field -> (date column, time column)
    dimensions: dict[str, str] = field(default_factory=dict)  # your own dimension name -> source column (tickets)

    def time_format(self, name: str) -> str | None:
        """The format a timestamp field is read with: its own, else the table's; None (or ISO) is ISO 8601."""
        return self.datetime_formats.get(name, self.datetime_format)

    @property
    def reads_times(self) -> bool:
        """True when the mapping says how timestamps are written (time zone, formats or columns to join)."""
        return bool(self.timezone or self.datetime_formats or self.joined or self.datetime_format)


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping file; `file` is None for the implicit mapping of a plain directory."""

    tables: dict[str, TableMapping]
    file: Path | None = None

    def table(self, name: str) -> TableMapping:
        return self.tables.get(name, TableMapping())


def load_mapping(path: str | Path | None) -> Mapping:
    """Read and check a mapping file; None gives the empty mapping (contract names as they are)."""
    if path is None:
        return Mapping(tables={})
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"Mapping file {path} does not exist.", fix="Check the --mapping path.")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(
            f"Mapping file {path} is not valid TOML: {exc}.",
            fix="Fix the syntax at that line; see the mapping example in README.md.",
        ) from None
    return Mapping(tables={name: _table_mapping(path, name, body) for name, body in raw.items()}, file=path)


def _table_mapping(path: Path, name: str, body: Any) -> TableMapping:
    if name not in TABLES:
        raise SourceError(
            f"Mapping file {path} has a section [{name}], which is not a Bellwether table.",
            fix=f"Use one of: {', '.join(TABLES)}{_did_you_mean(name, TABLES)}.",
        )
    if not isinstance(body, dict):
        raise SourceError(f"Mapping file {path}: [{name}] must be a table of settings.", fix=f"Write it as [{name}].")
    unknown = sorted(set(body) - _TABLE_KEYS)
    if unknown:
        raise SourceError(
            f"Mapping file {path}: [{name}] has unknown setting {unknown[0]!r}.",
            fix=f"Allowed settings: {', '.join(sorted(_TABLE_KEYS))}{_did_you_mean(unknown[0], _TABLE_KEYS)}.",
        )
    table = TABLES[name]
    where = f"Mapping file {path}: [{name}]"
    for key in _TEXT_KEYS:
        if key in body and not isinstance(body[key], str):
            raise SourceError(f"{where} {key} must be a string.", fix=f'Write it as {key} = "…".')
    columns, joined = _columns(body.get("columns", {}), name, where)
    datetime_formats = _string_table(body.get("datetime_formats", {}), f"{where}.datetime_formats")
    for contract_field, fmt in datetime_formats.items():
        _refuse_unless_timestamp(name, contract_field, f"{where}.datetime_formats")
        if fmt not in EPOCH_US and fmt != ISO and "%" not in fmt:
            raise SourceError(
                f"{where}.datetime_formats {contract_field} = {fmt!r} is neither a format nor an epoch unit.",
                fix='Use a strftime format such as "%d/%m/%Y %H:%M", "iso" (ISO 8601), or epoch numbers: '
                f"{', '.join(EPOCH_US)}{_did_you_mean(fmt, EPOCH_US)}.",
            )
        if fmt not in EPOCH_US and fmt != ISO:
            _check_time_format(fmt, f"{where}.datetime_formats {contract_field}")
    timezone = body.get("timezone")
    if timezone is not None and not known_zone(timezone):
        raise SourceError(
            f"{where} timezone = {timezone!r} is not a time zone{_did_you_mean(timezone, _zone_names())}.",
            fix='Use an IANA time zone name such as "America/Los_Angeles", "Europe/Berlin" or "UTC".',
        )
    dimensions = _dimensions(body.get("dimensions", {}), name, where)
    values_raw = body.get("values", {})
    if not isinstance(values_raw, dict):
        raise SourceError(f"{where}.values must be a table.", fix=f"Write [{name}.values.FIELD] sections.")
    values = {f: _string_table(v, f"{where}.values.{f}") for f, v in values_raw.items()}
    for f, value_map in values.items():
        allowed = table.field(f).values if f in table.names else None
        if allowed is None:
            raise SourceError(
                f"{where}.values.{f}: {f!r} is not a field with fixed values.",
                fix=f"Fields with fixed values: {', '.join(x.name for x in table.fields if x.values)}.",
            )
        bad = sorted(v for v in value_map.values() if v not in allowed)
        if bad:
            raise SourceError(f"{where}.values.{f} maps to {bad[0]!r}.", fix=f"Allowed values: {', '.join(allowed)}.")
        _refuse_keys_that_fold_together(value_map, f"{where}.values.{f}")
    fmt = body.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise SourceError(f"{where} format = {fmt!r} is not supported.", fix='Use format = "csv" or "parquet".')
    dedupe_by = body.get("dedupe_by")
    if dedupe_by is not None:
        if not table.unique_key:
            raise SourceError(f"{where} sets dedupe_by, but {name} has no unique key.", fix="Remove dedupe_by.")
        if dedupe_by not in table.names:
            raise SourceError(
                f"{where} dedupe_by = {dedupe_by!r} is not a field of {name}.",
                fix=f"Use a timestamp field such as updated_at{_did_you_mean(dedupe_by, table.names)}.",
            )
    null_values = body.get("null_values", [])
    if not isinstance(null_values, list) or not all(isinstance(v, str) for v in null_values):
        raise SourceError(f"{where} null_values must be a list of strings.", fix='Write null_values = ["NULL", "?"].')
    for key in ("datetime_format", "date_format"):
        if key in body:
            _check_time_format(body[key], f"{where} {key}")
    separator = body.get("separator", ",")
    if len(separator.encode("utf-8")) != 1:
        raise SourceError(
            f"{where} separator = {separator!r} must be one character of one byte (ASCII); "
            f"it is {len(separator.encode('utf-8'))} bytes in UTF-8, which the CSV reader cannot split on.",
            fix='Export the file with a one-byte separator such as ",", ";", "|" or a tab (separator = "\\t").',
        )
    encoding = body.get("encoding", "utf8")
    if encoding not in ("utf8", "utf8-lossy"):
        raise SourceError(
            f"{where} encoding = {encoding!r} is not supported.",
            fix='Use "utf8", or "utf8-lossy" to replace undecodable bytes; convert other encodings to UTF-8 first.',
        )
    return TableMapping(
        timezone=timezone,
        datetime_formats=datetime_formats,
        joined=joined,
        path=body.get("path"),
        format=fmt,
        datetime_format=body.get("datetime_format"),
        date_format=body.get("date_format"),
        null_values=tuple(null_values),
        separator=separator,
        encoding=encoding,
        dedupe_by=dedupe_by,
        columns=columns,
        values=values,
        table=body.get("table"),
        dimensions=dimensions,
    )


def _dimensions(value: Any, table: str, where: str) -> dict[str, str]:
    """[tickets.dimensions]: your own dimension name -> the column holding it (text, grouped and filtered by)."""
    if value and table != "tickets":
        raise SourceError(f"{where}.dimensions: only tickets take dimensions.", fix="Move them to [tickets.dimensions]")
    dimensions = _string_table(value, f"{where}.dimensions")
    for name in dimensions:
        if not _DIMENSION_NAME.fullmatch(name):
            raise SourceError(
                f"{where}.dimensions names {name!r}, which is not a simple name.",
                fix='Use lower-case letters, digits and _, starting with a letter: region = "Supervisor District".',
            )
        if name in TABLES["tickets"].names or name in _RESERVED:
            raise SourceError(
                f"{where}.dimensions names {name!r}, which is a field of tickets.",
                fix=f"Map it under [tickets.columns] instead, or give the dimension another name (e.g. my_{name}).",
            )
    return dimensions


def _folded(text: pl.Expr) -> pl.Expr:
    """A fixed value as it is matched: Unicode NFKC, invisible characters removed, trimmed, lower case."""
    return text.str.normalize("NFKC").str.replace_all(_INVISIBLE, "").str.strip_chars().str.to_lowercase()


def fold_values(values: Sequence[str] | pl.Series) -> pl.Series:
    """`_folded` applied to a few values (the allowed ones, a mapping's keys)."""
    return pl.select(_folded(pl.lit(pl.Series(values, dtype=pl.String)))).to_series()


def _refuse_keys_that_fold_together(value_map: dict[str, str], where: str) -> None:
    """Keys that match the same source values (they differ only by case, Unicode form or invisible characters)
    must map to the same contract value."""
    first: dict[str, str] = {}
    for key, fold in zip(value_map, fold_values(list(value_map)), strict=True):
        if fold in first and value_map[first[fold]] != value_map[key]:
            raise SourceError(
                f"{where} has keys {first[fold]!r} and {key!r}, which differ only by letter case, Unicode form or "
                f"invisible characters, so match the same values, but map them to {value_map[first[fold]]!r} and "
                f"{value_map[key]!r}.",
                fix="Keep one of the two keys.",
            )
        first.setdefault(fold, key)


def _check_time_format(fmt: str, where: str) -> None:
    """Every % of a datetime_format/date_format must start a directive the parser knows; %Z (a zone name) must
    end it, where Bellwether reads the zone itself."""
    position = fmt.find("%")
    while position >= 0:
        match = _DIRECTIVE.match(fmt, position)
        if match is None:
            bad = fmt[position : position + 2]
            raise SourceError(
                f"{where} = {fmt!r}: {bad!r} is not a date or time directive"
                + (" (a lone % at the end)." if bad == "%" else "."),
                fix='Use strftime directives such as "%d/%m/%Y %H:%M": %Y year, %m month, %d day, %H hour, '
                "%M minute, %S second, %.f fraction, %z offset, %Z zone name; write %% for a literal %.",
            )
        if match.group() == "%Z" and fmt[match.end() :].strip():
            raise SourceError(
                f"{where} = {fmt!r}: %Z (the zone name) must be at the end of the format.",
                fix='Put %Z last, e.g. "%Y-%m-%d %H:%M:%S %Z".',
            )
        position = fmt.find("%", match.end())


def _columns(value: Any, table: str, where: str) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """[TABLE.columns]: field -> column, or for a timestamp split over two columns field -> [date, time]."""
    if not isinstance(value, dict):
        raise SourceError(
            f"{where}.columns must map names to strings.", fix='Write lines like created_at = "opened_at".'
        )
    fields = TABLES[table].names
    columns: dict[str, str] = {}
    joined: dict[str, tuple[str, str]] = {}
    for contract_field, column in value.items():
        if contract_field not in fields:
            raise SourceError(
                f"{where}.columns maps {contract_field!r}, which is not a field of {table}.",
                fix=f"Fields of {table}: {', '.join(fields)}{_did_you_mean(contract_field, fields)}.",
            )
        if isinstance(column, str):
            columns[contract_field] = column
        elif isinstance(column, list) and all(isinstance(c, str) for c in column):
            _refuse_unless_timestamp(table, contract_field, f"{where}.columns")
            if len(column) != 2:
                raise SourceError(
                    f"{where}.columns {contract_field} lists {len(column)} columns; a split timestamp takes two "
                    "columns, its date and its time.",
                    fix=f'Write {contract_field} = ["date column", "time column"].',
                )
            joined[contract_field] = (column[0], column[1])
        else:
            raise SourceError(
                f"{where}.columns {contract_field} must be a column name, or a list of two for a split timestamp.",
                fix=f'Write {contract_field} = "your column" (or ["date column", "time column"]).',
            )
    return columns, joined


def _refuse_unless_timestamp(table: str, name: str, where: str) -> None:
    contract = TABLES[table]
    stamps = [f.name for f in contract.fields if f.kind == Kind.TIMESTAMP]
    if name not in contract.names or contract.field(name).kind != Kind.TIMESTAMP:
        raise SourceError(
            f"{where}: {name} is not a timestamp field of {table}.",
            fix=f"Timestamp fields of {table}: {', '.join(stamps)}{_did_you_mean(name, stamps)}."
            + (" Dates take date_format." if name in contract.names else ""),
        )


@functools.lru_cache(maxsize=256)
def known_zone(name: str) -> bool:
    """True for a time zone name the timestamp parser can convert from (IANA names, UTC)."""
    try:
        pl.select(pl.lit(dt.datetime(2000, 1, 1)).dt.replace_time_zone(name))
    except (pl.exceptions.PolarsError, ValueError):
        return False
    return True


@functools.cache
def _zone_names() -> tuple[str, ...]:
    import zoneinfo

    return tuple(sorted(zoneinfo.available_timezones()))


def _string_table(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise SourceError(f"{where} must map names to strings.", fix='Write lines like created_at = "opened_at".')
    return dict(value)


def _did_you_mean(word: str, options: Any) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
