"""``assay eval -m A -m B -t TASK --until-decided``: the command-line side of
:func:`assay.runner.evaluate_until_decided` (checks, then one call, then printing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer

from assay.errors import InputError

from ._common import bounded, console, print_json
from ._options import ConfidenceOption

DEFAULT_DELTA = 0.02
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Sequential:
    """The options of a sequential run of ``assay eval``: ``--until-decided`` (two models,
    stop once decided) or ``--adaptive K`` (one model, K chosen questions)."""

    until_decided: bool = False
    delta: float | None = None
    confidence: float | None = None
    every: int | None = None
    metric: str | None = None
    adaptive: int | None = None


SEQUENTIAL = Sequential()


def _number(flag: str, low: int, help: str, **settings: Any) -> Any:
    """The ``typer.Option`` of a sequential setting: a number >= ``low``, or None when not
    given (``help`` says the default)."""
    return typer.Option(flag, callback=bounded(low), help=help, show_default=False, **settings)


def sequential_options(
    until_decided: Annotated[
        bool,
        typer.Option(
            "--until-decided",
            help="Compare -m A -m B on one task in a seeded random order, batch by batch, and "
            "stop once an anytime-valid confidence sequence decides (A better, B better, or "
            "equivalent within --delta); resumable.",
        ),
    ] = False,
    delta: Annotated[
        float | None,
        _number(
            "--delta",
            0,
            "--until-decided: differences below this count as equivalent (default 0.02).",
        ),
    ] = None,
    confidence: ConfidenceOption = None,
    every: Annotated[
        int | None,
        _number("--every", 1, "--until-decided: questions per batch between looks (default 50)."),
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric",
            help="--until-decided/--adaptive: the bounded metric used (default: headline).",
        ),
    ] = None,
    adaptive: Annotated[
        int | None,
        _number(
            "--adaptive",
            1,
            "Ask -m only K questions of one task -t, each the most informative at its current "
            "ability (2PL items fitted on the store's earlier models), and predict its full "
            "score with an interval.",
            metavar="K",
        ),
    ] = None,
) -> Sequential:
    """The sequential options as one option group (:func:`assay.cli._options.with_options`);
    ``--confidence`` is the shared one (it also sets lm-eval tasks' intervals)."""
    return Sequential(until_decided, delta, confidence, every, metric, adaptive)


def check_until_decided(
    models: list[str],
    tasks: list[str] | None,
    *,
    conflicts: dict[str, bool],
    what: str = "--until-decided compares two models: give -m A -m B",
) -> None:
    """Two models, one task and no option the sequence cannot honour, else one-line error
    (``what`` names the wrong model count; ``--adaptive`` passes its one model twice)."""
    option = what.split()[0]
    if len(models) != 2 or any(not m.strip() for m in models):
        raise InputError(what)
    if not tasks or len(tasks) != 1:
        raise InputError(f"{option} runs one task: give -t TASK")
    used = [name for name, given in conflicts.items() if given]
    if used:
        raise InputError(f"{option} does not combine with {', '.join(used)}")


def run_until_decided(
    models: list[str], task: str, seq: Sequential, *, store: Any, json_out: bool, **options: Any
) -> None:
    """Run the comparison and print the decision, where it stopped and why."""
    from assay.runner import DEFAULT_EVERY, evaluate_until_decided
    from assay.stats import sequential_test

    result = evaluate_until_decided(
        models[0],
        models[1],
        task,
        decide=sequential_test,
        store=store,
        delta=DEFAULT_DELTA if seq.delta is None else seq.delta,
        confidence=DEFAULT_CONFIDENCE if seq.confidence is None else seq.confidence,
        every=DEFAULT_EVERY if seq.every is None else seq.every,
        metric=seq.metric,
        **options,
    )
    if json_out:
        print_json(result.to_dict())
        return
    a, b = result.models
    level = f"{result.confidence:.0%}"
    console.print(
        f"{result.task} · {result.metric}: {a} − {b} = {result.estimate:+.4f}, "
        f"{level} anytime-valid interval [{result.lower:+.4f}, {result.upper:+.4f}]",
        highlight=False,
        soft_wrap=True,
    )
    verdict = {
        "A better": f"{a} is better",
        "B better": f"{b} is better",
        "equivalent": f"equivalent within ±{result.delta:g}",
        "undecided": "undecided",
    }.get(result.decision, result.decision)
    share = result.stopped_at / result.n_available
    console.print(
        f"decision: {verdict} — {result.reason} ({share:.0%} of the questions; "
        f"{result.new_samples} new samples, order seed {result.seed})",
        highlight=False,
        soft_wrap=True,
    )
