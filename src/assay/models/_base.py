"""The one interface every model backend implements, and the typed facts about a backend."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from assay import requests as rq
from assay.errors import InputError


@dataclass(frozen=True)
class BackendInfo:
    """What a backend is, fixed when it is built.

    ``kind`` is the backend family (``hf``, ``openai``, ``llamacpp``): part of every run id, so
    runs of different numerics never mix. ``runtime`` names the runtime of the inference-cost
    fit (e.g. ``hf:cpu:float32``, ``openai:http://host/v1``). ``family``, ``params``,
    ``dtype`` and ``parent`` (the model this one was derived from: its quantization source or
    previous checkpoint, which version flips compare against) go to the store's models table;
    ``dtype`` and ``quantization`` (e.g. ``int8``) are also part of the run id.
    """

    kind: str
    runtime: str
    family: str | None = None
    params: float | None = None
    dtype: str | None = None
    quantization: str | None = None
    parent: str | None = None


def prefix_token(bos: int | None, eos: int | None) -> int:
    """The token a text is conditioned on when it has no context (assay's rolling convention,
    lm-eval's ``prefix_token_id``): the tokenizer's BOS, else its end-of-text token."""
    if bos is not None and bos >= 0:
        return int(bos)
    if eos is not None and eos >= 0:
        return int(eos)
    raise InputError("the tokenizer has neither a BOS nor an end-of-text token to condition on")


def rolling_windows(
    tokens: list[int], prefix: int, max_len: int
) -> list[tuple[list[int], list[int]]]:
    """Disjoint (context, predicted) windows covering ``tokens``: lm-eval's rolling scheme with
    one token of context. Every token is predicted exactly once, the first from ``prefix`` (so
    a window's context plus its predictions is at most ``max_len`` + 1 tokens, of which at
    most ``max_len`` are fed: the last prediction is not an input)."""
    out: list[tuple[list[int], list[int]]] = []
    first = min(max_len, len(tokens))
    out.append(([prefix], tokens[:first]))
    done = first
    while done < len(tokens):
        n = min(len(tokens) - done, max_len)
        end = done + n
        window = tokens[max(0, end - max_len - 1) : end - 1]
        out.append((window[: len(window) - (n - 1)], tokens[end - n : end]))
        done = end
    return out


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
        """log p(text) of whole texts (perplexity), in windows of the model's context length.

        The convention every backend follows (lm-eval's): the text is conditioned on the
        :func:`prefix_token` (BOS, else end-of-text) and every one of its tokens is scored;
        ``RollingResult.tokens`` counts them. A backend that cannot do this raises."""

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
