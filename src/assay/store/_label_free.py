"""Label-free metrics of each multiple-choice run, written beside its samples' other metrics.

For every run with per-choice log-likelihoods (``choice_logprobs``: assay's multiple-choice
runs, lm-eval imports), the answer-distribution matrix of its samples gives the Matrix
Nuclear-Norm (L1,2 form and exact) and the Matrix Entropy (:mod:`assay.metrics`); each sample
gets its pseudo-value, so the mean over the run is the metric and compare, rank and the report
read it as any other per-sample metric. Written again after samples are added: the values of
a run depend on all of its samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from assay.errors import InputError
from assay.metrics import LABEL_FREE, choice_matrix, label_free_values

from ._schema import METRIC_COLUMNS
from ._store import Store
from ._writes import _registered

__all__ = ["add_label_free_metrics"]


def add_label_free_metrics(
    store: Store,
    model: str | Sequence[str] | None = None,
    task: str | Sequence[str] | None = None,
) -> dict[str, Any]:
    """Compute :data:`assay.metrics.LABEL_FREE` for every multiple-choice run of ``store``
    (optionally of ``model`` / ``task``) and store each sample's pseudo-value as its metric
    (replacing earlier ones). Returns ``{"runs": k, "samples": n, "values": [...]}`` with one
    ``{model, task, run_id, n, <metric>: value}`` per run."""
    where, params = store._where(model=model, task=task)
    clause = (where + " AND" if where else " WHERE") + " choice_logprobs IS NOT NULL"
    rows = store.sql(
        f'SELECT run_id, model, task, doc_id, "repeat", choice_logprobs FROM samples{clause} '
        'ORDER BY run_id, doc_id, "repeat"',
        params,
    )
    if rows.empty:
        raise InputError("no multiple-choice samples (with choice log-likelihoods) to score")
    frames, summary = [], []
    for run_id, run in rows.groupby("run_id", sort=True):  # one matrix per run
        a = choice_matrix(run["choice_logprobs"].tolist())
        values = {name: label_free_values(a, name) for name in LABEL_FREE}
        keys = run[["run_id", "doc_id", "repeat"]].reset_index(drop=True)
        for name, v in values.items():
            frames.append(keys.assign(metric=name, value=v))
        first = run.iloc[0]
        summary.append(
            {"model": first["model"], "task": first["task"], "run_id": run_id, "n": len(run)}
            | {name: float(np.mean(v)) for name, v in values.items()}
        )
    metrics = pd.concat(frames, ignore_index=True)

    def write(con) -> None:
        with _registered(con, metrics, METRIC_COLUMNS) as (new, run):
            run(f"INSERT OR REPLACE INTO sample_metrics {new}")

    store._in_transaction(None, write)
    return {"runs": len(summary), "samples": len(rows), "values": summary}
