"""How a source named by a path or URL is served, the same in the dashboard and on the command line: a
warehouse through SQL, extracts of at least BELLWETHER_ROLLUP_ROWS tickets from rollups, smaller ones as rows."""

from __future__ import annotations

import os
from pathlib import Path

from queries.engines import Source
from queries.engines.rollups.source import open_rolled_up, ticket_rows
from queries.sources.dataset import load_dataset
from queries.sources.warehouse import connect_warehouse, is_database_url


def rollup_threshold_rows() -> int:
    """Extracts with at least this many tickets are served from rollups, not held in memory
    (BELLWETHER_ROLLUP_ROWS, default 2,000,000: held in memory, 2M tickets take about 3 GB and a filter change
    already costs near the 300 ms target; docs/performance.md)."""
    return int(os.environ.get("BELLWETHER_ROLLUP_ROWS", "2000000"))


def open_served(source: str | Path, mapping: str | Path | None = None) -> Source:
    """The source as the dashboard serves it: a warehouse, rollups from BELLWETHER_ROLLUP_ROWS tickets, or rows."""
    if is_database_url(str(source)):
        return connect_warehouse(str(source), mapping)
    if ticket_rows(source, mapping) >= rollup_threshold_rows():
        return open_rolled_up(source, mapping)
    return load_dataset(source, mapping)
