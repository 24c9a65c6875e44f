"""Checking the bodies of OpenAI-compatible replies: anything unexpected is a :class:`BadReply`.

A 2xx reply can still be garbage (a proxy's HTML page, a truncated body, invalid UTF-8, JSON of
the wrong shape); the backend retries those like a 5xx. A well-formed completion that carries no
prompt log-probs (the server ignores ``echo``/``logprobs``) is flagged ``capability``: the
backend gives up on those quickly when the server has never returned prompt log-probs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any


class BadReply(Exception):
    """A 2xx reply whose body is not what the endpoint returns."""

    def __init__(self, why: str, *, capability: bool = False):
        super().__init__(why)
        self.why = why
        self.capability = capability


class BadContent(BadReply):
    """A well-formed reply whose answer is unusable (no text, a log-prob that is not a finite
    number <= 0): retried, then that one request fails and the rest of the batch goes on."""


LOGPROB_SLACK = 1e-6
"""Largest positive log-prob read as 0 (float rounding of a near-certain token)."""


@dataclass(frozen=True)
class EchoLogprobs:
    """The echoed prompt's tokens, their log-probs (None for the first), character offsets
    and top alternatives (``{token: logprob}`` or None per token)."""

    tokens: list[str]
    values: list[float | None]
    offsets: list[int]
    top: list[dict[str, float] | None]


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def decode_json(content: bytes) -> Any:
    """The body as JSON; BadReply when it is empty, not UTF-8 or not (complete) JSON."""
    if not content.strip():
        raise BadReply("empty body")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadReply(f"body is not valid UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadReply(f"body is not valid JSON ({exc.msg} at char {exc.pos})") from None
    except (ValueError, RecursionError):
        raise BadReply("body is not valid JSON") from None


def first_choice(data: Any) -> dict[str, Any]:
    """``data["choices"][0]``, checked."""
    if not isinstance(data, dict):
        raise BadReply(f"reply is {_kind(data)}, not an object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        error = data.get("error")
        if error:
            message = error.get("message", error) if isinstance(error, dict) else error
            raise BadReply(f"reply is an error: {' '.join(str(message).split())[:120]}")
        raise BadReply("reply has no 'choices' list")
    if not isinstance(choices[0], dict):
        raise BadReply(f"'choices[0]' is {_kind(choices[0])}, not an object")
    return choices[0]


def _list(lp: dict[str, Any], key: str, n: int | None) -> list[Any]:
    value = lp.get(key)
    if not isinstance(value, list):
        raise BadReply(f"'logprobs.{key}' is {_kind(value)}, not a list")
    if n is not None and len(value) != n:
        raise BadReply(f"'logprobs.{key}' has {len(value)} entries for {n} tokens")
    return value


def echo_logprobs(data: Any, prompt_chars: int) -> EchoLogprobs:
    """The echoed prompt log-probs of a ``/completions`` reply with ``echo=true, logprobs=1``."""
    lp = first_choice(data).get("logprobs")
    if lp is None:
        raise BadReply("the reply has no 'logprobs'", capability=True)
    if not isinstance(lp, dict):
        raise BadReply(f"'logprobs' is {_kind(lp)}, not an object")
    tokens = _list(lp, "tokens", None)
    if not tokens:
        raise BadReply("'logprobs.tokens' is empty")
    n = len(tokens)
    values = _list(lp, "token_logprobs", n)
    offsets = _list(lp, "text_offset", n)
    top = lp.get("top_logprobs")
    top = [None] * n if top is None else _list(lp, "top_logprobs", n)
    if not all(isinstance(t, str) for t in tokens):
        raise BadReply("'logprobs.tokens' holds a non-string")
    if not all(v is None or isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise BadReply("'logprobs.token_logprobs' holds a value that is not a number")
    bad = [v for v in values if v is not None and not (_number(v) and v <= LOGPROB_SLACK)]
    if bad:
        raise BadContent(f"'logprobs.token_logprobs' holds {bad[0]!r} (not a finite number <= 0)")
    values = [v if v is None else min(float(v), 0.0) for v in values]
    if not all(_integer(o) and o >= 0 for o in offsets) or any(
        b < a for a, b in zip(offsets, offsets[1:], strict=False)
    ):
        raise BadReply("'logprobs.text_offset' is not a non-decreasing list of offsets")
    for alts in top:
        if alts is not None and not (
            isinstance(alts, dict) and all(_number(v) for v in alts.values())
        ):
            raise BadReply("'logprobs.top_logprobs' holds an entry that is not {token: logprob}")
        if alts and max(alts.values()) > LOGPROB_SLACK:
            raise BadContent(f"'logprobs.top_logprobs' holds {max(alts.values())!r} (> 0)")
    if offsets[0] >= prompt_chars > 0:
        raise BadReply(
            "the reply's tokens do not include the prompt (echo ignored)", capability=True
        )
    return EchoLogprobs(tokens, values, offsets, top)


def _text(value: Any, where: str) -> str:
    if value is None:  # null or missing: no answer at all (an empty answer is "")
        raise BadContent(f"'{where}' is null or missing: no text")
    if not isinstance(value, str):
        raise BadReply(f"'{where}' is {_kind(value)}, not a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadReply(f"'{where}' holds invalid unicode") from None
    return value


def completion_text(data: Any, chat: bool) -> str:
    """The generated text of a ``/chat/completions`` (``chat``) or ``/completions`` reply."""
    choice = first_choice(data)
    if not chat:
        return _text(choice.get("text"), "choices[0].text")
    message = choice.get("message")
    if not isinstance(message, dict):
        raise BadReply(f"'choices[0].message' is {_kind(message)}, not an object")
    return _text(message.get("content"), "choices[0].message.content")


def usage_tokens(data: dict[str, Any]) -> tuple[int | None, int | None]:
    """(prompt_tokens, completion_tokens) from ``usage`` when present and plausible."""
    usage = data.get("usage")
    if not isinstance(usage, dict):
        return None, None

    def count(key: str) -> int | None:
        value = usage.get(key)
        return value if _integer(value) and 0 < value < 2**31 else None

    return count("prompt_tokens"), count("completion_tokens")


def usage_total(data: Any) -> int | None:
    """Tokens a reply was billed: ``usage.total_tokens``, else prompt + completion tokens."""
    if not isinstance(data, dict) or not isinstance(data.get("usage"), dict):
        return None
    total = data["usage"].get("total_tokens")
    if _integer(total) and 0 < total < 2**31:
        return total
    prompt, completion = usage_tokens(data)
    return None if prompt is None and completion is None else (prompt or 0) + (completion or 0)
