"""Plain record types written to the store, and the run identity hash."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from assay.core import stable_hash

__all__ = [
    "WINNERS",
    "Battle",
    "ModelInfo",
    "RunInfo",
    "SampleRecord",
    "make_run_id",
    "stable_hash",
]

WINNERS = ("model_a", "model_b", "tie", "tie_bothbad")


def make_run_id(
    model: str,
    task: str,
    *,
    task_version: str | None = None,
    template_id: str | None = None,
    num_fewshot: int | None = None,
    fewshot_seed: int | None = None,
    settings: dict[str, Any] | None = None,
) -> str:
    """Run id: a hash of everything that changes the answers, so re-running resumes."""
    return stable_hash(
        {
            "model": model,
            "task": task,
            "task_version": task_version,
            "template_id": template_id,
            "num_fewshot": num_fewshot,
            "fewshot_seed": fewshot_seed,
            "settings": settings or {},
        }
    )


@dataclass
class SampleRecord:
    """One scored answer. ``(run_id, doc_id, repeat)`` is its key in the store.

    ``repeat`` numbers the repeated samples of one document *and* its choice orderings
    (``choice_order`` holds the order the choices were shown in, as indices into the
    original choices; ``chosen_position`` the position the model picked).
    """

    run_id: str
    model: str
    task: str
    doc_id: str
    repeat: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    template_id: str | None = None
    prompt: str | None = None
    prompt_hash: str | None = None
    doc_hash: str | None = None
    target: str | None = None
    prediction: str | None = None
    choice_logprobs: list[float] | None = None
    choice_order: list[int] | None = None
    chosen_position: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_s: float | None = None
    cluster_id: str | None = None
    difficulty: float | None = None
    extra: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunInfo:
    """One run: (model, task, template, few-shot seed, generation settings)."""

    run_id: str
    model: str
    task: str
    task_version: str | None = None
    template_id: str | None = None
    num_fewshot: int | None = None
    fewshot_seed: int | None = None
    settings: dict[str, Any] | None = None
    source: str = "assay"
    extra: dict[str, Any] | None = None


@dataclass
class ModelInfo:
    """A model and its metadata (DESIGN.md: Identities)."""

    model: str
    family: str | None = None
    params: float | None = None
    tokens: float | None = None
    flops: float | None = None
    step: int | None = None
    release_date: str | None = None
    parent: str | None = None
    spec: str | None = None
    extra: dict[str, Any] | None = None


@dataclass
class Battle:
    """A pairwise judgment; ``winner`` is one of model_a, model_b, tie, tie_bothbad."""

    model_a: str
    model_b: str
    winner: str
    prompt_id: str | None = None
    judge: str | None = None
    time: str | None = None
    source: str | None = None
    extra: dict[str, Any] | None = None
    battle_id: str | None = None
