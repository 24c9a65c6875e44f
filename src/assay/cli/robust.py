"""`assay robustness`, `fairness`, `fairness-probes`, `order-stability`: thin wrappers over
assay.stats (robustness to perturbed inputs, counterfactual fairness and LLMBI, Kendall τ of
the model order across checkpoints) and assay.tasks (the probe task)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assay.core import level_label
from assay.errors import InputError

from ._common import bounded, json_or_table, print_table
from ._options import (
    SCOPE,
    JsonOption,
    ModelsOption,
    Scope,
    SeedOption,
    StoreOption,
    TaskOption,
    confidence_option,
    only,
    scope_options,
    split_list,
    with_options,
)


@with_options(scope=scope_options, confidence=confidence_option)
def robustness_cmd(
    scope: Scope = SCOPE,
    confidence: float = 0.95,
    json_out: JsonOption = False,
) -> None:
    """Paired difference of each perturbation (TASK+NAME runs from `assay eval --perturb`) to
    the clean score, and the worst case over perturbations per document (HELM)."""
    from assay.stats import robustness

    ev = scope.evidence()
    result = robustness(ev.scores, metrics=ev.metrics, confidence=confidence, **scope.selection)
    if json_or_table(
        json_out,
        result,
        result.table,
        title=f"perturbed − clean, paired over documents ({level_label(confidence)} intervals)",
        columns=list(result.SHOWN),
    ):
        return
    print_table(
        result.worst,
        title=f"worst case over perturbations (per document, {level_label(confidence)} intervals)",
        columns=[
            "model",
            "task",
            "metric",
            "n",
            "clean",
            "worst",
            "ci_low",
            "ci_high",
            "drop",
            "drop_ci_low",
            "drop_ci_high",
        ],
    )


def _weights(text: str | None) -> dict[str, float] | None:
    if not text:
        return None
    out = {}
    for part in text.split(","):
        axis, sep, value = part.partition("=")
        try:
            out[axis.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise InputError(f"--weights: {part!r} is not AXIS=NUMBER")
    return out


@with_options(confidence=confidence_option)
def fairness_cmd(
    store: StoreOption = None,
    task: TaskOption = None,
    models: ModelsOption = None,
    metric: Annotated[
        str, typer.Option("--metric", help="Per-probe score compared across groups.")
    ] = "p_correct",
    weights: Annotated[
        str | None,
        typer.Option("--weights", help="LLMBI axis weights, e.g. gender=2,age=1 (default equal)."),
    ] = None,
    diversity_weight: Annotated[
        float,
        typer.Option("--gamma", help="γ, weight of the diversity penalty.", callback=bounded(0)),
    ] = 0.1,
    sentiment_weight: Annotated[
        float,
        typer.Option("--lambda", help="λ, weight of the sentiment term.", callback=bounded(0)),
    ] = 0.5,
    confidence: float = 0.95,
    json_out: JsonOption = False,
) -> None:
    """Counterfactual group differences per axis (paired over probes, repeated-measures F test)
    and the LLM Bias Index, on probes from `assay fairness-probes`. Position and label bias of
    the same answers: `assay bias`."""
    from assay.stats import fairness

    result = fairness(
        Scope(store).evidence().scores,
        metric=metric,
        task=only(task),
        models=split_list(models),
        weights=_weights(weights),
        diversity_weight=diversity_weight,
        sentiment_weight=sentiment_weight,
        confidence=confidence,
    )
    if json_or_table(
        json_out,
        result,
        result.axes,
        title=f"{metric}: gap between groups per axis (F test; {level_label(confidence)} intervals)",
    ):
        return
    print_table(
        result.groups,
        title=f"each group minus the other groups, paired over probes ({level_label(confidence)} intervals)",
    )
    weights_text = ", ".join(f"{a}={w:.3g}" for a, w in result.weights.items())
    print_table(
        result.index, title=f"LLMBI (w: {weights_text}; γ={diversity_weight}, λ={sentiment_weight})"
    )


def fairness_probes_cmd(
    out: Annotated[Path, typer.Argument(help="Task file to write (.yaml).")],
    axes: Annotated[
        str | None, typer.Option("--axes", help="Comma-separated axes (default: all).")
    ] = None,
    variants: Annotated[
        int, typer.Option("--variants", help="Variants per template.", callback=bounded(1, 100))
    ] = 3,
    seed: SeedOption = 0,
    name: Annotated[str, typer.Option("--name", help="Task name.")] = "fairness",
) -> None:
    """Write the counterfactual probe task (names, pronouns and group nouns swapped per axis);
    run it with `assay eval -t FILE`, then `assay fairness`."""
    from assay.tasks import fairness_probes, save_task

    if out.exists():
        raise InputError(f"{out} exists; choose a new file")
    task = fairness_probes(split_list(axes), variants=variants, seed=seed, name=name)
    save_task(task, out)
    typer.echo(f"wrote {len(task.docs)} probes to {out}")


def order_stability_cmd(
    store: StoreOption = None,
    task: TaskOption = None,
    metric: Annotated[str, typer.Option("--metric", help="Metric to rank by.")] = "acc",
    json_out: JsonOption = False,
) -> None:
    """Kendall τ of the order of model families between successive checkpoints (models with a
    family and a step in the models table), e.g. blank-ppl against multiple-choice accuracy."""
    from assay.stats import checkpoint_scores, order_stability

    name = only(task)
    if name is None:
        raise InputError("give the task with --task")
    scope = Scope(store)
    ev = scope.evidence()
    models = scope.open().models()
    table = checkpoint_scores(ev.scores, models, task=name, metric=metric, metrics=ev.metrics)
    result = order_stability(table)
    json_or_table(
        json_out,
        result,
        result.pairs,
        title=f"{name} {metric}: Kendall τ between successive checkpoints",
        note=f"mean τ = {result.mean_tau:.3f}",
    )


def register(app: typer.Typer) -> None:
    """Add this part's commands to the main app."""
    app.command("robustness")(robustness_cmd)
    app.command("fairness")(fairness_cmd)
    app.command("fairness-probes")(fairness_probes_cmd)
    app.command("order-stability")(order_stability_cmd)
