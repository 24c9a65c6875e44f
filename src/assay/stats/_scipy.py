"""SciPy's distributions when first used. ``from scipy import stats`` takes most of a second (it
loads optimisers, sparse matrices, spatial trees), so the modules on a command's path (compare)
name them through :data:`sps`, imported on its first attribute access; the normal quantile and
tail and the chi-squared tail they call on every comparison are the :mod:`scipy.special`
functions scipy.stats computes them with (the same values), :data:`special` imported alike (a
few tenths of a second: ``assay compare`` imports it in the background while it reads)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

import numpy as np

__all__ = ["chi2_sf_1", "norm_ppf", "norm_sf", "special", "sps"]


class _Lazy:
    """A module imported when an attribute is first asked for."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(import_module(self._name), attribute)


sps: Any = _Lazy("scipy.stats")
special: Any = _Lazy("scipy.special")


def norm_ppf(q: Any) -> Any:
    """``scipy.stats.norm.ppf(q)``."""
    return special.ndtri(q)


def norm_sf(x: Any) -> Any:
    """``scipy.stats.norm.sf(x)``."""
    return special.ndtr(-np.asarray(x, dtype=float))


def chi2_sf_1(x: Any) -> Any:
    """``scipy.stats.chi2.sf(x, 1)``."""
    return special.chdtrc(1, x)
