"""`assay eval`'s lm-evaluation-harness flags, and the run of lm-eval tasks by name."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any

import typer

from assay.errors import InputError

from ._common import console, print_json, print_table

DeviceOption = Annotated[
    str | None,
    typer.Option(
        "--device",
        help="cpu, cuda, cuda:N or mps: the device of an hf: model (as its device= option).",
    ),
]


def parse_gen_kwargs(text: str | None) -> dict[str, Any]:
    """``k=v,...`` as lm-eval reads it: numbers and true/false typed, ``until`` a list."""
    if not text:
        return {}
    out: dict[str, Any] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--gen-kwargs {text!r}: expected k=v,... (e.g. temperature=0)")
        value = value.strip()
        low = value.lower()
        parsed: Any
        if low in ("true", "false"):
            parsed = low == "true"
        else:
            try:
                parsed = int(value)
            except ValueError:
                try:
                    parsed = float(value)
                except ValueError:
                    parsed = value
        out[key.strip()] = [parsed] if key.strip() == "until" else parsed
    return out


def parse_limit(value: float | None) -> int | float | None:
    """``--limit`` as lm-eval reads it: a whole number is a count of documents, a number in
    (0, 1) a fraction of each task's documents (rounded up); anything else is one line."""
    if value is None:
        return None
    if value == int(value) and value >= 1:
        return int(value)
    if 0 < value < 1:
        return float(value)
    raise InputError(
        f"--limit {value:g}: give a count (a whole number >= 1) or a fraction in (0, 1)"
    )


def count_only(limit: int | float | None, what: str) -> int | None:
    """``limit`` when it is a count; a fraction is one line (only lm-eval's tasks take one)."""
    if isinstance(limit, float):
        raise InputError(
            f"--limit {limit:g}: a fraction applies to lm-eval's tasks only; give {what} a count"
        )
    return limit


def with_device(spec: str, device: str | None) -> str:
    """``spec`` with ``device=`` added (an hf: model's option)."""
    if device is None:
        return spec
    if device not in ("cpu", "mps") and not device.startswith("cuda"):
        raise InputError(f"--device {device!r}: expected cpu, cuda, cuda:N or mps")
    return f"{spec},device={device}"


def lm_eval_names(tasks: list[str]) -> list[str]:
    """The task names assay does not know itself (to be run through lm-eval's registry)."""
    from assay.tasks import is_assay_task

    return [t for t in tasks if not is_assay_task(t)]


@dataclass(frozen=True)
class LmEvalFlags:
    """What the lm-eval flags of ``assay eval`` ask for (they apply to lm-eval's tasks)."""

    data_dir: str | None = None
    apply_chat_template: bool = False
    fewshot_as_multiturn: bool | None = None
    gen_kwargs: str | None = None
    output_path: str | None = None
    log_samples: bool = False

    def options(self, **sampling: Any) -> Any:
        """``assay.runner.LmEvalOptions`` of these flags and the run's ``sampling`` settings
        (num_fewshot, limit, seed, batch_size); ``--gen-kwargs`` parsed."""
        from assay.runner import LmEvalOptions

        return LmEvalOptions(
            **sampling, **{**asdict(self), "gen_kwargs": parse_gen_kwargs(self.gen_kwargs)}
        )


LM_EVAL_FLAGS = LmEvalFlags()


def lm_eval_flags(
    data_dir: Annotated[
        str | None,
        typer.Option(
            "--data-dir",
            envvar="ASSAY_DATA_DIR",
            help="lm-eval tasks: a local data mirror "
            "DIR/<dataset_path>/<dataset_name or default>/<split>.parquet (or .jsonl); else the "
            "Hugging Face datasets cache.",
            metavar="DIR",
        ),
    ] = None,
    apply_chat_template: Annotated[
        bool,
        typer.Option(
            "--apply-chat-template",
            help="lm-eval tasks: prompts through the model's chat template.",
        ),
    ] = False,
    fewshot_as_multiturn: Annotated[
        bool | None,
        typer.Option(
            "--fewshot-as-multiturn/--no-fewshot-as-multiturn",
            help="lm-eval tasks: few-shot examples as chat turns (needs --apply-chat-template; "
            "default: on with it, as lm-eval).",
            show_default=False,
        ),
    ] = None,
    gen_kwargs: Annotated[
        str | None,
        typer.Option(
            "--gen-kwargs",
            help="lm-eval tasks: generation settings k=v,... (temperature, max_gen_toks, until, "
            "do_sample, top_p).",
            metavar="K=V[,K=V...]",
        ),
    ] = None,
    output_path: Annotated[
        str | None,
        typer.Option(
            "--output-path",
            help="lm-eval tasks: also write lm-eval's results JSON (and with --log-samples its "
            "samples JSONL) under this folder.",
            metavar="DIR",
        ),
    ] = None,
    log_samples: Annotated[
        bool,
        typer.Option("--log-samples", help="With --output-path: keep lm-eval's samples JSONL too."),
    ] = False,
) -> LmEvalFlags:
    """The lm-eval flags as one option group (:func:`assay.cli._options.with_options`)."""
    return LmEvalFlags(
        data_dir, apply_chat_template, fewshot_as_multiturn, gen_kwargs, output_path, log_samples
    )


def run_lm_eval_command(
    spec: str,
    names: list[str],
    *,
    store: str,
    json_out: bool,
    trust_remote_code: bool,
    options: Any,
    confidence: float = 0.95,
) -> None:
    """Evaluate ``spec`` on lm-eval's tasks ``names``; print lm-eval's table (assay's intervals
    at ``confidence``) and the stored n."""
    from assay.models import check_remote_code, load_model
    from assay.runner import lm_eval_task_names, run_lm_eval_tasks
    from assay.stats import pooled_mean
    from assay.store import open_store

    lm_eval_task_names(names)  # one line for a name nobody knows, before a model loads
    check_remote_code(spec, trust_remote_code)
    backend = load_model(spec, batch_size=options.batch_size)
    try:
        outcome = run_lm_eval_tasks(backend, names, options, open_store(store))
    finally:
        backend.close()
    evidence = open_store(store).evidence(model=outcome.model)
    scores = evidence.scores
    rows = []
    for task, values in outcome.results.items():
        for key, value in values.items():
            metric, _, filt = key.partition(",")
            if "_stderr" in metric or not isinstance(value, int | float) or metric == "sample_len":
                continue
            stderr = values.get(f"{metric}_stderr,{filt}")
            name = metric if filt in ("", "none") else f"{metric},{filt}"
            ours = pooled_mean(
                scores,
                outcome.groups.get(task, [task]),
                name,
                alpha=1 - confidence,
                metrics=evidence.metrics,
            )
            rows.append(
                {
                    "task": task,
                    "subtasks": len(outcome.groups.get(task, [])),
                    "metric": name,
                    "value": float(value),
                    "stderr": float(stderr) if isinstance(stderr, int | float) else None,
                    "assay_mean": None if ours is None else ours.mean,
                    "ci_low": None if ours is None else ours.ci_low,
                    "ci_high": None if ours is None else ours.ci_high,
                    "n": None if ours is None else ours.n,
                }
            )
    summary = outcome.imported.to_dict()
    if json_out:
        print_json(
            {
                "model": outcome.model,
                "confidence_level": confidence,
                "lm_eval": rows,
                "imported": summary,
            }
        )
        return
    import pandas as pd

    from assay.core import level_label

    print_table(
        pd.DataFrame(rows),
        title=f"{outcome.model}: lm-eval's value ± stderr; assay's mean and "
        f"{level_label(confidence)} interval over the stored questions (a group's clustered by "
        "subtask)",
    )
    console.print(
        f"stored {summary['samples']} samples in {summary['runs']} runs of {outcome.model}; "
        "`assay compare -t TASK` gives intervals and paired tests"
        + (f"; lm-eval's files under {outcome.output_dir}" if outcome.output_dir else ""),
        highlight=False,
        soft_wrap=True,
    )
