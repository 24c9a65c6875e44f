"""Words explained where they stand: a one-sentence explanation of each term of art the report
uses, shown as the ``title`` of the element that holds the term and in the glossary section
at the end of the page."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

from assay.core import visible

#: term: (its one-sentence explanation, the regex that finds it in the page's text).
GLOSSARY: dict[str, tuple[str, str]] = {
    "ECE": (
        "Expected calibration error: the average gap between how confident the model is and "
        "how often it is right; 0 means its confidence can be read as a probability.",
        r"\bECE\b",
    ),
    "CE₂": (
        "Debiased L2 calibration error (Kumar et al. 2019): like ECE but squared gaps with "
        "the small-sample bias removed, so a calibrated model scores about 0.",
        r"\bCE(?:₂|2)",
    ),
    "MCE": (
        "Maximum calibration error: the largest gap between confidence and accuracy in any bin.",
        r"\bMCE\b",
    ),
    "Brier": (
        "Brier score: the mean squared gap between the confidence and the 0/1 outcome; lower "
        "is better.",
        r"\bBrier\b",
    ),
    "AURC": (
        "Area under the risk–coverage curve: the average error when the model answers only "
        "the questions it is most confident about; lower is better.",
        r"\bAURC\b",
    ),
    "Holm": (
        "Holm correction: each p-value is raised to account for testing many pairs at once, so "
        "the chance of any false 'significant' stays at α.",
        r"\bHolm(?:-adjusted|-corrected)?\b",
    ),
    "McNemar": (
        "McNemar's test: a paired test on the questions exactly one of two models got right; "
        "it asks whether those split evenly.",
        r"\bMcNemar(?:'s)?\b",
    ),
    "Wilson": (
        "Wilson interval: a confidence interval for a share that stays within 0–1 and keeps "
        "its coverage with few questions.",
        r"\bWilson\b",
    ),
    "Bradley–Terry": (
        "Bradley–Terry model: each model has a strength and the chance that A beats B depends "
        "only on the difference; the ratings are those strengths on the Elo scale.",
        r"\bBradley[–-]Terry\b",
    ),
    "DIA": (
        "Dynamic Intelligence Assessment: a question counts as mastered only when every "
        "variant of it (template, choice ordering, sample) is answered right.",
        r"\bDIA\b|\bDynamic Intelligence Assessment\b",
    ),
    "MDE": (
        "Minimum detectable effect: the smallest true difference this many questions would "
        "detect with the stated power.",
        r"\bMDE\b|\bminimum detectable (?:effect|difference)\b",
    ),
    "power": (
        "Statistical power: the chance that a real difference of a given size is detected "
        "(p below α) with this many questions.",
        r"\bpower\b(?! law)",
    ),
    "flips": (
        "Flips: questions one model got right and the other wrong; negative flips are right "
        "answers the new model lost, positive flips wrong answers it fixed.",
        r"\bflip(?:s|ped)?\b",
    ),
    "NFR": (
        "Negative flip rate: the share of all questions the old model got right and the new "
        "one wrong.",
        r"\bNFR\b",
    ),
    "PFR": (
        "Positive flip rate: the share of all questions the old model got wrong and the new "
        "one right.",
        r"\bPFR\b",
    ),
    "NFI": (
        "Negative flip impact: the negative flips as a share of the new model's errors.",
        r"\bNFI\b",
    ),
    "ICC": (
        "Intraclass correlation: the share of the variance that lies between clusters of "
        "related questions; a high ICC means fewer effectively independent questions.",
        r"\bICC\b",
    ),
}

_FIND = re.compile("|".join(f"(?P<g{i}>{pat})" for i, (_, pat) in enumerate(GLOSSARY.values())))
_TERMS = list(GLOSSARY)
#: A `code span` of the report's own sentences: backticks that open and close at a word's edge
#: (a store string's backticks inside names, "gpt`4 … llama`3", stay text).
CODE_SPAN = re.compile(r"(?<![\w`])`([^`\n]+)`(?![\w`])")


def anchor(term: str) -> str:
    """The glossary entry's element id: 'glossary-ece'."""
    slug = re.sub(r"[^a-z0-9]+", "-", term.lower().replace("₂", "2")).strip("-")
    return f"glossary-{slug}"


def _wrap(match: re.Match[str]) -> str:
    term = _TERMS[int(str(match.lastgroup)[1:])]
    title = escape(GLOSSARY[term][0])
    return f'<abbr class="term" title="{title}">{match.group(0)}</abbr>'


def code_spans(text: Any) -> str:
    """``text`` escaped (control characters made visible) with its :data:`CODE_SPAN` s as
    ``<code>``."""
    return CODE_SPAN.sub(r"<code>\1</code>", str(escape(visible(str(text)))))


def explain(text: Any) -> Markup:
    """``text`` escaped, with `backticks` as <code> spans and every glossary term wrapped in
    ``<abbr title="its explanation">``."""
    escaped = code_spans(text)
    return Markup(_FIND.sub(_wrap, escaped))


def glossary_entries() -> list[dict[str, str]]:
    """The glossary section's entries: term, its element id and its explanation."""
    return [{"term": t, "id": anchor(t), "text": GLOSSARY[t][0]} for t in GLOSSARY]
