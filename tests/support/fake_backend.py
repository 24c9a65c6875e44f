"""A deterministic fake :class:`assay.models.ModelBackend` for testing the runner anywhere.

Every answer is a pure function of the request (SHA-256 of its text), so two fakes built the
same way give the same store; no torch, no network. Token counts are whitespace words.

The fake can *know* answers: ``answers`` maps a context (a request's prompt) to the right
answer, the text of the right continuation (multiple choice, compared without surrounding
space) or of the right generation; :func:`answer_key` builds it from tasks' instances. A
context in the key is known when ``unit("skill", context) < skill``: a fixed, hash-chosen
subset whose size a test counts with :meth:`FakeBackend.knows`. Log-likelihoods are
``-rate * L`` with ``L`` the continuation's characters (surrounding space stripped):

* a known context: the right continuation has ``rate = 0.01`` (is_greedy), the others
  ``rate in [1, 2)``, so acc = acc_norm = acc_bytes = acc_tokens = 1;
* an unknown context in the key: the right continuation has ``rate = 50``, the lowest, so every
  acc variant is 0 (for continuations under ~25 characters per word, as the built-in tasks have);
* a context not in the key: every continuation has ``rate = 1 + unit(context, continuation)``.

Generation returns the known answer, else ``generation`` (a string or a function of the
request), else letters from the hash (no digits, so ``first_number`` finds nothing). A sampled
request (``temperature > 0``) is known per ``(context, seed)``, so repeats differ. Rolling
log-probabilities are ``-(1 + unit(text)) * tokens``. ``spec`` is ``fake:NAME``, which
:func:`assay.models.load_model` does not rebuild (the fake lives in the tests).

``calls`` and ``answered`` count method calls and requests per method; ``seen`` lists every
request in order. ``fail_after=N`` raises :class:`FakeCrash` from the call that would take the
answered total past N (nothing of that call is answered), which simulates a killed run.
"""

from __future__ import annotations

import hashlib
import string
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from assay.models import BackendInfo, ModelBackend
from assay.requests import (
    GenerateRequest,
    GenerateResult,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    Request,
    RollingRequest,
    RollingResult,
)

__all__ = ["KNOWN_RATE", "UNKNOWN_RATE", "FakeBackend", "FakeCrash", "answer_key", "unit"]

KNOWN_RATE = 0.01
"""Nats per character of the right continuation of a known context."""
UNKNOWN_RATE = 50.0
"""Nats per character of the right continuation of a context in the key but not known."""


class FakeCrash(RuntimeError):
    """Raised by a :class:`FakeBackend` with ``fail_after`` once its budget is spent."""


def unit(*parts: Any) -> float:
    """A number in [0, 1) that is a pure function of ``parts`` (SHA-256 of their repr)."""
    digest = hashlib.sha256(repr(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def _words(text: str) -> int:
    return max(1, len(text.split()))


def _letters(*parts: Any, n: int = 8) -> str:
    digest = hashlib.sha256(repr(parts).encode("utf-8")).digest()
    return "".join(string.ascii_lowercase[b % 26] for b in digest[:n])


def answer_key(instances: Iterable[Any]) -> dict[str, str]:
    """Context -> right answer (stripped text) for multiple-choice and generate instances.

    Multiple choice: the continuation at the right position (``choice_order.index(
    target_index)``), e.g. ``"16"`` for `` 16`` or ``"B"`` when lettered; generate:
    ``instance.target``. Instances of several tasks may be mixed: a context shared by two
    tasks (``arith_mc`` and ``arith_gen`` ask the same question) must have the same answer,
    else ValueError. Rolling instances have no answer and are left out.
    """
    key: dict[str, str] = {}
    for inst in instances:
        first = inst.requests[0]
        if isinstance(first, LoglikelihoodRequest):
            order = inst.choice_order or list(range(len(inst.requests)))
            answer = inst.requests[order.index(inst.target_index)].continuation.strip()
        elif isinstance(first, GenerateRequest) and inst.target is not None:
            answer = str(inst.target).strip()
        else:
            continue
        if key.setdefault(first.context, answer) != answer:
            raise ValueError(
                f"context {first.context!r}: answers {key[first.context]!r} and {answer!r}"
            )
    return key


class FakeBackend(ModelBackend):
    """A deterministic, counting :class:`ModelBackend` (see the module docstring)."""

    def __init__(
        self,
        name: str = "fake",
        *,
        answers: Mapping[str, str] | None = None,
        skill: float = 1.0,
        generation: str | Callable[[GenerateRequest], str] | None = None,
        fail_after: int | None = None,
        info: BackendInfo | None = None,
    ):
        if not 0.0 <= skill <= 1.0:
            raise ValueError(f"skill must be in [0, 1], got {skill}")
        self.name = name
        self.spec = f"fake:{name}"
        self.info = info or BackendInfo(kind="fake", runtime="fake:cpu", family="fake", params=1e6)
        self.answers = dict(answers or {})
        self.skill = skill
        self.generation = generation
        self.fail_after = fail_after
        self.calls: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.seen: list[Request] = []

    # ------------------------------------------------------------------ bookkeeping
    @property
    def total(self) -> int:
        """Requests answered so far, over all methods."""
        return sum(self.answered.values())

    def reset(self) -> None:
        """Forget the counts (the answers stay the same)."""
        self.calls.clear()
        self.answered.clear()
        self.seen.clear()

    def _account(self, method: str, requests: Sequence[Request]) -> None:
        self.calls[method] += 1
        if self.fail_after is not None and self.total + len(requests) > self.fail_after:
            raise FakeCrash(f"{self.name}: crashed after {self.total} requests")
        self.answered[method] += len(requests)
        self.seen.extend(requests)

    def knows(self, context: str, seed: int | None = None) -> bool:
        """Whether the fake answers ``context`` right (``seed`` for sampled generations)."""
        if context not in self.answers:
            return False
        parts = ("skill", context) if seed is None else ("skill", context, seed)
        return unit(*parts) < self.skill

    def tokens(self, text: str) -> int:
        return _words(text)

    # ------------------------------------------------------------------ the interface
    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        self._account("loglikelihood", requests)
        out = []
        for r in requests:
            chars = max(1, len(r.continuation.strip()))
            right = self.answers.get(r.context) == r.continuation.strip()
            known = right and self.knows(r.context)
            if known:
                rate = KNOWN_RATE
            elif right:
                rate = UNKNOWN_RATE
            else:
                rate = 1.0 + unit("ll", r.context, r.continuation)
            out.append(
                LoglikelihoodResult(
                    logprob=-rate * chars,
                    is_greedy=known,
                    context_tokens=_words(r.context),
                    continuation_tokens=_words(r.continuation),
                )
            )
        return out

    def loglikelihood_rolling(self, requests: Sequence[RollingRequest]) -> list[RollingResult]:
        self._account("loglikelihood_rolling", requests)
        return [
            RollingResult(
                logprob=-(1.0 + unit("rolling", r.text)) * _words(r.text), tokens=_words(r.text)
            )
            for r in requests
        ]

    def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        self._account("generate", requests)
        out = []
        for r in requests:
            seed = r.seed if r.temperature > 0 else None
            if self.knows(r.context, seed):
                text = self.answers[r.context]
            elif r.context in self.answers or self.generation is None:
                text = "fake " + _letters("gen", r.context, seed)
            elif callable(self.generation):
                text = self.generation(r)
            else:
                text = self.generation
            text = " ".join(text.split(" ")[: max(1, r.max_new_tokens)])
            for stop in r.stop:
                text = text.split(stop)[0]
            out.append(
                GenerateResult(
                    text=text, input_tokens=_words(r.context), output_tokens=len(text.split())
                )
            )
        return out
