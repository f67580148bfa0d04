"""The models by name, the fallback rule the model chooser applies, and readable labels."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np

from forecasting.models.base import Forecaster, fallback_reason
from forecasting.models.baselines import RecentMean, SeasonalNaive
from forecasting.models.calendar_regression import CalendarRegression
from forecasting.models.ets import DampedETS

MODELS: dict[str, Callable[..., Forecaster]] = {
    "seasonal_naive": SeasonalNaive,
    "ets": DampedETS,
    "seasonal_regression": CalendarRegression,
    "recent_mean": RecentMean,
}
"""Model constructors by name. `seasonal_naive` is the baseline every backtest compares with;
`recent_mean` is the fallback for sparse counts (see `fallback_reason`)."""

FALLBACK_FOR_SPARSE = "recent_mean"
FALLBACK_FOR_SHORT = "seasonal_naive"


def fallback_model(y: np.ndarray, season: int = 7) -> tuple[str, str] | None:
    """(model name, note) when the fallback rule applies to the daily array `y`, else None."""
    reason = fallback_reason(y, season)
    if reason is None:
        return None
    sparse = len(y) >= 2 * season
    return (FALLBACK_FOR_SPARSE if sparse else FALLBACK_FOR_SHORT), reason


def make_model(name: str, series: str = "total", **options) -> Forecaster:
    """Construct a registered model, passing only the options its constructor accepts.

    Lets callers hand one option dict (e.g. `events`, `fill`) to every candidate.
    """
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; choose from {sorted(MODELS)}")
    factory = MODELS[name]
    accepted = inspect.signature(factory).parameters
    return factory(series, **{k: v for k, v in options.items() if k in accepted})
