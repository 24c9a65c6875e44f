"""Varco Arena tournaments: per-prompt single-elimination brackets judged by a model.

For each prompt the models that answered it are shuffled (seeded) into a bracket whose byes
fall in the first round only. Every match is judged twice with the answers' positions swapped;
a winner needs both verdicts, anything else is a tie (the winner then advances by a seeded
coin). All matches of all prompts are pooled into battles and fitted by Bradley–Terry. A
bracket needs n − 1 matches per prompt where a round robin needs n (n − 1) / 2.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from assay.core import attributes
from assay.errors import InputError
from assay.requests import GenerateRequest, LoglikelihoodRequest

from ._pairwise import fit_battles
from ._ratings import Ratings

__all__ = ["Judge", "ModelJudge", "TournamentResult", "read_outputs", "run_tournament"]

VERDICTS = ("A", "B", "tie")

JUDGE_TEMPLATE = (
    "You are judging two answers to the same question.\n\n"
    "Question: {prompt}\n\n"
    "Answer A: {answer_a}\n\n"
    "Answer B: {answer_b}\n\n"
    "Which answer is better, A or B?\nThe better answer is"
)


@runtime_checkable
class Judge(Protocol):
    """Anything that says which of two answers to a prompt is better: "A", "B" or "tie"."""

    def compare(self, prompt: str, answer_a: str, answer_b: str) -> str: ...


class ModelBacked:
    """What a judge or rater backed by an ``assay.models`` backend shares: the backend, the
    prompt template, the mode (``loglikelihood`` or ``generate``) and the name it goes by."""

    kind: ClassVar[str] = "judge"
    default_template: ClassVar[str] = JUDGE_TEMPLATE
    default_max_new_tokens: ClassVar[int] = 8

    def __init__(
        self,
        backend: Any,
        *,
        template: str | None = None,
        mode: str = "loglikelihood",
        max_new_tokens: int | None = None,
    ) -> None:
        if mode not in ("loglikelihood", "generate"):
            raise InputError(f"{self.kind} mode {mode!r}: use loglikelihood or generate")
        self.backend = backend
        self.template = self.default_template if template is None else template
        self.mode = mode
        self.max_new_tokens = (
            self.default_max_new_tokens if max_new_tokens is None else max_new_tokens
        )
        self.name = str(getattr(backend, "name", type(backend).__name__))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, mode={self.mode!r})"

    def _generated(self, contexts: list[str]) -> pd.Series:
        """The backend's greedy answers to ``contexts`` (one backend call)."""
        results = self.backend.generate(
            [GenerateRequest(c, max_new_tokens=self.max_new_tokens) for c in contexts]
        )
        return pd.Series([r.text for r in results], dtype="string")

    def _logprobs(self, contexts: list[str], continuations: Sequence[str]) -> np.ndarray:
        """log p(continuation | context), one row per context (one backend call)."""
        requests = [LoglikelihoodRequest(c, s) for c in contexts for s in continuations]
        logprob = np.array([r.logprob for r in self.backend.loglikelihood(requests)])
        return logprob.reshape(len(contexts), len(continuations))


class ModelJudge(ModelBacked):
    """A :class:`Judge` backed by an ``assay.models`` backend.

    ``mode="loglikelihood"`` (default) compares log p(" A") with log p(" B") after
    :data:`JUDGE_TEMPLATE`: "A" if it is ahead by more than ``margin`` nats, "B" if behind,
    else "tie". ``mode="generate"`` reads the first "A" or "B" in a greedy answer (at most
    ``max_new_tokens``, default 8). Requests are batched: one backend call per tournament round.
    """

    def __init__(self, backend: Any, *, margin: float = 0.0, **options: Any) -> None:
        super().__init__(backend, **options)
        self.margin = margin

    def compare(self, prompt: str, answer_a: str, answer_b: str) -> str:
        return self.compare_many([(prompt, answer_a, answer_b)])[0]

    def compare_many(self, items: Sequence[tuple[str, str, str]]) -> list[str]:
        """Verdicts for many (prompt, answer_a, answer_b) triples in one backend call."""
        contexts = [self.template.format(prompt=p, answer_a=a, answer_b=b) for p, a, b in items]
        if not contexts:
            return []
        if self.mode == "generate":
            first = self._generated(contexts).str.extract(r"\b([AB])\b", expand=False)
            return first.fillna("tie").astype(str).tolist()
        logprob = self._logprobs(contexts, (" A", " B"))
        diff = logprob[:, 0] - logprob[:, 1]
        return np.where(diff > self.margin, "A", np.where(diff < -self.margin, "B", "tie")).tolist()


def _judge_many(judge: Judge, items: list[tuple[str, str, str]]) -> np.ndarray:
    many = getattr(judge, "compare_many", None)
    verdicts = many(items) if many else [judge.compare(*item) for item in items]
    out = pd.Series(list(verdicts), dtype="string").str.strip()
    norm = out.str.upper().map({"A": "A", "B": "B", "TIE": "tie"})
    if norm.isna().any():
        bad = out[norm.isna()].iloc[0]
        raise InputError(f"judge returned {bad!r}; a judge must return 'A', 'B' or 'tie'")
    return norm.to_numpy(dtype=object)


@dataclass
class TournamentResult:
    """Ratings from the pooled matches, the matches as battles, and the judge's bill."""

    ratings: Ratings
    battles: pd.DataFrame
    judge_calls: int
    round_robin_calls: int
    n_prompts: int
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def savings(self) -> float:
        """Share of a full (position-swapped) round robin's judge calls not needed."""
        return 1.0 - self.judge_calls / self.round_robin_calls if self.round_robin_calls else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.ratings.to_dict(),
            **attributes(self, "judge_calls", "round_robin_calls", "savings", "n_prompts"),
            "matches": int(len(self.battles)),
            **self.info,
        }


def read_outputs(path) -> pd.DataFrame:
    """Read prompts and model outputs: rows prompt_id, prompt, model, output (JSONL/CSV/Parquet)."""
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".ndjson"):
            df = pd.read_json(path, lines=True, dtype=False)
        elif suffix == ".csv":
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
        elif suffix == ".parquet":
            df = pd.read_parquet(path)
        else:
            raise InputError(f"{path}: unknown file type {suffix!r} (use .jsonl, .csv, .parquet)")
    except ValueError as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{path}: cannot parse ({str(exc).strip().splitlines()[0]})") from None
    return _validate_outputs(df, str(path))


def _validate_outputs(df: pd.DataFrame, where: str = "outputs") -> pd.DataFrame:
    for name in ("prompt_id", "prompt", "model", "output"):
        if name not in df.columns:
            raise InputError(f"{where}: missing field {name!r}")
    df = df[["prompt_id", "prompt", "model", "output"]].reset_index(drop=True)
    missing = df.isna().to_numpy()
    if missing.any():  # never the text "None" or "nan" judged as an answer
        row, col = (int(v[0]) for v in np.nonzero(missing))
        raise InputError(f"{where}: row {row + 1}: field {df.columns[col]!r} is null or missing")
    df = df.astype(str)
    dup = df.duplicated(["prompt_id", "model"]).to_numpy()
    if dup.any():
        row = df.iloc[int(np.flatnonzero(dup)[0])]
        raise InputError(
            f"{where}: model {row['model']!r} has two outputs for prompt {row['prompt_id']!r}"
        )
    return df


def _bracket(present: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(P, S) first-round slots (model index or −1), S a power of two, byes only in round 1:
    the first S/2 shuffled models take the even slots, the rest the odd ones."""
    n_prompts, k = present.shape
    keys = np.where(present, rng.random(present.shape), np.inf)
    order = np.argsort(keys, axis=1)
    n = present.sum(axis=1)
    size = 1 << int(np.ceil(np.log2(max(int(n.max()), 2))))
    slots = np.full((n_prompts, size), -1)
    pos = np.arange(min(k, size))
    half = size // 2
    target = np.where(pos < half, 2 * pos, 2 * (pos - half) + 1)
    valid = pos[None, :] < n[:, None]
    rows = np.broadcast_to(np.arange(n_prompts)[:, None], valid.shape)
    slots[rows[valid], np.broadcast_to(target, valid.shape)[valid]] = order[:, : len(pos)][valid]
    return slots


def run_tournament(
    outputs: pd.DataFrame,
    judge: Judge,
    *,
    seed: int = 0,
    method: str = "bt",
    bootstrap: int = 100,
    progress: Callable[[int, int], None] | None = None,
) -> TournamentResult:
    """Run a seeded single-elimination bracket per prompt (Varco Arena) and rate the models.

    ``outputs`` has rows prompt_id, prompt, model, output. Each match is judged twice with the
    positions swapped (a disagreement is a tie); ``progress(done, total)`` is called after each
    round with judge calls so far. Returns a :class:`TournamentResult`.
    """
    df = _validate_outputs(outputs)
    prompt_codes, prompt_ids = pd.factorize(df["prompt_id"], sort=True)
    model_codes, models = pd.factorize(df["model"], sort=True)
    if len(models) < 2:
        raise InputError("outputs: need answers of at least two models")
    n_prompts, k = len(prompt_ids), len(models)
    text = np.full((n_prompts, k), None, dtype=object)
    text[prompt_codes, model_codes] = df["output"].to_numpy()
    prompt_text = np.empty(n_prompts, dtype=object)
    prompt_text[prompt_codes] = df["prompt"].to_numpy()
    present = np.zeros((n_prompts, k), dtype=bool)
    present[prompt_codes, model_codes] = True
    per_prompt = present.sum(axis=1)
    total_calls = int(2 * np.clip(per_prompt - 1, 0, None).sum())
    round_robin = int((per_prompt * (per_prompt - 1)).sum())

    rng = np.random.default_rng(seed)
    slots = _bracket(present, rng)
    judge_name = str(getattr(judge, "name", type(judge).__name__))
    rounds: list[pd.DataFrame] = []
    calls = 0
    round_no = 0
    while slots.shape[1] > 1:
        round_no += 1
        pairs = slots.reshape(n_prompts, -1, 2)
        left, right = pairs[..., 0], pairs[..., 1]
        match = (left >= 0) & (right >= 0)
        p_idx, m_idx = np.nonzero(match)
        lm, rm = left[match], right[match]
        items = list(zip(prompt_text[p_idx], text[p_idx, lm], text[p_idx, rm], strict=True)) + list(
            zip(prompt_text[p_idx], text[p_idx, rm], text[p_idx, lm], strict=True)
        )
        verdict = _judge_many(judge, items)
        calls += len(items)
        first, swapped = verdict[: len(lm)], verdict[len(lm) :]
        left_wins = (first == "A") & (swapped == "B")
        right_wins = (first == "B") & (swapped == "A")
        coin = rng.random(len(lm)) < 0.5
        advance_left = left_wins | (~right_wins & coin)
        winner = np.where(left >= 0, left, right)  # byes and empty pairs
        winner[p_idx, m_idx] = np.where(advance_left, lm, rm)
        rounds.append(
            pd.DataFrame(
                {
                    "prompt_id": prompt_ids[p_idx],
                    "model_a": models[lm],
                    "model_b": models[rm],
                    "winner": np.where(
                        left_wins, "model_a", np.where(right_wins, "model_b", "tie")
                    ),
                    "judge": judge_name,
                    "round": round_no,
                    "verdict_ab": first,
                    "verdict_ba": swapped,
                }
            )
        )
        slots = winner
        if progress is not None:
            progress(calls, total_calls)
    battles = pd.concat(rounds, ignore_index=True)
    same = battles["verdict_ab"] == battles["verdict_ba"]
    flipped = (same & battles["verdict_ab"].isin(["A", "B"])).to_numpy()
    if battles.empty:
        raise InputError("outputs: no prompt has answers from two models; nothing to judge")
    ratings = fit_battles(battles, method=method, bootstrap=bootstrap, seed=seed)
    return TournamentResult(
        ratings=ratings,
        battles=battles,
        judge_calls=calls,
        round_robin_calls=round_robin,
        n_prompts=n_prompts,
        info={
            "rounds": round_no,
            "judge": judge_name,
            # the same answer lost when it moved position: the judge follows the position
            "position_flips": float(flipped.mean()),
        },
    )
