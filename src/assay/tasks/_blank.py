"""Blank-ppl: multiple choice scored as fill-in-the-blank perplexity, for base models.

Each choice is written into the question's blank (the first run of three or more underscores,
or appended after ``target_delimiter`` when there is none) and the *whole* text is scored,
log p(question with the blank filled), as in BOSE's blank-ppl. The model's answer is the text
with the lowest perplexity per token, exp(−ll_i / T_i) (``acc_tokens``); ``acc`` uses the raw
whole-sequence log-likelihood, ``acc_norm`` the per-character one. Unlike ``multiple_choice``
there is no "Answer:" prompt format to learn, so base models are not punished for not knowing
it. No few-shot examples (they would be scored too); choices are never reordered.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from assay.errors import InputError
from assay.requests import RollingRequest

from ._instance import ChoicePayload, Instance, Result, ScoredSample
from ._kinds import Question, RequestKind, TaskSettings, Variant, _payload, choice_index
from ._metrics import multiple_choice_metrics

__all__ = ["BLANK", "BlankPPL", "fill_blank"]

BLANK = re.compile(r"_{3,}")
"""The blank in a question: three or more underscores."""


def fill_blank(question: str, choice: str, delimiter: str = " ") -> str:
    """``question`` with its first blank replaced by ``choice``, else ``question +
    delimiter + choice``."""
    if BLANK.search(question):
        return BLANK.sub(lambda _: choice, question, count=1)
    return question + delimiter + choice


class BlankPPL(RequestKind):
    """log p(whole text) of the question with each choice filled in; lowest perplexity wins."""

    request_type = "blank_ppl"
    fewshot = False

    def check(self, task: TaskSettings, where: str) -> None:
        if task.choices is None:
            raise InputError(f"{where}: a blank_ppl task needs `choices`")

    def build(self, q: Question) -> Iterator[Variant]:
        choices = q.choices
        assert choices is not None  # check() requires `choices`
        target_index = choice_index(choices, q.target, q.where)
        question = q.ask(choices)
        texts = [fill_blank(question, c, q.task.target_delimiter) for c in choices]
        yield Variant(
            order=list(range(len(choices))),
            user_message=question,
            requests=[RollingRequest(t) for t in texts],
            target=choices[target_index],
            target_index=target_index,
            payload=ChoicePayload(
                continuations=tuple(texts), target_position=target_index, framing="blank"
            ),
        )

    def score(self, task: TaskSettings, instance: Instance, results: list[Result]) -> ScoredSample:
        payload = _payload(instance, ChoicePayload)
        logprobs = [float(r.logprob) for r in results]
        tokens = [getattr(r, "tokens", None) for r in results]
        metrics = multiple_choice_metrics(
            logprobs, payload.continuations, payload.target_position, tokens
        )
        chosen = int(max(range(len(logprobs)), key=lambda i: _per_token(logprobs, tokens, i)))
        choices = instance.choices or list(payload.continuations)
        return ScoredSample(
            metrics=metrics,
            prediction=choices[chosen],
            choice_logprobs=logprobs,
            chosen_position=chosen,
            input_tokens=sum(t or 0 for t in tokens),
            output_tokens=0,
            extra={"target_position": payload.target_position},
        )


def _per_token(logprobs: list[float], tokens: list[int | None], i: int) -> float:
    """ll_i / T_i (the per-token log-likelihood; raw ll when the count is missing); the first
    of equal values wins, as numpy's argmax."""
    count = tokens[i]
    return logprobs[i] / max(count, 1) if count else logprobs[i]
