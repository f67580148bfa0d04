"""Printing result frames for the command lines: JSON records, CSV or a Markdown table."""

from __future__ import annotations

import polars as pl

FORMATS = ("json", "csv", "table")


def render(frame: pl.DataFrame, fmt: str, float_precision: int = 4) -> str:
    """The frame as JSON records (ISO dates, null for missing), CSV, or a Markdown table."""
    if fmt == "json":
        return frame.write_json()
    if fmt == "csv":
        return frame.write_csv().rstrip("\n")
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_hide_dataframe_shape=True,
        tbl_formatting="MARKDOWN",
        float_precision=float_precision,
    ):
        return str(frame)
