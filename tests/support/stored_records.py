"""The stored samples of a store as one comparable table (timing fields dropped)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from assay.store import open_store

TIMING = ["latency_s", "created_at", "extra"]  # wall-clock fields; extra holds batch timings


def stored_records(path: Path) -> pd.DataFrame:
    """Every stored sample with its metrics, timing fields dropped, in a fixed order."""
    db = open_store(path)
    samples = db.sql("SELECT * FROM samples").drop(columns=TIMING)
    metrics = db.sql("SELECT * FROM sample_metrics")
    wide = metrics.pivot_table(
        index=["run_id", "doc_id", "repeat"], columns="metric", values="value"
    ).reset_index()
    out = samples.merge(wide, on=["run_id", "doc_id", "repeat"], how="outer")
    return out.sort_values(["run_id", "doc_id", "repeat"]).reset_index(drop=True)
