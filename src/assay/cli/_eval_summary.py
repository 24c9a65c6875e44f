"""What ``assay eval`` prints: per task the headline score with its interval, n and chance, and
for a job of several variants their paired differences to the first one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._common import console, print_table

if TYPE_CHECKING:
    from assay.runner import EvalResult
    from assay.store import Store


def eval_summary(store: Store, results: list[EvalResult], *, alpha: float = 0.05) -> dict[str, Any]:
    """``scores``: per model and task the headline metric's mean, (1 − α) interval, n and the
    chance level; ``pairs``: each later variant against the first on every task (paired
    difference, interval, Holm-adjusted p over the pairs shown, answers that flipped)."""
    from assay import stats

    run_ids = sorted({r for res in results for ids in res.run_ids.values() for r in ids})
    evidence = store.evidence()
    scores = evidence.scores
    scores = scores[scores["run_id"].isin(run_ids)]
    if scores.empty:
        return {"scores": pd.DataFrame(), "pairs": pd.DataFrame(), "level": 1 - alpha}
    models = list(dict.fromkeys(r.model for r in results))
    comp = stats.compare(scores, models=models, alpha=alpha, metrics=evidence.metrics)
    samples = store.samples()
    samples = samples[samples["run_id"].isin(run_ids)]
    headline = dict(zip(comp.scores["task"], comp.scores["metric"], strict=True))
    chance = stats.headline_chance(headline, samples, evidence.metrics)
    table = comp.scores.assign(chance=comp.scores["task"].map(chance))
    pairs = comp.details if not comp.details.empty else comp.pairs
    if len(models) > 1:
        pairs = pairs[pairs["model_a"].eq(models[0]) | pairs["model_b"].eq(models[0])].copy()
        flip = pairs["model_a"].eq(models[0]).to_numpy()  # orient as variant − first
        swapped = {"model_a": "model_b", "model_b": "model_a", "ci_low": "ci_high",
                   "ci_high": "ci_low", "a_only_right": "b_only_right",
                   "b_only_right": "a_only_right"}  # fmt: skip
        sign = {"diff", "ci_low", "ci_high"}
        pairs = pairs.assign(
            **{
                col: np.where(
                    flip,
                    -pairs[other].to_numpy() if col in sign else pairs[other].to_numpy(),
                    pairs[col].to_numpy(),
                )
                for col, other in {**swapped, "diff": "diff"}.items()
                if col in pairs and other in pairs
            }
        )
        pairs["p_adjusted"] = stats.adjust_pvalues(pairs["p_value"].to_numpy(dtype=float))
    else:
        pairs = pairs.iloc[0:0]
    return {"scores": table, "pairs": pairs.reset_index(drop=True), "level": 1 - alpha}


def _interval(row: Any) -> str:
    return f"[{row.ci_low:.3f}, {row.ci_high:.3f}]"


def print_eval_summary(summary: dict[str, Any], *, verbose_table: pd.DataFrame | None) -> None:
    """The compact table (headline metric per task), the variants' differences, and with
    ``verbose_table`` every metric's mean ± stderr as well."""
    level = f"{summary['level']:.0%}"
    table: pd.DataFrame = summary["scores"]
    if not table.empty:
        cells = table.assign(
            cell=[f"{r.mean:.3f} [{r.ci_low:.2f}, {r.ci_high:.2f}]" for r in table.itertuples()]
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
        shown["chance"] = shown["chance"].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
        print_table(
            shown.fillna(""),
            title=f"headline metric per task: score [{level} interval] over n documents",
        )
    pairs: pd.DataFrame = summary["pairs"]
    if not pairs.empty:
        shown = pd.DataFrame(
            {
                "variant": pairs["model_a"],
                "vs": pairs["model_b"],
                "task": pairs["task"],
                "diff": pairs["diff"].map(lambda v: "" if pd.isna(v) else f"{v + 0.0:+.3f}"),
                f"{level} interval": [
                    "" if pd.isna(r.ci_low) else _interval(r) for r in pairs.itertuples()
                ],
                "p (Holm)": pairs["p_adjusted"].map(lambda v: "" if pd.isna(v) else f"{v:.3g}"),
                "flips +/-": [
                    ""
                    if pd.isna(getattr(r, "a_only_right", float("nan")))
                    else f"{int(r.a_only_right)}/{int(r.b_only_right)}"
                    for r in pairs.itertuples()
                ],
            }
        )
        print_table(
            shown,
            title="each variant against the first: paired difference, "
            "answers it alone got right / alone got wrong",
        )
    if verbose_table is not None:
        print_table(
            verbose_table,
            title="every metric: mean ± stderr over n documents",
            columns=["model", "task", "metric", "mean", "stderr", "n", "n_samples"],
        )
    else:
        console.print("other metrics: --verbose or --json", style="dim")
