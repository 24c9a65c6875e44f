"""Request types as strategies: each builds its requests and scores its answers.

``Task`` picks one from ``request_type`` (the YAML key) and delegates to it. The common work
(documents, templates, few-shot examples, orderings × repeats, hashes) stays in ``Task``; what
differs per request type lives here, one class each, in inspect_ai's split: the solver half
(:meth:`RequestKind.variants`, the requests of one document) and the scorer half
(:meth:`RequestKind.score`, metrics from the answers). What scoring needs travels in the
instance's typed payload (``ChoicePayload``, ``GeneratePayload``, ``RollingPayload``).
"""

from __future__ import annotations

import dataclasses
import string
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np

from assay.errors import InputError
from assay.metrics import tree_edit_distance
from assay.requests import GenerateRequest, LoglikelihoodRequest, Request, RollingRequest

from ._docs import Doc, choice_orders, sampling_seed
from ._filters import make_filter
from ._instance import (
    ChoicePayload,
    GeneratePayload,
    Instance,
    Payload,
    Result,
    RollingPayload,
    ScoredSample,
)
from ._metrics import (
    exact_match,
    multiple_choice_metrics,
    normalize_answer,
    rolling_metrics,
    token_f1,
)
from ._numeric import discovery_pieces
from ._ranking import choice_relevance, ranking_metrics
from ._render import render_chat

LETTERS = string.ascii_uppercase

Ask = Callable[[list[str] | None], str]
"""The user message of a document given the choices in shown order (few-shot prefix included)."""

_P = TypeVar("_P", ChoicePayload, GeneratePayload, RollingPayload)


class TaskSettings(Protocol):
    """The task settings a request type reads (``assay.tasks.Task`` has them all)."""

    choices: Any
    target_delimiter: str
    stop: tuple[str, ...]
    max_new_tokens: int
    temperature: float
    filters: list[Any]
    chat: bool
    chat_template: str | None
    system_prompt: str | None

    def where(self, detail: str = "") -> str: ...

    def framing_of(self, template_id: str) -> str: ...


@dataclass(frozen=True)
class Variant:
    """One way of asking a document: a choice ordering (``None`` when the type shows no
    reordered choices), the user message, the requests, the target and the scoring payload."""

    order: list[int] | None
    user_message: str
    requests: list[Request]
    target: str | None
    target_index: int | None
    payload: Payload


@dataclass(frozen=True)
class Question:
    """One document as ``Task`` hands it to a request type: the settings, the document, its
    template, choices and target, the ``ask`` that renders its user message, the seed, the
    number of choice orderings and ``where`` (for error messages)."""

    task: TaskSettings
    doc: Doc
    template_id: str
    choices: list[str] | None
    target: Any
    ask: Ask
    seed: int
    permute_choices: int
    where: str


def choice_index(choices: list[str], target: Any, where: str) -> int:
    """The index of ``target`` (an index, a choice's text, or an index read as text) in
    ``choices``; anything else is an InputError naming ``where``."""
    if isinstance(target, list):
        target = target[0] if target else None
    if isinstance(target, bool) or target is None:
        raise InputError(f"{where}: target {target!r} is not a choice index or text")
    if isinstance(target, int | np.integer):
        if not 0 <= int(target) < len(choices):
            raise InputError(f"{where}: target index {target} outside {len(choices)} choices")
        return int(target)
    text = str(target)
    if text not in choices and text.isdigit() and int(text) < len(choices):
        return int(text)  # an index read as text (CSV)
    if text not in choices:
        raise InputError(f"{where}: target {text!r} is not one of the choices {choices}")
    return choices.index(text)


def labels_of(task: TaskSettings) -> tuple[str, ...] | str:
    """The choice labels of a lettered task: its ``choice_labels``, else A, B, C..."""
    return getattr(task, "choice_labels", None) or LETTERS


def _payload(instance: Instance, kind: type[_P]) -> _P:
    if not isinstance(instance.payload, kind):
        raise InputError(
            f"task {instance.task!r}, doc_id {instance.doc_id!r}: the instance carries no "
            f"{kind.__name__} (was it built by a task of another request type?)"
        )
    return instance.payload


class RequestKind(ABC):
    """What one request type does: validate settings, build requests, score answers."""

    request_type: ClassVar[str]
    fewshot: ClassVar[bool] = True
    """Whether few-shot examples are prepended (a text scored for perplexity gets none)."""

    def check(self, task: TaskSettings, where: str) -> None:
        """Raise InputError when the task's settings do not fit this request type."""
        return  # every setting fits unless a request type says otherwise

    def shot_answer(
        self, task: TaskSettings, template_id: str, choices: list[str], index: int
    ) -> str:
        """A few-shot example's answer when the task has choices: the right choice's text."""
        return choices[index]

    def variants(
        self,
        task: TaskSettings,
        doc: Doc,
        template_id: str,
        choices: list[str] | None,
        target: Any,
        ask: Ask,
        *,
        seed: int,
        permute_choices: int,
        where: str,
    ) -> Iterator[Variant]:
        """The ways of asking ``doc`` (one per choice ordering), in ordering order."""
        return self.build(
            Question(task, doc, template_id, choices, target, ask, seed, permute_choices, where)
        )

    def build(self, q: Question) -> Iterator[Variant]:
        """:meth:`variants` of the arguments bundled as one :class:`Question`."""
        raise NotImplementedError(f"request type {self.request_type!r} builds no requests")

    def sample_requests(
        self, task: TaskSettings, requests: list[Request], *, seed: int, repeat: int
    ) -> list[Request]:
        """The requests of one repeat (the same for every repeat unless sampling)."""
        return requests

    @abstractmethod
    def score(self, task: TaskSettings, instance: Instance, results: list[Result]) -> ScoredSample:
        """Metrics of one instance from the answers to its requests (in order)."""


class MultipleChoice(RequestKind):
    """log p(choice | question) for every choice; the argmax is the model's answer."""

    request_type = "multiple_choice"

    def check(self, task: TaskSettings, where: str) -> None:
        if task.choices is None:
            raise InputError(f"{where}: a multiple_choice task needs `choices`")

    def shot_answer(
        self, task: TaskSettings, template_id: str, choices: list[str], index: int
    ) -> str:
        if task.framing_of(template_id) == "lettered":
            return labels_of(task)[index]
        return choices[index]

    def build(self, q: Question) -> Iterator[Variant]:
        task, choices = q.task, q.choices
        assert choices is not None  # check() requires `choices`, which resolve to a list
        target_index = choice_index(choices, q.target, q.where)
        tempting = q.doc.fields.get("tempting")
        tempting_index = None
        if tempting is not None and str(tempting) in choices:
            tempting_index = choices.index(str(tempting))
        relevance = choice_relevance(q.doc.fields.get("relevance"), len(choices), q.where)
        for order in choice_orders(len(choices), q.permute_choices, q.seed, q.doc.doc_hash):
            shown = [choices[i] for i in order] if choices else choices
            user_message = q.ask(shown)
            lettered = task.framing_of(q.template_id) == "lettered"
            continuations = list(labels_of(task)[: len(shown)]) if lettered else shown
            context, delimiter = user_message, task.target_delimiter
            if task.chat:
                context = render_chat(
                    user_message,
                    chat_template=task.chat_template,
                    system=task.system_prompt,
                    where=task.where("chat_template"),
                )
                delimiter = ""
            yield Variant(
                order=order,
                user_message=user_message,
                requests=[LoglikelihoodRequest(context, delimiter + c) for c in continuations],
                target=choices[target_index],  # the right choice's text
                target_index=target_index,
                payload=ChoicePayload(
                    continuations=tuple(continuations),
                    target_position=order.index(target_index),
                    framing="lettered" if lettered else "cloze",
                    tempting_index=tempting_index,
                    relevance=relevance,
                ),
            )

    def score(self, task: TaskSettings, instance: Instance, results: list[Result]) -> ScoredSample:
        payload = _payload(instance, ChoicePayload)
        logprobs = [float(r.logprob) for r in results]
        continuations = payload.continuations
        correct = payload.target_position
        tokens = [getattr(r, "continuation_tokens", None) for r in results]
        metrics = multiple_choice_metrics(logprobs, continuations, correct, tokens)
        chosen = int(np.argmax(logprobs))
        order = instance.choice_order or list(range(len(logprobs)))
        if payload.tempting_index is not None:  # a distractor: how often and how much it pulls
            position = order.index(payload.tempting_index)
            metrics["chose_tempting"] = float(chosen == position)
            metrics["p_tempting"] = float(
                np.exp(logprobs[position] - np.logaddexp.reduce(logprobs))
            )
        if payload.relevance is not None:  # the choices as a ranking by log-likelihood
            shown = [payload.relevance[i] for i in order]
            metrics.update(ranking_metrics(shown, logprobs, getattr(task, "metrics", None)))
        choices = instance.choices or continuations
        context_tokens = max((getattr(r, "context_tokens", 0) or 0) for r in results)
        return ScoredSample(
            metrics=metrics,
            prediction=choices[order[chosen]],
            choice_logprobs=logprobs,
            chosen_position=chosen,
            input_tokens=context_tokens + sum(t or 0 for t in tokens),
            output_tokens=0,
            extra={"target_position": correct},
        )


class Generate(RequestKind):
    """Free generation until a stop sequence; the filtered text is matched to the targets."""

    request_type = "generate"

    def build(self, q: Question) -> Iterator[Variant]:
        task, choices, target = q.task, q.choices, q.target
        if isinstance(target, list) and not target:
            raise InputError(f"{q.where}: the target is an empty list")
        tempting = q.doc.fields.get("tempting")
        user_message = q.ask(choices)
        if isinstance(target, list):
            targets = [str(t) for t in target]
        elif isinstance(target, int) and choices is not None:
            targets = [choices[target]]
        else:
            targets = [str(target)]
        request = GenerateRequest(
            context=user_message,
            stop=task.stop,
            max_new_tokens=task.max_new_tokens,
            temperature=task.temperature,
            seed=0,
            chat=task.chat,
        )
        yield Variant(
            order=None,
            user_message=user_message,
            requests=[request],
            target=targets[0],
            target_index=None,
            payload=GeneratePayload(
                targets=tuple(targets), tempting=None if tempting is None else str(tempting)
            ),
        )

    def sample_requests(
        self, task: TaskSettings, requests: list[Request], *, seed: int, repeat: int
    ) -> list[Request]:
        if task.temperature <= 0:
            return requests
        return [dataclasses.replace(r, seed=sampling_seed(seed, repeat)) for r in requests]

    def score(self, task: TaskSettings, instance: Instance, results: list[Result]) -> ScoredSample:
        payload = instance.payload if isinstance(instance.payload, GeneratePayload) else None
        result = results[0]
        prediction = make_filter(task.filters)(result.text)
        targets = list(payload.targets) if payload else [instance.target or ""]
        names = {f if isinstance(f, str) else "" for f in task.filters}
        if "normalize" in names:
            targets = [normalize_answer(t) for t in targets]
        elif "lower" in names:
            targets = [t.lower() for t in targets]
        metrics = {
            "exact_match": exact_match(prediction, targets),
            "f1": token_f1(prediction, targets),
        }
        if payload is not None and payload.tempting is not None:
            metrics["chose_tempting"] = exact_match(prediction, [payload.tempting])
        if "tree_edit_distance" in getattr(task, "metrics", {}):  # declared: scored too
            metrics["tree_edit_distance"] = min(tree_edit_distance(prediction, t) for t in targets)
        raw_target = payload.targets[0] if payload else instance.target or ""
        metrics.update(discovery_pieces(prediction, raw_target, getattr(task, "metrics", None)))
        return ScoredSample(
            metrics=metrics,
            prediction=prediction,
            input_tokens=result.input_tokens,
            output_tokens=result.output_tokens,
            extra={"raw": result.text},
        )


class Rolling(RequestKind):
    """log p(text) of the whole rendered text (perplexity); no few-shot examples."""

    request_type = "loglikelihood_rolling"
    fewshot = False

    def build(self, q: Question) -> Iterator[Variant]:
        user_message = q.ask(q.choices)
        yield Variant(
            order=None,
            user_message=user_message,
            requests=[RollingRequest(user_message)],
            target=None,
            target_index=None,
            payload=RollingPayload(),
        )

    def score(self, task: TaskSettings, instance: Instance, results: list[Result]) -> ScoredSample:
        result = results[0]
        text = instance.requests[0].text  # type: ignore[union-attr]
        return ScoredSample(
            metrics=rolling_metrics(result.logprob, text, getattr(result, "tokens", None)),
            input_tokens=getattr(result, "tokens", None),
            output_tokens=0,
        )


KINDS: dict[str, RequestKind] = {
    kind.request_type: kind for kind in (MultipleChoice(), Generate(), Rolling())
}
REQUEST_TYPES = tuple(KINDS)
