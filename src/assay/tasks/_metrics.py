"""Per-sample metrics for the three request types, and corpus-level perplexity.

All functions take arrays and are vectorised with numpy.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from assay.core import require_columns
from assay.errors import InputError

__all__ = [
    "aggregate_rolling",
    "exact_match",
    "multiple_choice_metrics",
    "normalize_answer",
    "rolling_metrics",
    "token_f1",
]


def multiple_choice_metrics(
    logprobs: Sequence[float],
    continuations: Sequence[str],
    correct: int,
    token_counts: Sequence[int] | None = None,
) -> dict[str, float]:
    """Metrics of one multiple-choice question from the choices' log-likelihoods.

    ``logprobs[i]`` is log p(continuation_i | context) for the choice shown at position ``i``;
    ``continuations[i]`` its scored text *without* the target delimiter (lm-eval's
    ``doc_to_choice`` output); ``correct`` the position of the right answer. Ties in an argmax go
    to the lowest position, as ``numpy.argmax`` (and so lm-eval) does.

    * ``acc`` = 1[argmax_i ll_i = correct]
    * ``acc_norm`` = 1[argmax_i ll_i / len(c_i) = correct], len in characters (lm-eval's
      definition, ``len(choice)`` without the leading space)
    * ``acc_bytes`` = same with the UTF-8 byte length
    * ``acc_tokens`` = same with the continuation's token count (NaN when not given)
    * ``p_correct`` = softmax(ll)_correct, the probability of the right choice renormalised over
      the choices (the continuous metric of Madaan et al. 2024, "Quantifying Variance in
      Evaluation Benchmarks")
    * ``logprob_correct`` = ll_correct (nats, ≤ 0)
    * ``brier`` = Σ_i (softmax(ll)_i − 1[i = correct])², in [0, 2], lower is better
    """
    ll = np.asarray(logprobs, dtype=float)
    if ll.ndim != 1 or ll.size == 0:
        raise InputError("logprobs must be a non-empty 1-d sequence")
    if len(continuations) != ll.size:
        raise InputError(
            f"one continuation per log-likelihood ({len(continuations)} for {ll.size})"
        )
    chars = np.array([max(len(c), 1) for c in continuations], dtype=float)
    nbytes = np.array([max(len(c.encode("utf-8")), 1) for c in continuations], dtype=float)
    shifted = ll - ll.max()
    probs = np.exp(shifted) / np.exp(shifted).sum()
    onehot = np.zeros_like(ll)
    onehot[correct] = 1.0
    if token_counts is not None and all(t is not None for t in token_counts):
        tokens = np.maximum(np.asarray(token_counts, dtype=float), 1.0)
        acc_tokens = float(np.argmax(ll / tokens) == correct)
    else:
        acc_tokens = math.nan
    return {
        "acc": float(np.argmax(ll) == correct),
        "acc_norm": float(np.argmax(ll / chars) == correct),
        "acc_bytes": float(np.argmax(ll / nbytes) == correct),
        "acc_tokens": acc_tokens,
        "p_correct": float(probs[correct]),
        "logprob_correct": float(ll[correct]),
        "brier": float(((probs - onehot) ** 2).sum()),
    }


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, drop punctuation and articles, collapse whitespace."""
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCT))
    return " ".join(text.split())


def exact_match(prediction: str, targets: Sequence[str]) -> float:
    """1.0 when the (already filtered) prediction equals any target after ``str.strip``."""
    pred = prediction.strip()
    return float(any(pred == t.strip() for t in targets))


def token_f1(prediction: str, targets: Sequence[str]) -> float:
    """SQuAD token F1 (max over targets) on :func:`normalize_answer`-ed text.

    F1 = 2·P·R / (P + R) with P = |common| / |pred tokens|, R = |common| / |target tokens|,
    common counted as a multiset intersection; two empty answers score 1.
    """
    pred_tokens = normalize_answer(prediction).split()
    best = 0.0
    for target in targets:
        gold_tokens = normalize_answer(target).split()
        if not pred_tokens or not gold_tokens:
            best = max(best, float(pred_tokens == gold_tokens))
            continue
        common = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
        if common:
            precision, recall = common / len(pred_tokens), common / len(gold_tokens)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def rolling_metrics(logprob: float, text: str, tokens: int | None = None) -> dict[str, float]:
    """Per-document pieces of corpus perplexity: ``logprob`` (nats), ``words``, ``bytes``.

    Words are counted as lm-eval does, ``len(re.split(r"\\s+", text))``; bytes as UTF-8.
    """
    out = {
        "logprob": float(logprob),
        "words": float(len(re.split(r"\s+", text))),
        "bytes": float(len(text.encode("utf-8"))),
    }
    if tokens is not None:
        out["tokens"] = float(tokens)
    return out


def _wide_rolling(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if {"metric", "value"} <= set(df.columns):
        index = [*keys, "doc_id", "repeat"] if "repeat" in df.columns else [*keys, "doc_id"]
        index = [c for c in index if c in df.columns]
        sub = df[df["metric"].isin(["logprob", "words", "bytes"])]
        return sub.pivot_table(index=index, columns="metric", values="value").reset_index()
    renamed = {c: c.removeprefix("metric.") for c in df.columns if c.startswith("metric.")}
    return df.rename(columns=renamed)


def aggregate_rolling(df: pd.DataFrame, by: Sequence[str] | None = None) -> pd.DataFrame:
    """Corpus-level perplexities from per-document ``logprob``, ``words`` and ``bytes``.

    Accepts tidy rows (``metric``/``value`` columns, as ``Store.scores()``), wide rows with
    ``metric.<name>`` columns (``Store.samples()``) or plain ``logprob``/``words``/``bytes``
    columns. Groups by ``by`` (default: whichever of model, task are present). With
    L = Σ logprob, W = Σ words, B = Σ bytes over the n documents:

    * ``word_perplexity`` = exp(−L / W)
    * ``byte_perplexity`` = exp(−L / B)
    * ``bits_per_byte`` = −L / (B · ln 2)

    Standard errors treat each ratio as a ratio estimator over documents (delta method):
    se(L/B) = sqrt(Σ (l_i − r·b_i)² / (n(n−1))) / mean(b), and se(exp(−r)) = exp(−r)·se(r).
    """
    keys = list(by) if by is not None else [c for c in ("model", "task") if c in df.columns]
    wide = _wide_rolling(df, keys)
    require_columns(wide, ("logprob", "words", "bytes"), "aggregate_rolling's input")
    groups = wide.groupby(keys, sort=True) if keys else [((), wide)]
    rows = []
    for key, g in groups:
        lp, words, nbytes = (g[c].to_numpy(float) for c in ("logprob", "words", "bytes"))
        n = lp.size
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        row["n"] = n
        for name, denom in (("word", words), ("byte", nbytes)):
            ratio = -lp.sum() / denom.sum()
            resid = -lp - ratio * denom
            se = math.sqrt((resid**2).sum() / (n * (n - 1))) / denom.mean() if n > 1 else math.nan
            row[f"{name}_perplexity"] = math.exp(ratio)
            row[f"{name}_perplexity_se"] = math.exp(ratio) * se
            if name == "byte":
                row["bits_per_byte"] = ratio / math.log(2)
                row["bits_per_byte_se"] = se / math.log(2)
        rows.append(row)
    return pd.DataFrame(rows)
