"""``verdict``: for each pair of models that differ by one change (a parent and its child, a
quantisation, a few-shot prompt) or against a chosen baseline, across all tasks: better on k
tasks, worse on m, no detectable difference on the rest — :func:`compare`'s pairs, oriented
as model − baseline, with their sizes, intervals and adjusted p-values."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assay.core import attributes, fixed, level_label, to_jsonable
from assay.errors import InputError

from ._compare import AdjustmentFamily, Comparison
from ._variants import VariantDifferences

__all__ = ["PairVerdict", "Verdict", "one_change_pairs", "verdict"]

BETTER, WORSE, SAME = "better", "worse", "no detectable difference"
VERDICT_COLUMNS = [
    "model",
    "baseline",
    "change",
    "task",
    "metric",
    "n",
    "diff",
    "ci_low",
    "ci_high",
    "p_adjusted",
    "verdict",
    "improvement",
    "model_only_right",
    "baseline_only_right",
]
#: Spec options that name a model rather than change it.
_NAMING_OPTIONS = ("name=", "parent=", "batch_size=", "device=")
_QUANT = re.compile(r'"quantization"\s*:\s*"([^"]+)"')


@dataclass
class PairVerdict:
    """One model against its ``baseline`` (the parent, the zero-shot prompt, or the chosen
    baseline): ``change`` says what differs; ``rows`` its tasks (columns of
    :data:`VERDICT_COLUMNS`), regressions first."""

    model: str
    baseline: str
    change: str
    rows: pd.DataFrame
    level: str = "95%"

    def tasks(self, word: str) -> pd.DataFrame:
        return self.rows[self.rows["verdict"] == word]

    @property
    def counts(self) -> dict[str, int]:
        words = self.rows["verdict"].tolist()
        return {w: words.count(w) for w in (BETTER, WORSE, SAME)}

    @property
    def sentence(self) -> str:
        """E.g. "smollm2-135m-int8 against smollm2-135m (int8 quantisation): worse on 1 task
        (arith −0.080 [−0.120, −0.040]), better on 0, no detectable difference on 1 (...)"."""
        words, tasks = self.rows["verdict"].tolist(), self.rows["task"].tolist()
        diff, low, high = (
            self.rows[c].to_numpy(dtype=float) for c in ("diff", "ci_low", "ci_high")
        )
        parts = []
        counted = 0
        for word in (BETTER, WORSE, SAME):
            at = [k for k, w in enumerate(words) if w == word]
            n = len(at)
            counted += n
            what = f"{word} on {n} task{'s' * (n != 1)}" if word != SAME else f"{word} on {n}"
            if n:
                sizes = (_size(tasks[k], diff[k], low[k], high[k]) for k in at)
                what += " (" + "; ".join(sizes) + ")"
            parts.append(what)
        untested = len(words) - counted
        tail = f"; {untested} without a paired test" if untested else ""
        return (
            f"{self.model} against {self.baseline} ({self.change}): {', '.join(parts)}{tail} "
            f"(differences {self.model} − {self.baseline}, {self.level} intervals)."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **attributes(self, "model", "baseline", "change", "counts", "sentence"),
            "tasks": to_jsonable(self.rows[VERDICT_COLUMNS]),
        }


def _size(task: Any, diff: float, ci_low: float, ci_high: float) -> str:
    if np.isnan(diff):
        return f"{task}: no paired test"
    low = "" if np.isnan(ci_low) else f" [{fixed(ci_low, 3)}, {fixed(ci_high, 3)}]"
    return f"{task} {fixed(diff, 3, sign=True)}{low}"


@dataclass
class Verdict:
    """Result of :func:`verdict`: ``pairs`` (one :class:`PairVerdict` per compared pair),
    ``table`` every pair's tasks in one frame sorted regressions first (the most negative
    improvement — the difference signed so that positive is better — on top), ``caveat`` the
    most important limit of the reading, ``family`` the tests the p-values are adjusted over."""

    pairs: list[PairVerdict]
    table: pd.DataFrame
    caveat: str
    family: AdjustmentFamily
    alpha: float = 0.05
    baseline: str | None = None
    note: str = ""

    @property
    def level(self) -> str:
        return level_label(1 - self.alpha)

    @property
    def sentences(self) -> list[str]:
        """One sentence per pair, or the note saying why there is nothing to compare."""
        return [p.sentence for p in self.pairs] or [self.note]

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "level": self.level,
            "pairs": [p.to_dict() for p in self.pairs],
            "caveat": self.caveat,
            "note": self.note,
            "family": self.family.to_dict(),
            "table": to_jsonable(self.table[VERDICT_COLUMNS]),
        }


def _spec_key(spec: Any) -> str | None:
    """The spec without the options that only name the model (``name=``, ``parent=``, ...)."""
    if spec is None or (isinstance(spec, float) and np.isnan(spec)) or not str(spec).strip():
        return None
    parts = [p.strip() for p in str(spec).split(",")]
    return ",".join([parts[0], *sorted(p for p in parts[1:] if not p.startswith(_NAMING_OPTIONS))])


def _quantisation(spec: Any, settings: list[Any]) -> str | None:
    """The quantisation a model's spec (``quantize=``) or its runs' settings record."""
    for part in str(spec or "").split(","):
        if part.strip().startswith("quantize="):
            return part.strip().split("=", 1)[1]
    for text in settings:
        found = _QUANT.search(str(text or ""))
        if found:
            return found.group(1)
    return None


def one_change_pairs(
    names: list[str], models: pd.DataFrame | None = None, runs: pd.DataFrame | None = None
) -> list[tuple[str, str, str]]:
    """(model, baseline, change) for the models of ``names`` that differ by one recorded
    change: a model whose ``parent`` (``Store.models()``) is in ``names`` against it ("int8
    quantisation" when its spec quantizes, else "child of its parent"), and two models with
    the same spec apart from naming options whose runs (``Store.runs()``) differ in few-shot
    examples ("N-shot against M-shot", the one with fewer shots as baseline)."""
    present = set(names)
    out: list[tuple[str, str, str]] = []
    meta = pd.DataFrame(columns=["model", "parent", "spec"]) if models is None else models
    meta = meta[meta["model"].isin(present)] if "model" in meta else meta.iloc[0:0]
    spec = meta.set_index("model")["spec"] if "spec" in meta else pd.Series(dtype=object)
    settings: dict[str, list[Any]] = {}
    if runs is not None and {"model", "settings"} <= set(runs.columns):
        settings = runs.groupby("model")["settings"].agg(list).to_dict()
    if "parent" in meta:
        for model, parent in meta[["model", "parent"]].dropna().itertuples(index=False):
            if parent in present and parent != model:
                quant = _quantisation(spec.get(model), settings.get(model, []))
                change = f"{quant} quantisation" if quant else "child of its parent"
                out.append((model, parent, change))
    shots: dict[str, int] = {}
    if runs is not None and {"model", "num_fewshot"} <= set(runs.columns):
        r = runs[runs["model"].isin(present)]
        shots = r.groupby("model")["num_fewshot"].max().fillna(0).astype(int).to_dict()
    keys = {m: _spec_key(spec.get(m)) for m in names}
    done = {frozenset(p[:2]) for p in out}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if keys[a] is None or keys[a] != keys[b] or frozenset((a, b)) in done:
                continue
            sa, sb = shots.get(a, 0), shots.get(b, 0)
            if sa == sb:
                continue
            model, base = (a, b) if sa > sb else (b, a)
            out.append((model, base, f"{max(sa, sb)}-shot against {min(sa, sb)}-shot prompts"))
    return out


def _leader(comp: Comparison) -> str:
    """The model with the best mean rank over tasks."""
    s = comp.scores
    lower = s["metric"].map(lambda m: comp.metric(m).lower_is_better).astype(bool)
    signed = s["mean"].where(~lower, -s["mean"])
    rank = signed.groupby([s["task"], s["metric"]]).rank(ascending=False)
    return str(rank.groupby(s["model"]).mean().sort_values(kind="stable").index[0])


def _oriented_rows(diffs: pd.DataFrame, comp: Comparison) -> dict[str, Any]:
    """The columns :func:`_rows` takes each model's rows from, worked out once for every model
    of ``diffs`` (the pairs oriented against one baseline): improvement (the difference signed
    so that positive is better) and verdict, and each model's row numbers."""
    metric, names = pd.factorize(diffs["metric"], use_na_sentinel=False)
    sign = np.array([float(comp.metric(m).sign) for m in names], dtype=float)[metric].reshape(-1)
    cols = {c: diffs[c].to_numpy() for c in ("task", "metric", "n")}
    for c in ("diff", "ci_low", "ci_high", "p_adjusted"):
        cols[c] = diffs[c].to_numpy(dtype=float)
    cols["model_only_right"] = diffs["variant_only_right"].to_numpy(dtype=float)
    cols["baseline_only_right"] = diffs["reference_only_right"].to_numpy(dtype=float)
    improvement = cols["diff"] * sign
    decided = cols["p_adjusted"] < comp.alpha
    word = np.where(decided & (improvement > 0), BETTER, np.where(decided, WORSE, SAME))
    cols["verdict"] = np.where(np.isnan(cols["p_adjusted"]), "untested", word)
    cols["improvement"] = improvement
    code, variants = pd.factorize(diffs["variant"])
    order = np.argsort(code, kind="stable")  # each model's rows, in their order
    cut = np.searchsorted(code[order], np.arange(len(variants) + 1))
    at = {m: order[cut[k] : cut[k + 1]] for k, m in enumerate(variants)}
    return {"columns": cols, "at": at, "task": np.asarray(cols["task"]).astype(str)}


def _rows(oriented: dict[str, Any], model: str, baseline: str, change: str) -> pd.DataFrame:
    """``model``'s rows of the oriented pairs (:func:`_oriented_rows`) with verdicts,
    regressions first (the most negative improvement on top, then by task)."""
    cols = oriented["columns"]
    at = oriented["at"].get(model, np.zeros(0, dtype=int))
    at = at[np.lexsort((oriented["task"][at], cols["improvement"][at]))]
    taken = {name: values[at] for name, values in cols.items()}
    return pd.DataFrame(
        {"model": model, "baseline": baseline, "change": change, **taken}, columns=VERDICT_COLUMNS
    )


def _regressions_first(table: pd.DataFrame) -> pd.DataFrame:
    order = np.lexsort((table["task"].astype(str).to_numpy(), table["improvement"].to_numpy()))
    return table.iloc[order].reset_index(drop=True)


def _caveat(table: pd.DataFrame, family: AdjustmentFamily, level: str) -> str:
    """The most important limit: what "no detectable difference" could hide (the typical
    interval half-width at the typical n), else the family the p-values are adjusted over."""
    same = table[(table["verdict"] == SAME) & table["ci_low"].notna()]
    apart = same[(same["ci_low"] > 0) | (same["ci_high"] < 0)]
    if len(apart):
        r = apart.iloc[0]
        return (
            f"Each interval is for its task alone, but better / worse needs the p-value "
            f"{family.statement} below α: {r['model']} on {r['task']} has an interval that "
            f"excludes 0 ([{fixed(r['ci_low'], 3)}, {fixed(r['ci_high'], 3)}]) and still counts "
            "as no detectable difference once every comparison is accounted for."
        )
    if len(same):
        half = float(np.median((same["ci_high"] - same["ci_low"]).to_numpy() / 2))
        n = int(np.median(same["n"].to_numpy(dtype=float)))
        return (
            f"No detectable difference is not the same as no difference: with about n = {n} "
            f"questions per task the {level} intervals reach ±{fixed(half, 3)}, so a change "
            "smaller than that can go unseen; evaluate more questions to narrow them."
        )
    return (
        f"Each result holds for these questions and prompts; p-values are {family.statement}, "
        "so every better or worse above survives testing all pairs at once."
    )


def verdict(
    comp: Comparison,
    *,
    models: pd.DataFrame | None = None,
    runs: pd.DataFrame | None = None,
    baseline: str | None = None,
) -> Verdict:
    """The verdict of ``comp`` (:func:`compare`'s result on each task's headline metric):
    with ``baseline``, every other model against it; else each pair of :func:`one_change_pairs`
    (``models`` = ``Store.models()``, ``runs`` = ``Store.runs()``), and without any recorded
    relation every model against the leader (best mean rank over tasks). A task is "better" or
    "worse" when compare's adjusted p-value is below its α (on the metric's own direction),
    else "no detectable difference"."""
    scores = comp.scores
    scores = scores[scores["task"] != "(all)"] if len(scores) else scores
    names = list(map(str, pd.unique(scores["model"]))) if len(scores) else []
    if baseline is not None and baseline not in names:
        raise InputError(
            f"unknown baseline {baseline!r}; models with scores: {', '.join(names) or 'none'}"
        )
    level = level_label(1 - comp.alpha)
    if baseline is not None:
        pairs = [(m, baseline, "against the chosen baseline") for m in names if m != baseline]
    elif len(names) >= 2:
        pairs = one_change_pairs(names, models, runs)
        if not pairs:
            lead = _leader(comp)
            pairs = [(m, lead, "against the leader") for m in names if m != lead]
    else:
        pairs = []
    against: dict[str, dict[str, Any]] = {}  # each baseline's oriented pairs, read once
    for b in dict.fromkeys(b for _, b, _ in pairs):
        against[b] = _oriented_rows(VariantDifferences.from_comparison(comp, b).table, comp)
    verdicts = [PairVerdict(m, b, c, _rows(against[b], m, b, c), level) for m, b, c in pairs]
    frames = [v.rows for v in verdicts if len(v.rows)]
    table = (
        _regressions_first(pd.concat(frames, ignore_index=True))
        if frames
        else pd.DataFrame(columns=VERDICT_COLUMNS)
    )
    note = ""
    if not verdicts:
        note = (
            f"Only {names[0]} has scores: evaluate a second model (or a quantised or few-shot "
            "variant) to get a verdict."
            if names
            else "No scores yet: run `assay eval` or `assay import`."
        )
    caveat = _caveat(table, comp.family, level) if len(table) else ""
    return Verdict(verdicts, table, caveat, comp.family, comp.alpha, baseline, note)
