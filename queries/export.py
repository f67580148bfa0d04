"""Exports people open in spreadsheets: CSV with formula injection neutralised."""

from __future__ import annotations

import polars as pl

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_csv(frame: pl.DataFrame) -> str:
    """CSV text in which no text cell can run as a spreadsheet formula (a leading ' is added to such cells)."""
    text = [name for name, dtype in frame.schema.items() if dtype in (pl.String, pl.Categorical)]
    guarded = []
    for name in text:
        cell = pl.col(name).cast(pl.String)
        risky = pl.any_horizontal([cell.str.starts_with(start) for start in FORMULA_STARTS])
        guarded.append(pl.when(risky).then(pl.lit("'") + cell).otherwise(cell).alias(name))
    return frame.with_columns(guarded).write_csv()
