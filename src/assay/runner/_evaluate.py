"""``run``: one evaluation (a :class:`RunSpec`) written through to the store per batch, resumed
and summarised; :func:`evaluate` is its keyword form.

``run`` goes in steps: check the spec and render the instances (:func:`_prepare`), name the
model without loading it when the spec tells and plan one run per (task, template) with what
is not yet stored (:func:`_plan`), load the model or start Ray workers only when something is
left (:func:`_attach`), score and write chunk by chunk (:func:`_score_and_write`), then
summarise and close the runs (:func:`_finish`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from assay.core import metric_spec
from assay.errors import InputError
from assay.models import BackendInfo, ModelBackend, describe_spec
from assay.store import ModelInfo, RunInfo, Store, default_store_path, make_run_id, open_store
from assay.tasks import Instance

from ._cost import CostFit
from ._progress import make_progress
from ._ray import RayPool, ray_session, scored_shards
from ._ray import load_backend as _backend
from ._score import Backends, TaskLike
from ._shard import shard_documents
from ._spec import MAX_REPEATS, RunSpec
from ._summary import stored_cost_fit, stored_runtime, summarize, summarize_empty

__all__ = ["MAX_REPEATS", "EvalResult", "evaluate", "run", "run_settings"]

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


@dataclass
class _Session:
    """The state of one :func:`run`: the checked spec, its tasks and instances, the store
    (opened, or still to create at ``store_path``), the model's name and info, the plans, the
    run ids with stored samples, and what scores (a backend here or a Ray pool; neither when
    nothing is left to compute)."""

    spec: RunSpec
    tasks: list[TaskLike]
    instances: list[list[Instance]]
    db: Store | None
    store_path: Path
    name: str = ""
    info: BackendInfo | None = None
    backend: ModelBackend | None = None
    pool: RayPool | None = None
    model_spec: str | None = None
    plans: list[_Plan] = field(default_factory=list)
    stored: set[str] = field(default_factory=set)

    def plan(self, name: str, info: BackendInfo) -> None:
        """Plan the runs under the model's name and info (again only when they changed: a
        loaded model may tell another identity than its spec predicted)."""
        if self.info is None or _identity(name, info) != _identity(self.name, self.info):
            self.plans, self.stored = _plan_runs(self, name, info)
        self.name, self.info = name, info

    @property
    def todo(self) -> bool:
        return any(p.todo for p in self.plans)


def _identity(name: str, info: BackendInfo) -> tuple:
    return (name, info.kind, info.dtype, info.quantization)


def progress_view(progress: bool | Any):
    """A new bar (``progress`` a bool) or the caller's started Progress, left running."""
    if isinstance(progress, bool):
        return make_progress(enabled=progress)
    return nullcontext(progress)


def _resolve_tasks(tasks: Any, data_roots: Sequence[str | Path] = ()) -> list[TaskLike]:
    """The task objects of ``tasks``: one task or a sequence of them, names or paths loaded."""
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
        return open_store(path, for_writing=True), path
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"store {path}: cannot create it ({folder} is not a writable folder)")
    return None, path


def _plan_runs(session: _Session, name: str, info: BackendInfo) -> tuple[list[_Plan], set[str]]:
    """One plan per (task, template) with the instances not yet stored, and the run ids that
    already have samples in the store."""
    spec, db = session.spec, session.db
    plans: list[_Plan] = []
    stored: set[str] = set()  # run ids with samples in the store
    for task, instances in zip(session.tasks, session.instances, strict=True):
        by_template: dict[str, list[Instance]] = {}
        for inst in instances:
            by_template.setdefault(inst.template_id, []).append(inst)
        settings = run_settings(
            task.fingerprint(), info, repeats=spec.repeats, permute_choices=spec.permute_choices
        )
        for template_id, insts in by_template.items():
            run_row = _run_row(spec, name, task, template_id, settings)
            done = db.completed_keys(run_row.run_id) if db is not None else set()
            if done:
                stored.add(run_row.run_id)
            todo = [i for i in insts if (str(i.doc_id), int(i.repeat)) not in done]
            plans.append(_Plan(task, run_row, insts, todo))
    return plans, stored


def _run_row(
    spec: RunSpec, name: str, task: TaskLike, template_id: str, settings: dict[str, Any]
) -> RunInfo:
    """The run row (its id hashes model, task, version, template, few-shot, seed, settings)."""
    keys: dict[str, Any] = {
        "task_version": str(task.version),
        "template_id": template_id,
        "num_fewshot": spec.num_fewshot,
        "fewshot_seed": spec.seed,
        "settings": settings,
    }
    return RunInfo(
        run_id=make_run_id(name, task.name, **keys),
        model=name,
        task=task.name,
        extra=_declared(task),
        **keys,
    )


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
    """Evaluate ``model`` (backend or spec) on ``tasks`` (names, Task objects or a mix): the
    keyword form of ``run(RunSpec(model, tasks, ...), store=store, progress=progress)``.

    Every chunk of scored samples is written to ``store`` in one transaction, together with the
    model and run rows the first time (nothing is written before the first results, and a new
    store file is only created then). A run's id hashes (model, task, version, fingerprint,
    template, few-shot, seed, repeats, orderings), so calling again with the same settings skips
    the stored ``(doc_id, repeat)`` keys and computes only what is missing. Invalid options raise
    :class:`InputError` before the model or the store is touched. A spec's weights load only
    when some instance is left to compute (:func:`assay.models.describe_spec` gives the run ids
    without them), and are dropped when the call returns. Returns the summary table and the
    inference cost fit.

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
    spec = RunSpec.of(locals())  # every parameter but store and progress is the spec's
    return run(spec, store=store, progress=progress)


def run(
    spec: RunSpec,
    *,
    store: Store | str | Path | None = None,
    progress: bool | Any = True,
    backends: Backends | None = None,
) -> EvalResult:
    """Run one evaluation (see :func:`evaluate` for what is written, resumed and returned).

    A spec string's model is loaded into ``backends``, a scope this call opens and closes
    unless the caller passes one to share a loaded model across calls (:func:`run_grid` does,
    one per grid). Checked whole before anything loads or is written."""
    started = time.perf_counter()
    session = _prepare(spec, store)
    with ExitStack() as stack:
        if backends is None:
            backends = stack.enter_context(Backends())
        _plan(session, backends)
        if session.todo:
            _attach(session, backends, stack)
        _backfill_runtime(session)
        new, batches, errored = _score_and_write(session, _model_row(session), progress)
    return _finish(session, time.perf_counter() - started, new, batches, errored)


def _prepare(spec: RunSpec, store: Store | str | Path | None) -> _Session:
    """The checked spec, its tasks and instances and the store: every one-line InputError of
    a bad option, task or store comes from here, before a model loads."""
    spec = spec.checked()
    tasks = _resolve_tasks(spec.tasks, spec.data_roots)
    instances = [task.instances(**spec.instance_options()) for task in tasks]
    if spec.shard is not None:  # after limit: a shard takes its share of the same documents
        instances = [shard_documents(i, *spec.shard) for i in instances]
    db, store_path = _store_or_path(store)
    return _Session(spec, tasks, instances, db, store_path)


def _plan(session: _Session, backends: Backends) -> None:
    """Plans under the model's name: a spec that tells its identity is not loaded (a resume
    with nothing left never loads); a given backend, or one only loading can describe, is."""
    model = session.spec.model
    described = None if isinstance(model, ModelBackend) else describe_spec(model)
    if described is None:
        backend = _backend(model, session.spec.batch_size, backends)
        session.backend, session.model_spec = backend, backend.spec
        session.plan(backend.name, backend.info)
    else:
        session.plan(*described)  # the run ids without loading weights


def _attach(session: _Session, backends: Backends, stack: ExitStack) -> None:
    """What scores the instances left: a Ray pool (closed with ``stack``) or the backend,
    loaded only now; the runs are planned again if the loaded model differs from its spec."""
    spec = session.spec
    if spec.executor == "ray":
        stack.enter_context(ray_session(spec.ray_address))
        model = session.backend if session.backend is not None else spec.model
        assert model is not None  # checked
        pool = RayPool(model, spec.batch_size, spec.workers)
        stack.callback(pool.close)
        session.pool, session.model_spec = pool, pool.spec
        session.plan(pool.name, pool.info)
    elif session.backend is None:
        assert spec.model is not None  # checked
        backend = _backend(spec.model, spec.batch_size, backends)
        session.backend, session.model_spec = backend, backend.spec
        session.plan(backend.name, backend.info)


def _backfill_runtime(session: _Session) -> None:
    """Nothing loaded: the device the stored samples ran on, not this machine's guess."""
    if session.model_spec is None and session.db is not None and session.info is not None:
        runtime = stored_runtime(session.db, sorted(session.stored))
        session.info = replace(session.info, runtime=runtime or session.info.runtime)


def _model_row(session: _Session) -> ModelInfo | None:
    """The model row to write (None when nothing was loaded: the stored row stays)."""
    info = session.info
    if session.model_spec is None or info is None:
        return None
    return ModelInfo(
        model=session.name,
        family=info.family,
        params=info.params,
        parent=info.parent,
        spec=session.model_spec,
    )


def _score_and_write(
    session: _Session, model_row: ModelInfo | None, progress: bool | Any
) -> tuple[int, int, int]:
    """Score the chunks left and write each in one transaction, with the model and run rows
    the first time; returns (new samples, batches, errored samples)."""
    size = session.spec.batch_size
    chunk = DEFAULT_CHUNK if size == "auto" else max(8, int(size))
    plans, name = session.plans, session.name
    shards = [(p, part) for p in plans for part in _chunks(p.todo, chunk)]
    new = batches = errored = 0
    model_written = False
    with progress_view(progress) as bar:
        bar_id = bar.add_task(name, total=sum(len(p.todo) for p in plans))
        for plan, records in scored_shards(shards, session.backend, session.pool, name):
            bar.update(bar_id, description=f"{name} · {plan.task.name}")
            if not records:
                continue
            assert model_row is not None  # loaded when todo
            if session.db is None:
                session.db = open_store(session.store_path)
            db = session.db
            with db.transaction() as con:  # the model and run rows arrive with the samples
                if not model_written:
                    db.upsert_models([model_row], con=con)
                if plan.run.run_id not in session.stored:
                    db.upsert_run(plan.run, con=con)
                db.write_samples(records, con=con)
            model_written = True
            session.stored.add(plan.run.run_id)
            new += len(records)
            errored += sum(1 for r in records if r.extra and "error" in r.extra)
            batches += 1
            bar.advance(bar_id, len(records))
    return new, batches, errored


def _finish(session: _Session, seconds: float, new: int, batches: int, errored: int) -> EvalResult:
    """The summary and cost fit over every instance of the finished runs, whose rows are
    written once more with the fit and runtime and marked finished."""
    db, plans, info = session.db, session.plans, session.info
    assert info is not None  # planned
    keys = pd.DataFrame(
        [(p.run.run_id, str(i.doc_id), int(i.repeat)) for p in plans for i in p.instances],
        columns=["run_id", "doc_id", "repeat"],
    )
    done_plans = [p for p in plans if p.run.run_id in session.stored]
    run_ids = [p.run.run_id for p in done_plans]
    table = summarize(db, keys) if db is not None and run_ids else summarize_empty()
    cost = stored_cost_fit(db, run_ids, info.runtime) if db is not None else None
    if db is not None and done_plans:
        model_row = _model_row(session)
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
    run_map: dict[str, list[str]] = {}
    for plan in done_plans:
        run_map.setdefault(plan.task.name, []).append(plan.run.run_id)
    return EvalResult(
        model=session.name,
        table=table,
        cost=cost,
        run_ids=run_map,
        new_samples=new,
        resumed_samples=len(keys) - new,
        new_batches=batches,
        errored=errored,
        seconds=seconds,
    )
