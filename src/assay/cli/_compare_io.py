"""Where ``assay compare`` reads from (a store opened once to read, a Parquet export folder given
as PATH, result files read into a temporary store) and how it prints a long comparison."""

from __future__ import annotations

import importlib
import threading
from pathlib import Path

import numpy as np

from assay.errors import InputError

from ._common import console, get_store, plain_tables, print_table

__all__ = [
    "CONSOLE_ROWS",
    "export_as_store",
    "import_meanwhile",
    "path_evidence",
    "print_comparison",
    "reading_store",
]


def import_meanwhile(*names: str) -> None:
    """Import ``names`` ("module" or "module:attribute", an attribute a package loads when first
    asked for) in a background thread while the command reads the store: DuckDB's queries leave
    Python's lock, so the imports take the other core. The command's own import of them waits
    for the thread (or finds them done). Call it where the command imports nothing new until
    it imports these (no import lock it holds is waited for in turn)."""

    def run() -> None:
        for name in names:
            module, _, attribute = name.partition(":")
            try:
                loaded = importlib.import_module(module)
                if attribute:
                    getattr(loaded, attribute)
            except (ImportError, AttributeError):  # (the command's own import says what is wrong)
                return

    threading.Thread(target=run, name="assay-import", daemon=True).start()


def export_as_store(paths: list[Path] | None, store: Path | None):
    """(paths, store) with a Parquet export folder (``model=<m>/task=<t>/*.parquet``, what
    ``assay export --format parquet`` writes) given as the one PATH read as ``--store`` is."""
    folder = paths[0] if paths and len(paths) == 1 else None
    if folder is None or not folder.is_dir():
        return paths, store
    parquet = next(folder.glob("model=*/task=*/*.parquet"), None)
    if parquet is None and next(folder.glob(".assay/*.pq"), None) is None:
        return paths, store  # (lm-eval's folders are model=<m>/task=<t> too, of JSON)
    if store is not None:
        raise InputError("give PATHs or --store, not both")
    return None, folder


def reading_store(store: Path | None):
    """The store opened once to read (not migrated, no write lock), unless its schema is older
    than this assay's: then opened as every command opens it (migrated)."""
    from assay.store import SCHEMA_VERSION

    st = get_store(store, must_exist=True, read_only=True)
    return st if st.schema_version >= SCHEMA_VERSION else get_store(store, must_exist=True)


def path_evidence(paths: list[Path], store):
    """Evidence of lm-eval folders / lighteval outputs / inspect logs read into a temporary
    store."""
    from assay.store import scratch_store

    if store is not None:
        raise InputError("give PATHs or --store, not both")
    with scratch_store(paths) as scratch:
        ev = scratch.evidence().loaded()
    if ev.scores.empty:
        raise InputError(f"no scored samples in {', '.join(map(str, paths))}")
    return ev


#: rows of a table ``assay compare`` prints (``--json`` and ``--format csv|tsv``: all)
CONSOLE_ROWS = 1000


def _print_long(frame, title: str, what: str) -> None:
    """``frame`` as a table; but for csv/tsv (every row) its first :data:`CONSOLE_ROWS` rows,
    then a line saying how many more ``--json`` holds."""
    if len(frame) <= CONSOLE_ROWS or plain_tables():
        print_table(frame, title=title)
        return
    print_table(frame.iloc[:CONSOLE_ROWS], title=f"{title} (first {CONSOLE_ROWS:,})")
    more = len(frame) - CONSOLE_ROWS
    console.print(f"{more:,} more {what}: all of them with --json or --format csv", highlight=False)


def print_comparison(result) -> None:
    """The scores, pairs and groups tables of a compare (the pairs with the smallest adjusted p,
    then the largest difference, first when they are cut)."""
    _print_long(result.scores, "scores", "scores")
    if len(result.pairs):
        pairs = result.pairs
        if len(pairs) > CONSOLE_ROWS and not plain_tables():
            p, size = pairs["p_adjusted"].to_numpy(float), pairs["diff"].to_numpy(float)
            pairs = pairs.iloc[np.lexsort((-np.abs(size), np.nan_to_num(p, nan=np.inf)))]
        _print_long(pairs, f"pairs: p {result.family.statement}", "pairs")
        groups = "groups (models sharing a letter are not significantly different)"
        _print_long(result.groups, groups, "groups")
