"""Extracts too large to hold in memory: tickets as daily rollups, the small tables read whole.

Every page runs on it (but the parts of pages that say they need ticket rows), in milliseconds at tens of millions
of tickets; its engine is `queries.engines.rollups.engine.RollupsEngine`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from queries.contract import TICKETS
from queries.engines.rollups.build import build_rollups
from queries.engines.rollups.storage import EXACT_ROWS_LIMIT, RecentAnswers, Rollups
from queries.progress import Progress
from queries.sources.dataset import read_tables
from queries.sources.files import TableFiles, locate_tables, source_signature
from queries.sources.mapping import load_mapping
from queries.sources.scan import parquet_footer
from queries.sources.validation import MAX_UNKNOWN_VALUES, Quarantine, Rejection, TableReport, UnknownValues

PERCENTILES_NOT_KEPT = (
    "large extracts keep duration histograms by day and by one dimension; percentiles filtered on two or more "
    f"dimensions are computed from ticket rows only up to {EXACT_ROWS_LIMIT:,} rows. Filter on one dimension "
    "or shorten the period."
)
CSV_BYTES_PER_ROW = 120  # rough size of a ticket row in CSV, to judge a CSV source's size without reading it


@dataclass(frozen=True, eq=False)
class RolledUpSource:
    """A source whose tickets are served from rollups; the other (small) tables are held whole."""

    source: str
    mapping_file: str | None
    signature: str
    rollups: Rollups
    tables: dict[str, pl.DataFrame]  # every table except tickets, valid rows in contract schema
    reports: dict[str, TableReport]  # every table, tickets included
    answers: RecentAnswers = field(default_factory=RecentAnswers, repr=False)  # the engine's recent summaries

    def has(self, table: str, *fields: str) -> bool:
        """True when the table is present and every named field was provided by the source (as Dataset.has)."""
        report = self.reports.get(table)
        return report is not None and report.provides(*fields)

    def created_range(self) -> tuple[dt.date, dt.date] | None:
        """First and last day with valid tickets in the rollups, up to the newest created_at that is not in the
        future (as the rows engine's created_range)."""
        first, latest = self.rollups.first_day(), self.rollups.latest_created
        return None if first is None or latest is None else (first, latest.date())

    def distinct_values(self, table: str, column: str) -> list[str]:
        """Sorted distinct values of a rolled-up ticket dimension (`table` is always tickets)."""
        return self.rollups.values(column)


def ticket_rows(source: str | Path, mapping_file: str | Path | None = None) -> int:
    """How many ticket rows the source's files hold: exact for Parquet (file footers), estimated for CSV."""
    files = locate_tables(source, load_mapping(mapping_file))["tickets"]
    if files.format == "parquet":
        return sum(parquet_footer(files, path).num_rows for path in files.paths)
    return sum(path.stat().st_size for path in files.paths) // CSV_BYTES_PER_ROW


def open_rolled_up(
    source: str | Path, mapping_file: str | Path | None = None, progress: Progress | None = None
) -> RolledUpSource:
    """Build or reuse the source's ticket rollups and read its other tables. Raises SourceError with the fix.
    `progress(share_done, step)` hears of each batch a build aggregates."""
    mapping = load_mapping(mapping_file)
    files = locate_tables(source, mapping)
    tables, reports = read_tables(files, mapping, skip=("tickets",))
    reviews = tables.get("qa_reviews")
    rollups, _ = build_rollups(
        source, mapping_file, reviewed=None if reviews is None else reviews["ticket_id"], progress=progress
    )
    return RolledUpSource(
        source=str(source),
        mapping_file=str(mapping_file) if mapping_file else None,
        signature=hashlib.sha256(
            f"rollups|{source_signature(files, mapping.file)}|{rollups.signature}".encode()
        ).hexdigest()[:16],
        rollups=rollups,
        tables=tables,
        reports={"tickets": _tickets_report(files["tickets"], rollups, mapping.table("tickets").timezone), **reports},
    )


def _tickets_report(files: TableFiles, r: Rollups, timezone: str | None) -> TableReport:
    """The tickets' validation counts as the rollup build kept them (reasons and counts, no row examples), with
    the unknown values to map and how the columns were taken, as the loader reports them."""
    rejections = tuple(
        Rejection(reason, rows, ()) for reason, rows in sorted(r.rejections.items(), key=lambda kv: -kv[1])
    )
    quarantined, adjusted = (
        tuple(Quarantine(f, reason, rows, ()) for (f, reason), rows in sorted(counts.items(), key=lambda kv: -kv[1]))
        for counts in (r.quarantined, r.adjusted)
    )
    return TableReport(
        table="tickets",
        location=files.label,
        rows_read=r.rows + r.rejected_rows,
        rows_loaded=r.rows,
        rows_superseded=0,
        rejections=rejections,
        missing_fields=r.missing_fields,
        ignored_columns=r.ignored_columns,
        latest=r.latest_created,
        rows_in_future=r.rows_in_future,
        as_of=r.as_of,
        quarantined=quarantined,
        adjusted=adjusted,
        unknown_values=_unknown_values(r),
        timezone=timezone,
        taken_by_name=r.taken_by_name,
    )


def _unknown_values(r: Rollups) -> tuple[UnknownValues, ...]:
    """Per field with fixed values (in contract order), its unknown values, most rows first (as the loader's)."""
    out = []
    for spec in TICKETS.fields:
        counts = sorted(((-n, v) for (f, v), n in r.unknown.items() if f == spec.name))
        if counts:
            values = tuple((v, -n) for n, v in counts[:MAX_UNKNOWN_VALUES])
            out.append(UnknownValues(spec.name, spec.values or (), values))
    return tuple(out)
