"""The pure scoring step: (model, instances, task) -> sample records. Shardable as is."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from assay.models import ModelBackend, load_model
from assay.requests import (
    FailedResult,
    GenerateRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RollingRequest,
)
from assay.store import SampleRecord
from assay.tasks import Instance, Result, ScoredSample


class TaskLike(Protocol):
    """What the runner needs from a task (``assay.tasks.Task`` satisfies it)."""

    name: str
    version: str

    def score(self, instance: Instance, results: list[Result]) -> ScoredSample: ...


def get_backend(model: ModelBackend | str, **options: Any) -> ModelBackend:
    """A backend for ``model``: a backend as is, a spec loaded now (every call loads it
    again: keep the backend, or a :class:`Backends` scope, to reuse it)."""
    if isinstance(model, ModelBackend):
        return model
    return load_model(model, **options)


class Backends:
    """The backends one run has loaded, by spec and options; nothing outlives the scope.

    :func:`assay.runner.run` opens one per call unless given one: a grid passes one to all its
    cells, so a model it evaluates under several settings loads once per job (the only sharing
    across calls; there is no process-wide cache). Closing the scope closes what it loaded.
    """

    def __init__(self) -> None:
        self._loaded: dict[str, ModelBackend] = {}

    def get(self, model: ModelBackend | str, **options: Any) -> ModelBackend:
        """``model`` as is when a backend; a spec loaded the first time this scope sees it."""
        if isinstance(model, ModelBackend):
            return model
        key = f"{model}|{sorted(options.items())}"
        if key not in self._loaded:
            self._loaded[key] = load_model(model, **options)
        return self._loaded[key]

    def __len__(self) -> int:
        return len(self._loaded)

    def close(self) -> None:
        """Close (``ModelBackend.close``: connections, memory) and drop what this scope loaded;
        a backend it was given stays the caller's."""
        loaded, self._loaded = list(self._loaded.values()), {}
        for backend in loaded:
            backend.close()

    def __enter__(self) -> Backends:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def answer_requests(backend: ModelBackend, instances: Sequence[Instance]) -> list[list[Result]]:
    """Every instance's requests answered in order; one backend call per request type."""
    kinds = {
        LoglikelihoodRequest: backend.loglikelihood,
        RollingRequest: backend.loglikelihood_rolling,
        GenerateRequest: backend.generate,
    }
    flat = [(i, j, r) for i, inst in enumerate(instances) for j, r in enumerate(inst.requests)]
    answers: list[list[Result | None]] = [[None] * len(inst.requests) for inst in instances]
    for kind, method in kinds.items():
        todo = [(i, j, r) for i, j, r in flat if type(r) is kind]
        if todo:
            results = method([r for *_, r in todo])
            for (i, j, _), res in zip(todo, results, strict=True):
                answers[i][j] = res
    unknown = [r for *_, r in flat if type(r) not in kinds]
    if unknown:
        raise TypeError(f"unknown request type {type(unknown[0]).__name__}")
    return answers  # type: ignore[return-value]


def _errored(results: list[Result]) -> ScoredSample | None:
    """An instance a backend could not answer: no prediction and no metric (analysis never sees
    it), its error kept in ``extra``; None when every request was answered."""
    failed = next((r for r in results if isinstance(r, FailedResult)), None)
    return None if failed is None else ScoredSample(metrics={}, extra={"error": failed.error})


def _token_counts(requests: list, results: list[Result]) -> tuple[int, int]:
    """(prompt tokens processed, output tokens): a context shared by choices counted once."""
    contexts: dict[str, int] = {}
    prompt = output = 0
    for q, r in zip(requests, results, strict=True):
        if isinstance(r, LoglikelihoodResult):
            contexts[q.context] = r.context_tokens
            prompt += r.continuation_tokens
        elif hasattr(r, "output_tokens"):
            prompt += r.input_tokens
            output += r.output_tokens
        else:
            prompt += r.tokens
    return prompt + sum(contexts.values()), output


def _time_shares(seconds: float, tokens: list[int]) -> list[float]:
    """``seconds`` split over instances in proportion to ``tokens`` (equally when none has
    any): each instance's share of its batch's wall time."""
    total = sum(tokens)
    if total <= 0:
        return [seconds / max(1, len(tokens))] * len(tokens)
    return [seconds * t / total for t in tokens]


def score_instances(
    model: ModelBackend | str,
    instances: Sequence[Instance],
    task: TaskLike,
    *,
    run_id: str = "",
    model_name: str | None = None,
) -> list[SampleRecord]:
    """Answer and score ``instances`` with ``model`` (a backend or a spec string).

    Pure apart from the model call: no store access, so a worker can run it on any shard.
    ``latency_s`` is each instance's own share of the batch's wall time, in proportion to the
    tokens it made the model process (prompt tokens, a shared context once, plus output
    tokens): a per-sample figure that sums to the batch's time. ``extra`` carries the batch id
    and seconds, from which :func:`assay.runner.fit_cost` is fitted.
    """
    backend = get_backend(model)
    start = time.perf_counter()
    answers = answer_requests(backend, instances)
    scored = [
        _errored(res) or task.score(inst, res) for inst, res in zip(instances, answers, strict=True)
    ]
    seconds = time.perf_counter() - start
    batch = uuid.uuid4().hex[:12]
    counts = [
        (None, None) if s.extra and "error" in s.extra else _token_counts(inst.requests, res)
        for inst, res, s in zip(instances, answers, scored, strict=True)
    ]
    shares = _time_shares(seconds, [(p or 0) + (o or 0) for p, o in counts])
    records = []
    for inst, s, (prompt_tokens, output_tokens), share in zip(
        instances, scored, counts, shares, strict=True
    ):
        extra = {
            **(s.extra or {}),
            "batch": batch,
            "batch_seconds": seconds,
            "runtime": backend.runtime,
        }
        records.append(
            SampleRecord(
                run_id=run_id,
                model=model_name or backend.name,
                task=task.name,
                doc_id=str(inst.doc_id),
                repeat=int(inst.repeat),
                metrics=dict(s.metrics),
                template_id=inst.template_id,
                prompt=inst.prompt,
                prompt_hash=inst.prompt_hash,
                doc_hash=inst.doc_hash,
                target=None if inst.target is None else str(inst.target),
                prediction=s.prediction,
                choice_logprobs=s.choice_logprobs,
                choice_order=inst.choice_order,
                chosen_position=s.chosen_position,
                input_tokens=s.input_tokens if s.input_tokens is not None else prompt_tokens,
                output_tokens=s.output_tokens if s.output_tokens is not None else output_tokens,
                latency_s=share,
                cluster_id=inst.cluster_id,
                difficulty=inst.difficulty,
                extra=extra,
            )
        )
    return records
