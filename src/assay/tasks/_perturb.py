"""Seeded, deterministic perturbations of a task's inputs (HELM's robustness column).

``perturbed(task, name, seed)`` returns a copy of ``task`` named ``task+name`` whose documents
keep their ``doc_id`` (so the clean and the perturbed answers pair up question by question) and
whose input fields are perturbed; the answer fields (the target, the choices, a ``tempting``
distractor) are left as they are, so the gold answer does not move. Every perturbation is a pure
function of ``(name, seed, doc_id, field, text)``: the same seed gives the same strings.

Perturbations (Liang et al. 2022, "Holistic Evaluation of Language Models", §5.2 and App. D;
the word lists here are the project's own):

* ``typos``: each letter, with probability 0.1, becomes a neighbouring QWERTY key (case kept);
  at least one letter changes when the text has one.
* ``casing``: the whole input lowercased.
* ``whitespace``: each space becomes 1–3 random whitespace characters (space, tab, newline).
* ``contractions``: expanded forms contracted ("do not" → "don't", "it is" → "it's", ...).
* ``distractor``: an irrelevant sentence appended to the longest input field.
* ``labels``: the choice labels A/B/C/D shown (``letters``, ``choice_list``) and scored (lettered
  framing) become 1/2/3/4.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from assay.core import stable_hash
from assay.errors import InputError

from ._docs import Doc
from ._render import template_variables
from ._task import Task

__all__ = ["PERTURBATIONS", "perturb_text", "perturbed", "with_perturbations"]

TYPO_RATE = 0.1
"""Probability that one letter is replaced by a keyboard neighbour."""

_QWERTY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _keyboard_neighbours() -> dict[str, str]:
    """Letter → the letters next to it on a QWERTY keyboard (same row and the rows above and
    below, offset by at most one key)."""
    position = {c: (r, i) for r, row in enumerate(_QWERTY_ROWS) for i, c in enumerate(row)}
    out = {}
    for c, (r, i) in position.items():
        near = [
            d
            for d, (r2, i2) in position.items()
            if d != c and abs(r2 - r) <= 1 and abs(i2 - i) <= 1
        ]
        out[c] = "".join(sorted(near))
    return out


KEYBOARD_NEIGHBOURS = _keyboard_neighbours()

CONTRACTIONS = {
    "are not": "aren't",
    "cannot": "can't",
    "could not": "couldn't",
    "did not": "didn't",
    "does not": "doesn't",
    "do not": "don't",
    "had not": "hadn't",
    "has not": "hasn't",
    "have not": "haven't",
    "he is": "he's",
    "I am": "I'm",
    "I have": "I've",
    "is not": "isn't",
    "it is": "it's",
    "she is": "she's",
    "should not": "shouldn't",
    "that is": "that's",
    "there is": "there's",
    "they are": "they're",
    "was not": "wasn't",
    "we are": "we're",
    "were not": "weren't",
    "what is": "what's",
    "will not": "won't",
    "would not": "wouldn't",
    "you are": "you're",
}
_CONTRACTION_RE = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(CONTRACTIONS, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)

DISTRACTORS = (
    "The weather was mild that afternoon.",
    "A blue kettle sat on the stove.",
    "Some people prefer tea in the morning.",
    "The library closes early on Sundays.",
    "A cat slept on the windowsill.",
    "The train was a few minutes late.",
    "Fresh paint still smelled in the hallway.",
    "The garden had three kinds of roses.",
)
"""Irrelevant sentences written for assay (they change no answer)."""

NUMBER_LABELS = tuple(str(i) for i in range(1, 27))


def _rng(name: str, seed: int, *key: Any) -> np.random.Generator:
    return np.random.default_rng(int(stable_hash([name, seed, *key]), 16))


def _typos(text: str, rng: np.random.Generator) -> str:
    chars = list(text)
    letters = [i for i, c in enumerate(chars) if c.lower() in KEYBOARD_NEIGHBOURS]
    if not letters:
        return text
    hit = rng.random(len(letters)) < TYPO_RATE
    if not hit.any():
        hit[rng.integers(len(letters))] = True
    picks = rng.random(len(letters))
    for i, h, u in zip(letters, hit, picks, strict=True):
        if h:
            near = KEYBOARD_NEIGHBOURS[chars[i].lower()]
            new = near[int(u * len(near))]
            chars[i] = new.upper() if chars[i].isupper() else new
    return "".join(chars)


def _whitespace(text: str, rng: np.random.Generator) -> str:
    parts = text.split(" ")
    if len(parts) == 1:
        return text
    widths = rng.integers(1, 4, size=len(parts) - 1)
    kinds = rng.integers(0, 3, size=int(widths.sum()))
    pool = np.array([" ", "\t", "\n"])
    gaps = np.split(pool[kinds], np.cumsum(widths)[:-1])
    out = [parts[0]]
    for gap, part in zip(gaps, parts[1:], strict=True):
        out.append("".join(gap) + part)
    return "".join(out)


def _contract(text: str, rng: np.random.Generator) -> str:
    def one(match: re.Match[str]) -> str:
        found = match.group(0)
        key = next(k for k in CONTRACTIONS if k.lower() == found.lower())
        short = CONTRACTIONS[key]
        return short[0].upper() + short[1:] if found[0].isupper() else short

    return _CONTRACTION_RE.sub(one, text)


def _distractor(text: str, rng: np.random.Generator) -> str:
    sentence = DISTRACTORS[int(rng.integers(len(DISTRACTORS)))]
    return f"{text.rstrip()} {sentence}"


TEXT_PERTURBATIONS: dict[str, Callable[[str, np.random.Generator], str]] = {
    "typos": _typos,
    "casing": lambda text, rng: text.lower(),
    "whitespace": _whitespace,
    "contractions": _contract,
    "distractor": _distractor,
}
PERTURBATIONS: tuple[str, ...] = (*TEXT_PERTURBATIONS, "labels")
"""The perturbation names ``perturbed`` and ``assay eval --perturb`` accept."""


def check_perturbations(names: Iterable[str]) -> list[str]:
    """``names`` deduplicated in order; an unknown name is an InputError listing the valid."""
    out = list(dict.fromkeys(str(n).strip() for n in names if str(n).strip()))
    unknown = [n for n in out if n not in PERTURBATIONS]
    if unknown:
        raise InputError(f"unknown perturbation {unknown[0]!r}; valid: {', '.join(PERTURBATIONS)}")
    return out


def perturb_text(text: str, name: str, seed: int = 0, key: Sequence[Any] = ()) -> str:
    """``text`` under the text perturbation ``name``, seeded by ``(name, seed, *key)``."""
    check_perturbations([name])
    if name not in TEXT_PERTURBATIONS:
        raise InputError(f"perturbation {name!r} changes the choice labels, not text")
    return TEXT_PERTURBATIONS[name](text, _rng(name, seed, *key))


def _template_fields(spec: Any, field_names: set[str]) -> set[str]:
    """The document fields a target/choices spec reads: a field name or a template's variables."""
    if not isinstance(spec, str):
        return set()
    if spec in field_names:
        return {spec}
    return template_variables(spec) & field_names


def input_fields(task: Task, doc: Doc) -> list[str]:
    """The text fields of ``doc`` a perturbation may change: every string field except those the
    target and the choices read, and ``tempting``."""
    names = set(doc.fields)
    answers = {"tempting"} | _template_fields(task.target, names)
    answers |= _template_fields(task.choices, names)
    return [k for k, v in doc.fields.items() if isinstance(v, str) and k not in answers]


def _perturb_doc(task: Task, doc: Doc, name: str, seed: int) -> Doc:
    fields = dict(doc.fields)
    keys = input_fields(task, doc)
    if name == "distractor" and keys:  # one sentence, in the longest input field
        keys = [max(keys, key=lambda k: len(fields[k]))]
    for key in keys:
        fields[key] = perturb_text(fields[key], name, seed, (doc.doc_id, key))
    return dataclasses.replace(doc, fields=fields)


def perturbed(task: Task, name: str, seed: int = 0) -> Task:
    """``task`` under perturbation ``name``: named ``task+name``, same ``doc_id``s, the
    perturbation and its seed in ``metadata["perturbation"]`` (the changed documents or labels
    change the fingerprint, the name changes the run id)."""
    check_perturbations([name])
    if "+" in task.name and task.metadata.get("perturbation"):
        raise InputError(f"task {task.name!r} is already perturbed")
    metadata = dict(task.metadata, perturbation={"name": name, "seed": seed, "of": task.name})
    changes: dict[str, Any] = {"name": f"{task.name}+{name}", "metadata": metadata}
    if name == "labels":
        if task.choices is None:
            raise InputError(
                f"perturbation 'labels' changes choice labels, and task {task.name!r} "
                f"({task.request_type}) has no choices"
            )
        changes["choice_labels"] = NUMBER_LABELS
    else:
        changes["docs"] = [_perturb_doc(task, d, name, seed) for d in task.docs]
    return dataclasses.replace(task, **changes)


def with_perturbations(
    tasks: Sequence[Task | str], names: Sequence[str], seed: int = 0
) -> list[Task]:
    """Each task (a Task or a name/file for :func:`load_task`) followed by its perturbed
    variants, the clean task first so the pairs exist. Names are checked before any task loads."""
    from ._registry import load_task

    valid = check_perturbations(names)
    loaded = [t if isinstance(t, Task) else load_task(str(t)) for t in tasks]
    return [t for task in loaded for t in (task, *(perturbed(task, n, seed) for n in valid))]
