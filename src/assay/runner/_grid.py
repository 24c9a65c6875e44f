"""Many evaluations as one job: models x tasks x few-shot x seeds x orderings from one YAML file.

A grid file::

    models: [smollm2-135m, "smollm2-135m,quantize=int8"]   # model specs
    tasks: [arith_mc, logic_tf]                            # names or task files
    num_fewshot: [0, 3]      # optional (default: the task's own)
    seeds: [0, 1]            # optional (default: [0])
    orderings: [0, 1]        # optional: extra choice orderings (permute_choices), default [0]
    limit: 50                # optional: documents per task
    repeats: 1               # optional
    batch_size: auto         # optional

is checked whole (every model spec, task and value) before anything runs. :func:`run_grid`
evaluates one cell (model, few-shot, seed, orderings) after another over all tasks into one
store, each cell resuming on its own, so a rerun of the grid computes only what is missing.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pandas as pd

from assay.core import read_yaml
from assay.errors import InputError
from assay.models import ModelBackend, check_remote_code, describe_spec
from assay.store import Store

from ._evaluate import EvalResult, run
from ._progress import make_progress
from ._ray import check_executor, ray_session
from ._score import Backends
from ._shard import parse_shard
from ._spec import RunSpec

GRID_KEYS = (
    "models",
    "tasks",
    "num_fewshot",
    "seeds",
    "orderings",
    "limit",
    "repeats",
    "batch_size",
)


@dataclass(frozen=True)
class GridCell:
    """One evaluation of a grid: a model with one few-shot, seed and orderings setting."""

    model: str | ModelBackend
    num_fewshot: int | None
    seed: int
    orderings: int


@dataclass(frozen=True)
class Grid:
    """Models x tasks x few-shot x seeds x orderings, with shared limit, repeats, batch size.
    Models are specs (a grid file) or backends (the Python API)."""

    models: tuple[str | ModelBackend, ...]
    tasks: tuple[str, ...]
    num_fewshot: tuple[int | None, ...] = (None,)
    seeds: tuple[int, ...] = (0,)
    orderings: tuple[int, ...] = (0,)
    limit: int | None = None
    repeats: int = 1
    batch_size: int | str = "auto"
    data_roots: tuple[str, ...] = ()
    """Folders besides each task file's own that its data may come from (``--data-root``; never
    set by the grid file)."""

    def cells(self) -> list[GridCell]:
        """Every (model, few-shot, seed, orderings) combination, models outermost."""
        return [
            GridCell(*c)
            for c in itertools.product(self.models, self.num_fewshot, self.seeds, self.orderings)
        ]

    def spec(self, cell: GridCell, **run: Any) -> RunSpec:
        """The :class:`RunSpec` of one cell; ``run``: how it runs (executor, workers, ...)."""
        return RunSpec.of(
            vars(self),  # tasks, limit, repeats, batch size, data roots
            model=cell.model,
            num_fewshot=cell.num_fewshot,
            seed=cell.seed,
            permute_choices=cell.orderings,
            **run,
        )

    def validate(self) -> Grid:
        """Raise a one-line InputError for any bad value, model spec or task; return self."""
        if not self.models or not self.tasks:
            raise InputError("a grid needs at least one model and one task")
        for cell in self.cells():
            self.spec(cell).check_options()
        names = [  # unknown model: InputError
            (m.name, None) if isinstance(m, ModelBackend) else describe_spec(m) for m in self.models
        ]
        known = [d[0] for d in names if d is not None]
        dupes = sorted({n for n in known if known.count(n) > 1})
        if dupes:
            raise InputError(f"grid models share the store name {', '.join(dupes)}: add name=")
        from assay.tasks import load_task

        for task in self.tasks:
            load_task(task, data_roots=self.data_roots)  # unknown task: InputError
        return self


def _values(raw: dict[str, Any], key: str, default: tuple) -> tuple:
    value = raw.get(key, default)
    value = tuple(value) if isinstance(value, list | tuple) else (value,)
    if not value:
        raise InputError(f"grid: {key} is an empty list")
    if len(set(map(repr, value))) < len(value):
        raise InputError(f"grid: {key} lists a value twice")
    return value


def grid_from_dict(raw: Any, *, data_roots: Sequence[str | os.PathLike[str]] = ()) -> Grid:
    """A validated :class:`Grid` from the parsed YAML mapping; its task files may read data
    under their own folders and ``data_roots``."""
    if not isinstance(raw, dict):
        raise InputError("grid: the file must be a mapping with models: and tasks:")
    unknown = sorted(set(map(str, raw)) - set(GRID_KEYS))
    if unknown:
        raise InputError(f"grid: unknown key {unknown[0]!r} (keys: {', '.join(GRID_KEYS)})")
    for key in ("models", "tasks"):
        if key not in raw:
            raise InputError(f"grid: missing {key}:")
    models = _values(raw, "models", ())
    tasks = _values(raw, "tasks", ())
    if not all(isinstance(x, str) for x in (*models, *tasks)):
        raise InputError("grid: models and tasks must be text")
    grid = Grid(
        models=models,
        tasks=tasks,
        num_fewshot=_values(raw, "num_fewshot", (None,)),
        seeds=_values(raw, "seeds", (0,)),
        orderings=_values(raw, "orderings", (0,)),
        limit=raw.get("limit"),
        repeats=raw.get("repeats", 1),
        batch_size=raw.get("batch_size", "auto"),
        data_roots=tuple(map(str, data_roots)),
    )
    return grid.validate()


def load_grid(
    path: str | os.PathLike[str], *, data_roots: Sequence[str | os.PathLike[str]] = ()
) -> Grid:
    """Read and validate a grid YAML file (one-line InputError on any problem)."""
    try:
        raw = read_yaml(path)
    except InputError as exc:
        raise InputError(f"grid {exc}") from None
    return grid_from_dict(raw, data_roots=data_roots)


def run_grid(
    grid: Grid,
    *,
    store: Store | str | os.PathLike[str] | None = None,
    executor: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    progress: bool = True,
    trust_remote_code: bool = False,
    shard: str | tuple[int, int] | None = None,
) -> list[tuple[GridCell, EvalResult]]:
    """:func:`evaluate` every cell of ``grid`` (validated first) into ``store``, one progress
    view for the whole job; with ``executor="ray"`` one Ray session serves every cell, whose
    chunks spread over the ``workers`` actors. Each cell resumes on its own: rerunning a grid
    computes only what is missing. A model spec that sets ``trust_remote_code`` is refused,
    before anything runs, unless ``trust_remote_code=True`` (``--trust-remote-code``).
    ``shard="K/N"``: every cell evaluates only shard K of N of each task's documents."""
    grid.validate()
    shard = parse_shard(shard)
    for model in grid.models:
        check_remote_code(model, trust_remote_code)
    check_executor(executor, workers, ray_address)
    cells = grid.cells()
    results: list[tuple[GridCell, EvalResult]] = []
    with ExitStack() as stack:
        if executor == "ray":
            stack.enter_context(ray_session(ray_address))
        backends = stack.enter_context(Backends())  # a model shared by cells loads once
        bar = stack.enter_context(make_progress(enabled=progress))
        overall = bar.add_task("grid cells", total=len(cells))
        for cell in cells:
            spec = grid.spec(
                cell,
                executor=executor,
                workers=workers,
                trust_remote_code=trust_remote_code,
                shard=shard,
            )
            result = run(spec, store=store, progress=bar if progress else False, backends=backends)
            results.append((cell, result))
            bar.advance(overall, 1)
    return results


def grid_table(results: Sequence[tuple[GridCell, EvalResult]]) -> pd.DataFrame:
    """One row per (cell, task, metric): the cell's settings beside mean, stderr and n."""
    frames = [
        r.table.assign(num_fewshot=c.num_fewshot, seed=c.seed, orderings=c.orderings)
        for c, r in results
    ]
    cols = ["model", "num_fewshot", "seed", "orderings", "task", "metric", "mean", "stderr", "n"]
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)[cols]
