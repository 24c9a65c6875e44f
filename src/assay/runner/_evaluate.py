"""``evaluate``: run a model on tasks, write through to the store per batch, resume, summarise."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assay.models import ModelBackend
from assay.store import ModelInfo, RunInfo, Store, make_run_id, open_store
from assay.tasks._instance import Instance

from ._cost import CostFit, fit_cost
from ._progress import make_progress
from ._score import TaskLike, get_backend, score_instances

DEFAULT_CHUNK = 32
"""Instances per store write (and per timing row) when ``batch_size="auto"``."""


@dataclass
class EvalResult:
    """Outcome of :func:`evaluate`.

    ``table`` has one row per (task, metric): mean over documents (repeats averaged within a
    document first), its standard error ``stderr = sd(doc means) / sqrt(n)``, ``n`` documents
    and ``n_samples`` stored samples behind it.
    """

    model: str
    table: pd.DataFrame
    cost: CostFit | None
    run_ids: dict[str, list[str]] = field(default_factory=dict)
    new_samples: int = 0
    resumed_samples: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "results": self.table.to_dict(orient="records"),
            "cost_fit": self.cost.to_dict() if self.cost else None,
            "run_ids": self.run_ids,
            "new_samples": self.new_samples,
            "resumed_samples": self.resumed_samples,
            "seconds": self.seconds,
        }


@dataclass
class _Plan:
    """One run to do: its task, run row, all its instances and those not yet stored."""

    task: TaskLike
    run: RunInfo
    instances: list[Instance]
    todo: list[Instance]


def _resolve_tasks(tasks: Any) -> list[TaskLike]:
    if isinstance(tasks, str | os.PathLike) or hasattr(tasks, "score"):
        tasks = [tasks]
    out = []
    for t in tasks:
        if isinstance(t, str | os.PathLike):
            from assay.tasks import load_task

            t = load_task(str(t))
        out.append(t)
    return out


def _chunks(instances: list[Instance], size: int) -> list[list[Instance]]:
    """Chunks of similar prompt length (less padding), in a deterministic order."""
    order = sorted(instances, key=lambda i: (-len(i.prompt), str(i.doc_id), i.repeat))
    return [order[k : k + size] for k in range(0, len(order), size)]


def summarize(store: Store, keys: pd.DataFrame) -> pd.DataFrame:
    """Mean, stderr and n per (task, metric) over the stored samples named by ``keys``
    (columns run_id, doc_id, repeat). Repeats of a document are averaged first."""
    cols = ["model", "task", "metric", "mean", "stderr", "n", "n_samples"]
    if keys.empty:
        return pd.DataFrame(columns=cols)
    run_ids = sorted(keys["run_id"].unique())
    rows = store.sql(
        'SELECT s.model, s.task, m.run_id, m.doc_id, m."repeat", m.metric, m.value '
        'FROM sample_metrics m JOIN samples s USING (run_id, doc_id, "repeat") '
        f"WHERE m.run_id IN ({', '.join('?' * len(run_ids))})",
        run_ids,
    )
    rows = rows.merge(keys, on=["run_id", "doc_id", "repeat"], how="inner")
    if rows.empty:
        return pd.DataFrame(columns=cols)
    per_doc = rows.groupby(["model", "task", "metric", "doc_id"], as_index=False).agg(
        value=("value", "mean"), k=("value", "size")
    )
    grouped = per_doc.groupby(["model", "task", "metric"], as_index=False)
    table = grouped.agg(
        mean=("value", "mean"), sd=("value", "std"), n=("value", "size"), n_samples=("k", "sum")
    )
    table["stderr"] = table["sd"] / np.sqrt(table["n"])
    return table[cols]


def stored_cost_fit(store: Store, run_ids: Sequence[str], runtime: str) -> CostFit | None:
    """Refit the cost model from the batch ids and timings stored with the samples."""
    if not run_ids:
        return None
    df = store.sql(
        "SELECT json_extract_string(extra, '$.batch') AS batch, "
        "CAST(json_extract(extra, '$.batch_seconds') AS DOUBLE) AS seconds, "
        "input_tokens, output_tokens FROM samples "
        f"WHERE run_id IN ({', '.join('?' * len(run_ids))}) "
        "AND json_extract_string(extra, '$.runtime') = ?",
        [*run_ids, runtime],
    )
    if df.empty:
        return None
    batches = df.groupby("batch").agg(
        n=("seconds", "size"),
        prompt_tokens=("input_tokens", "sum"),
        output_tokens=("output_tokens", "sum"),
        seconds=("seconds", "first"),
    )
    return fit_cost(batches, runtime=runtime)


def evaluate(
    model: ModelBackend | str,
    tasks: Any,
    *,
    store: Store | str | Path | None = None,
    limit: int | None = None,
    num_fewshot: int | None = None,
    seed: int = 0,
    batch_size: int | str = "auto",
    repeats: int = 1,
    permute_choices: int = 0,
    progress: bool = True,
) -> EvalResult:
    """Evaluate ``model`` (backend or spec) on ``tasks`` (names, Task objects or a mix).

    Every chunk of scored samples is written to ``store`` in one transaction; a run's id hashes
    (model, task, version, fingerprint, template, few-shot, seed, repeats, orderings), so calling
    again with the same settings skips the stored ``(doc_id, repeat)`` keys and computes only
    what is missing. Returns the summary table and the inference cost fit.
    """
    started = time.perf_counter()
    if batch_size != "auto":
        batch_size = int(batch_size)
        if batch_size < 1:
            from assay.errors import InputError

            raise InputError(f"--batch-size must be 'auto' or a positive integer, got {batch_size}")
    backend = get_backend(
        model, **({} if isinstance(model, ModelBackend) else {"batch_size": batch_size})
    )
    if isinstance(model, ModelBackend) and batch_size != "auto" and hasattr(backend, "batch_size"):
        backend.batch_size = batch_size
    store = store if isinstance(store, Store) else open_store(store)
    task_objs = _resolve_tasks(tasks)
    info = getattr(backend, "info", {}) or {}
    store.upsert_models(
        [
            ModelInfo(
                model=backend.name,
                family=info.get("family"),
                params=info.get("params"),
                spec=backend.spec,
            )
        ]
    )
    chunk = DEFAULT_CHUNK if batch_size == "auto" else max(8, batch_size)

    plans: list[_Plan] = []
    for task in task_objs:
        instances = task.instances(
            limit=limit,
            num_fewshot=num_fewshot,
            seed=seed,
            repeats=repeats,
            permute_choices=permute_choices,
        )
        by_template: dict[str, list[Instance]] = {}
        for inst in instances:
            by_template.setdefault(inst.template_id, []).append(inst)
        settings = {
            "fingerprint": task.fingerprint(),
            "repeats": repeats,
            "permute_choices": permute_choices,
            "backend": backend.runtime.split(":")[0],
        }
        if info.get("dtype"):  # different numerics: a different run
            settings["dtype"] = info["dtype"]
        for template_id, insts in by_template.items():
            run = RunInfo(
                run_id=make_run_id(
                    backend.name,
                    task.name,
                    task_version=str(task.version),
                    template_id=template_id,
                    num_fewshot=num_fewshot,
                    fewshot_seed=seed,
                    settings=settings,
                ),
                model=backend.name,
                task=task.name,
                task_version=str(task.version),
                template_id=template_id,
                num_fewshot=num_fewshot,
                fewshot_seed=seed,
                settings=settings,
            )
            store.upsert_run(run)
            done = store.completed_keys(run.run_id)
            todo = [i for i in insts if (str(i.doc_id), int(i.repeat)) not in done]
            plans.append(_Plan(task, run, insts, todo))

    new = 0
    with make_progress(enabled=progress) as bar:
        bar_id = bar.add_task(backend.name, total=sum(len(p.todo) for p in plans))
        for plan in plans:
            bar.update(bar_id, description=f"{backend.name} · {plan.task.name}")
            for part in _chunks(plan.todo, chunk):
                records = score_instances(
                    backend, part, plan.task, run_id=plan.run.run_id, model_name=backend.name
                )
                store.write_samples(records)
                new += len(records)
                bar.advance(bar_id, len(records))

    keys = pd.DataFrame(
        [(p.run.run_id, str(i.doc_id), int(i.repeat)) for p in plans for i in p.instances],
        columns=["run_id", "doc_id", "repeat"],
    )
    table = summarize(store, keys)
    cost = stored_cost_fit(store, [p.run.run_id for p in plans], backend.runtime)
    run_map: dict[str, list[str]] = {}
    for plan in plans:
        plan.run.extra = {"cost_fit": cost.to_dict() if cost else None, "runtime": backend.runtime}
        store.upsert_run(plan.run)
        store.finish_run(plan.run.run_id)
        run_map.setdefault(plan.task.name, []).append(plan.run.run_id)
    return EvalResult(
        model=backend.name,
        table=table,
        cost=cost,
        run_ids=run_map,
        new_samples=new,
        resumed_samples=len(keys) - new,
        seconds=time.perf_counter() - started,
    )
