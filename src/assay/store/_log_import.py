"""What each log importer (lm-eval, inspect_ai, lighteval) does around its own reader: one
progress step per file it reads (:func:`each_file`), and the import itself (:func:`import_log`),
the reader's parts written by :func:`~._import_runs.write_parts` in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ._import_runs import ImportSummary, Part, Progress, Steps, Twice, given_model, write_parts
from ._store import Store

ReadParts = Callable[[str | Path, str | None, Progress], Iterable[Part]]
"""An importer's reader: ``read(path, model, progress)`` -> its parts, one per file or run."""


def each_file(files: Iterable[Path], progress: Progress) -> Iterator[Path]:
    """``files`` in order, with ``progress(done, total)`` before each is read."""
    files = list(files)
    for k, file in enumerate(files):
        if progress is not None:
            progress(k, len(files))
        yield file


def import_log(
    store: Store,
    path: str | Path,
    source: str,
    model: str | None,
    progress: Progress,
    read: ReadParts,
    empty: Callable[[int], str],
    twice: Twice | None = None,
) -> ImportSummary:
    """Import the parts ``read`` finds at ``path`` as ``source`` (``model``: ``--model``, the
    name for all of them), one progress step per file read and one for the write;
    ``empty(errored)``: the error when no sample is found; ``twice``: see ``write_parts``."""
    steps = Steps(progress)
    parts = read(path, given_model(model), steps.read)
    return write_parts(store, path, source, parts, empty=empty, twice=twice, steps=steps)
