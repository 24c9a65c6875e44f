"""`assay compare`, `power`, `flips`, `bias`, `items`, `variance`: thin wrappers over assay.stats."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from assay.core import level_label
from assay.errors import InputError

from ._common import (
    bounded,
    console,
    get_store,
    json_printed,
    json_tables,
    print_json,
    print_table,
)
from ._compare_io import (
    export_as_store,
    import_meanwhile,
    path_evidence,
    print_comparison,
    reading_store,
)
from ._options import (
    SCOPE,
    AlphaOption,
    CorrectionOption,
    JsonOption,
    MetricOption,
    ModelsOption,
    Scope,
    SeedOption,
    StoreOption,
    TaskOption,
    TasksOption,
    confidence_option,
    model_scope,
    only,
    scope_options,
    split_list,
    with_options,
)

VarianceOpt = bounded(0)


def _evidence(store, *, model=None, task=None, st=None):
    """The store's evidence (``Store.evidence``: scores with corpus metrics and the store's
    metric definitions), read in SQL for the models and tasks asked only (all when None);
    ``st``: the store already opened."""
    st = st or get_store(store, must_exist=True)
    ev = st.evidence(model=model or None, task=task or None)
    asked = [(ev.models, model), (ev.tasks, task)]
    wanted = [(have, [v] if isinstance(v, str) else v) for have, v in asked]
    if any(v and not set(v) <= set(have) for have, v in wanted):
        ev = st.evidence()  # a name the store lacks: the analysis says what it has
    if ev.empty:
        raise InputError(f"the store at {store or 'default path'} has no scored samples")
    return ev


def _unknown_model_or_task(st, model: str | None, task: str | None) -> NoReturn:
    """The one-line error for a model/task with no samples, naming those the store has (the
    models, then that model's tasks), as the other commands do."""
    pairs = st.sql("SELECT DISTINCT model, task FROM samples ORDER BY model, task")
    if pairs.empty:
        raise InputError(f"the store at {st.path} has no samples")
    for column, name in (("model", model), ("task", task)):
        if name is not None and name not in set(pairs[column]):
            available = ", ".join(dict.fromkeys(map(str, pairs[column])))
            raise InputError(f"unknown {column} {name!r}; available: {available}")
        if name is not None:
            pairs = pairs[pairs[column] == name]
    raise InputError("no samples for that model/task in the store")


@with_options(scope=scope_options, confidence=confidence_option)
def compare_cmd(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="lm-eval output folders, lighteval outputs or inspect logs to compare without "
            "importing them, or one folder of Parquet files `assay export --format parquet` "
            "wrote (read as --store) (default: the runs in the store).",
            show_default=False,
        ),
    ] = None,
    scope: Scope = SCOPE,
    confidence: float = 0.95,
    correction: CorrectionOption = "holm",
    test: Annotated[
        str,
        typer.Option(
            "--test",
            help="auto (binary scores, one repeat, no cluster ids: mcnemar; otherwise t), "
            "t (paired t; with cluster ids the clustered Wald-t on G - 1 df), mcnemar "
            "(McNemar's asymptotic score test with Tango's interval), mcnemar-clustered "
            "(Durkalski's cluster-adjusted McNemar test, its inverted interval), mcnemar-exact "
            "(exact binomial McNemar, Clopper-Pearson), permutation (sign flips); t on "
            "differences that are all equal (SE 0) reports the exact sign-test instead.",
        ),
    ] = "auto",
    overall: Annotated[
        bool,
        typer.Option(
            "--overall",
            help="Add macro means over tasks (task '(all)'): accuracy-like shares (acc, "
            "exact_match...) in one row, every other metric (perplexities...) in its own.",
        ),
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Scores with intervals per model and task, and every pair of models compared.

    Scores: the interval's "method" is wilson (0/1 scores), wilson-betabinomial (0/1 scores
    with cluster ids: a score interval whose design effect is re-estimated at each candidate), clt (t interval), clustered (cluster-robust t), with +repeats when
    repeats are averaged per question and +log for a perplexity (delta method on the log
    scale); the --overall rows (macro mean over tasks, one row per kind of metric) are
    wilson-macro for 0/1 shares (Wilson on the tasks' pooled trials), else normal.

    Pairs use the questions both models answered: paired SE, interval and p-value by the
    --test method named in "method" (auto: McNemar's asymptotic score test for binary scores
    without cluster ids, else the paired t, clustered when cluster ids exist; none when
    fewer than 2 shared questions), p-values adjusted over all pairs. Groups: models sharing
    a letter are not significantly different. A rolling (perplexity) task is compared on its
    corpus word_perplexity (lower is better; also bits_per_byte, byte_perplexity with
    --metric), delta-method intervals over documents.

    Printed: the verdict, then each table; a table of more than 1,000 rows shows its first
    1,000 (pairs: the smallest adjusted p, then the largest difference, first) and how many
    more --json and --format csv|tsv give.
    """
    from ._verdict import print_verdict, store_verdict

    # while DuckDB reads: the analysis, then scipy.special (first needed after the matrices)
    import_meanwhile("assay.stats:compare", "assay.stats:verdict", "scipy.special")
    paths, store = export_as_store(paths, scope.store)
    meta = None if paths else reading_store(store)
    with meta.session() if meta is not None else contextlib.nullcontext():
        ev = (
            path_evidence(paths, store)
            if paths
            else _evidence(store, model=scope.models, task=scope.tasks, st=meta)
        )
        from assay.stats import compare

        result = compare(
            ev,
            confidence=confidence,
            correction=correction,
            test=test,
            overall=overall,
            **scope.selection,
        )
        # the large tables' JSON written by DuckDB in the background while the verdict is made
        tables = json_tables(result.to_dict(frames=True)) if json_out else {}
        found = None if scope.tasks else store_verdict(result, meta)
    if json_out:
        extra = {} if found is None else {"verdict": found.to_dict()}
        print_json({**tables, "family": result.family.to_dict(), **extra})
        return
    if found is not None:
        print_verdict(found)
    print_comparison(result)


def power_cmd(
    delta: Annotated[
        float | None,
        typer.Option(
            "--delta",
            help="Difference to detect (e.g. 0.02; its sign does not matter).",
            callback=bounded(),
        ),
    ] = None,
    n: Annotated[
        float | None, typer.Option("--n", help="Number of questions (>= 2).", callback=bounded(2))
    ] = None,
    alpha: AlphaOption = 0.05,
    target_power: Annotated[
        float,
        typer.Option(
            "--power",
            help="Target power 1 - beta, in (0, 1).",
            callback=bounded(0, 1, low_open=True, high_open=True),
        ),
    ] = 0.8,
    omega2: Annotated[
        float | None,
        typer.Option(
            "--omega2",
            help="Variance of the per-question true difference (default 0.5, the worst case "
            "for binary scores; or estimated from --store/--models/--task).",
            callback=VarianceOpt,
        ),
    ] = None,
    sigma2_a: Annotated[
        float,
        typer.Option("--sigma2-a", help="Within-question var., A.", callback=VarianceOpt),
    ] = 0.0,
    sigma2_b: Annotated[
        float,
        typer.Option("--sigma2-b", help="Within-question var., B.", callback=VarianceOpt),
    ] = 0.0,
    k_a: Annotated[
        int | None,
        typer.Option("--k-a", help="Repeats per question for A [default: 1].", callback=bounded(1)),
    ] = None,
    k_b: Annotated[
        int | None,
        typer.Option("--k-b", help="Repeats per question for B [default: 1].", callback=bounded(1)),
    ] = None,
    models: Annotated[
        str | None,
        typer.Option("--models", help="Two models 'a,b' to estimate the variances from."),
    ] = None,
    task: TaskOption = None,
    metric: MetricOption = None,
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Power analysis: minimum detectable effect, questions needed, or power.

    Give --n for the minimum detectable effect, --delta for the questions needed, both for the
    power: n = (z_a/2 + z_b)^2 (omega2 + sigma2_a/K_a + sigma2_b/K_b) / delta^2.
    """
    from assay.stats import power_analysis, power_from_scores

    design = {"delta": delta, "n": n, "alpha": alpha, "target_power": target_power}
    if models is not None:
        pair = split_list(models) or []
        if len(pair) != 2 or task is None:
            raise InputError("--models needs two names 'a,b' and --task")
        ev = _evidence(store)
        result = power_from_scores(
            ev.scores,
            pair[0],
            pair[1],
            task=only(task),
            metric=metric,
            metrics=ev.metrics,
            omega2=omega2,
            k_a=k_a,
            k_b=k_b,
            **design,
        )
    else:
        result = power_analysis(
            omega2=0.5 if omega2 is None else omega2,
            sigma2_a=sigma2_a,
            sigma2_b=sigma2_b,
            k_a=k_a or 1,
            k_b=k_b or 1,
            **design,
        )
    out = result.to_dict()
    if json_printed(json_out, out):
        return
    estimated = out.pop("estimated_from", None)
    print_table([out], title="power analysis", digits=4)
    if estimated is not None:
        print_table([estimated], title="variance components from the store")


@with_options(confidence=confidence_option)
def flips_cmd(
    old: Annotated[str, typer.Option("--old", help="Old model version.")],
    new: Annotated[str, typer.Option("--new", help="New model version.")],
    store: StoreOption = None,
    task: TasksOption = None,
    metric: Annotated[str, typer.Option("--metric", help="Binary metric.")] = "acc",
    confidence: float = 0.95,
    show_ids: Annotated[
        bool, typer.Option("--ids", help="Also list the negatively flipped doc_ids.")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Update compatibility: negative/positive flip rates and NFI of --new against --old.

    Negative flip: old right, new wrong. NFI = negative flips / new model's errors. Wilson
    intervals are in the JSON.
    """
    from assay.stats import flips

    result = flips(
        _evidence(store, model=[old, new], task=task).scores,
        old,
        new,
        task=task,
        metric=metric,
        confidence=confidence,
    )
    if json_printed(json_out, result):
        return
    print_table(
        result.table,
        title=f"flips {old} -> {new} ({metric}; {level_label(confidence)} intervals in the JSON)",
        columns=list(result.SHOWN),
    )
    if show_ids:
        neg = result.flipped[result.flipped["kind"] == "negative"]
        print_table(neg, title="negative flips")


@with_options(confidence=confidence_option)
def bias_cmd(
    model: Annotated[str | None, typer.Option("--model", help="Model name.")] = None,
    store: StoreOption = None,
    task: TaskOption = None,
    metric: Annotated[str, typer.Option("--metric", help="Correctness metric.")] = "acc",
    confidence: float = 0.95,
    json_out: JsonOption = False,
) -> None:
    """Position bias of a model's multiple-choice answers on one task.

    Chosen positions against uniform (chi-square), accuracy by the position of the right
    answer, and accuracy averaged over the choice orderings shown.
    """
    from assay.stats import position_bias

    st = get_store(store, must_exist=True)
    samples = st.samples(model=model, task=only(task))
    if samples.empty:
        _unknown_model_or_task(st, model, only(task))
    result = position_bias(
        samples, model=model, task=only(task), metric=metric, confidence=confidence
    )
    if json_printed(json_out, result):
        return
    print_table(result.table, title="positions")
    summary = result.to_dict()
    summary.pop("table")
    print_table(
        [summary],
        title="summary",
        columns=[
            "chi2",
            "pvalue",
            "n",
            "n_docs",
            "accuracy",
            "permutation_accuracy",
            "permutation_stderr",
        ],
    )


def items_cmd(
    store: StoreOption = None,
    task: TaskOption = None,
    metric: MetricOption = None,
    models: ModelsOption = None,
    flagged: Annotated[bool, typer.Option("--flagged", help="Only broken-looking items.")] = False,
    irt: Annotated[
        bool, typer.Option("--irt", help="Add 2PL IRT discrimination (a) and difficulty (b).")
    ] = False,
    anchors: Annotated[
        int | None,
        typer.Option(
            "--anchors",
            help="Pick K tinyBenchmarks anchor items (with their error).",
            callback=bounded(1),
        ),
    ] = None,
    seed: SeedOption = 0,
    json_out: JsonOption = False,
) -> None:
    """Item analysis: per-question difficulty, discrimination and broken-item flags.

    Difficulty is the share of models right; discrimination the corrected point-biserial
    correlation across models. Needs at least 3 models. --irt adds a 2PL fit; --anchors K
    picks K representative items and reports the anchor estimators' error on held-out models.
    """
    from assay.stats import item_report

    ev = _evidence(store)
    result = item_report(
        ev.scores,
        task=only(task),
        metric=metric,
        metrics=ev.metrics,
        models=split_list(models),
        irt=irt,
        anchors=anchors,
        seed=seed,
    )
    out = result.to_dict(flagged_only=flagged)
    if json_printed(json_out, out):
        return
    table = result.flagged if flagged else result.table
    print_table(table, title=f"items of {result.task} ({result.metric})")
    console.print(f"{len(result.flagged)} of {len(result.table)} items flagged")
    if result.anchors is not None:
        print_table(out["anchors"], title=f"{len(out['anchors'])} anchor items")
        if out["anchor_validation"]:
            print_table(out["anchor_validation"], title="anchor estimators on held-out models")


@with_options(scope=model_scope)
def variance_cmd(
    scope: Scope = SCOPE,
    metric: MetricOption = None,
    checkpoints: Annotated[
        str | None,
        typer.Option(
            "--checkpoints",
            help="Comma-separated checkpoint models: Kendall tau of score vs step "
            "(steps from the models table, else the order given).",
        ),
    ] = None,
    seed: SeedOption = 0,
    json_out: JsonOption = False,
) -> None:
    """Variance across templates, runs and repeats against the sampling variance.

    Factors: template_id (prompt templates), run_id (few-shot draws, seeds, settings) and
    repeat (samples, choice orderings). With --checkpoints: Kendall tau of score against step.
    """
    from assay.stats import monotonicity, variance_decomposition

    st = scope.open()
    ev = _evidence(scope.store, st=st)
    df = ev.scores
    task = scope.tasks
    if checkpoints:
        if task and len(task) > 1:
            raise InputError(f"--checkpoints takes one task, not {len(task)}: {', '.join(task)}")
        names = split_list(checkpoints) or []
        meta = st.models().set_index("model")
        steps = meta["step"].reindex(names) if "step" in meta else None
        use = steps.to_numpy(dtype=float) if steps is not None and steps.notna().all() else None
        res = monotonicity(
            df, names, steps=use, task=only(task), metric=metric, metrics=ev.metrics, seed=seed
        )
        if json_printed(json_out, res):
            return
        print_table(res.table, title="checkpoints")
        console.print(
            f"Kendall tau = {res.tau:.3f}  95% CI [{res.ci_low:.3f}, {res.ci_high:.3f}]  "
            f"p = {res.pvalue:.3g}  (n = {res.n} docs, {res.n_resamples} resamples)"
        )
        return
    result = variance_decomposition(
        df, model=scope.models, task=task, metric=metric, metrics=ev.metrics
    )
    if json_printed(json_out, result):
        return
    if result.table.empty:
        console.print("no factor with two or more levels on shared docs (one run, one repeat)")
        return
    print_table(
        result.table,
        title="variance by factor (ratio = var_levels / sampling_var; all columns in --json)",
        columns=[
            "model",
            "task",
            "factor",
            "levels",
            "n",
            "mean",
            "sd_levels",
            "sampling_var",
            "var_factor",
            "ratio",
            "p_value",
        ],
    )


def register(app: typer.Typer) -> None:
    """Add this part's commands to the main app."""
    app.command("compare")(compare_cmd)
    app.command("power")(power_cmd)
    app.command("flips")(flips_cmd)
    app.command("bias")(bias_cmd)
    app.command("items")(items_cmd)
    app.command("variance")(variance_cmd)
