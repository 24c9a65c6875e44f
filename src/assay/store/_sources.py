"""Result files of other harnesses read straight into a throw-away store (``assay compare PATH``)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from assay.errors import InputError

from ._import_runs import ImportSummary
from ._inspect import import_inspect, inspect_models
from ._lighteval import import_lighteval, lighteval_models
from ._lm_eval import import_lm_eval, lm_eval_models
from ._store import Store, open_store


def _lighteval_results(path: Path, block: int = 2**20) -> bool:
    """A results_*.json written by lighteval (it has ``config_general``), read a block at a
    time."""
    key = b'"config_general"'
    try:
        with path.open("rb") as handle:
            tail = b""
            while data := handle.read(block):
                if key in tail + data:
                    return True
                tail = data[-len(key) :]
    except OSError:
        return False
    return False


def source_kind(path: Path) -> str:
    """``lighteval`` (details_*.parquet, a lighteval results JSON or a folder holding details),
    ``lm-eval`` (a results_*.json or a folder holding one) or ``inspect`` (.eval/.json logs)."""
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if path.is_file():
        if path.name.startswith("details_") and path.suffix == ".parquet":
            return "lighteval"
        if path.name.startswith("results_") and path.suffix == ".json":
            return "lighteval" if _lighteval_results(path) else "lm-eval"
        if path.suffix.lower() in (".eval", ".json"):
            return "inspect"
        raise InputError(f"{path}: not an lm-eval or lighteval results file or an inspect log")
    if next(path.rglob("details_*.parquet"), None) is not None:
        return "lighteval"
    if next(path.rglob("results_*.json"), None) is not None:
        return "lm-eval"
    return "inspect"


def _models(path: Path, kind: str) -> set[str]:
    """The model names at ``path``, from its results files or log headers (no samples read)."""
    if kind == "lm-eval":
        return lm_eval_models(path)
    if kind == "lighteval":
        return lighteval_models(path)
    return inspect_models(path)


def import_path(store: Store, path: Path, *, model: str | None = None) -> ImportSummary:
    """Import an lm-eval output folder, lighteval details or inspect logs, whichever ``path`` is."""
    kind = source_kind(path)
    if kind == "lm-eval":
        return import_lm_eval(store, path, model=model)
    if kind == "lighteval":
        return import_lighteval(store, path, model=model)
    return import_inspect(store, path, model=model)


@contextmanager
def scratch_store(paths: Sequence[str | Path]) -> Iterator[Store]:
    """A temporary store holding the results at ``paths``, deleted afterwards.

    When two paths hold a model of the same name (run A and run B of one model), each such
    path's model is named by the path instead, so they stay apart; a path with several models
    that clash is an error (import them with ``--model`` into a store).
    """
    found = []
    for raw in paths:
        path = Path(raw)
        kind = source_kind(path)
        found.append((path, kind, _models(path, kind)))
    with tempfile.TemporaryDirectory(prefix="assay-compare-") as tmp:
        store = open_store(Path(tmp) / "compare.duckdb")
        labels = {p.name for p, _, _ in found}
        for i, (path, _kind, models) in enumerate(found):
            others = set().union(*(m for j, (_, _, m) in enumerate(found) if j != i))
            override = None
            if models & others:
                if len(models) > 1:
                    clash = sorted(models & others)[0]
                    raise InputError(
                        f"{path}: model {clash!r} is also in another PATH and this one holds "
                        "several models: import each with --model NAME into a store instead"
                    )
                override = path.name if len(labels) == len(found) else str(path)
            import_path(store, path, model=override)
        yield store
