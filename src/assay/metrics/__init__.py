"""Metrics from the wider evaluation literature, as vectorised functions.

Equations (:func:`tree_edit_distance`, SRSD's normalised tree edit distance); time-series
anomaly detection (:func:`pate`, proximity-aware PR-AUC, beside :func:`point_adjusted_f1`);
label-free (:func:`matrix_nuclear_norm`, :func:`matrix_entropy` of a model's answer
distributions, with per-sample pseudo-values from :func:`label_free_values`). Each metric is
declared in the one registry (:data:`assay.core.BUILTIN_METRICS`) with its direction and bounds;
this part computes the values, and :data:`COMPUTED` names the per-sample ones assay computes
from other fields (``assay import samples --metric NAME``, a task file's ``metrics:``). It
imports nothing from assay but ``core`` and ``errors``.
"""

from ._anomaly import anomaly_intervals, pate, point_adjusted_f1
from ._computed import COMPUTED, Computed, compute_metric
from ._equations import equation_tree_size, tree_edit_distance
from ._labelfree import choice_matrix, label_free_values, matrix_entropy, matrix_nuclear_norm

#: The label-free metrics, as stored per sample (``assay.store.add_label_free_metrics``).
LABEL_FREE = ("matrix_nuclear_norm", "matrix_nuclear_norm_exact", "matrix_entropy")

__all__ = [
    "COMPUTED",
    "LABEL_FREE",
    "choice_matrix",
    "label_free_values",
    "matrix_entropy",
    "matrix_nuclear_norm",
    "anomaly_intervals",
    "pate",
    "point_adjusted_f1",
    "Computed",
    "compute_metric",
    "equation_tree_size",
    "tree_edit_distance",
]
