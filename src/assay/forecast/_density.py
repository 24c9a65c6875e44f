"""Capacity density (Xiao et al. 2024, "Densing Law of LLMs").

A reference family's score-vs-size law gives each model an effective parameter count N_eff (the
size a reference model would need for the same score); density = N_eff / N. The trend
ln(density) = a + b·t (t in years) gives the doubling time ln 2 / b with a t-interval."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from assay.core import accepts_confidence, require_columns
from assay.errors import InputError

from ._sigmoid import Sigmoid, fit_sigmoid

__all__ = ["DensityResult", "capacity_density"]


@dataclass
class DensityResult:
    """Per-model effective parameters and density, and the density trend over release dates."""

    table: pd.DataFrame  # model, params, score, date, effective_params, density, in_range
    reference: Sigmoid  # score = reference(log N) on the reference family
    reference_family: str
    slope_per_year: float  # d ln(density) / dt
    slope_ci: tuple[float, float]
    doubling_months: float
    doubling_ci: tuple[float, float]
    pvalue: float
    n: int
    level: float
    date_column: str = "date"
    origin: pd.Timestamp | None = None  # t = 0 of the trend
    intercept: float = 0.0  # ln(density) at the origin

    def trend(self, dates: Any) -> np.ndarray:
        """Trend density at ``dates``: exp(intercept + slope·years since origin)."""
        years = np.asarray((pd.to_datetime(dates) - self.origin) / pd.Timedelta(days=365.25), float)
        return np.exp(self.intercept + self.slope_per_year * years)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference_family": self.reference_family,
            "reference": self.reference.__dict__,
            "slope_per_year": self.slope_per_year,
            "slope_ci": list(self.slope_ci),
            "doubling_months": self.doubling_months,
            "doubling_ci": list(self.doubling_ci),
            "pvalue": self.pvalue,
            "n": self.n,
            "level": self.level,
            "table": self.table.to_dict(orient="records"),
        }


@accepts_confidence("level")
def capacity_density(
    data: pd.DataFrame,
    reference_family: str,
    *,
    params: str = "params",
    score: str = "score",
    date: str = "date",
    family: str = "family",
    floor: float = 0.0,
    ceiling: float | None = 1.0,
    level: float = 0.95,
    include_reference: bool = False,
) -> DensityResult:
    """Effective parameters under ``reference_family``'s sigmoid law score = f(log N), density
    N_eff/N per model, and the doubling time of density over ``date``.

    The trend uses the other families' models (``include_reference`` adds the reference
    family, whose density is 1 by construction). Models whose score lies outside the reference law's open range (floor, ceiling) get no
    effective size (``in_range`` False) and stay out of the trend."""
    require_columns(data, [params, score, date, family])
    df = data.copy()
    df[params] = pd.to_numeric(df[params], errors="coerce")
    df[score] = pd.to_numeric(df[score], errors="coerce")
    df[date] = pd.to_datetime(df[date], errors="coerce", format="mixed")
    df = df.dropna(subset=[params, score])
    ref = df[df[family] == reference_family]
    need = 4 + (floor is None) + (ceiling is None)  # the sigmoid's parameters + 2
    if len(ref) < need:
        raise InputError(
            f"reference family {reference_family!r} needs at least {need} models (the sigmoid "
            f"law's {need - 2} parameters + 2); has {len(ref)}"
        )
    law = fit_sigmoid(
        np.log(ref[params].to_numpy(float)),
        ref[score].to_numpy(float),
        floor=floor,
        ceiling=ceiling,
    )
    y = df[score].to_numpy(float)
    margin = 1e-3 * (law.ceiling - law.floor)
    in_range = (y > law.floor + margin) & (y < law.ceiling - margin) & (law.slope > 0)
    eff = np.where(in_range, np.exp(law.inverse(y)), np.nan)
    out = df.assign(
        effective_params=eff, density=eff / df[params].to_numpy(float), in_range=in_range
    )
    in_trend = out["in_range"] & out[date].notna()
    if not include_reference:
        in_trend &= out[family] != reference_family
    trend = out[in_trend]
    if len(trend) < 4:
        raise InputError(
            "the density trend (2 parameters) needs at least 4 dated models inside the "
            f"reference law's range (parameters + 2); got {len(trend)}"
        )
    years = ((trend[date] - trend[date].min()) / pd.Timedelta(days=365.25)).to_numpy(float)
    res = stats.linregress(years, np.log(trend["density"].to_numpy(float)))
    tq = stats.t.ppf((1 + level) / 2, len(trend) - 2)
    lo, hi = res.slope - tq * res.stderr, res.slope + tq * res.stderr
    months = 12 * np.log(2) / res.slope if res.slope != 0 else np.inf
    # doubling interval: from the slope interval when it excludes 0 (else unbounded)
    dci = (
        (12 * np.log(2) / hi, 12 * np.log(2) / lo)
        if lo > 0
        else (12 * np.log(2) / hi if hi > 0 else np.nan, np.inf)
    )
    return DensityResult(
        out.reset_index(drop=True),
        law,
        reference_family,
        float(res.slope),
        (float(lo), float(hi)),
        float(months),
        (float(dci[0]), float(dci[1])),
        float(res.pvalue),
        len(trend),
        level,
        date,
        trend[date].min(),
        float(res.intercept),
    )
