"""The inference cost model lives in :mod:`assay.core` (``stats`` reads it from stored runs
too); the runner keeps its old import path."""

from assay.core import CostFit, fit_cost

__all__ = ["CostFit", "fit_cost"]
