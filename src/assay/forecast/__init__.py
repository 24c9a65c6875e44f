"""Forecasting: scaling-law fits, downstream prediction, emergence, density, trend checks and
backtests — every forecast with an interval and a backtested error."""

from ._backtest import (
    Backtest,
    backtest,
    backtest_downstream,
    backtest_score,
    baseline_errors,
    forecast_errors,
    naive_baselines,
    skill_against,
)
from ._bounded import SCORE_METHODS, ScoreFit, fit_score
from ._calibrate import Calibration, interval_score
from ._density import DensityResult, capacity_density
from ._downstream import DownstreamFit, calibrate_downstream, fit_downstream
from ._emergence import CodForecast, PassUntilFit, cod_forecast, pass_until
from ._family_out import LOFO_METHODS, FamilyBacktest, leave_family_out
from ._io import load_table, table_from_store
from ._laws import LAWS, LawFit, calibrate_law, fit_law
from ._observational import ObservationalFit, impute_low_rank, observational_scaling
from ._optimal import ComputeOptimal, compute_optimal
from ._plot import plot_forecast
from ._regions import learning_curve_regions
from ._sigmoid import Sigmoid, fit_sigmoid
from ._trends import LineFit, TrendResult, accuracy_on_the_line, detect_inverse_scaling

__all__ = [
    "LAWS",
    "LOFO_METHODS",
    "SCORE_METHODS",
    "Backtest",
    "Calibration",
    "CodForecast",
    "ComputeOptimal",
    "DensityResult",
    "DownstreamFit",
    "FamilyBacktest",
    "LawFit",
    "LineFit",
    "ObservationalFit",
    "PassUntilFit",
    "ScoreFit",
    "Sigmoid",
    "TrendResult",
    "accuracy_on_the_line",
    "backtest",
    "backtest_downstream",
    "backtest_score",
    "baseline_errors",
    "calibrate_downstream",
    "calibrate_law",
    "capacity_density",
    "cod_forecast",
    "compute_optimal",
    "detect_inverse_scaling",
    "fit_downstream",
    "fit_law",
    "fit_score",
    "fit_sigmoid",
    "forecast_errors",
    "impute_low_rank",
    "interval_score",
    "leave_family_out",
    "learning_curve_regions",
    "load_table",
    "naive_baselines",
    "observational_scaling",
    "pass_until",
    "plot_forecast",
    "skill_against",
    "table_from_store",
]
