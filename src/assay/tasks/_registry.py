"""Resolving task names and files: built-in, registered, and task/data files."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assay.core import parse_json, read_text
from assay.errors import InputError

from ._builtin import BUILTIN_TASKS
from ._loaders import DATA_SUFFIXES, bigbench_task, load_hf_records, read_records, task_from_records
from ._schema import load_task_file
from ._task import Task

_REGISTERED: dict[str, Task] = {}
_BUILT: dict[str, Task] = {}


def register_task(task: Task, *, overwrite: bool = True) -> Task:
    """Make ``task`` loadable by name (``load_task(task.name)``) in this process."""
    if not overwrite and (task.name in _REGISTERED or task.name in BUILTIN_TASKS):
        raise InputError(f"task {task.name!r} is already registered")
    _REGISTERED[task.name] = task
    return task


def _builtin(name: str) -> Task:
    if name not in _BUILT:
        _BUILT[name] = BUILTIN_TASKS[name]()
    return _BUILT[name]


def load_task(
    name_or_path: str | Path, *, data_roots: Sequence[str | Path] = (), **options: Any
) -> Task:
    """A task by name or file.

    Resolution order: a registered name, a built-in name, ``hf:PATH[:NAME]`` (a Hugging Face
    dataset; options ``split``, ``data_files``, ``offline`` and the column options below), then a
    file: ``.yaml``/``.yml`` (assay's schema or lm-eval's subset), ``.json`` with an ``examples``
    key (BIG-bench), ``.jsonl``/``.json``/``.csv``/``.parquet`` data, or a ``save_to_disk``
    folder. Data options: ``template``, ``target``, ``choices``, ``request_type``, ``name``,
    ``id_field``, ``difficulty_field``, ``cluster_field`` and any ``Task`` field (e.g.
    ``num_fewshot``). Options given for a named task override its attributes on a copy.

    A task file reads data only under its own folder and ``data_roots`` (docs/security.md).
    """
    key = str(name_or_path)
    if key in _REGISTERED or key in BUILTIN_TASKS:
        task = _REGISTERED.get(key) or _builtin(key)
        return _with_options(task, options) if options else task
    if key.startswith("hf:"):
        return _hf_task(key, options)
    path = Path(key)
    suffix = path.suffix.lower()
    if not path.exists():
        known = ", ".join(sorted({*BUILTIN_TASKS, *_REGISTERED}))
        raise InputError(
            f"unknown task {key!r}: not a built-in or registered task ({known}) and no such file"
        )
    if suffix in (".yaml", ".yml"):
        return load_task_file(path, data_roots=data_roots, **options)
    if path.is_dir():
        return _hf_task(f"hf:{path}", options)
    if suffix == ".json" and _is_bigbench(path):
        return bigbench_task(path, **options)
    if suffix in DATA_SUFFIXES:
        name = options.pop("name", None) or path.stem
        return task_from_records(read_records(path), name=name, where=str(path), **options)
    raise InputError(
        f"{path}: unknown task file type {suffix!r} (use .yaml, .json, {', '.join(DATA_SUFFIXES)})"
    )


def is_assay_task(name: str) -> bool:
    """Whether :func:`load_task` resolves ``name`` itself (registered, built-in, ``hf:`` or an
    existing file); other names may be lm-eval's (``assay eval -t mmlu``)."""
    return (
        name in _REGISTERED
        or name in BUILTIN_TASKS
        or name.startswith("hf:")
        or Path(name).exists()
    )


def _is_bigbench(path: Path) -> bool:
    try:
        data = parse_json(read_text(path), path)
    except InputError:
        return True  # let the BIG-bench loader report the error with the file name
    return isinstance(data, dict) and "examples" in data


def _hf_task(key: str, options: dict[str, Any]) -> Task:
    spec = key[len("hf:") :]
    path, _, config = spec.partition(":") if not Path(spec).exists() else (spec, "", "")
    split = options.pop("split", "test")
    records = load_hf_records(
        path,
        config or None,
        split,
        data_files=options.pop("data_files", None),
        offline=bool(options.pop("offline", False)),
    )
    name = options.pop("name", None) or Path(path).name
    return task_from_records(records, name=name, where=f"{key} (split {split})", **options)


def _with_options(task: Task, options: dict[str, Any]) -> Task:
    fields = {f.name for f in dataclasses.fields(task)}
    unknown = sorted(set(options) - fields)
    if unknown:
        raise InputError(f"task {task.name!r}: unknown option {unknown[0]!r}")
    return dataclasses.replace(task, **options)


def list_tasks() -> list[dict[str, Any]]:
    """Built-in and registered tasks: name, type, size, difficulty levels, source."""
    rows = []
    names = [*BUILTIN_TASKS, *(n for n in _REGISTERED if n not in BUILTIN_TASKS)]
    for name in names:
        task = _REGISTERED.get(name) or _builtin(name)
        levels = task.difficulty_levels
        rows.append(
            {
                "name": name,
                "type": task.request_type,
                "size": len(task.docs),
                "difficulty_levels": len(levels),
                "difficulty_range": f"{levels[0]:g}-{levels[-1]:g}" if levels else "",
                "templates": ", ".join(task.templates),
                "source": "registered" if name in _REGISTERED else "builtin",
            }
        )
    return rows
