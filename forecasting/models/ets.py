"""Damped-trend ETS with weekly seasonality (statsmodels `ETSModel`)."""

from __future__ import annotations

from functools import cache
from typing import ClassVar

import numpy as np

from forecasting.models.base import Bands, Fill, Forecaster, GaussianForecaster, Transform
from forecasting.models.baselines import SeasonalNaive


class DampedETS(GaussianForecaster):
    """Additive-error, damped additive trend, additive weekly seasonality ETS (statsmodels `ETSModel`).

    Fitted by maximum likelihood on `log1p(y)` (default) or on `y`, on the open days: the season
    is the week, `season_` open days long. Intervals are the model's exact analytic prediction
    intervals (`get_prediction(...).summary_frame(alpha=...)`), mapped back to counts (see the
    package notes) and checked against the data's range (`GaussianForecaster`).
    """

    name: ClassVar[str] = "ets"
    fallback_class = SeasonalNaive

    def __init__(
        self,
        series: str = "total",
        *,
        transform: Transform = "log1p",
        bias_adjust: bool = True,
        fill: Fill = "zero",
    ):
        super().__init__(series, transform=transform, bias_adjust=bias_adjust, fill=fill)

    def _fit(self, y: np.ndarray) -> None:
        self._keep(self._model(y).fit(disp=False))

    def _refilter(self, y: np.ndarray, fitted: Forecaster) -> None:
        self._keep(self._model(y).smooth(fitted.result_.params))

    def _model(self, y: np.ndarray):
        """The unfitted statsmodels model of `y` on the model scale."""
        import pandas as pd

        if len(y) < 2 * self.season_ + 2:
            raise ValueError("too short for ETS")
        z = self._model_scale(y)
        return _point_ets_model()(
            pd.Series(z, index=pd.RangeIndex(len(z))),
            error="add",
            trend="add",
            damped_trend=True,
            seasonal="add",
            seasonal_periods=self.season_,
            initialization_method="heuristic",
        )

    def _keep(self, result) -> None:
        """Keep a fitted or re-filtered result; non-finite estimates count as a failed estimation."""
        self.result_ = result
        if not np.isfinite(result.mse) or not np.all(np.isfinite(result.params)):
            raise ValueError("non-finite ETS estimates")
        self.params_: np.ndarray = np.asarray(result.params)

    def _predict(self, steps: int) -> Bands:
        n = self.n_obs_
        prediction = self.result_.get_prediction(start=n, end=n + steps - 1)
        # Gaussian on the model scale with the exact variance summary_frame's intervals use: the intervals and the
        # bias adjustment come from it.
        mu = np.asarray(prediction.predicted_mean, dtype=float)
        var = np.asarray(prediction.var_pred_mean, dtype=float)
        return self._gaussian_bands(mu, var)


@cache
def _point_ets_model() -> type:
    """statsmodels' `ETSModel` whose results skip the parameter covariance.

    `ETSResults` computes the covariance of the estimates (a numerical Hessian: about 85 % of a
    re-filter's time, 10 ms per call) as soon as it is built. Nothing here reads it: the
    prediction intervals come from the parameters and the residual variance only. So the results
    class (the `_res_classes` hook every fit and smooth goes through) reports NaN instead, and the
    fitted values and forecasts are unchanged. Built on first use: statsmodels loads lazily.
    """
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel, ETSResults, ETSResultsWrapper

    class PointETSResults(ETSResults):
        @property
        def cov_params_approx(self) -> np.ndarray:
            return np.full((len(self.params), len(self.params)), np.nan)

    class PointETSModel(ETSModel):
        @property
        def _res_classes(self):
            return {"fit": (PointETSResults, ETSResultsWrapper)}

    return PointETSModel
