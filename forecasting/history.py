"""History for forecasting: daily ticket counts per group, from the validated tickets."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from queries.engines import Source, created_days
from queries.filters import Filters
from queries.metrics import summarize


def ticket_series(ds: Source, by: Sequence[str] = (), filters: Filters | None = None) -> pl.DataFrame:
    """Tickets created per day (`ds`, `y`) per group of `by`, over all data or the filters' period.

    Each series starts on its group's first day with tickets (a market or vendor that started late has no run
    of zeros before it, which would drag its forecast down); from there every day is present, with 0 on days
    without tickets (`summarize` gives every period). The models tell closed weekdays from these zeros (a
    weekday without tickets in any week, e.g. a Monday-to-Friday operation's weekends: see
    `forecasting.models.closed_weekdays`) and forecast on the open days only.
    """
    if filters is None:
        filters = Filters(*created_days(ds))
    daily = summarize(ds, "volume", filters, by=list(by), period="day")
    first = pl.col("period").filter(pl.col("tickets") > 0).min()
    started = daily.filter(pl.col("period") >= (first.over(by) if by else first))
    return started.rename({"period": "ds"}).with_columns(pl.col("tickets").cast(pl.Float64).alias("y")).drop("tickets")
