"""History for forecasting: daily ticket counts per group, from the validated tickets."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from queries.any_source import Source, created_days
from queries.filters import Filters
from queries.metrics import summarize


def ticket_series(ds: Source, by: Sequence[str] = (), filters: Filters | None = None) -> pl.DataFrame:
    """Tickets created per day (`ds`, `y`) per group of `by`, over all data or the filters' period.

    Days without tickets are absent here; the forecasters fill them with zeros.
    """
    if filters is None:
        filters = Filters(*created_days(ds))
    daily = summarize(ds, "volume", filters, by=list(by), period="day")
    return daily.rename({"period": "ds"}).with_columns(pl.col("tickets").cast(pl.Float64).alias("y")).drop("tickets")
