"""Every metric, from any source: `summarize` asks the source's engine and returns one frame shape.

Every metric returns a DataFrame with the group columns (and `period` when asked), then its named
measures (`queries.definitions.METRICS`). The engines (`queries.engines`) compute them; this module is
the door callers use, so that no caller needs to know which engine answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from queries.calc import complete_periods
from queries.definitions import METRICS
from queries.engines import Source, engine_for
from queries.filters import Filters
from queries.sla import SlaPolicy


def summarize(
    ds: Source,
    metric: str,
    filters: Filters,
    by: Sequence[str] = (),
    period: str | None = None,
    *,
    sla_policy: SlaPolicy | None = None,
) -> pl.DataFrame:
    """Compute one metric for the filters, grouped by `by` columns and optionally by period.

    With a period, every period from the filters' start to end is there for every group the answer has
    (`queries.calc.every_period`), whichever engine answered. Raises ValueError naming what is missing when
    the source's engine does not answer the metric, or that grouping, at all (e.g. QA accuracy from rollups).
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
    engine = engine_for(ds)
    refused = engine.refusal(metric, by)
    if refused:
        raise ValueError(refused)
    out = engine.summarize(metric, filters, list(by), period, sla_policy)
    return complete_periods(out, metric, filters, by, period)


def missing_inputs(ds: Source, metric: str, by: Sequence[str] = ()) -> str | None:
    """None when the source can compute the metric grouped by `by`, else what is missing (a table, a field, ticket
    rows, a grouping it does not keep)."""
    return engine_for(ds).can(metric, by)


def data_as_of(ds: Source) -> dt.datetime:
    """The data's "now": its newest ticket timestamp that is not in the future (the clock's now without any)."""
    return engine_for(ds).as_of()
