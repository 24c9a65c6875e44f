"""`assay eval`: run a model on tasks, writing every scored sample to the store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ._common import bounded, console, print_json, print_table
from ._options import JsonOption, StoreOption, split_names

if TYPE_CHECKING:
    from assay.runner import EvalResult

DEFAULT_MODEL = "smollm2-135m"
MAX_REPEATS = 1000  # assay.runner._evaluate.MAX_REPEATS (not imported: the CLI loads lazily)
DEFAULT_SUITE_LIMIT = 50
"""Per-task limit when neither --task nor --limit is given: 8 tasks x 50 = 400 samples, about a
minutes for the bundled model on 2 CPU cores."""


def eval_command(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Model spec: smollm2-135m, hf:PATH_OR_ID(,gguf_file=F,dtype=D,device=X), "
            "openai:MODEL@http://host:port/v1(,concurrency=N), llamacpp:PATH.gguf.",
        ),
    ] = DEFAULT_MODEL,
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
        int | None,
        typer.Option(
            "--limit",
            "-n",
            callback=bounded(1),
            help="At most N documents per task "
            f"(default: all; {DEFAULT_SUITE_LIMIT} for the default suite).",
            show_default=False,
        ),
    ] = None,
    num_fewshot: Annotated[
        int | None,
        typer.Option(
            "--num-fewshot", "-k", callback=bounded(0), help="Few-shot examples per prompt."
        ),
    ] = None,
    seed: Annotated[
        int,
        typer.Option("--seed", callback=bounded(0), help="Seed for few-shot, orderings, sampling."),
    ] = 0,
    batch_size: Annotated[
        str, typer.Option("--batch-size", "-b", help="'auto' or continuations per forward pass.")
    ] = "auto",
    repeats: Annotated[
        int,
        typer.Option("--repeats", callback=bounded(1, MAX_REPEATS), help="Samples per document."),
    ] = 1,
    permute_choices: Annotated[
        int,
        typer.Option(
            "--permute-choices",
            callback=bounded(0, MAX_REPEATS),
            help="Extra random orderings of each question's choices.",
        ),
    ] = 0,
    store: StoreOption = None,
    json_out: JsonOption = False,
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="Hide the progress bar.")
    ] = False,
) -> None:
    """Evaluate a model on tasks; resumes where a previous identical run stopped.

    With no arguments: the bundled SmolLM2-135M on the built-in suite (a few hundred samples).
    Prints score, standard error and n per task and metric, and the inference cost fit
    runtime = a + b·prompt_tokens + c·output_tokens.
    """
    from assay.runner import evaluate
    from assay.store import default_store_path
    from assay.tasks import BUILTIN_SUITE

    tasks = list(task) if task else list(BUILTIN_SUITE)
    if not task and limit is None:
        limit = DEFAULT_SUITE_LIMIT
    result = evaluate(
        model,
        tasks,
        store=store or default_store_path(),  # a new store is created by the first write
        limit=limit,
        num_fewshot=num_fewshot,
        seed=seed,
        batch_size=batch_size,
        repeats=repeats,
        permute_choices=permute_choices,
        progress=not no_progress and not json_out,
    )
    if json_out:
        print_json(result.to_dict())
        return
    print_table(
        result.table,
        title=f"{result.model}: mean ± stderr over n documents",
        columns=["task", "metric", "mean", "stderr", "n", "n_samples"],
    )
    console.print(
        f"{result.new_samples} new samples, {result.resumed_samples} already stored; "
        f"{result.seconds:.1f} s"
    )
    line = cost_line(result)
    if line:
        console.print(line, highlight=False)


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
