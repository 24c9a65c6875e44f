"""Two option groups of ``assay eval`` (:func:`assay.cli._options.with_options`): how each
document is asked (few-shot, seed, batch size, repeats, choice orderings) and where it is
scored (this process or Ray workers)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any

import typer

from ._common import bounded
from ._options import seed_option

MAX_REPEATS = 1000  # assay.runner._spec.MAX_REPEATS (not imported: the CLI loads lazily)


@dataclass(frozen=True)
class Sampling:
    """``-k``, ``--seed``, ``--batch-size``, ``--repeats`` and ``--permute-choices`` (None:
    not given; the default job then takes two orderings)."""

    num_fewshot: int | None = None
    seed: int = 0
    batch_size: str = "auto"
    repeats: int = 1
    permute_choices: int | None = None

    def kwargs(self, orderings: int = 0) -> dict[str, Any]:
        """The settings as keywords of the runner; ``orderings`` is ``permute_choices`` when
        the option is not given."""
        given = self.permute_choices
        return {**asdict(self), "permute_choices": orderings if given is None else given}


SAMPLING = Sampling()


def num_fewshot_option(help: str, *aliases: str) -> Any:
    """The ``typer.Option`` of ``--num-fewshot`` (and ``aliases``), a whole number >= 0;
    ``help`` says what it changes."""
    return typer.Option("--num-fewshot", *aliases, callback=bounded(0), help=help)


def sampling_options(
    num_fewshot: Annotated[
        int | None, num_fewshot_option("Few-shot examples per prompt.", "-k")
    ] = SAMPLING.num_fewshot,
    seed: Annotated[int, seed_option("Seed for few-shot, orderings, sampling.")] = SAMPLING.seed,
    batch_size: Annotated[
        str, typer.Option("--batch-size", "-b", help="'auto' or continuations per forward pass.")
    ] = SAMPLING.batch_size,
    repeats: Annotated[
        int,
        typer.Option("--repeats", callback=bounded(1, MAX_REPEATS), help="Samples per document."),
    ] = SAMPLING.repeats,
    permute_choices: Annotated[
        int | None,
        typer.Option(
            "--permute-choices",
            callback=bounded(0, MAX_REPEATS),
            help="Seeded orderings of each question's choices "
            "(default: 0, the original order; 2 in the default job).",
            show_default=False,
        ),
    ] = SAMPLING.permute_choices,
) -> Sampling:
    """The options of :class:`Sampling` as one group."""
    return Sampling(num_fewshot, seed, batch_size, repeats, permute_choices)


@dataclass(frozen=True)
class Executor:
    """``--ray``, ``--ray-address`` and ``--workers``: ``executor`` is ``"ray"`` or
    ``"local"``."""

    executor: str = "local"
    workers: int | None = None
    ray_address: str | None = None

    @property
    def kwargs(self) -> dict[str, Any]:
        return asdict(self)


EXECUTOR = Executor()


def executor_options(
    use_ray: Annotated[
        bool, typer.Option("--ray", help="Score on Ray workers (a local Ray unless --ray-address).")
    ] = False,
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", help="Join this Ray cluster (HOST:PORT; implies --ray)."),
    ] = EXECUTOR.ray_address,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", callback=bounded(1), help="Ray workers (default: one per GPU, else 1)."
        ),
    ] = EXECUTOR.workers,
) -> Executor:
    """The options of :class:`Executor` as one group."""
    return Executor("ray" if use_ray or ray_address else "local", workers, ray_address)
