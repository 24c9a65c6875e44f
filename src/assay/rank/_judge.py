"""LLM judges for generated answers: pairwise verdicts in both positions and pointwise ratings.

Pairwise (MT-Bench, Zheng et al. 2023; AlpacaEval): every pair of answers to a prompt is
judged twice, once in each position; a winner needs both verdicts, anything else is a tie
(the conservative rule of MT-Bench and of the Varco Arena tournament). Pointwise (G-Eval, Liu
et al. 2023): each answer gets a score on a 1..9 scale; a model-backed rater reads the
probability-weighted score Σ k·p(k) from the log-likelihoods of the digits. Both kinds turn into
battles with ``judge=<name>`` and the verdicts, ratings and answer lengths in ``extra``, so the
store keeps what the bias analyses of :mod:`assay.rank._judge_stats` need.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from assay.errors import InputError

from ._battles import store_battles
from ._tournament import Judge, ModelBacked, _judge_many, _validate_outputs

__all__ = [
    "RATE_TEMPLATE",
    "ModelRater",
    "Rater",
    "judge_name",
    "judge_pairs",
    "judged_battles",
    "judged_from_battles",
    "rate_outputs",
    "rating_battles",
    "store_judged",
]

RATE_TEMPLATE = (
    "Rate the answer to the question on a scale from 1 (useless) to 9 (excellent).\n\n"
    "Question: {prompt}\n\n"
    "Answer: {answer}\n\n"
    "Rating (1-9):"
)

#: Judge calls per batch handed to a judge's ``compare_many`` / a rater's ``rate_many``.
CHUNK = 256


def judge_name(judge: Any) -> str:
    """The name a judge's battles are stored under: its ``name``, else its class name."""
    return str(getattr(judge, "name", type(judge).__name__))


@runtime_checkable
class Rater(Protocol):
    """Anything that scores one answer to a prompt: a number within ``scale`` (default 1..9)."""

    def rate(self, prompt: str, answer: str) -> float: ...


class ModelRater(ModelBacked):
    """A pointwise :class:`Rater` backed by an ``assay.models`` backend.

    ``mode="loglikelihood"`` (default): the G-Eval score Σ k·softmax(log p(" k")) over
    k = 1..9 after :data:`RATE_TEMPLATE`. ``mode="generate"``: the first digit 1..9 of a greedy
    answer (NaN when there is none; :func:`rate_outputs` counts those as unparsed).
    """

    kind = "rater"
    default_template = RATE_TEMPLATE
    default_max_new_tokens = 4
    scale = (1.0, 9.0)

    def rate(self, prompt: str, answer: str) -> float:
        return self.rate_many([(prompt, answer)])[0]

    def rate_many(self, items: Sequence[tuple[str, str]]) -> list[float]:
        """Scores for many (prompt, answer) pairs in one backend call."""
        contexts = [self.template.format(prompt=p, answer=a) for p, a in items]
        if not contexts:
            return []
        if self.mode == "generate":
            digit = self._generated(contexts).str.extract(r"([1-9])", expand=False)
            return pd.to_numeric(digit, errors="coerce").astype(float).tolist()
        levels = np.arange(1, 10)
        logprob = self._logprobs(contexts, [f" {k}" for k in levels])
        weight = np.exp(logprob - logprob.max(axis=1, keepdims=True))
        return (weight @ levels / weight.sum(axis=1)).tolist()


def _in_chunks(
    items: list, call: Callable[[list], np.ndarray], progress: Callable[[int, int], None] | None
) -> np.ndarray:
    parts = []
    for start in range(0, len(items), CHUNK):
        parts.append(call(items[start : start + CHUNK]))
        if progress is not None:
            progress(min(start + CHUNK, len(items)), len(items))
    return np.concatenate(parts) if parts else np.array([], dtype=object)


def _pairs(
    df: pd.DataFrame, baseline: str | None, max_pairs: int | None, rng: np.random.Generator
) -> pd.DataFrame:
    """Every pair of answers to the same prompt (or every answer against ``baseline``'s), at
    most ``max_pairs`` per prompt (a seeded choice), each shown in a seeded random order."""
    left = df.rename(columns={"model": "model_x", "output": "output_x"})
    right = df[["prompt_id", "model", "output"]].rename(
        columns={"model": "model_y", "output": "output_y"}
    )
    pairs = left.merge(right, on="prompt_id")
    if baseline is not None:
        if baseline not in set(df["model"]):
            raise InputError(f"--baseline {baseline!r}: no answers of that model in the outputs")
        pairs = pairs[(pairs["model_y"] == baseline) & (pairs["model_x"] != baseline)]
    else:
        pairs = pairs[pairs["model_x"] < pairs["model_y"]]
    pairs = pairs.sort_values(["prompt_id", "model_x", "model_y"]).reset_index(drop=True)
    if max_pairs is not None:
        keep = pairs.assign(_key=rng.random(len(pairs))).groupby("prompt_id")["_key"].rank()
        pairs = pairs[keep.to_numpy() <= max_pairs].reset_index(drop=True)
    flip = rng.random(len(pairs)) < 0.5
    out = pd.DataFrame({"prompt_id": pairs["prompt_id"], "prompt": pairs["prompt"]})
    for side, (mine, other) in (("a", ("x", "y")), ("b", ("y", "x"))):
        for what in ("model", "output"):
            out[f"{what}_{side}"] = np.where(
                flip, pairs[f"{what}_{other}"], pairs[f"{what}_{mine}"]
            )
    return out


def _combine(verdict_ab: np.ndarray, verdict_ba: np.ndarray | None) -> np.ndarray:
    """The battle's winner: with both positions, a winner needs both verdicts (else a tie)."""
    if verdict_ba is None:
        return np.select([verdict_ab == "A", verdict_ab == "B"], ["model_a", "model_b"], "tie")
    a_wins = (verdict_ab == "A") & (verdict_ba == "B")
    b_wins = (verdict_ab == "B") & (verdict_ba == "A")
    return np.select([a_wins, b_wins], ["model_a", "model_b"], "tie")


def judge_pairs(
    outputs: pd.DataFrame,
    judge: Judge,
    *,
    baseline: str | None = None,
    max_pairs: int | None = None,
    swap: bool = True,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Judge answers pairwise: every pair of models that answered a prompt (or each model
    against ``baseline``), at most ``max_pairs`` per prompt, each pair in both positions
    (``swap``). The judge is validated before anything is returned: a verdict other than
    A/B/tie is an :class:`InputError`.

    Returns one row per pair: prompt_id, model_a, model_b, verdict_ab (answer a shown first),
    verdict_ba (b shown first; "A" then means b), winner (model_a / model_b / tie), len_a,
    len_b (characters), judge, answer_a and answer_b (the answers: ``fit_battles(judged,
    style_control=True)`` controls the verdicts for length and markdown, and the store keeps
    their style features).
    """
    df = _validate_outputs(outputs)
    if df["model"].nunique() < 2:
        raise InputError("outputs: need answers of at least two models")
    if max_pairs is not None and max_pairs < 1:
        raise InputError(f"max_pairs {max_pairs}: use a whole number >= 1")
    rng = np.random.default_rng(seed)
    pairs = _pairs(df, baseline, max_pairs, rng)
    if pairs.empty:
        raise InputError("outputs: no prompt has answers from two models; nothing to judge")
    first = list(zip(pairs["prompt"], pairs["output_a"], pairs["output_b"], strict=True))
    items = first + (
        list(zip(pairs["prompt"], pairs["output_b"], pairs["output_a"], strict=True))
        if swap
        else []
    )
    verdicts = _in_chunks(items, lambda chunk: _judge_many(judge, chunk), progress)
    n = len(pairs)
    verdict_ab = verdicts[:n]
    verdict_ba = verdicts[n:] if swap else None
    return pd.DataFrame(
        {
            "prompt_id": pairs["prompt_id"].to_numpy(),
            "model_a": pairs["model_a"].to_numpy(),
            "model_b": pairs["model_b"].to_numpy(),
            "verdict_ab": verdict_ab.astype(object),
            "verdict_ba": verdict_ba.astype(object) if swap else None,
            "winner": _combine(verdict_ab, verdict_ba),
            "len_a": pairs["output_a"].str.len().to_numpy(),
            "len_b": pairs["output_b"].str.len().to_numpy(),
            "judge": judge_name(judge),
            "answer_a": pairs["output_a"].to_numpy(dtype=object),
            "answer_b": pairs["output_b"].to_numpy(dtype=object),
        }
    )


def _ratings(values: Sequence[Any], scale: tuple[float, float]) -> np.ndarray:
    """A rater's answers as floats: NaN allowed (unparsed), anything else not a number within
    the scale is an :class:`InputError`."""
    raw = pd.Series(list(values), dtype=object)
    is_bool = raw.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
    number = pd.to_numeric(raw.where(~is_bool), errors="coerce").to_numpy(dtype=float)
    missing = raw.isna().to_numpy() | (
        raw.map(lambda v: isinstance(v, float) and np.isnan(v)).to_numpy(dtype=bool)
    )
    low, high = scale
    with np.errstate(invalid="ignore"):
        bad = (np.isnan(number) & ~missing) | is_bool | (number < low) | (number > high)
    if bad.any():
        value = raw.to_numpy()[bad][0]
        raise InputError(
            f"rater returned {value!r:.60}; a rater must return a number from {low:g} to {high:g}"
        )
    return number


def rate_outputs(
    outputs: pd.DataFrame,
    rater: Rater,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Score every answer with ``rater`` (pointwise). Returns prompt_id, model, rating (NaN
    where a model rater's answer had no score), length (characters) and judge; a rating that
    is not a number within the rater's ``scale`` is an :class:`InputError`."""
    df = _validate_outputs(outputs)
    scale = tuple(getattr(rater, "scale", (1.0, 9.0)))
    many = getattr(rater, "rate_many", None)

    def call(chunk: list) -> np.ndarray:
        values = many(chunk) if many else [rater.rate(*item) for item in chunk]
        if len(values) != len(chunk):
            raise InputError(f"rater returned {len(values)} ratings for {len(chunk)} answers")
        return _ratings(values, scale)

    rating = _in_chunks(list(zip(df["prompt"], df["output"], strict=True)), call, progress)
    return pd.DataFrame(
        {
            "prompt_id": df["prompt_id"],
            "model": df["model"],
            "rating": rating.astype(float),
            "length": df["output"].str.len(),
            "judge": judge_name(rater),
        }
    )


def rating_battles(rated: pd.DataFrame) -> pd.DataFrame:
    """Pointwise ratings as battles: per prompt every pair of rated answers, the higher rating
    wins, equal ratings tie; ``rating_a``/``rating_b`` and lengths kept for ``extra``."""
    rated = rated[rated["rating"].notna()]
    cols = ["prompt_id", "model", "rating", "length", "judge"]
    pairs = rated[cols].merge(rated[cols[:4]], on="prompt_id", suffixes=("_a", "_b"))
    pairs = pairs[pairs["model_a"] < pairs["model_b"]].reset_index(drop=True)
    diff = pairs["rating_a"].to_numpy() - pairs["rating_b"].to_numpy()
    pairs["winner"] = np.select([diff > 0, diff < 0], ["model_a", "model_b"], "tie")
    pairs = pairs.rename(columns={"length_a": "len_a", "length_b": "len_b"})
    return pairs[
        ["prompt_id", "model_a", "model_b", "winner", "rating_a", "rating_b", "len_a", "len_b"]
        + ["judge"]
    ]


_EXTRA = ("verdict_ab", "verdict_ba", "rating_a", "rating_b", "len_a", "len_b")


def judged_battles(judged: pd.DataFrame) -> pd.DataFrame:
    """Judged pairs (from :func:`judge_pairs` or :func:`rating_battles`) as store battles:
    prompt_id, model_a, model_b, winner, judge and ``extra`` with the verdicts, ratings and
    lengths (and the answers' text, when given, which the store turns into style features)."""
    present = [c for c in _EXTRA if c in judged.columns]
    kind = "pairwise" if "verdict_ab" in judged.columns else "pointwise"
    extra = judged[present].astype(object).where(judged[present].notna(), None)
    extra = [
        {
            "kind": kind,
            **{k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()},
        }
        for row in extra.to_dict(orient="records")
    ]
    answers = [c for c in ("answer_a", "answer_b") if c in judged.columns]  # style features
    out = judged[["prompt_id", "model_a", "model_b", "winner", "judge", *answers]].copy()
    out["prompt_id"] = out["prompt_id"].astype(str)
    out["extra"] = extra
    return out.reset_index(drop=True)


def store_judged(store, judged: pd.DataFrame, *, source: str | None = None) -> int:
    """Save judged pairs as battles with ``judge=<name>`` and source ``pairwise:<source>`` or
    ``pointwise:<source>`` (so the two kinds never share a battle id; re-saving the same
    verdicts is a no-op); returns rows written."""
    kind = "pairwise" if "verdict_ab" in judged.columns else "pointwise"
    return store_battles(store, judged_battles(judged), source=f"{kind}:{source or ''}")


def judged_from_battles(battles: pd.DataFrame, judge: str | None = None) -> pd.DataFrame:
    """Battles back as judged pairs: the ``extra`` fields (verdicts, ratings, lengths) as
    columns, NaN where a battle has none; only ``judge``'s battles when it is given."""
    if "judge" not in battles.columns:
        raise InputError("battles: no 'judge' column; these are not judged battles")
    if judge is not None:
        battles = battles[battles["judge"] == judge]
        if battles.empty:
            raise InputError(f"no battles judged by {judge!r}")
    battles = battles.reset_index(drop=True)
    raw = battles["extra"] if "extra" in battles.columns else pd.Series([None] * len(battles))
    parsed = raw.map(_parse_extra)
    fields = pd.DataFrame.from_records(parsed.tolist(), index=battles.index)
    out = battles.drop(columns=[c for c in _EXTRA if c in battles.columns])
    for name in _EXTRA:
        out[name] = fields[name] if name in fields.columns else None
    for name in ("rating_a", "rating_b", "len_a", "len_b"):
        out[name] = pd.to_numeric(out[name], errors="coerce")
    return out


def _parse_extra(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or not value.strip():
        return {}
    try:
        data = json.loads(value)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
