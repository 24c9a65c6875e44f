"""``evaluate_until_decided``: two models on one task, question batches in a seeded random order,
stopping as soon as an anytime-valid rule decides (``assay eval --until-decided``).

The driver calls :func:`evaluate` on growing prefixes of the order (a view of the task that
keeps only those documents), so storage, resume and run ids are exactly a plain run's: the
stored samples of a stopped comparison are a plain run's first questions in that order, and
calling again resumes the same sequence. The rule itself (``decide``) is passed in —
``assay.stats.sequential_test`` for the command line — as the runner does no statistics.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assay.core import metric_info, to_jsonable
from assay.errors import InputError
from assay.models import ModelBackend, describe_spec
from assay.store import Store, default_store_path, open_store

from ._evaluate import EvalResult, _resolve_tasks, evaluate, progress_view
from ._spec import RunSpec

__all__ = [
    "DEFAULT_EVERY",
    "SequentialRun",
    "evaluate_until_decided",
    "question_order",
    "sequential_records",
]

DEFAULT_EVERY = 50
"""Questions per batch: the rule looks after every batch (and at the end of the task)."""

RECORD_KEY = "sequential"
"""Key of the stopping record in a run's ``extra`` (one record per compared run)."""


@dataclass
class SequentialRun:
    """Outcome of :func:`evaluate_until_decided`: ``decision`` ("A better", "B better",
    "equivalent", "undecided") for ``models`` (A, B) on ``task`` by ``metric``;
    ``stopped_at`` questions of ``n_available`` used, ``reason`` in words, the mean difference
    A − B (``estimate``) and its interval there (``lower``, ``upper``; metric units, signed so
    that positive favours A); ``looks`` (questions at each look) and the interval's path over
    questions; the per-model :class:`EvalResult` of the last batch; ``record``: what was
    stored on both runs."""

    models: tuple[str, str]
    task: str
    metric: str
    decision: str
    stopped_at: int
    n_available: int
    reason: str
    estimate: float
    lower: float
    upper: float
    delta: float
    confidence: float
    seed: int
    every: int
    looks: list[int]
    lower_path: list[float]
    upper_path: list[float]
    results: list[EvalResult] = field(default_factory=list)
    new_samples: int = 0
    record: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {k: to_jsonable(v) for k, v in vars(self).items() if k != "results"}
        out["results"] = [r.to_dict() for r in self.results]
        return out


class _Subset:
    """A view of a task with only some documents (everything else is the task's own)."""

    def __init__(self, task: Any, keep: set[str], cache: dict):
        self._task, self._keep, self._cache = task, keep, cache

    def __getattr__(self, name: str) -> Any:
        return getattr(self._task, name)

    def instances(self, **options: Any) -> list:
        key = json.dumps(options, sort_keys=True, default=str)
        if key not in self._cache:
            self._cache[key] = self._task.instances(**options)
        return [i for i in self._cache[key] if str(i.doc_id) in self._keep]


def _check(delta: Any, confidence: Any, every: Any) -> None:
    if isinstance(delta, bool) or not isinstance(delta, int | float) or not 0 <= delta < math.inf:
        raise InputError(f"delta must be a number >= 0, got {delta!r}")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise InputError(f"confidence must be in (0, 1), got {confidence!r}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be in (0, 1), got {confidence!r}")
    if isinstance(every, bool) or not isinstance(every, int | np.integer) or every < 1:
        raise InputError(f"every must be an integer >= 1, got {every!r}")


def question_order(doc_ids: Sequence[str], seed: int) -> list[str]:
    """The seeded random order the questions are asked in (same ids and seed, same order)."""
    perm = np.random.default_rng(seed).permutation(len(doc_ids))
    return [doc_ids[k] for k in perm]


def _paired(store: Store, results: list[EvalResult], task: str, metric: str | None):
    """Per-question means of both runs (repeats averaged) side by side, the metric and its
    definition; ``metric`` None: the headline of what was stored."""
    names = [r.model for r in results]
    ev = store.evidence(model=names, task=task)
    run_ids = {rid for r in results for ids in r.run_ids.values() for rid in ids}
    scores = ev.scores[ev.scores["run_id"].isin(run_ids)]
    if metric is None:
        metric = ev.headline(sorted(scores["metric"].unique()))
    elif metric not in set(scores["metric"]):
        have = ", ".join(sorted(scores["metric"].unique()))
        raise InputError(f"metric {metric!r} is not among {task}'s stored metrics ({have})")
    info = ev.metric(metric)
    if info.bounds is None:
        raise InputError(
            f"metric {metric!r} has no bounds: stopping when decided needs a bounded metric"
        )
    rows = scores[scores["metric"] == metric]
    wide = rows.pivot_table(index="doc_id", columns="model", values="value", aggfunc="mean")
    wide = wide.reindex(columns=names).dropna()
    return wide, metric, info


def _store_record(store: Store, run_ids: dict[str, list[str]], prior: dict, record: dict):
    """Add ``record`` under each run's ``extra["sequential"][peer run]`` (earlier records of
    other comparisons kept)."""
    a_ids, b_ids = run_ids["A"], run_ids["B"]
    runs = store.runs()
    runs = runs[runs["run_id"].isin(a_ids + b_ids)]
    rows = []
    for row in runs.to_dict(orient="records"):
        rid = row["run_id"]
        extra = json.loads(row["extra"]) if isinstance(row["extra"], str) else {}
        records = dict(prior.get(rid, {}))
        peers = b_ids if rid in a_ids else a_ids
        records[",".join(peers)] = {**record, "side": "A" if rid in a_ids else "B"}
        extra[RECORD_KEY] = records
        settings = json.loads(row["settings"]) if isinstance(row["settings"], str) else None
        rows.append({**row, "settings": settings, "extra": extra})
    store.upsert_run(rows)


def _prior_records(store_path: Path, task: str) -> dict[str, dict]:
    """The stopping records already on the task's runs (``evaluate`` rewrites ``extra``)."""
    if not store_path.exists():
        return {}
    runs = open_store(store_path).runs(task=task)
    out = {}
    for rid, extra in zip(runs["run_id"], runs["extra"], strict=True):
        found = json.loads(extra).get(RECORD_KEY) if isinstance(extra, str) else None
        if isinstance(found, dict):
            out[str(rid)] = found
    return out


def evaluate_until_decided(
    model_a: Any,
    model_b: Any,
    task: Any,
    *,
    decide: Callable[..., Any],
    store: Store | str | Path | None = None,
    delta: float = 0.02,
    confidence: float = 0.95,
    every: int = DEFAULT_EVERY,
    metric: str | None = None,
    limit: int | None = None,
    num_fewshot: int | None = None,
    seed: int = 0,
    batch_size: int | str = "auto",
    repeats: int = 1,
    permute_choices: int = 0,
    progress: bool = True,
    trust_remote_code: bool = False,
    data_roots: Sequence[str | Path] = (),
) -> SequentialRun:
    """Compare ``model_a`` and ``model_b`` on one ``task`` question batch by question batch.

    The task's documents (the first ``limit``) are put in a random order seeded by ``seed``;
    both models answer the next ``every`` of them (stored like any run), and
    ``decide(differences, delta=, confidence=, looks=, bounds=)`` — the per-question
    differences A − B of ``metric`` (default: the headline; it must be bounded, and is signed
    so that positive favours A) in that order, with the number of questions at each look —
    says whether to stop (``assay.stats.sequential_test``: an anytime-valid confidence
    sequence, so looking after every batch keeps its error rate). Stops at the first decision
    or when the task runs out; the decision, where and why are stored on both runs
    (``extra["sequential"]``). Calling again with the same arguments replays the stored
    batches without computing them and continues the same order.
    """
    spec = RunSpec.of(locals())  # the sampling settings among the parameters
    spec.check_options()  # a bad seed, limit, ...: one line before any task or model work
    _check(delta, confidence, every)
    tasks = _resolve_tasks(task, data_roots)
    if len(tasks) != 1:
        raise InputError(f"stopping when decided needs exactly one task, got {len(tasks)}")
    task_obj = tasks[0]
    if metric is not None:
        declared = getattr(task_obj, "metrics", None) or {}
        if metric_info(metric, declared).bounds is None:
            raise InputError(
                f"metric {metric!r} is unknown or unbounded: stopping when decided needs a "
                "bounded metric (acc, exact_match, ...)"
            )
    names = [_name(m) for m in (model_a, model_b)]
    if names[0] is not None and names[0] == names[1]:
        raise InputError(f"both sides are the model {names[0]!r}")
    pool = task_obj.instances(**spec.instance_options())
    doc_ids = list(dict.fromkeys(str(i.doc_id) for i in pool))
    if not doc_ids:
        raise InputError(f"task {task_obj.name}: no documents to compare on")
    order = question_order(doc_ids, seed)
    position = {d: k for k, d in enumerate(order)}
    store_path = store.path if isinstance(store, Store) else Path(store or default_store_path())
    prior = _prior_records(store_path, task_obj.name)
    cache: dict = {}
    # each batch asks its view of the documents: the limit already chose them (the pool)
    options = replace(spec, limit=None).settings()
    n = len(order)
    ends = list(range(every, n, every)) + [n]
    new = 0
    with progress_view(progress) as bar:
        bar_id = bar.add_task(f"{task_obj.name}: until decided", total=n)
        for end in ends:
            view = _Subset(task_obj, set(order[:end]), cache)
            results = [
                evaluate(m, view, store=store_path, progress=False, **options)
                for m in (model_a, model_b)
            ]
            new += sum(r.new_samples for r in results)
            if results[0].model == results[1].model:
                raise InputError(f"both sides are the model {results[0].model!r}")
            db = open_store(store_path)
            wide, metric_name, info = _paired(db, results, task_obj.name, metric)
            metric = metric_name
            pos = np.sort(wide.index.map(position).to_numpy())
            wide = wide.iloc[np.argsort(wide.index.map(position).to_numpy())]
            diffs = info.sign * (wide.iloc[:, 0].to_numpy() - wide.iloc[:, 1].to_numpy())
            looks = np.unique(np.searchsorted(pos, [e for e in ends if e <= end]))
            looks = looks[looks > 0]
            bar.update(bar_id, completed=end)
            if diffs.size == 0:
                continue
            span = float(info.bounds[1] - info.bounds[0])
            outcome = decide(
                diffs, delta=delta, confidence=confidence, looks=looks, bounds=(-span, span)
            )
            if outcome.decision != "undecided" or end == n:
                break
    if diffs.size == 0:
        raise InputError(f"task {task_obj.name}: no question was scored for both models")
    record = {
        "task": task_obj.name,
        "models": [results[0].model, results[1].model],
        "metric": metric,
        "decision": outcome.decision,
        "reason": outcome.reason,
        "stopped_at": int(outcome.stopped_at),
        "asked": int(end),
        "n_available": n,
        "estimate": float(outcome.estimate),
        "lower": float(outcome.lower),
        "upper": float(outcome.upper),
        "delta": float(delta),
        "confidence": float(confidence),
        "order_seed": seed,
        "every": int(every),
        "rule": getattr(outcome, "method", type(outcome).__name__),
        **_path_at_looks(outcome, looks),
    }
    sides = {"A": _ids(results[0]), "B": _ids(results[1])}
    _store_record(open_store(store_path), sides, prior, record)
    return SequentialRun(
        models=(results[0].model, results[1].model),
        task=task_obj.name,
        metric=str(metric),
        decision=str(outcome.decision),
        stopped_at=int(outcome.stopped_at),
        n_available=n,
        reason=str(outcome.reason),
        estimate=float(outcome.estimate),
        lower=float(outcome.lower),
        upper=float(outcome.upper),
        delta=float(delta),
        confidence=float(confidence),
        seed=seed,
        every=int(every),
        looks=[int(k) for k in looks],
        lower_path=[float(v) for v in np.asarray(outcome.lower_path)],
        upper_path=[float(v) for v in np.asarray(outcome.upper_path)],
        results=results,
        new_samples=new,
        record=record,
    )


def _path_at_looks(outcome: Any, looks: np.ndarray) -> dict[str, list]:
    """The interval at each look up to the stop (what the report plots)."""
    seen = np.asarray(looks)[np.asarray(looks) <= int(outcome.stopped_at)]
    low, high = np.asarray(outcome.lower_path), np.asarray(outcome.upper_path)
    return {
        "looks": [int(k) for k in seen],
        "lower_at_looks": [float(v) for v in low[seen - 1]],
        "upper_at_looks": [float(v) for v in high[seen - 1]],
    }


def _name(model: Any) -> str | None:
    """The model name a run would get, when known without loading it."""
    if isinstance(model, ModelBackend):
        return model.name
    described = describe_spec(str(model))
    return described[0] if described is not None else None


def _ids(result: EvalResult) -> list[str]:
    return [rid for ids in result.run_ids.values() for rid in ids]


def sequential_records(store: Store) -> pd.DataFrame:
    """Every stored stopping record, one row per (run, compared run)."""
    rows = []
    runs = store.runs()
    for rid, extra in zip(runs["run_id"], runs["extra"], strict=True):
        found = json.loads(extra).get(RECORD_KEY) if isinstance(extra, str) else None
        for peer, rec in (found or {}).items():
            rows.append({"run_id": rid, "peer": peer, **rec})
    return pd.DataFrame(rows)
