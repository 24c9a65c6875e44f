"""Where a task file may read data: its own folder and the folders given as data roots.

A task file is input like any other (shared, downloaded): its ``data.path``, ``fewshot_path``,
``data_files``, ``hf`` or lm-eval ``dataset_path``/``dataset_kwargs.data_files`` may name only
files under the task file's own folder or under a folder the user gave (``--data-root DIR`` on
the command line, ``data_roots=`` in Python). Absolute paths, ``../`` and symbolic links are
resolved first, so none of them leads outside. The files a user names on the command line
(``assay tasks show data.jsonl``) are the user's own choice and are not restricted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from assay.errors import InputError


def allowed_roots(
    base: Path | None, data_roots: Iterable[str | os.PathLike[str]] = ()
) -> tuple[Path, ...] | None:
    """The resolved folders a task file in ``base`` may read (None: no task file, no limit)."""
    if base is None:
        return None
    return tuple(Path(os.path.realpath(p)) for p in (base, *data_roots))


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def check_data_path(
    value: Any, *, base: Path | None, roots: Sequence[Path] | None, where: str, key: str
) -> Path:
    """The local path a task file's ``key`` names: relative to the task file's folder when it
    exists there, else as written (as before). Outside every root: an InputError naming the key,
    the path and ``--data-root``."""
    path = Path(str(value))
    if base is not None and not path.is_absolute() and (base / path).exists():
        path = base / path
    if roots is not None and not _inside(Path(os.path.realpath(path)), roots):
        raise InputError(
            f"{where}: {key} {str(value)!r} is outside the task file's folder "
            f"(a task file reads data only under its own folder or a --data-root DIR)"
        )
    return path


def check_local_source(
    value: Any, *, base: Path | None, roots: Sequence[Path] | None, where: str, key: str
) -> Any:
    """A dataset source (``hf:``/``dataset_path``) or ``data_files`` value: each local path in
    it checked like :func:`check_data_path` and resolved against the task file's folder; hub
    ids, builder names (``json``) and URLs pass unchanged."""
    if isinstance(value, list | tuple):
        return [check_local_source(v, base=base, roots=roots, where=where, key=key) for v in value]
    if isinstance(value, dict):
        return {
            k: check_local_source(v, base=base, roots=roots, where=where, key=key)
            for k, v in value.items()
        }
    if not isinstance(value, str | os.PathLike) or "://" in str(value):
        return value
    text = str(value)
    local = Path(text)
    named_locally = (
        local.is_absolute()
        or text.startswith(("..", "./", "~"))
        or local.exists()
        or (base is not None and (base / local).exists())
    )
    if not named_locally:
        return value  # a hub id or builder name
    return str(
        check_data_path(os.path.expanduser(text), base=base, roots=roots, where=where, key=key)
    )
