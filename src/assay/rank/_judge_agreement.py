"""How far to trust an LLM judge, continued: agreement with human votes (Cohen's κ) and
self-preference towards the judge's own model family. Intervals resample prompts, as in
:mod:`._judge_stats`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri  # the normal quantile (scipy.stats is slow to import)

from assay.core import accepts_confidence
from assay.errors import InputError

from ._judge_stats import (
    OUTCOME,
    at_least_exact,
    battle_counts,
    cluster_sums,
    cluster_weights,
    interval,
    prompt_codes,
    resample_weights,
)

__all__ = ["Kappa", "SelfPreference", "cohen_kappa", "judge_agreement", "self_preference"]


# -- agreement with humans ----------------------------------------------------------------------

_LABELS = ("first", "second", "tie")


@dataclass
class Kappa:
    """Cohen's κ = (p_o − p_e) / (1 − p_e) between two raters on ``table`` (rows: rater 1).

    ``se`` is the large-sample standard error of Fleiss, Cohen & Everitt (1969); ``ci`` the
    bootstrap interval over prompts when there was one, else the Wald interval κ ± z·se.
    """

    kappa: float
    se: float
    ci: tuple[float, float]
    agreement: float
    expected: float
    n: int
    table: pd.DataFrame
    confidence_level: float = 0.95
    info: dict[str, Any] = field(default_factory=dict)

    def __float__(self) -> float:
        return float(self.kappa)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kappa": self.kappa,
            "se": self.se,
            "ci": list(self.ci),
            "agreement": self.agreement,
            "expected": self.expected,
            "n": self.n,
            "confidence_level": self.confidence_level,
            "table": {
                str(k): {str(c): int(v) for c, v in row.items()}
                for k, row in self.table.to_dict(orient="index").items()
            },
            **self.info,
        }


def _kappa_of(tables: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """κ, p_o, p_e of (R, k, k) count tables."""
    n = tables.sum(axis=(1, 2))
    p = tables / n[:, None, None]
    p_o = np.trace(p, axis1=1, axis2=2)
    p_e = (p.sum(axis=2) * p.sum(axis=1)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (p_o - p_e) / (1 - p_e), p_o, p_e


def _kappa_se(table: np.ndarray) -> float:
    """Fleiss, Cohen & Everitt (1969) asymptotic standard error of κ."""
    n = table.sum()
    p = table / n
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    p_o, p_e = np.trace(p), float(rows @ cols)
    if p_e >= 1:
        return float("nan")
    diag = np.diag(p) * ((1 - p_e) - (rows + cols) * (1 - p_o)) ** 2
    off = p * (cols[:, None] + rows[None, :]) ** 2
    np.fill_diagonal(off, 0.0)
    var = diag.sum() + (1 - p_o) ** 2 * off.sum() - (p_o * p_e - 2 * p_e + p_o) ** 2
    return float(np.sqrt(max(var, 0.0) / (n * (1 - p_e) ** 4)))


@accepts_confidence()
def cohen_kappa(
    first: Any,
    second: Any,
    *,
    clusters: Any = None,
    bootstrap: int = 0,
    seed: int = 0,
    alpha: float = 0.05,
    weights: Any = None,
) -> Kappa:
    """Cohen's κ between two label sequences (any hashable labels); with ``bootstrap`` rounds
    the interval resamples ``clusters`` (default: each item). ``weights``: how many times
    each item counts (frequency weights: as if it were repeated; default ones)."""
    a, b = pd.Series(list(first), dtype=object), pd.Series(list(second), dtype=object)
    if len(a) != len(b) or len(a) == 0:
        raise InputError("cohen_kappa: need two label lists of the same, non-zero length")
    labels = sorted(set(a) | set(b), key=str)
    ia = pd.Categorical(a, categories=labels).codes.astype(np.int64)
    ib = pd.Categorical(b, categories=labels).codes.astype(np.int64)
    k = len(labels)
    cell = ia * k + ib
    if clusters is None:
        codes, n = np.arange(len(a)), len(a)
    else:
        codes, uniques = pd.factorize(pd.Series(list(clusters), dtype=object))
        n = len(uniques)
    w = None if weights is None else np.asarray(weights, dtype=float)
    if w is not None and (len(w) != len(a) or not (np.isfinite(w) & (w >= 0)).all()):
        raise InputError("cohen_kappa: weights must be one number >= 0 per item")
    tables = cluster_weights(n, bootstrap, seed) @ cluster_sums(codes, n, cell, k * k, w)
    tables = tables.reshape(-1, k, k)
    kappa, p_o, p_e = _kappa_of(tables)
    se = _kappa_se(tables[0])
    if bootstrap:
        ci = interval(kappa[1:], alpha)
    else:
        z = ndtri(1 - alpha / 2)
        ci = (float(kappa[0] - z * se), float(kappa[0] + z * se))
    table = pd.DataFrame(tables[0].astype(int), index=labels, columns=labels)
    total = len(a) if w is None else int(round(w.sum()))
    return Kappa(float(kappa[0]), se, ci, float(p_o[0]), float(p_e[0]), total, table, 1 - alpha)


def _oriented(battles: pd.DataFrame) -> pd.DataFrame:
    """prompt_id, lo, hi (sorted pair) and the outcome for lo: first / second / tie."""
    a, b = battles["model_a"].astype(str), battles["model_b"].astype(str)
    swap = (a > b).to_numpy()
    winner = battles["winner"].astype(str).replace({"tie_bothbad": "tie"}).to_numpy()
    label = np.select([winner == "model_a", winner == "model_b"], ["first", "second"], "tie")
    label = np.where(swap & (label != "tie"), np.where(label == "first", "second", "first"), label)
    return pd.DataFrame(
        {
            "prompt_id": battles["prompt_id"].astype(str).to_numpy(),
            "lo": np.where(swap, b, a),
            "hi": np.where(swap, a, b),
            "label": label,
            "count": battle_counts(battles),
        }
    )


def _human(battles: pd.DataFrame, human: str | None) -> pd.DataFrame:
    judge = battles["judge"] if "judge" in battles.columns else pd.Series(None, battles.index)
    if human is not None:
        return battles[judge == human]
    text = judge.astype(str).str.strip().str.lower()
    return battles[judge.isna() | text.isin(["", "human", "humans", "none"])]


@accepts_confidence()
def judge_agreement(
    battles: pd.DataFrame,
    judge: str,
    *,
    human: str | None = None,
    bootstrap: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
) -> Kappa:
    """Cohen's κ between ``judge``'s verdicts and human votes on the same prompt and model
    pair (GenAI Arena / MT-Bench agreement). Human votes are the battles without a judge (or
    judge "human"), or those of judge ``human``. Outcomes: first model (in name order) wins,
    second wins, tie (a "tie (bothbad)" is a tie). Every (judge verdict, vote) pair on the same
    prompt and pair counts once (a count table's row as its ``count`` battles); the interval
    resamples prompts."""
    for name in ("model_a", "model_b", "winner", "prompt_id"):
        if name not in battles.columns:
            raise InputError(f"battles: missing column {name!r}")
    battles = battles[battles["prompt_id"].notna()]
    mine = battles[battles["judge"] == judge] if "judge" in battles.columns else battles.iloc[:0]
    if mine.empty:
        raise InputError(f"no battles judged by {judge!r} (with a prompt_id)")
    votes = _human(battles, human)
    if votes.empty:
        who = f"judge {human!r}" if human else "humans (battles without a judge)"
        raise InputError(f"no votes by {who} to compare {judge!r} with")
    matched = _oriented(mine).merge(_oriented(votes), on=["prompt_id", "lo", "hi"])
    if matched.empty:
        raise InputError(
            f"no battle of {judge!r} shares a prompt_id and model pair with the human votes"
        )
    pairs = matched["count_x"] * matched["count_y"]  # a count table's rows as their battles
    result = cohen_kappa(
        matched["label_x"],
        matched["label_y"],
        clusters=matched["prompt_id"],
        bootstrap=bootstrap,
        seed=seed,
        alpha=alpha,
        weights=pairs,
    )
    decisive = (matched["label_x"] != "tie") & (matched["label_y"] != "tie")
    same = (matched["label_x"] == matched["label_y"]) & decisive
    n_decisive = float(pairs[decisive].sum())
    result.info = {
        "judge": judge,
        "human": human or "humans",
        "n_prompts": int(matched["prompt_id"].nunique()),
        "decisive_agreement": float(pairs[same].sum() / n_decisive) if n_decisive else float("nan"),
        "n_decisive": int(n_decisive),
    }
    return result


# -- self-preference --------------------------------------------------------------------------


@dataclass
class SelfPreference:
    """How the judge treats its own family: the own-family side's score (win 1, tie ½) under
    the judge, against the same model pairs' score under the reference votes."""

    judge: str
    family: str
    n: int
    own_win_rate: float
    own_ci: tuple[float, float]
    reference_win_rate: float
    excess: float
    excess_ci: tuple[float, float]
    n_reference: int
    confidence_level: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["own_ci"], out["excess_ci"] = list(self.own_ci), list(self.excess_ci)
        return out


@accepts_confidence()
def self_preference(
    battles: pd.DataFrame,
    judge: str,
    families: dict[str, str] | pd.Series,
    *,
    family: str | None = None,
    human: str | None = None,
    bootstrap: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
) -> SelfPreference:
    """Self-preference (Panickssery et al. 2024): in ``judge``'s battles between a model of
    the judge's ``family`` (default: the family of the model named like the judge) and a model
    of another family, the own side's mean score, minus the own side's mean score on the same
    model pairs in the reference votes (humans, or judge ``human``). A positive ``excess``
    beyond its interval means the judge favours its family more than the reference does.
    Interval: bootstrap over the judge's prompts with the reference pair rates redrawn
    (multinomial) in each round."""
    fam = pd.Series(families, dtype=object)
    family = family or (fam.get(judge) if judge in fam.index else None)
    if family is None or (isinstance(family, float) and np.isnan(family)):
        raise InputError(
            f"judge {judge!r} has no family in the models table; pass the family explicitly"
        )
    mine = battles[battles["judge"] == judge]
    if mine.empty:
        raise InputError(f"no battles judged by {judge!r}")

    def own_side(df: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        own_a = (df["model_a"].map(fam) == family).to_numpy()
        own_b = (df["model_b"].map(fam) == family).to_numpy()
        keep = own_a ^ own_b
        df = df[keep].reset_index(drop=True)
        score_a = df["winner"].map(OUTCOME).to_numpy(dtype=float)
        return df, np.where(own_a[keep], score_a, 1 - score_a)

    mine, y = own_side(mine)
    if mine.empty:
        raise InputError(f"no battle of {judge!r} pits a {family!r} model against another family")
    ref, y_ref = own_side(_human(battles, human))
    pair = _oriented(mine)[["lo", "hi"]].agg("\x00".join, axis=1)
    ref_pair = _oriented(ref)[["lo", "hi"]].agg("\x00".join, axis=1) if len(ref) else pd.Series()
    matched = pair.isin(set(ref_pair)).to_numpy()
    codes, n = prompt_codes(mine)
    w = resample_weights(codes, n, bootstrap, seed)
    own = (w @ y) / w.sum(axis=1)
    if not matched.any():
        excess = np.full(own.shape, np.nan)
        ref_rate = float("nan")
        n_ref = 0
    else:
        pair_code, uniques = pd.factorize(pd.concat([ref_pair, pair[matched]], ignore_index=True))
        ref_code, mine_code = pair_code[: len(ref_pair)], pair_code[len(ref_pair) :]
        k = len(uniques)
        outcome = np.select([y_ref == 1, y_ref == 0.5], [0, 1], 2)
        counts = np.bincount(ref_code * 3 + outcome, minlength=3 * k).reshape(k, 3)
        size = counts.sum(axis=1)
        rng = np.random.default_rng(seed + 1)
        redrawn = (
            rng.multinomial(size, counts / size[:, None], size=(bootstrap, k))
            if bootstrap
            else None
        )
        all_counts = counts[None] if redrawn is None else np.concatenate([counts[None], redrawn])
        rate = (all_counts[..., 0] + 0.5 * all_counts[..., 1]) / size  # (R, k)
        wm = w[:, matched]
        expected = (wm * rate[:, mine_code]).sum(axis=1) / wm.sum(axis=1)
        observed = (wm @ y[matched]) / wm.sum(axis=1)
        excess = observed - expected
        ref_rate = float(expected[0])
        n_ref = int(size.sum())
    return SelfPreference(
        judge=judge,
        family=str(family),
        n=int(len(mine)),
        own_win_rate=float(own[0]),
        own_ci=at_least_exact(interval(own[1:], alpha), float(y.sum()), len(y), alpha),
        reference_win_rate=ref_rate,
        excess=float(excess[0]),
        excess_ci=interval(excess[1:], alpha),
        n_reference=n_ref,
        confidence_level=1 - alpha,
    )
