"""Learning-curve regions of y = E + A·x^(-alpha) (Hestness et al. 2017): small-data (no better
than a best guess), power-law, and irreducible-floor regions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from assay.errors import InputError

from ._laws import LawFit

__all__ = ["learning_curve_regions"]


def learning_curve_regions(
    fit: LawFit, x: Any, *, best_guess: float | None = None, floor_tolerance: float = 0.05
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Label each x as ``small-data``, ``power-law`` or ``floor``.

    Small-data ends at x_s where the law equals ``best_guess`` (default: the largest fitted
    y, e.g. chance-level loss): x_s = (A / (best_guess - E))^(1/alpha). The floor begins at x_f
    where the reducible part is ``floor_tolerance`` of E: x_f = (A / (tol·E))^(1/alpha)."""
    if fit.law != "power":
        raise InputError("regions are defined for the power law with a floor")
    e, a, al = fit.params["E"], fit.params["A"], fit.params["alpha"]
    xs = np.atleast_1d(np.asarray(x, float))
    guess = float(np.exp(fit._problem.log_y.max())) if best_guess is None else best_guess
    x_small = (a / (guess - e)) ** (1 / al) if guess > e and al > 0 else 0.0
    x_floor = (a / (floor_tolerance * e)) ** (1 / al) if e > 0 and al > 0 else np.inf
    label = np.where(xs <= x_small, "small-data", np.where(xs >= x_floor, "floor", "power-law"))
    table = pd.DataFrame({"x": xs, "prediction": fit.curve(xs), "region": label})
    return table, {"small_data_end": float(x_small), "floor_start": float(x_floor)}
