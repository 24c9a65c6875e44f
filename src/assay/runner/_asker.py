"""``QuestionAsker``: a model answering chosen questions of one task on demand, each answer
stored as a plain run's sample (the runner side of adaptive testing, ``assay eval --adaptive``;
the choice of questions is the caller's)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assay.errors import InputError
from assay.store import Store, default_store_path, open_store

from ._evaluate import EvalResult, _resolve_tasks, evaluate
from ._sequential import _Subset
from ._spec import RunSpec

__all__ = ["QuestionAsker"]


class QuestionAsker:
    """``asker(doc_ids)`` has ``model`` answer those documents of ``task`` (through
    :func:`evaluate`: stored, resumed, same run ids as a plain run) and returns their
    ``metric`` values (repeats averaged), in order. ``metric`` None: the stored headline.
    ``asked`` lists every document asked so far, ``new_samples`` counts what was computed."""

    def __init__(
        self,
        model: Any,
        task: Any,
        *,
        store: Store | str | Path | None = None,
        metric: str | None = None,
        data_roots: Sequence[str | Path] = (),
        **options: Any,
    ):
        RunSpec.of(options).check_options()  # a bad seed, ...: one line before any work
        tasks = _resolve_tasks(task, data_roots)
        if len(tasks) != 1:
            raise InputError(f"adaptive testing needs exactly one task, got {len(tasks)}")
        self.task = tasks[0]
        self.model = model
        self.metric = metric
        self.store_path = (
            store.path if isinstance(store, Store) else Path(store or default_store_path())
        )
        self.options = {**options, "data_roots": data_roots, "progress": False}
        self.asked: list[str] = []
        self.new_samples = 0
        self.result: EvalResult | None = None
        self._cache: dict = {}
        known = {str(i.doc_id) for i in self.task.instances(**_instance_options(options))}
        self.doc_ids = known

    def __call__(self, doc_ids: Sequence[str]) -> np.ndarray:
        wanted = [str(d) for d in doc_ids]
        missing = [d for d in wanted if d not in self.doc_ids]
        if missing:
            raise InputError(f"task {self.task.name} has no document {missing[0]!r}")
        view = _Subset(self.task, set(wanted), self._cache)
        result = evaluate(self.model, view, store=self.store_path, **self.options)
        self.result = result
        self.new_samples += result.new_samples
        self.asked.extend(wanted)
        ev = open_store(self.store_path).evidence(model=result.model, task=self.task.name)
        run_ids = {rid for ids in result.run_ids.values() for rid in ids}
        scores = ev.scores[ev.scores["run_id"].isin(run_ids)]
        if self.metric is None:
            self.metric = ev.headline(sorted(scores["metric"].unique()))
        rows = scores[(scores["metric"] == self.metric) & scores["doc_id"].isin(wanted)]
        values = rows.groupby("doc_id")["value"].mean().reindex(wanted)
        if values.isna().any():
            raise InputError(
                f"{result.model}: no {self.metric} score for {values[values.isna()].index[0]!r}"
            )
        return values.to_numpy(dtype=float)


def _instance_options(options: dict[str, Any]) -> dict[str, Any]:
    keys = ("num_fewshot", "seed", "repeats", "permute_choices")
    return {k: options[k] for k in keys if k in options}
