"""The last step of every log importer (lm-eval, inspect_ai, lighteval): refuse runs another
source made, then write models, runs and samples in one transaction.

An import adds or replaces only what the new files hold complete: a sample without any score is
skipped (and counted), a run left without samples is not touched, and no stored row is removed
because the new files lack it (a re-imported sample's metrics are merged into the stored ones).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from assay.errors import InputError

from ._files import check_runs
from ._records import ModelInfo, RunInfo, SampleRecord
from ._store import Store


@dataclass
class ImportSummary:
    """What an import wrote: counts per table, and the (model, task) pairs touched; ``errored``
    and ``unscored`` count the samples it skipped (errored in the source, or without a score)."""

    source: str
    runs: int
    samples: int
    models: list[str]
    tasks: list[str]
    errored: int = 0  # samples that errored in the source and were left out (inspect)
    unscored: int = 0  # samples without any score in the source, left out (stored rows kept)
    present: int = 0  # of ``samples``, those the store held already (same run, doc, repeat)

    @property
    def new(self) -> int:
        """Samples the store did not hold before this import."""
        return self.samples - self.present

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "new": self.new}


Progress = Callable[[int, int], None] | None
"""``progress(done, total)``: how far a read (files) or an import (files, then the write) is."""


class Steps:
    """An import's ``progress``: one step per file read (:meth:`read`, a reader's own
    ``progress``), then one for the write (:meth:`written`)."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.total = 1

    def read(self, done: int, files: int) -> None:
        self.total = files + 1
        if self.progress is not None:
            self.progress(done, self.total)

    def written(self) -> None:
        if self.progress is not None:
            self.progress(self.total, self.total)


def count_present(con: Any, frame: pd.DataFrame) -> int:
    """How many distinct ``(run_id, doc_id, repeat)`` keys of ``frame`` the store's samples
    table holds already (run inside the import's transaction, before it writes)."""
    if frame.empty:
        return 0
    keys = pd.DataFrame(
        {
            "run_id": frame["run_id"].astype(str).to_numpy(),
            "doc_id": frame["doc_id"].astype(str).to_numpy(),
            "repeat": (
                frame["repeat"].fillna(0).astype("int64").to_numpy() if "repeat" in frame else 0
            ),
        }
    ).drop_duplicates()
    rel = con.from_df(keys)
    found = rel.query(
        "_keys",
        'SELECT count(*) FROM _keys WHERE (run_id, doc_id, CAST("repeat" AS INTEGER)) IN '
        '(SELECT run_id, doc_id, "repeat" FROM samples)',
    ).fetchall()
    return int(found[0][0])


def write_runs(
    store: Store,
    path: str | Path,
    source: str,
    models: Sequence[ModelInfo],
    runs: Sequence[RunInfo],
    samples: Sequence[SampleRecord],
    *,
    errored: int = 0,
    steps: Steps | None = None,
) -> ImportSummary:
    """Write what an importer read (all of it validated already) in one transaction; a run id
    that another source (or an eval) made is an error and nothing is written. Samples without a
    score are skipped and counted; when no sample is left, nothing is written either."""
    scored = [s for s in samples if s.metrics]
    unscored = len(samples) - len(scored)
    kept = {s.run_id for s in scored}
    runs = [r for r in runs if r.run_id in kept]
    if not scored:
        skipped = [f"{n} {why}" for n, why in ((errored, "errored"), (unscored, "without a score"))]
        why = ", ".join(k for k in skipped if not k.startswith("0 "))
        raise InputError(f"{path}: no scored samples to import" + (f" ({why})" if why else ""))
    models = [m for m in models if m.model in {r.model for r in runs}]
    owners = pd.DataFrame(
        {
            "run_id": [r.run_id for r in runs],
            "model": [r.model for r in runs],
            "task": [r.task for r in runs],
            "_at": [str((r.extra or {}).get("file", path)) for r in runs],
        }
    )
    check_runs(store, owners, source)
    keys = pd.DataFrame(
        {
            "run_id": [s.run_id for s in scored],
            "doc_id": [s.doc_id for s in scored],
            "repeat": [s.repeat for s in scored],
        }
    )
    with store.transaction() as con:
        present = count_present(con, keys)
        store.upsert_models(list(models), con=con)
        for run in runs:
            store.upsert_run(run, con=con)
        store.write_samples(scored, con=con, keep_metrics=True)
    if steps is not None:
        steps.written()
    return ImportSummary(
        source=str(path),
        runs=len(runs),
        samples=len(scored),
        models=sorted({m.model for m in models}),
        tasks=sorted({r.task for r in runs}),
        errored=errored,
        unscored=unscored,
        present=present,
    )
