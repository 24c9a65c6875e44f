"""``RunSpec``: everything that says what one evaluation computes, checked before any work.

The command line (``assay eval``), the Python API (:func:`assay.runner.evaluate`), variant jobs
and grids all build a :class:`RunSpec` and hand it to :func:`assay.runner.run`. Where results go
(the store) and how progress shows are arguments of ``run``, not of the spec.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from assay.errors import InputError
from assay.models import ModelBackend, check_remote_code

from ._ray import check_executor
from ._shard import parse_shard

MAX_REPEATS = 1000
"""Upper bound of ``repeats`` and of ``permute_choices`` (instances are built in memory)."""
MAX_SEED = 2**63 - 1
"""Upper bound of ``seed``: the store keeps it as a BIGINT (a run's ``fewshot_seed``)."""
MAX_INT32 = 2**31 - 1
"""Upper bound of ``num_fewshot`` (an INTEGER column of the store) and of ``batch_size`` (a
C int of the backends, such as llama.cpp's ``n_batch``)."""


@dataclass(frozen=True)
class RunSpec:
    """One evaluation: a model (backend or spec string) on tasks (names, files or Task objects)
    with its sampling settings and executor. :meth:`checked` validates every value with one-line
    InputErrors before a model, task file or store is touched; ``dataclasses.replace`` derives a
    variant (another model or few-shot setting) of the same job.

    ``permute_choices`` is the number of extra seeded choice orderings; ``batch_size`` is
    ``"auto"`` or continuations per forward pass (text like ``"16"`` is accepted, the command
    line's ``--batch-size``); ``data_roots`` are the folders besides its own a task file may read
    data from; ``trust_remote_code`` allows a spec that runs the model's own Python code;
    ``shard`` (``"K/N"`` or ``(K, N)``) keeps shard K of N of each task's documents, picked by a
    hash of the document id after ``limit`` (:func:`assay.runner.shard_documents`).
    """

    model: ModelBackend | str | None = None
    tasks: Any = ()
    limit: int | None = None
    num_fewshot: int | None = None
    seed: int = 0
    batch_size: int | str = "auto"
    repeats: int = 1
    permute_choices: int = 0
    executor: str = "local"
    workers: int | None = None
    ray_address: str | None = None
    trust_remote_code: bool = False
    data_roots: tuple[str | os.PathLike[str], ...] = ()
    shard: str | tuple[int, int] | None = None

    def __post_init__(self) -> None:
        tasks = self.tasks
        if isinstance(tasks, str | os.PathLike) or hasattr(tasks, "score"):
            tasks = (tasks,)
        object.__setattr__(self, "tasks", tuple(tasks))
        object.__setattr__(self, "data_roots", tuple(self.data_roots or ()))

    @classmethod
    def of(cls, values: Mapping[str, Any], **changes: Any) -> RunSpec:
        """The spec whose fields ``values`` holds among other names (a keyword-form function's
        ``locals()``, a grid's settings); ``changes`` win over ``values``."""
        merged = {**values, **changes}
        return cls(**{f.name: merged[f.name] for f in fields(cls) if f.name in merged})

    def checked(self) -> RunSpec:
        """This spec with ``batch_size`` normalised (``"auto"`` or an int); InputError (one
        line) for any bad value, a missing model or a refused ``trust_remote_code``."""
        if self.model is None:
            raise InputError("a run needs a model")
        check_executor(self.executor, self.workers, self.ray_address)
        size = self.check_options()
        check_remote_code(self.model, self.trust_remote_code)
        return replace(self, batch_size=size, shard=parse_shard(self.shard))

    def check_options(self) -> int | str:
        """Reject invalid sampling options with one-line InputErrors (before any work).

        Returns ``batch_size`` as ``"auto"`` or an int (text like ``"16"`` is accepted: the one
        check of the command line's ``--batch-size``)."""
        _count("limit", self.limit, 1, optional=True)
        _count("num_fewshot", self.num_fewshot, 0, optional=True, high=MAX_INT32)
        _count("seed", self.seed, 0, high=MAX_SEED)
        size = _batch_size(self.batch_size)
        _count("repeats", self.repeats, 1, high=MAX_REPEATS)
        _count("permute_choices", self.permute_choices, 0, high=MAX_REPEATS)
        return size

    def instance_options(self) -> dict[str, Any]:
        """The keywords of ``Task.instances``: which documents, and how each is asked."""
        keys = ("limit", "num_fewshot", "seed", "repeats", "permute_choices")
        return {k: getattr(self, k) for k in keys}

    def settings(self) -> dict[str, Any]:
        """The fields besides ``model`` and ``tasks`` as keywords of :func:`evaluate`."""
        skip = {"model", "tasks"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain values (a backend and Task objects by name)."""
        out = asdict(replace(self, model=None, tasks=()))
        out["model"] = self.model if isinstance(self.model, str | None) else self.model.name
        out["tasks"] = [t if isinstance(t, str) else getattr(t, "name", str(t)) for t in self.tasks]
        out["data_roots"] = [str(Path(p)) for p in self.data_roots]
        return out


def _count(name: str, value: Any, low: int, *, optional: bool = False, high: int | None = None):
    """``value`` as an int in [low, high] (None passes when ``optional``), else InputError."""
    if value is None and optional:
        return None
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise InputError(f"{name} must be an integer {bound}, got {value!r}")
    return int(value)


def _batch_size(value: Any) -> int | str:
    if isinstance(value, str):
        value = value.strip()
        if value == "auto":
            return value
        if value.isascii() and value.isdigit():
            value = int(value)
    return _count("batch_size ('auto' or an integer)", value, 1, high=MAX_INT32)
