"""The contract is one source of truth: docs are generated from it and tables are consistent."""

from __future__ import annotations

from pathlib import Path

from queries.analyses.overview import KPI_TILES
from queries.contract import ORDER_RULES, TABLES, contract_markdown
from queries.definitions import METRICS
from queries.docs import metrics_markdown

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_docs_are_generated_from_the_code():
    assert (DOCS / "data-contract.md").read_text(encoding="utf-8") == contract_markdown(), "run: python -m queries docs"
    assert (DOCS / "metrics.md").read_text(encoding="utf-8") == metrics_markdown(), "run: python -m queries docs"


def test_every_table_is_consistent():
    for table in TABLES.values():
        assert len(set(table.names)) == len(table.names), table.name
        assert set(table.unique_key) <= set(table.names)
        assert set(table.required) <= set(table.names)
        for f in table.fields:
            assert f.name.islower() and " " not in f.name
            assert f.description.endswith("."), f.name
    for table, later, earlier, _ in ORDER_RULES:
        assert later in TABLES[table].names and earlier in TABLES[table].names
    assert TABLES["tickets"].required == ["ticket_id", "created_at"]


def test_every_metric_names_what_it_needs_and_tiles_use_real_measures():
    for metric in METRICS.values():
        for table, fields in metric.needs:
            assert set(fields) <= set(TABLES[table].names), metric.name
    for _, metric, measure, *_ in KPI_TILES:
        assert measure in METRICS[metric].fields
