"""Scanning a table's files as they are: the lazy scan (CSV as text, Parquet typed, hive partitions), its schema,
and the clear errors for files that cannot be read (empty, cut off, partition folders that disagree)."""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from queries.errors import SourceError
from queries.sources.files import TableFiles, quoted_path, shown_path
from queries.sources.mapping import TableMapping

FILE = "_file"  # per row: the file it was read from
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


def scan_files(files: TableFiles, spec: TableMapping) -> pl.LazyFrame:
    """A lazy scan of the table's files as they are (CSV as text), with the file name in `_file`."""
    paths = [str(p) for p in files.paths]
    for path in files.paths:
        _refuse_empty(files, path)
    if files.hive:
        _refuse_partition_conflicts(files)
    try:
        if files.format == "csv":
            return pl.scan_csv(
                paths,
                infer_schema=False,
                separator=spec.separator,
                encoding=spec.encoding,
                null_values=list(spec.null_values) or None,
                include_file_paths=FILE,
                glob=False,
            )
        return pl.scan_parquet(paths, hive_partitioning=files.hive, include_file_paths=FILE, glob=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise read_error(files, exc) from None


def parquet_footer(files: TableFiles, path: Path) -> pq.FileMetaData:
    """One Parquet file's footer (rows, columns); SourceError naming the file when it is empty, cut off or not
    Parquet at all."""
    _refuse_empty(files, path)
    try:
        return pq.read_metadata(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise read_error(replace(files, paths=(path,)), exc) from None


def _refuse_empty(files: TableFiles, path: Path) -> None:
    if path.stat().st_size == 0:
        raise SourceError(
            f"{shown_path(path)} ({files.table}) is an empty file.",
            quote=quoted_path(path),
            fix="Re-export the table; it has no header and no rows.",
        )


def _refuse_partition_conflicts(files: TableFiles) -> None:
    """A folder named key=value sets that column for its files; when a file holds the column too, both must
    agree on every row. Otherwise the folder name would win silently, and scoping users by vendor depends on it.

    Each version of a file (path, modification time, size) is checked once, against its own columns."""
    for path in files.paths:
        if not _partition_values(path):
            continue
        stat = path.stat()
        try:
            clash = _partition_clash(path, stat.st_mtime_ns, stat.st_size)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise read_error(replace(files, paths=(path,)), exc) from None
        if clash is not None:
            key, named, value = clash
            raise SourceError(
                f"A file of {files.table} lies in a {key}= partition folder, but the file has a {key!r} column with "
                f"other values: {shown_path(path)}. Bellwether will not guess which is right: the folder name "
                "would silently replace the column" + (", and users are scoped by vendor." if key == "vendor" else "."),
                quote=quoted_path(
                    path, f"The folder says {key}={_HIVE_NULL if named is None else named}, the file {value!r}."
                ),
                fix=f"Re-export so that the {key}= folders and the {key!r} column agree, or leave the {key!r} "
                "column out of the files (the folder names then give it).",
            )


@functools.lru_cache(maxsize=1 << 16)
def _partition_clash(path: Path, mtime_ns: int, size: int) -> tuple[str, str | None, object] | None:
    """The first (key, folder value, file value) where one file's own key column disagrees with its key=value
    folders; None when they agree or the file has no such column (one read per version of the file)."""
    folders = _partition_values(path)
    columns = pl.read_parquet_schema(path)
    keys = sorted(folders.keys() & set(columns))
    if not keys:
        return None
    scan = pl.scan_parquet(path, hive_partitioning=False, glob=False).select(keys)
    for key in keys:
        clash = scan.filter(pl.col(key).ne_missing(_as_type(pl.lit(folders[key], pl.String), columns[key])))
        rows = clash.select(key).head(1).collect()
        if rows.height:
            return key, folders[key], rows.item()
    return None


def _partition_values(path: Path) -> dict[str, str | None]:
    """The key=value folder names above a file, as the Parquet reader reads them (null for Hive's default)."""
    values: dict[str, str | None] = {}
    for part in path.parent.parts:
        key, sep, value = part.partition("=")
        if sep and key:
            values[key] = None if value == _HIVE_NULL else unquote(value)
    return values


def _as_type(text: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A folder's value in the type of the file's column, to compare them (null when it cannot be one)."""
    if dtype == pl.Date:
        return text.str.to_date(strict=False)
    if isinstance(dtype, pl.Datetime):
        return text.str.to_datetime(strict=False, time_unit=dtype.time_unit, time_zone=dtype.time_zone)
    return text if dtype == pl.String else text.cast(dtype, strict=False)


def table_schema(lf: pl.LazyFrame, files: TableFiles) -> pl.Schema:
    """The scan's columns and types; SourceError naming the files when they cannot be read."""
    try:
        return lf.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise read_error(files, exc) from None


def read_error(files: TableFiles, exc: Exception) -> SourceError:
    """A reader's failure as a SourceError naming the file (the one that cannot be read, when it is one)."""
    if files.format == "parquet" and len(files.paths) > 1:  # name the one file that cannot be read, if it is one
        for path in files.paths:
            try:
                pq.read_metadata(path)
            except (OSError, ValueError, pa.ArrowException) as bad:
                return read_error(replace(files, paths=(path,)), bad)
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    kind = "CSV (UTF-8)" if files.format == "csv" else "Parquet"
    return SourceError(
        f"Could not read {files.label} ({files.table}) as {kind}.",
        quote=files.quote(f"{detail}."),
        fix="Check that the file is complete and really is "
        + (
            'a UTF-8 CSV with one header row (set encoding = "utf8-lossy" or separator in the mapping if needed).'
            if files.format == "csv"
            else "a Parquet file (re-export it if it was cut off)."
        ),
    )
