"""Capacity density (Xiao et al. 2024, "Densing Law of LLMs").

A reference family's score-vs-size law gives each model an effective parameter count N_eff (the
size a reference model would need for the same score); density = N_eff / N. The trend
ln(density) = a + b·t (t in years) gives the doubling time ln 2 / b with a t-interval: when the
slope's interval lies below 0, density *halves* every ln 2 / |b| (the halving fields are set and
the doubling ones are NaN); when it includes 0, both times are unbounded above."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from assay.core import accepts_confidence, level_label, require_columns
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
    doubling_months: float  # NaN unless the slope is > 0
    doubling_ci: tuple[float, float]  # (NaN, NaN) when the slope's interval lies below 0
    pvalue: float
    n: int
    level: float
    date_column: str = "date"
    origin: pd.Timestamp | None = None  # t = 0 of the trend
    intercept: float = 0.0  # ln(density) at the origin
    halving_months: float = np.nan  # NaN unless the slope is < 0
    halving_ci: tuple[float, float] = (np.nan, np.nan)  # (NaN, NaN) when the interval is above 0
    dropped: dict[str, int] = field(default_factory=dict)  # rows left out, by reason

    @property
    def direction(self) -> str:
        """``doubles`` / ``halves`` when the slope's interval excludes 0, else ``unclear``."""
        lo, hi = self.slope_ci
        return "doubles" if lo > 0 else "halves" if hi < 0 else "unclear"

    def summary(self) -> str:
        """One line: the doubling (or halving) time and its interval, honest about an interval
        that includes no change."""
        lv = level_label(self.level)
        if self.direction == "doubles":
            lo, hi = self.doubling_ci
            return f"density doubles every {self.doubling_months:.1f} months ({lv} CI {lo:.1f}–{hi:.1f})"
        if self.direction == "halves":
            lo, hi = self.halving_ci
            return (
                f"density halves every {self.halving_months:.1f} months ({lv} CI {lo:.1f}–{hi:.1f})"
            )
        point = (
            f"doubles every {self.doubling_months:.1f} months"
            if self.slope_per_year > 0
            else f"halves every {self.halving_months:.1f} months"
            if self.slope_per_year < 0
            else "is flat"
        )
        return (
            f"density trend unclear: point estimate {point}, but the {lv} CI of the slope "
            f"({self.slope_ci[0]:.3g} to {self.slope_ci[1]:.3g} per year) includes 0, so the "
            f"time is unbounded (doubling every {self.doubling_ci[0]:.1f}+ months or halving "
            f"every {self.halving_ci[0]:.1f}+ months)"
        )

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
            "direction": self.direction,
            "doubling_months": self.doubling_months,
            "doubling_ci": list(self.doubling_ci),
            "halving_months": self.halving_months,
            "halving_ci": list(self.halving_ci),
            "interval": {"level": self.level, "method": "t-interval of the slope"},
            "pvalue": self.pvalue,
            "n": self.n,
            "level": self.level,
            "dropped": {"rows": sum(self.dropped.values()), "reasons": self.dropped},
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
    missing = int(df[[params, score]].isna().any(axis=1).sum())  # (text that is no number too)
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
    dci, hci = _times(lo, hi)
    inv = _times(res.slope, res.slope)
    return DensityResult(
        out.reset_index(drop=True),
        law,
        reference_family,
        float(res.slope),
        (float(lo), float(hi)),
        inv[0][0],
        dci,
        float(res.pvalue),
        len(trend),
        level,
        date,
        trend[date].min(),
        float(res.intercept),
        inv[1][0],
        hci,
        {"missing or NaN": missing} if missing else {},
    )


def _times(lo: float, hi: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """Doubling and halving time intervals (months) from the slope interval [lo, hi] per year:
    the doubling times are 12·ln2/b for b in [lo, hi] ∩ (0, ∞), the halving times 12·ln2/|b|
    for b in [lo, hi] ∩ (−∞, 0); inf when the interval reaches 0, NaN when it has no such b."""
    c = 12 * np.log(2)
    with np.errstate(divide="ignore"):
        dbl = (c / hi, c / lo if lo > 0 else np.inf) if hi > 0 else (np.nan, np.nan)
        hlv = (c / -lo, c / -hi if hi < 0 else np.inf) if lo < 0 else (np.nan, np.nan)
    return (float(dbl[0]), float(dbl[1])), (float(hlv[0]), float(hlv[1]))
