"""What a task hands the runner: one Instance per (document, repeat), and what it gets back.

Contract between ``assay.tasks`` and ``assay.runner``:

* ``Task.instances(...) -> list[Instance]`` renders prompts and builds the requests.
* The runner answers ``instance.requests`` with a model backend (``assay.models``), in order.
* ``Task.score(instance, results) -> ScoredSample`` turns the answers into metrics.
* The runner adds run id, model name, latency and writes a ``SampleRecord`` to the store.

What scoring needs beyond the common fields travels in a typed, per-request-type payload
(:class:`ChoicePayload`, :class:`GeneratePayload`, :class:`RollingPayload`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assay.requests import (
    GenerateResult,
    LoglikelihoodResult,
    Request,
    RollingResult,
)

Result = LoglikelihoodResult | RollingResult | GenerateResult


@dataclass(frozen=True)
class ChoicePayload:
    """A multiple-choice question as asked.

    ``continuations[i]`` is the scored text of the choice shown at position ``i`` without the
    target delimiter (the choice's text, or its letter when ``framing`` is ``"lettered"``);
    ``target_position`` the position of the right choice; ``tempting_index`` the original index
    of a distractor choice (from the document's ``tempting`` field), if any; ``relevance`` the
    graded relevance of each choice in the original order (from the document's ``relevance``
    field), which makes the choices a ranking scored by NDCG, MRR and recall@k.
    """

    continuations: tuple[str, ...]
    target_position: int
    framing: str = "cloze"
    tempting_index: int | None = None
    relevance: tuple[float, ...] | None = None


@dataclass(frozen=True)
class GeneratePayload:
    """A generation question: the accepted answers, and a tempting wrong one, if any."""

    targets: tuple[str, ...]
    tempting: str | None = None


@dataclass(frozen=True)
class RollingPayload:
    """A text scored as a whole (perplexity): nothing beyond the request itself."""


Payload = ChoicePayload | GeneratePayload | RollingPayload


@dataclass
class Instance:
    """One question as asked: a document under one template, repeat and choice ordering.

    ``repeat`` is unique per doc within a run: it numbers sampling repeats and choice
    orderings together (``repeat = ordering * repeats + sample``). ``choice_order[i]`` is the
    index in the document's original choices of the choice shown at position ``i``.
    ``payload`` is what scoring needs for the task's request type; ``metadata`` is provenance
    (``fewshot_doc_ids``, ``ordering``, ``sample``, ``chat``, ``user_message``).
    """

    task: str
    doc_id: str
    repeat: int
    template_id: str
    prompt: str
    requests: list[Request]
    target: str | None = None
    choices: list[str] | None = None
    choice_order: list[int] | None = None
    target_index: int | None = None
    difficulty: float | None = None
    cluster_id: str | None = None
    doc_hash: str | None = None
    prompt_hash: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    payload: Payload | None = None


@dataclass
class ScoredSample:
    """A task's verdict on one instance; the runner adds identity and timing."""

    metrics: dict[str, float]
    prediction: str | None = None
    choice_logprobs: list[float] | None = None
    chosen_position: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    extra: dict[str, Any] | None = None
