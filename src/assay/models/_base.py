"""The one interface every model backend implements, and the typed facts about a backend."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from assay import requests as rq


@dataclass(frozen=True)
class BackendInfo:
    """What a backend is, fixed when it is built.

    ``kind`` is the backend family (``hf``, ``openai``, ``llamacpp``): part of every run id, so
    runs of different numerics never mix. ``runtime`` names the runtime of the inference-cost
    fit (e.g. ``hf:cpu:float32``, ``openai:http://host/v1``). ``family``, ``params`` and
    ``dtype`` go to the store's models table (a ``dtype`` is also part of the run id).
    """

    kind: str
    runtime: str
    family: str | None = None
    params: float | None = None
    dtype: str | None = None


class ModelBackend(ABC):
    """A model that answers :mod:`assay.requests`.

    Backends answer lists of requests in order (one result per request) and are free to
    reorder, batch and de-duplicate internally. ``name`` is the model's name in the store;
    ``spec`` is the string :func:`assay.models.load_model` accepts to rebuild it (what a
    remote worker needs); ``info`` is its :class:`BackendInfo`.
    """

    name: str
    spec: str
    info: BackendInfo = BackendInfo(kind="unknown", runtime="unknown")

    @property
    def runtime(self) -> str:
        """``info.runtime``: the runtime of the inference-cost fit."""
        return self.info.runtime

    @abstractmethod
    def loglikelihood(
        self, requests: Sequence[rq.LoglikelihoodRequest]
    ) -> list[rq.LoglikelihoodResult]:
        """log p(continuation | context) for each request, summed over continuation tokens."""

    @abstractmethod
    def loglikelihood_rolling(
        self, requests: Sequence[rq.RollingRequest]
    ) -> list[rq.RollingResult]:
        """log p(text) of whole texts (perplexity), in windows of the model's context length."""

    @abstractmethod
    def generate(self, requests: Sequence[rq.GenerateRequest]) -> list[rq.GenerateResult]:
        """Free-form generations (greedy when ``temperature == 0``)."""

    def tokens(self, text: str) -> int:
        """Number of tokens in ``text`` (an approximation for backends without a tokenizer)."""
        return max(1, len(text) // 4)

    def close(self) -> None:
        """Release resources (connections, memory); nothing to release by default."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"
