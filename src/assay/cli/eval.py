"""`assay eval`: run a model on tasks, writing every scored sample to the store."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from assay.errors import InputError

from ._adaptive_eval import run_adaptive
from ._common import bounded, console, print_json, print_table
from ._eval_options import (
    EXECUTOR,
    SAMPLING,
    Executor,
    Sampling,
    executor_options,
    sampling_options,
)
from ._eval_summary import cached_line
from ._lm_eval_flags import (
    LM_EVAL_FLAGS,
    DeviceOption,
    LmEvalFlags,
    count_only,
    lm_eval_flags,
    lm_eval_names,
    parse_limit,
    run_lm_eval_command,
    with_device,
)
from ._options import (
    DataRootOption,
    JsonOption,
    StoreOption,
    split_names,
    with_options,
)
from ._until_decided import (
    SEQUENTIAL,
    Sequential,
    check_until_decided,
    run_until_decided,
    sequential_options,
)

if TYPE_CHECKING:
    from assay.runner import EvalResult, RunSpec

DEFAULT_MODEL = "smollm2-135m"
DEFAULT_SUITE_LIMIT = 50
"""Per-task limit when neither --task nor --limit is given: 8 tasks x 50 = 400 samples, about a
minutes for the bundled model on 2 CPU cores."""


@with_options(
    sampling=sampling_options, ray=executor_options, lm_eval=lm_eval_flags, seq=sequential_options
)
def eval_command(
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="Model spec: smollm2-135m(,quantize=int8), "
            "hf:PATH_OR_ID(,gguf_file=F,dtype=D,device=X,parent=P), "
            "openai:MODEL@http://host:port/v1(,concurrency=N), llamacpp:PATH.gguf "
            "(default: the default job's variants of smollm2-135m). Twice with --until-decided.",
            show_default=False,
        ),
    ] = None,
    task: Annotated[
        list[str] | None,
        typer.Option(
            "--task",
            "-t",
            help="Task names or task files, comma-separated or repeated (default: the built-in "
            "suite).",
            callback=split_names,
            metavar="TASK[,TASK...]",
        ),
    ] = None,
    limit: Annotated[
        float | None,
        typer.Option(
            "--limit",
            "-n",
            callback=bounded(0, low_open=True),
            help="At most N documents per task (default: all; "
            f"{DEFAULT_SUITE_LIMIT} for the built-in suite, 20 in the default job); for "
            "lm-eval's tasks also a fraction in (0, 1) of each task's documents.",
            metavar="N|FRACTION",
            show_default=False,
        ),
    ] = None,
    sampling: Sampling = SAMPLING,
    perturb: Annotated[
        list[str] | None,
        typer.Option(
            "--perturb",
            help="Also run each task under these input perturbations (typos, casing, "
            "whitespace, contractions, distractor, labels), stored as TASK+NAME.",
            callback=split_names,
            metavar="NAME[,NAME...]",
        ),
    ] = None,
    store: StoreOption = None,
    json_out: JsonOption = False,
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="Hide the progress bar.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also print every metric's mean ± stderr.")
    ] = False,
    grid: Annotated[
        str | None,
        typer.Option(
            "--grid",
            help="Run a YAML grid (models x tasks x num_fewshot x seeds x orderings) as one "
            "resumable job; checked whole before anything runs.",
            metavar="FILE",
        ),
    ] = None,
    ray: Executor = EXECUTOR,
    trust_remote_code: Annotated[
        bool,
        typer.Option(
            "--trust-remote-code",
            help="Allow model specs (here or in --grid) that set trust_remote_code=true: "
            "transformers then runs Python code that comes with the model.",
        ),
    ] = False,
    data_root: DataRootOption = None,
    lm_eval: LmEvalFlags = LM_EVAL_FLAGS,
    device: DeviceOption = None,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            help="Evaluate only shard K of N (1-based) of each task's documents, by a hash of "
            "the document id (after --limit); merge the N stores with `assay store merge`.",
            metavar="K/N",
        ),
    ] = None,
    seq: Sequential = SEQUENTIAL,
) -> None:
    """Evaluate a model on tasks; resumes where a previous identical run stopped.

    With no model, task or few-shot option: the default job, real variants of the bundled
    SmolLM2-135M on the built-in suite (full precision, int8 weights, three-shot; two choice
    orderings each), so the comparison, flips, variance and bias analyses all have content.
    With -m it evaluates exactly that model. A task name assay does not know is looked up in
    lm-evaluation-harness's registry (mmlu, arc_easy, hellaswag, gsm8k, ...; extra
    assay[lm-eval]) and run with lm-eval's prompts and metrics (docs/tasks.md). Prints per task the headline metric with its 95%
    interval, n and chance level, the variants' paired differences, and the inference cost fit
    runtime = a + b·prompt_tokens + c·output_tokens.
    """
    from assay.runner import (
        DEFAULT_JOB_LIMIT,
        DEFAULT_JOB_ORDERINGS,
        DEFAULT_VARIANTS,
        RunSpec,
        Variant,
        parse_shard,
    )
    from assay.store import default_store_path
    from assay.tasks import BUILTIN_SUITE

    sharding = parse_shard(shard, "--shard")
    limit = parse_limit(limit)
    access = {"trust_remote_code": trust_remote_code, "data_roots": tuple(data_root or ())}
    if ray.workers is not None and ray.executor == "local":
        raise InputError("--workers needs --ray")
    store = store or default_store_path()  # a new store is created by the first write
    progress = not no_progress and not json_out
    num_fewshot = sampling.num_fewshot
    if grid is not None:
        if model is not None or task or num_fewshot is not None or limit is not None:
            raise InputError("--grid sets models, tasks, few-shot and limit: drop -m/-t/-k/-n")
        run_grid_command(
            grid,
            store=store,
            progress=progress,
            json_out=json_out,
            shard=sharding,
            **ray.kwargs,
            **access,
        )
        return
    models = list(model or [])
    conflicts = {
        "--grid": grid is not None,
        "--ray": ray.executor == "ray",
        "--perturb": bool(perturb),
        "--verbose": verbose,
    }
    if seq.until_decided:
        conflicts.update({"--adaptive": seq.adaptive is not None, "--shard": shard is not None})
        check_until_decided(models, task, conflicts=conflicts)
        limit = count_only(limit, "--until-decided")
        run_until_decided(
            models,
            task[0],
            seq,
            store=store,
            json_out=json_out,
            limit=limit,
            progress=progress,
            **sampling.kwargs(),
            **access,
        )
        return
    if seq.adaptive is not None:
        conflicts.update(
            {
                "--delta": seq.delta is not None,
                "--every": seq.every is not None,
                "--shard": shard is not None,
            }
        )
        check_until_decided(
            [*models, *models[:1]] if len(models) == 1 else [],
            task,
            conflicts=conflicts,
            what="--adaptive tests one model: give -m MODEL",
        )
        run_adaptive(
            models[0], task[0], seq, store=store, json_out=json_out, **sampling.kwargs(), **access
        )
        return
    lm_names = lm_eval_names(list(task)) if task else []
    given = [
        o
        for o, v in (
            ("--delta", seq.delta),
            ("--confidence", None if lm_names else seq.confidence),
            ("--every", seq.every),
            ("--metric", seq.metric),
        )
        if v is not None
    ]
    if given:
        raise InputError(
            f"{', '.join(given)} only apply with --until-decided"
            + ("" if lm_names else " (--confidence: also with lm-eval's tasks)")
        )
    if len(models) > 1:
        raise InputError("-m given more than once: compare two models with --until-decided")
    model = models[0] if models else None
    if model is not None and not model.strip():
        raise InputError("-m/--model: empty model spec (leave the option out for the default)")
    default_job = model is None and not task and num_fewshot is None
    asked = sampling.kwargs(DEFAULT_JOB_ORDERINGS if default_job else 0)
    if default_job:
        variants = list(DEFAULT_VARIANTS)
        limit = DEFAULT_JOB_LIMIT if limit is None else limit
    else:
        variants = [Variant(model or DEFAULT_MODEL, num_fewshot)]
    tasks = list(task) if task else list(BUILTIN_SUITE)
    spec = with_device(model or DEFAULT_MODEL, device)
    if device is not None:
        variants = [Variant(spec, num_fewshot)]
    if lm_names:
        own_only = perturb or grid or ray.executor != "local" or sampling.repeats != 1
        if own_only or asked["permute_choices"] or shard:
            raise InputError(
                f"lm-eval task {lm_names[0]!r}: --perturb, --ray, --repeats, "
                "--permute-choices, --shard apply to assay's own tasks only"
            )
        if len(lm_names) < len(tasks):
            count_only(limit, "assay's own tasks")
        from assay.core import resolve_confidence

        run_lm_eval_command(
            spec,
            lm_names,
            store=store,
            json_out=json_out,
            trust_remote_code=trust_remote_code,
            confidence=resolve_confidence(seq.confidence),
            options=lm_eval.options(
                num_fewshot=num_fewshot,
                limit=limit,
                seed=sampling.seed,
                batch_size=sampling.batch_size,
            ),
        )
        tasks = [t for t in tasks if t not in lm_names]
        if not tasks:
            return
    limit = count_only(limit, "assay's own tasks")
    if not task and limit is None:
        limit = DEFAULT_SUITE_LIMIT
    if perturb:
        from assay.tasks import load_task, with_perturbations

        tasks = [load_task(t, data_roots=access["data_roots"]) for t in tasks]  # type: ignore[misc]
        tasks = with_perturbations(tasks, perturb, sampling.seed)  # type: ignore[assignment]
    spec = RunSpec(tasks=tasks, limit=limit, shard=sharding, **asked, **ray.kwargs, **access)
    run_job(variants, spec, store=store, progress=progress, json_out=json_out, verbose=verbose)


def ray_or_nothing(executor: str | None, ray_address: str | None = None):
    """A Ray session for the body when the Ray executor is asked for."""
    from contextlib import nullcontext

    from assay.runner import ray_session

    if executor != "ray":
        return nullcontext()
    return ray_session(ray_address)


def run_grid_command(
    path: str, *, store, json_out: bool, data_roots: tuple[str, ...] = (), **options
) -> None:
    """Validate and run a grid file; print one row per (cell, task, metric)."""
    from assay.runner import grid_table, load_grid, run_grid

    started = time.perf_counter()
    grid = load_grid(path, data_roots=data_roots)
    results = run_grid(grid, store=store, **options)
    table = grid_table(results)
    if json_out:
        print_json(
            {
                "cells": [{**vars(c), **r.to_dict()} for c, r in results],
                "table": table.to_dict(orient="records"),
            }
        )
        return
    print_table(table, title=f"grid {path}: mean ± stderr over n documents")
    new = sum(r.new_samples for _, r in results)
    old = sum(r.resumed_samples for _, r in results)
    console.print(f"{len(results)} cells: {new} new samples, {old} already stored", highlight=False)
    cached = cached_line([r for _, r in results], time.perf_counter() - started)
    if cached:
        console.print(cached, highlight=False, soft_wrap=True)


def run_job(
    variants, spec: RunSpec, *, store, progress: bool, json_out: bool, verbose: bool
) -> None:
    """Evaluate the variants and print what they show (the JSON of every result with --json)."""
    import pandas as pd

    from assay.runner import run_variants
    from assay.store import open_store

    from ._eval_summary import eval_summary, print_eval_summary

    started = time.perf_counter()
    with ray_or_nothing(spec.executor, spec.ray_address):  # one Ray session for every variant
        results = run_variants(variants, spec, store=store, progress=progress)
    summary = eval_summary(open_store(store), results)
    took = time.perf_counter() - started
    if json_out:
        out = [r.to_dict() for r in results]
        print_json(
            {
                **(out[0] if len(out) == 1 else {"variants": out}),
                **summary.to_dict(),
            }
        )
        return
    tables = [r.table.assign(model=r.model) for r in results]
    print_eval_summary(summary, verbose_table=pd.concat(tables) if verbose else None)
    for r in results:
        line = cost_line(r)
        console.print(
            f"{r.model}: {r.new_samples} new samples, {r.resumed_samples} already stored; "
            f"{r.seconds:.1f} s"
            + (f"; {line}" if line else "")
            + (f"; {r.errored} errored (no usable reply: not scored)" if r.errored else ""),
            highlight=False,
            soft_wrap=True,
        )
    cached = cached_line(results, took)
    if cached:
        console.print(cached, highlight=False, soft_wrap=True)


MIN_FIT_BATCHES = 3
"""Timed batches this call must compute before ``assay eval`` prints the cost fit."""


def cost_line(result: EvalResult) -> str | None:
    """The cost-fit line when it means something: this call timed >= MIN_FIT_BATCHES batches
    and the fit explains some of their variance (R² >= 0); a short note when it computed too
    little for one; nothing on a run that computed nothing (``--json`` always has the fit)."""
    cost = result.cost
    if cost is None or result.new_batches == 0:
        return None
    r2 = cost.r_squared
    if result.new_batches < MIN_FIT_BATCHES:
        return f"cost fit: not enough batches ({result.new_batches} timed; --json has the fit)"
    if r2 == r2 and r2 >= 0:  # r2 == r2: not NaN
        return cost.describe()
    return f"cost fit: timings too noisy for a fit ({result.new_batches} batches; --json has it)"


def register(app: typer.Typer) -> None:
    """Add this part's commands to the main app."""
    app.command("eval")(eval_command)
