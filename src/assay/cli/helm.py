"""`assay calibration`, `efficiency`, `breakdown`, `reliability`: HELM's other columns, thin
wrappers over assay.stats."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assay.core import level_label
from assay.errors import InputError

from ._common import bounded, console, get_store, json_or_table, json_printed, print_table
from ._options import (
    SCOPE,
    CorrectionOption,
    JsonOption,
    ModelOption,
    Scope,
    SeedOption,
    StoreOption,
    TaskOption,
    confidence_option,
    model_scope,
    only,
    scope_options,
    split_list,
    with_options,
)


def _samples(store, model: str | list[str] | None = None, task: str | list[str] | None = None):
    st = get_store(store, must_exist=True)
    df = st.samples(model=model, task=task)
    if df.empty:
        raise InputError(f"no samples in the store at {st.path} for that model/task")
    return st, df


@with_options(confidence=confidence_option)
def calibration_cmd(
    store: StoreOption = None,
    model: ModelOption = None,
    task: TaskOption = None,
    metric: Annotated[str, typer.Option("--metric", help="0/1 correctness metric.")] = "acc",
    bins: Annotated[
        int, typer.Option("--bins", help="Equal-mass bins (>= 1).", callback=bounded(1, 1000))
    ] = 15,
    bootstrap: Annotated[
        int,
        typer.Option(
            "--bootstrap",
            help="Resamples of documents for the intervals (0 to 100000).",
            callback=bounded(0, 100_000),
        ),
    ] = 1000,
    compare: Annotated[
        str | None,
        typer.Option("--compare", help="Two models 'a,b': paired bootstrap of a - b (needs -t)."),
    ] = None,
    confidence: float = 0.95,
    seed: SeedOption = 0,
    json_out: JsonOption = False,
) -> None:
    """Calibration of multiple-choice answers from the stored choice log-likelihoods.

    Confidence = softmax over the choices at the chosen one. ECE (equal-mass bins), MCE,
    debiased L2 error (Kumar et al. 2019), Brier = reliability - resolution + uncertainty
    (+ within-bin), AURC and selective accuracy. ECE and CE2: bias-corrected intervals and
    the p-value of a test of calibration (outcomes resampled at the model's own
    confidences); the other measures: bootstrap intervals over documents.
    """
    from assay.stats import calibration, compare_calibration

    _, df = _samples(store, None if compare else model, only(task))
    if compare:
        pair = split_list(compare) or []
        if len(pair) != 2:
            raise InputError("--compare takes two models 'a,b'")
        res = compare_calibration(
            df,
            pair[0],
            pair[1],
            task=only(task),
            metric=metric,
            n_bins=bins,
            n_resamples=max(bootstrap, 2),
            confidence=confidence,
            seed=seed,
        )
        title = (
            f"{pair[0]} - {pair[1]} on {res.task} ({res.n_docs} docs; {level_label(confidence)} "
            "paired intervals; ece_debiased's measured coverage is below that: 88-92%)"
        )
        json_or_table(json_out, res, res.table, title=title)
        return
    res = calibration(
        df,
        model=model,
        metric=metric,
        n_bins=bins,
        n_resamples=bootstrap,
        confidence=confidence,
        seed=seed,
    )
    json_or_table(
        json_out,
        res,
        res.table,
        title=f"calibration ({bins} equal-mass bins; {level_label(confidence)} "
        "intervals; p: test of perfect calibration)",
        columns=[
            "model",
            "task",
            "n",
            "accuracy",
            "confidence",
            "ece",
            "ece_debiased",
            "ece_low",
            "ece_high",
            "ece_pvalue",
            "ce2_debiased",
            "ce2_debiased_low",
            "ce2_debiased_high",
            "ce2_debiased_pvalue",
            "mce",
            "brier",
            "aurc",
            "interval_note",
        ],
    )


@with_options(scope=model_scope, confidence=confidence_option)
def efficiency_cmd(
    scope: Scope = SCOPE,
    prices: Annotated[
        Path | None,
        typer.Option(
            "--prices",
            help="Price table (CSV or JSON): model, input_per_1m, output_per_1m.",
            exists=False,
        ),
    ] = None,
    confidence: float = 0.95,
    json_out: JsonOption = False,
) -> None:
    """Throughput, latency p50/p95/p99, tokens and cost per sample and task; the runtime fit
    runtime = a + b*prompt + c*output per model (Narayanan et al. 2023)."""
    from assay.stats import efficiency, read_prices

    table = read_prices(prices) if prices is not None else None  # bad prices: before the store
    _, df = _samples(scope.store, scope.models, scope.tasks)
    res = efficiency(df, prices=table, confidence=confidence)
    if json_printed(json_out, res):
        return
    cols = [
        "model",
        "task",
        "n",
        "prompt_tokens",
        "output_tokens",
        "tokens_per_s",
        "latency_p50",
        "latency_p95",
        "latency_p99",
    ]
    if res.priced:
        cols += ["cost_per_sample", "cost_total"]
    print_table(
        res.table, title="efficiency (latency in seconds; intervals in the JSON)", columns=cols
    )
    for name, fit in zip(res.fit_models, res.fits, strict=True):
        console.print(f"{name}: {fit.describe()}", highlight=False, markup=False)


@with_options(scope=scope_options, confidence=confidence_option)
def breakdown_cmd(
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help="difficulty, a score column (template_id, cluster_id), a "
            "field of the samples' extra JSON, or a column of --groups.",
        ),
    ] = "difficulty",
    scope: Scope = SCOPE,
    groups: Annotated[
        Path | None,
        typer.Option("--groups", help="CSV/Parquet with doc_id (and task) and the --by column."),
    ] = None,
    bins: Annotated[
        int,
        typer.Option(
            "--bins", help="Bins for a continuous field (>= 2).", callback=bounded(2, 100)
        ),
    ] = 5,
    pair: Annotated[
        str | None, typer.Option("--pair", help="Two models 'a,b': paired difference per group.")
    ] = None,
    confidence: float = 0.95,
    correction: CorrectionOption = "holm",
    seed: SeedOption = 0,
    json_out: JsonOption = False,
) -> None:
    """Scores per difficulty level or document group, with intervals, a permutation test that
    the groups differ (adjusted over tasks and models) and the best-worst gap."""
    from assay.stats import breakdown, document_groups, read_groups

    mapping = read_groups(groups, by) if groups is not None else None
    evidence = scope.evidence()
    scores = evidence.scores
    if mapping is None and by not in scores:
        mapping = document_groups(scope.open().samples(task=scope.tasks, with_metrics=False), by)
    two = split_list(pair)
    if two is not None and len(two) != 2:
        raise InputError("--pair takes two models 'a,b'")
    res = breakdown(
        scores,
        by,
        groups=mapping,
        n_bins=bins,
        metrics=evidence.metrics,
        pair=None if two is None else (two[0], two[1]),
        confidence=confidence,
        correction=correction,
        seed=seed,
        **scope.selection,
    )
    if json_or_table(
        json_out,
        res,
        res.groups,
        title=f"scores by {by}",
        columns=["task", "model", "group", "n", "mean", "ci_low", "ci_high"],
    ):
        return
    print_table(
        res.tests,
        title=f"do the groups differ? (p adjusted: {correction})",
        columns=[
            "task",
            "model",
            "levels",
            "pvalue",
            "p_adjusted",
            "best_group",
            "worst_group",
            "gap",
            "gap_low",
            "gap_high",
        ],
    )
    if res.pairs is not None and len(res.pairs):
        print_table(
            res.pairs,
            title=f"{two[0]} - {two[1]} per group",
            columns=["task", "group", "n", "diff", "ci_low", "ci_high", "pvalue", "p_adjusted"],
        )


@with_options(scope=scope_options, confidence=confidence_option)
def reliability_cmd(
    scope: Scope = SCOPE,
    by: Annotated[
        str,
        typer.Option("--by", help="doc (variants of a document) or cluster (docs of a template)."),
    ] = "doc",
    threshold: Annotated[
        float, typer.Option("--threshold", help="A variant is right when its score >= this.")
    ] = 1.0,
    min_variants: Annotated[
        int,
        typer.Option(
            "--min-variants",
            help="Questions with fewer variants are left out.",
            callback=bounded(1),
        ),
    ] = 2,
    confidence: float = 0.95,
    json_out: JsonOption = False,
) -> None:
    """Right on every variant (DIA's confidence index), near miss, reliability score
    (+1 right, -2 wrong, 0 skipped) next to the mean, and model pairs on the all-right share."""
    from assay.stats import reliability

    evidence = scope.evidence()
    res = reliability(
        evidence.scores,
        by=by,
        metrics=evidence.metrics,
        threshold=threshold,
        min_variants=min_variants,
        confidence=confidence,
        **scope.selection,
    )
    if json_or_table(
        json_out,
        res,
        res.table,
        title=f"reliability over variants (by {by})",
        columns=[
            "task",
            "model",
            "questions",
            "variants",
            "mean",
            "all_right",
            "all_right_low",
            "all_right_high",
            "near_miss",
            "rs_mean",
        ],
    ):
        return
    if len(res.pairs):
        print_table(
            res.pairs,
            title="all-right share, model pairs",
            columns=["task", "model_a", "model_b", "n", "diff", "ci_low", "ci_high", "p_adjusted"],
        )


def register(app: typer.Typer) -> None:
    """Add this part's commands to the main app."""
    app.command("calibration")(calibration_cmd)
    app.command("efficiency")(efficiency_cmd)
    app.command("breakdown")(breakdown_cmd)
    app.command("reliability")(reliability_cmd)
