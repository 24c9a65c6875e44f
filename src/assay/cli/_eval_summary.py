"""What ``assay eval`` prints: first the verdict (``assay.stats.verdict``), then per task the headline score with its interval, n and chance, and
for a job of several variants their paired differences to the first one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from assay.core import fixed

from ._common import console, print_table
from ._verdict import print_verdict, store_verdict

if TYPE_CHECKING:
    from assay.runner import EvalResult
    from assay.stats import VariantDifferences, Verdict
    from assay.store import Store


@dataclass
class EvalSummary:
    """What :func:`print_eval_summary` shows: ``differences`` (``stats.variant_differences``
    of the job's models and tasks: per-model headline scores and each variant against the
    first, adjusted over ``differences.family``) and each task's chance level."""

    differences: VariantDifferences
    chance: dict[str, float]
    verdict: Verdict | None = None

    @property
    def level(self) -> float:
        return 1 - self.differences.alpha

    def to_dict(self) -> dict[str, Any]:
        scores = self.differences.scores
        return {
            "headline": scores.assign(chance=scores["task"].map(self.chance)).to_dict(
                orient="records"
            )
            if len(scores)
            else [],
            **self.differences.to_dict(),
            "level": self.level,
            "verdict": None if self.verdict is None else self.verdict.to_dict(),
        }


def eval_summary(store: Store, results: list[EvalResult], *, alpha: float = 0.05) -> EvalSummary:
    """The job's models on the job's tasks as the store holds them, compared by
    ``stats.variant_differences`` (the first model is the reference): the same numbers, and
    the same family of tests, as ``assay compare -m MODELS -t TASKS`` and the report."""
    from assay import stats

    models = list(dict.fromkeys(r.model for r in results))
    tasks = sorted({task for r in results for task in r.run_ids})
    evidence = store.evidence(model=models, task=tasks)
    scores = evidence.scores
    comp = stats.compare(
        scores, models=models if len(scores) else None, alpha=alpha, metrics=evidence.metrics
    )
    differences = stats.VariantDifferences.from_comparison(comp)
    samples = store.samples(model=models, task=tasks)
    chance = stats.headline_chance(differences.headline, samples, evidence.metrics)
    return EvalSummary(differences, chance, store_verdict(comp, store))


def print_eval_summary(summary: EvalSummary, *, verbose_table: pd.DataFrame | None) -> None:
    """The compact table (headline metric per task), the variants' differences with the family
    their p-values are adjusted over, and with ``verbose_table`` every metric's mean ± stderr."""
    diffs = summary.differences
    if summary.verdict is not None:
        print_verdict(summary.verdict)
    level = f"{summary.level:.0%}"
    table = diffs.scores
    if not table.empty:
        cells = table.assign(
            cell=[
                f"{fixed(r.mean, 3)} [{fixed(r.ci_low, 2)}, {fixed(r.ci_high, 2)}]"
                for r in table.itertuples()
            ],
            chance=table["task"].map(summary.chance),
        )
        wide = cells.pivot_table(
            index=["task", "metric"], columns="model", values="cell", aggfunc="first", sort=False
        )
        models = list(dict.fromkeys(table["model"]))
        info = cells.groupby(["task", "metric"], sort=False).agg(
            n=("n", "max"), chance=("chance", "first")
        )
        shown = info.join(wide[models]).reset_index()
        shown["n"] = shown["n"].astype(int)
        shown["chance"] = shown["chance"].map(lambda v: "" if pd.isna(v) else fixed(v, 3))
        print_table(
            shown.fillna(""),
            title=f"headline metric per task: score [{level} interval] over n documents",
        )
    pairs = diffs.table
    if not pairs.empty:
        shown = pd.DataFrame(
            {
                "variant": pairs["variant"],
                "vs": pairs["reference"],
                "task": pairs["task"],
                "diff": pairs["diff"].map(lambda v: "" if pd.isna(v) else fixed(v, 3, sign=True)),
                f"{level} interval": [
                    "" if pd.isna(r.ci_low) else f"[{fixed(r.ci_low, 3)}, {fixed(r.ci_high, 3)}]"
                    for r in pairs.itertuples()
                ],
                "p (adjusted)": pairs["p_adjusted"].map(lambda v: "" if pd.isna(v) else f"{v:.3g}"),
                "flips +/-": [
                    ""
                    if pd.isna(r.variant_only_right)
                    else f"{int(r.variant_only_right)}/{int(r.reference_only_right)}"
                    for r in pairs.itertuples()
                ],
            }
        )
        print_table(
            shown,
            title="each variant against the first: paired difference, "
            "answers it alone got right / alone got wrong",
        )
        console.print(
            f"p {diffs.family.statement}, as in `assay compare` and the report",
            highlight=False,
            markup=False,
        )
    if verbose_table is not None:
        print_table(
            verbose_table,
            title="every metric: mean ± stderr over n documents",
            columns=["model", "task", "metric", "mean", "stderr", "n", "n_samples"],
        )
    else:
        console.print("other metrics: --verbose or --json", style="dim")


def cached_line(results: list[EvalResult], seconds: float) -> str | None:
    """The line that says a re-run computed nothing (every sample was in the store already)
    and how long it took; None when anything was computed."""
    if any(r.new_samples for r in results):
        return None
    stored = sum(r.resumed_samples for r in results)
    return (
        f"nothing to run: all {stored} samples were already in the store (cached), "
        f"no model was called; took {seconds:.1f} s"
    )
