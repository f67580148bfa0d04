"""A loaded source: every table's valid rows plus the validation report, read once and shared."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from queries.sources.files import TableFiles, locate_tables, source_signature
from queries.sources.mapping import Mapping, load_mapping
from queries.sources.validation import TableReport, read_table


@dataclass(frozen=True)
class Dataset:
    """Valid rows of each table the source provides, in contract schema, and how they were read."""

    source: str
    mapping_file: str | None
    signature: str
    tables: dict[str, pl.DataFrame]
    reports: dict[str, TableReport]

    def table(self, name: str) -> pl.DataFrame | None:
        """The table's valid rows, or None when the source does not provide it."""
        return self.tables.get(name)

    def has(self, table: str, *fields: str) -> bool:
        """True when the table is present and every named field was provided by the source."""
        report = self.reports.get(table)
        return report is not None and report.provides(*fields)


def describe_source(source: str | Path, mapping_file: str | Path | None = None) -> str:
    """The signature of a source: a short hash that changes whenever any of its files changes."""
    mapping = load_mapping(mapping_file)
    return source_signature(locate_tables(source, mapping), mapping.file)


def read_tables(
    files: dict[str, TableFiles], mapping: Mapping, skip: tuple[str, ...] = ()
) -> tuple[dict[str, pl.DataFrame], dict[str, TableReport]]:
    """Read and validate every located table except those in `skip`: valid rows and reports by table name."""
    tables: dict[str, pl.DataFrame] = {}
    reports: dict[str, TableReport] = {}
    for name, table_files in files.items():
        if name not in skip:
            tables[name], reports[name] = read_table(table_files, mapping.table(name))
    return tables, reports


def load_dataset(source: str | Path, mapping_file: str | Path | None = None) -> Dataset:
    """Locate, read and validate every table of a source. Raises SourceError with the fix."""
    mapping = load_mapping(mapping_file)
    files = locate_tables(source, mapping)
    tables, reports = read_tables(files, mapping)
    return Dataset(
        source=str(source),
        mapping_file=str(mapping_file) if mapping_file else None,
        signature=source_signature(files, mapping.file),
        tables=tables,
        reports=reports,
    )
