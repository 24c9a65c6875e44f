"""Requests a task sends to a model backend, and the backend's answers.

This module is the contract between ``assay.tasks`` (which builds requests and scores the
answers) and ``assay.models`` (which answers them). Both import it; neither imports the other.
Requests are frozen and hashable so the runner can de-duplicate identical requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "FailedResult",
    "GenerateRequest",
    "GenerateResult",
    "LoglikelihoodRequest",
    "LoglikelihoodResult",
    "Request",
    "RollingRequest",
    "RollingResult",
]


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """log p(continuation | context), summed over the continuation's tokens."""

    context: str
    continuation: str


@dataclass(frozen=True)
class LoglikelihoodResult:
    logprob: float
    is_greedy: bool
    context_tokens: int
    continuation_tokens: int


@dataclass(frozen=True)
class RollingRequest:
    """log p(text) of a whole text, scored in rolling windows (perplexity)."""

    text: str


@dataclass(frozen=True)
class RollingResult:
    logprob: float
    tokens: int


@dataclass(frozen=True)
class GenerateRequest:
    """Free generation from ``context`` until a stop sequence or ``max_new_tokens``.

    ``temperature == 0`` means greedy decoding; otherwise sampling seeded by ``seed``.
    """

    context: str
    stop: tuple[str, ...] = ()
    max_new_tokens: int = 64
    temperature: float = 0.0
    seed: int = 0
    chat: bool = False


@dataclass(frozen=True)
class GenerateResult:
    text: str
    input_tokens: int
    output_tokens: int
    extra: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class FailedResult:
    """No usable answer: the backend's replies to this request stayed invalid after its retries
    (e.g. a 200 with no text, a positive log-prob). The runner stores the sample as errored: no
    prediction, no metric, counted in the summary, computed again on the next run."""

    error: str


Request = LoglikelihoodRequest | RollingRequest | GenerateRequest
