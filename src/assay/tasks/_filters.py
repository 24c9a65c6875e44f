"""Answer extraction filters for generated text, applied in order.

A filter is named by a string: ``strip``, ``first_line``, ``first_number``, ``normalize``,
``choice_letter``, ``lower``, ``regex:PATTERN`` (first match; its first group when it has one).
lm-eval style dicts ``{"function": "regex", "regex_pattern": ...}`` and
``{"function": "take_first"}`` are accepted too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from assay.errors import InputError

from ._metrics import normalize_answer

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_LETTER_PATTERNS = (
    re.compile(r"^\s*\(?([A-HJ-Z])(?:[).:,]|\s|$)"),  # "B", "(B)", "B." at the start
    re.compile(r"\(([A-Z])\)"),  # "(B)" anywhere
    re.compile(r"[Aa]nswer(?: is)?\s*:?\s*\(?([A-Z])\b"),  # "answer is B"
    re.compile(r"\b([A-HJ-Z])\b"),  # a standalone capital, not the pronoun "I"
)


def _first_number(text: str) -> str:
    match = _NUMBER.search(text)
    return match.group(0).replace(",", "") if match else ""


def _choice_letter(text: str) -> str:
    """The chosen letter: a leading letter, then "(B)", then "answer is B", then any capital."""
    for pattern in _LETTER_PATTERNS:
        match = pattern.search(text)
        if match:
            return match.group(1)
    return ""


def _regex(pattern: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def extract(text: str) -> str:
        match = compiled.search(text)
        if not match:
            return ""
        return match.group(1) if compiled.groups else match.group(0)

    return extract


_SIMPLE: dict[str, Callable[[str], str]] = {
    "strip": str.strip,
    "lower": str.lower,
    "first_line": lambda t: t.strip().split("\n", 1)[0].strip(),
    "first_number": _first_number,
    "normalize": normalize_answer,
    "choice_letter": _choice_letter,
}

FILTER_NAMES = (*_SIMPLE, "regex:PATTERN")


def filter_name(spec: Any) -> str:
    """The canonical string of one filter spec (our string form or an lm-eval dict)."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict):
        function = spec.get("function")
        if function == "regex":
            return f"regex:{spec.get('regex_pattern', '')}"
        if function in ("take_first", "remove_whitespace"):
            return "strip"
        if function == "lowercase":
            return "lower"
    raise InputError(f"unknown answer filter {spec!r} (known: {', '.join(FILTER_NAMES)})")


def make_filter(specs: Sequence[Any]) -> Callable[[str], str]:
    """Compose filters left to right; an unknown name is an error naming it."""
    steps = []
    for spec in specs:
        name = filter_name(spec)
        if name.startswith("regex:"):
            try:
                steps.append(_regex(name[len("regex:") :]))
            except re.error as exc:
                raise InputError(f"bad regex filter {name!r}: {exc}") from None
        elif name in _SIMPLE:
            steps.append(_SIMPLE[name])
        else:
            raise InputError(f"unknown answer filter {name!r} (known: {', '.join(FILTER_NAMES)})")

    def apply(text: str) -> str:
        for step in steps:
            text = step(text)
        return text

    return apply
