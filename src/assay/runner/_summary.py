"""The summary of an evaluation read back from the store: per (task, metric) means and the
inference cost fit refitted from the stored batch timings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from assay.core import with_corpus_metrics
from assay.store import Store

from ._cost import CostFit, fit_cost

SUMMARY_COLUMNS = ["model", "task", "metric", "mean", "stderr", "n", "n_samples"]


def summarize_empty() -> pd.DataFrame:
    """The summary table with no rows."""
    return pd.DataFrame(columns=SUMMARY_COLUMNS)


def summarize(store: Store, keys: pd.DataFrame) -> pd.DataFrame:
    """Mean, stderr and n per (task, metric) over the stored samples named by ``keys``
    (columns run_id, doc_id, repeat). Repeats of a document are averaged first."""
    cols = SUMMARY_COLUMNS
    if keys.empty:
        return summarize_empty()
    run_ids = sorted(keys["run_id"].unique())
    rows = store.sql(
        'SELECT s.model, s.task, m.run_id, m.doc_id, m."repeat", m.metric, m.value '
        'FROM sample_metrics m JOIN samples s USING (run_id, doc_id, "repeat") '
        f"WHERE m.run_id IN ({', '.join('?' * len(run_ids))})",
        run_ids,
    )
    rows = rows.merge(keys, on=["run_id", "doc_id", "repeat"], how="inner")
    if rows.empty:
        return summarize_empty()
    rows = with_corpus_metrics(rows)  # rolling tasks: corpus perplexity and bits per byte
    per_doc = rows.groupby(["model", "task", "metric", "doc_id"], as_index=False).agg(
        value=("value", "mean"), k=("value", "size")
    )
    grouped = per_doc.groupby(["model", "task", "metric"], as_index=False)
    table = grouped.agg(
        mean=("value", "mean"), sd=("value", "std"), n=("value", "size"), n_samples=("k", "sum")
    )
    table["stderr"] = table["sd"] / np.sqrt(table["n"])
    return table[cols]


def stored_cost_fit(store: Store, run_ids: Sequence[str], runtime: str) -> CostFit | None:
    """Refit the cost model from the batch ids and timings stored with the samples."""
    if not run_ids:
        return None
    df = store.sql(
        "SELECT json_extract_string(extra, '$.batch') AS batch, "
        "CAST(json_extract(extra, '$.batch_seconds') AS DOUBLE) AS seconds, "
        "input_tokens, output_tokens FROM samples "
        f"WHERE run_id IN ({', '.join('?' * len(run_ids))}) "
        "AND json_extract_string(extra, '$.runtime') = ?",
        [*run_ids, runtime],
    )
    if df.empty:
        return None
    batches = df.groupby("batch").agg(
        n=("seconds", "size"),
        prompt_tokens=("input_tokens", "sum"),
        output_tokens=("output_tokens", "sum"),
        seconds=("seconds", "first"),
    )
    return fit_cost(batches, runtime=runtime)


def stored_runtime(store: Store, run_ids: Sequence[str]) -> str | None:
    """The one runtime recorded with the samples of ``run_ids``, if there is exactly one."""
    if not run_ids:
        return None
    df = store.sql(
        "SELECT DISTINCT json_extract_string(extra, '$.runtime') AS runtime FROM samples "
        f"WHERE run_id IN ({', '.join('?' * len(run_ids))})",
        list(run_ids),
    )
    found = df["runtime"].dropna().unique()
    return str(found[0]) if len(found) == 1 else None
