"""The one interface every model backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from assay.requests import (
    GenerateRequest,
    GenerateResult,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RollingRequest,
    RollingResult,
)


class ModelBackend(ABC):
    """A model that answers :mod:`assay.requests`.

    Backends answer lists of requests in order (one result per request) and are free to
    reorder, batch and de-duplicate internally. ``name`` is the model's name in the store;
    ``spec`` is the string :func:`assay.models.load_model` accepts to rebuild it (what a
    remote worker needs); ``info`` holds metadata for the store's models table (family,
    params, ...).
    """

    name: str
    spec: str
    #: identifies the runtime for the inference-cost fit (e.g. ``hf:cpu:float32``)
    runtime: str = "unknown"
    info: dict[str, Any]

    @abstractmethod
    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        """log p(continuation | context) for each request, summed over continuation tokens."""

    @abstractmethod
    def loglikelihood_rolling(self, requests: Sequence[RollingRequest]) -> list[RollingResult]:
        """log p(text) of whole texts (perplexity), in windows of the model's context length."""

    @abstractmethod
    def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        """Free-form generations (greedy when ``temperature == 0``)."""

    def tokens(self, text: str) -> int:
        """Number of tokens in ``text`` (an approximation for backends without a tokenizer)."""
        return max(1, len(text) // 4)

    def close(self) -> None:
        """Release resources (connections, memory); nothing to release by default."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"
