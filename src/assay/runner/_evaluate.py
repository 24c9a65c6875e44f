"""``evaluate``: run a model on tasks, write through to the store per batch, resume, summarise."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assay.core import metric_spec, with_corpus_metrics
from assay.errors import InputError
from assay.models import BackendInfo, ModelBackend, check_remote_code, describe_spec
from assay.store import ModelInfo, RunInfo, Store, default_store_path, make_run_id, open_store
from assay.tasks import Instance

from ._cost import CostFit, fit_cost
from ._progress import make_progress
from ._ray import RayPool, check_executor, ray_session, scored_shards
from ._ray import load_backend as _backend
from ._score import TaskLike
from ._shard import parse_shard, shard_documents

DEFAULT_CHUNK = 32
"""Instances per store write (and per timing row) when ``batch_size="auto"``."""


@dataclass
class EvalResult:
    """Outcome of :func:`evaluate`.

    ``table`` has one row per (task, metric): mean over documents (repeats averaged within a
    document first), its standard error ``stderr = sd(doc means) / sqrt(n)``, ``n`` documents
    and ``n_samples`` stored samples behind it. ``new_batches`` counts the timed batches this
    call computed (the cost fit refits from every stored batch of its runs).
    """

    model: str
    table: pd.DataFrame
    cost: CostFit | None
    run_ids: dict[str, list[str]] = field(default_factory=dict)
    new_samples: int = 0
    resumed_samples: int = 0
    seconds: float = 0.0
    new_batches: int = 0
    errored: int = 0  # new samples stored as errored (no usable reply): no metric, rerun later

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "results": self.table.to_dict(orient="records"),
            "cost_fit": self.cost.to_dict() if self.cost else None,
            "run_ids": self.run_ids,
            "new_samples": self.new_samples,
            "resumed_samples": self.resumed_samples,
            "new_batches": self.new_batches,
            "errored": self.errored,
            "seconds": self.seconds,
        }


@dataclass
class _Plan:
    """One run to do: its task, run row, all its instances and those not yet stored."""

    task: TaskLike
    run: RunInfo
    instances: list[Instance]
    todo: list[Instance]


def progress_view(progress: bool | Any):
    """A new bar (``progress`` a bool) or the caller's started Progress, left running."""
    if isinstance(progress, bool):
        return make_progress(enabled=progress)
    return nullcontext(progress)


def _resolve_tasks(tasks: Any, data_roots: Sequence[str | Path] = ()) -> list[TaskLike]:
    if isinstance(tasks, str | os.PathLike) or hasattr(tasks, "score"):
        tasks = [tasks]
    out = []
    for t in tasks:
        if isinstance(t, str | os.PathLike):
            from assay.tasks import load_task

            t = load_task(str(t), data_roots=data_roots)
        out.append(t)
    return out


def _chunks(instances: list[Instance], size: int) -> list[list[Instance]]:
    """Chunks of similar prompt length (less padding), in a deterministic order."""
    order = sorted(instances, key=lambda i: (-len(i.prompt), str(i.doc_id), i.repeat))
    return [order[k : k + size] for k in range(0, len(order), size)]


SUMMARY_COLUMNS = ["model", "task", "metric", "mean", "stderr", "n", "n_samples"]


def summarize_empty() -> pd.DataFrame:
    """The summary table with no rows."""
    return pd.DataFrame(columns=SUMMARY_COLUMNS)


def summarize(store: Store, keys: pd.DataFrame) -> pd.DataFrame:
    """Mean, stderr and n per (task, metric) over the stored samples named by ``keys``
    (columns run_id, doc_id, repeat). Repeats of a document are averaged first."""
    cols = SUMMARY_COLUMNS
    if keys.empty:
        return summarize_empty()
    run_ids = sorted(keys["run_id"].unique())
    rows = store.sql(
        'SELECT s.model, s.task, m.run_id, m.doc_id, m."repeat", m.metric, m.value '
        'FROM sample_metrics m JOIN samples s USING (run_id, doc_id, "repeat") '
        f"WHERE m.run_id IN ({', '.join('?' * len(run_ids))})",
        run_ids,
    )
    rows = rows.merge(keys, on=["run_id", "doc_id", "repeat"], how="inner")
    if rows.empty:
        return summarize_empty()
    rows = with_corpus_metrics(rows)  # rolling tasks: corpus perplexity and bits per byte
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


def _stored_runtime(store: Store, run_ids: Sequence[str]) -> str | None:
    """The one runtime recorded with the samples of ``run_ids``, if there is exactly one."""
    if not run_ids:
        return None
    df = store.sql(
        "SELECT DISTINCT json_extract_string(extra, '$.runtime') AS runtime FROM samples "
        f"WHERE run_id IN ({', '.join('?' * len(run_ids))})",
        list(run_ids),
    )
    found = df["runtime"].dropna().unique()
    return str(found[0]) if len(found) == 1 else None


MAX_REPEATS = 1000
"""Upper bound of ``repeats`` and of ``permute_choices`` (instances are built in memory)."""


def _count(name: str, value: Any, low: int, *, optional: bool = False, high: int | None = None):
    """``value`` as an int in [low, high] (None passes when ``optional``), else InputError."""
    if value is None and optional:
        return None
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise InputError(f"{name} must be an integer {bound}, got {value!r}")
    return int(value)


def check_options(
    *,
    limit: Any = None,
    num_fewshot: Any = None,
    seed: Any = 0,
    batch_size: Any = "auto",
    repeats: Any = 1,
    permute_choices: Any = 0,
) -> int | str:
    """Reject invalid :func:`evaluate` options with one-line InputErrors (before any work).

    Returns ``batch_size`` as ``"auto"`` or an int (text like ``"16"`` is accepted: the one
    check of the command line's ``--batch-size``)."""
    _count("limit", limit, 1, optional=True)
    _count("num_fewshot", num_fewshot, 0, optional=True)
    _count("seed", seed, 0)
    size = _batch_size(batch_size)
    _count("repeats", repeats, 1, high=MAX_REPEATS)
    _count("permute_choices", permute_choices, 0, high=MAX_REPEATS)
    return size


def _batch_size(value: Any) -> int | str:
    if isinstance(value, str):
        value = value.strip()
        if value == "auto":
            return value
        if value.isascii() and value.isdigit():
            value = int(value)
    return _count("batch_size ('auto' or an integer)", value, 1)


def run_settings(
    fingerprint: str, info: BackendInfo, *, repeats: int, permute_choices: int
) -> dict[str, Any]:
    """The settings hashed into a run id besides model, task and few-shot: the task's
    fingerprint, repeats, choice orderings, the backend kind and its dtype (other numerics,
    another run). Changing these values orphans every stored run: resumes stop matching."""
    settings: dict[str, Any] = {
        "fingerprint": fingerprint,
        "repeats": repeats,
        "permute_choices": permute_choices,
        "backend": info.kind,
    }
    if info.dtype:
        settings["dtype"] = info.dtype
    if info.quantization:
        settings["quantization"] = info.quantization
    return settings


def _declared(task: TaskLike) -> dict[str, Any] | None:
    """The task file's metric declarations, stored on the run row outside the hashed run id
    (``Store.evidence()`` reads them back with ``assay.core.declared_metrics``)."""
    declared = getattr(task, "metrics", None)
    if not declared:
        return None
    return {"metrics": {name: metric_spec(info) for name, info in declared.items()}}


def _store_or_path(store: Store | str | os.PathLike[str] | None) -> tuple[Store | None, Path]:
    """An existing store opened (checked) now; a new one is only created by the first write, so
    a run that fails before its first results leaves no file, model or run behind."""
    if isinstance(store, Store):
        return store, store.path
    path = Path(store) if store is not None else default_store_path()
    if path.exists():
        return open_store(path), path
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"store {path}: cannot create it ({folder} is not a writable folder)")
    return None, path


def _plan_runs(
    db: Store | None,
    name: str,
    info: BackendInfo,
    task_objs: list[TaskLike],
    task_instances: list[list[Instance]],
    num_fewshot: int | None,
    seed: int,
    repeats: int,
    permute_choices: int,
) -> tuple[list[_Plan], set[str]]:
    """One plan per (task, template) with the instances not yet stored, and the run ids that
    already have samples in ``db``."""
    plans: list[_Plan] = []
    stored: set[str] = set()  # run ids with samples in the store
    for task, instances in zip(task_objs, task_instances, strict=True):
        by_template: dict[str, list[Instance]] = {}
        for inst in instances:
            by_template.setdefault(inst.template_id, []).append(inst)
        settings = run_settings(
            task.fingerprint(), info, repeats=repeats, permute_choices=permute_choices
        )
        for template_id, insts in by_template.items():
            run = RunInfo(
                run_id=make_run_id(
                    name,
                    task.name,
                    task_version=str(task.version),
                    template_id=template_id,
                    num_fewshot=num_fewshot,
                    fewshot_seed=seed,
                    settings=settings,
                ),
                model=name,
                task=task.name,
                task_version=str(task.version),
                template_id=template_id,
                num_fewshot=num_fewshot,
                fewshot_seed=seed,
                settings=settings,
                extra=_declared(task),
            )
            done = db.completed_keys(run.run_id) if db is not None else set()
            if done:
                stored.add(run.run_id)
            todo = [i for i in insts if (str(i.doc_id), int(i.repeat)) not in done]
            plans.append(_Plan(task, run, insts, todo))
    return plans, stored


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
    progress: bool | Any = True,
    executor: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    trust_remote_code: bool = False,
    data_roots: Sequence[str | Path] = (),
    shard: str | tuple[int, int] | None = None,
) -> EvalResult:
    """Evaluate ``model`` (backend or spec) on ``tasks`` (names, Task objects or a mix).

    Every chunk of scored samples is written to ``store`` in one transaction, together with the
    model and run rows the first time (nothing is written before the first results, and a new
    store file is only created then). A run's id hashes (model, task, version, fingerprint,
    template, few-shot, seed, repeats, orderings), so calling again with the same settings skips
    the stored ``(doc_id, repeat)`` keys and computes only what is missing. Invalid options raise
    :class:`InputError` before the model or the store is touched. A spec's weights load only
    when some instance is left to compute (:func:`assay.models.describe_spec` gives the run ids
    without them). Returns the summary table and the inference cost fit.

    ``executor="ray"`` scores the same chunks on ``workers`` Ray actors (one backend each; a
    local Ray when ``ray_address`` is None) while this process alone writes the store, one
    transaction per finished chunk: the records equal a single-process run's. ``progress``
    may be a started rich Progress to add this call's bar to (one view for a grid).

    A spec that sets ``trust_remote_code`` is refused unless ``trust_remote_code=True``
    (``assay eval --trust-remote-code``); task files read data only under their own folder and
    ``data_roots`` (docs/security.md).

    ``shard="K/N"`` (or ``(K, N)``) evaluates only the documents of shard K of N, picked by a
    hash of the document id after ``limit`` (:func:`assay.runner.shard_documents`); the run
    ids are the whole run's, so ``assay store merge`` of the N stores is the whole run.
    """
    started = time.perf_counter()
    executor, workers = check_executor(executor, workers, ray_address)
    batch_size = check_options(
        limit=limit,
        num_fewshot=num_fewshot,
        seed=seed,
        batch_size=batch_size,
        repeats=repeats,
        permute_choices=permute_choices,
    )
    sharding = parse_shard(shard)
    check_remote_code(model, trust_remote_code)
    task_objs = _resolve_tasks(tasks, data_roots)
    task_instances = [
        task.instances(
            limit=limit,
            num_fewshot=num_fewshot,
            seed=seed,
            repeats=repeats,
            permute_choices=permute_choices,
        )
        for task in task_objs
    ]
    if sharding is not None:  # after limit: a shard takes its share of the same documents
        task_instances = [shard_documents(i, *sharding) for i in task_instances]
    db, store_path = _store_or_path(store)
    chunk = DEFAULT_CHUNK if batch_size == "auto" else max(8, batch_size)
    runs = (task_objs, task_instances, num_fewshot, seed, repeats, permute_choices)
    backend: ModelBackend | None = None
    described = None if isinstance(model, ModelBackend) else describe_spec(model)
    if described is None:
        backend = _backend(model, batch_size)
        name, info = backend.name, backend.info
    else:
        name, info = described  # the run ids without loading weights
    plans, stored = _plan_runs(db, name, info, *runs)
    stack = ExitStack()
    pool = None
    spec = backend.spec if backend is not None else None
    if executor == "ray" and any(p.todo for p in plans):
        stack.enter_context(ray_session(ray_address))
        try:
            pool = RayPool(backend if backend is not None else model, batch_size, workers)
        except BaseException:
            stack.close()
            raise
        stack.callback(pool.close)
        loaded_info, spec = pool.info, pool.spec
        loaded = (pool.name, loaded_info.kind, loaded_info.dtype, loaded_info.quantization)
        if loaded != (name, info.kind, info.dtype, info.quantization):
            plans, stored = _plan_runs(db, pool.name, loaded_info, *runs)
        name, info = pool.name, loaded_info
    elif backend is None and any(p.todo for p in plans):
        backend = _backend(model, batch_size)  # only now: something is left to compute
        loaded = (backend.name, backend.info.kind, backend.info.dtype, backend.info.quantization)
        if loaded != (name, info.kind, info.dtype, info.quantization):
            plans, stored = _plan_runs(db, backend.name, backend.info, *runs)
        name, info, spec = backend.name, backend.info, backend.spec
    if spec is None and db is not None:  # the device the stored samples ran on
        info = replace(info, runtime=_stored_runtime(db, sorted(stored)) or info.runtime)
    model_row = None
    if spec is not None:
        model_row = ModelInfo(
            model=name,
            family=info.family,
            params=info.params,
            parent=info.parent,
            spec=spec,
        )

    new = batches = errored = 0
    model_written = False
    shards = [(p, part) for p in plans for part in _chunks(p.todo, chunk)]
    with stack, progress_view(progress) as bar:
        bar_id = bar.add_task(name, total=sum(len(p.todo) for p in plans))
        for plan, records in scored_shards(shards, backend, pool, name):
            bar.update(bar_id, description=f"{name} · {plan.task.name}")
            if records:
                assert model_row is not None  # loaded when todo
                db = db if db is not None else open_store(store_path)
                with db.transaction() as con:  # the model and run rows arrive with the samples
                    if not model_written:
                        db.upsert_models([model_row], con=con)
                    if plan.run.run_id not in stored:
                        db.upsert_run(plan.run, con=con)
                    db.write_samples(records, con=con)
                model_written = True
                stored.add(plan.run.run_id)
                new += len(records)
                errored += sum(1 for r in records if r.extra and "error" in r.extra)
                batches += 1
                bar.advance(bar_id, len(records))

    keys = pd.DataFrame(
        [(p.run.run_id, str(i.doc_id), int(i.repeat)) for p in plans for i in p.instances],
        columns=["run_id", "doc_id", "repeat"],
    )
    done_plans = [p for p in plans if p.run.run_id in stored]
    run_ids = [p.run.run_id for p in done_plans]
    table = summarize(db, keys) if db is not None and run_ids else summarize_empty()
    cost = stored_cost_fit(db, run_ids, info.runtime) if db is not None else None
    run_map: dict[str, list[str]] = {}
    if db is not None and done_plans:
        with db.transaction() as con:
            if model_row is not None:  # else nothing was loaded: the stored row stays
                db.upsert_models([model_row], con=con)
            for plan in done_plans:
                plan.run.extra = {
                    **(_declared(plan.task) or {}),
                    "cost_fit": cost.to_dict() if cost else None,
                    "runtime": info.runtime,
                }
                db.upsert_run(plan.run, con=con)
                db.finish_run(plan.run.run_id, con=con)
    for plan in done_plans:
        run_map.setdefault(plan.task.name, []).append(plan.run.run_id)
    return EvalResult(
        model=name,
        table=table,
        cost=cost,
        run_ids=run_map,
        new_samples=new,
        resumed_samples=len(keys) - new,
        new_batches=batches,
        errored=errored,
        seconds=time.perf_counter() - started,
    )
