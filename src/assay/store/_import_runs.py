"""The last step of every log importer (lm-eval, inspect_ai, lighteval): refuse runs another
source made, then write models, runs and samples in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ._files import check_runs
from ._records import ModelInfo, RunInfo, SampleRecord
from ._store import Store


@dataclass
class ImportSummary:
    """What an import wrote: counts per table, and the (model, task) pairs touched."""

    source: str
    runs: int
    samples: int
    models: list[str]
    tasks: list[str]
    errored: int = 0  # samples that errored in the source and were left out (inspect)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def write_runs(
    store: Store,
    path: str | Path,
    source: str,
    models: Sequence[ModelInfo],
    runs: Sequence[RunInfo],
    samples: Sequence[SampleRecord],
    *,
    errored: int = 0,
) -> ImportSummary:
    """Write what an importer read (all of it validated already) in one transaction; a run id
    that another source (or an eval) made is an error and nothing is written."""
    owners = pd.DataFrame(
        {
            "run_id": [r.run_id for r in runs],
            "model": [r.model for r in runs],
            "task": [r.task for r in runs],
            "_at": [str((r.extra or {}).get("file", path)) for r in runs],
        }
    )
    check_runs(store, owners, source)
    with store.transaction() as con:
        store.upsert_models(list(models), con=con)
        for run in runs:
            store.upsert_run(run, con=con)
        store.write_samples(list(samples), con=con)
    return ImportSummary(
        source=str(path),
        runs=len(runs),
        samples=len(samples),
        models=sorted({m.model for m in models}),
        tasks=sorted({r.task for r in runs}),
        errored=errored,
    )
