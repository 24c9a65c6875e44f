"""Input tables: CSV/Parquet files with chosen columns, or the store's models and scores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assay.errors import InputError
from assay.stats import clustered_se

__all__ = ["CANONICAL", "load_table", "table_from_store"]

CANONICAL = ("model", "params", "tokens", "flops", "loss", "score", "family", "date")


def _read(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    suffixes = "".join(path.suffixes).lower()
    try:
        if ".parquet" in suffixes or suffixes.endswith(".pq"):
            return pd.read_parquet(path)
        if ".json" in suffixes:
            return pd.read_json(path, lines=suffixes.endswith("l"))
        return pd.read_csv(path)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot be read: {first}") from None


def load_table(path: str | Path, **column_options: str | None) -> pd.DataFrame:
    """Read a CSV/Parquet table and rename chosen columns to assay's names.

    ``column_options`` maps a canonical name (model, params, tokens, flops, loss, score, family,
    date) to the file's column, e.g. ``load_table("runs.csv", params="Model Size",
    flops="Training FLOP")``. Missing tokens are derived as flops / (6·params) and missing flops
    as 6·params·tokens; ``date`` is parsed to a timestamp. Other columns are kept as they are.
    """
    path = Path(path)
    df = _read(path)
    renames: dict[str, str] = {}
    for name, column in column_options.items():
        if column is None or column == name:
            continue
        if name not in CANONICAL:
            raise InputError(f"unknown column option {name!r}; use one of {', '.join(CANONICAL)}")
        if column not in df.columns:
            raise InputError(
                f"{path}: no column {column!r} (for {name}); columns: {', '.join(map(str, df.columns))}"
            )
        renames[column] = name
    for name, column in column_options.items():
        if column is not None and column == name and column not in df.columns:
            raise InputError(f"{path}: no column {column!r}")
    df = df.drop(columns=[c for c in renames.values() if c in df.columns and c not in renames])
    df = df.rename(columns=renames)
    for col in ("params", "tokens", "flops", "loss", "score"):
        if col in df.columns:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    df = complete_columns(df, source=str(path))
    df.attrs["source"] = str(path)
    return df


def complete_columns(df: pd.DataFrame, *, source: str = "table") -> pd.DataFrame:
    """Derive tokens = C/(6N) or flops = 6ND where one is missing; parse dates."""
    df = df.copy()
    if "params" in df and "flops" in df:
        derived = df["flops"] / (6.0 * df["params"])
        df["tokens"] = df["tokens"].fillna(derived) if "tokens" in df else derived
    if "params" in df and "tokens" in df:
        derived = 6.0 * df["params"] * df["tokens"]
        df["flops"] = df["flops"].fillna(derived) if "flops" in df else derived
    if "date" in df:
        parsed = pd.to_datetime(df["date"], errors="coerce", format="mixed")
        if parsed.isna().all() and df["date"].notna().any():
            raise InputError(f"{source}: column 'date' has no readable dates")
        df["date"] = parsed
    return df


def _per_model(scores: pd.DataFrame) -> pd.DataFrame:
    """Per model: the mean over documents of each document's mean (repeats, choice orderings
    and runs of one ``doc_id`` are one piece of evidence) and its standard error over
    documents, cluster-robust (CR1) when the store has ``cluster_id`` (a document without
    one is its own cluster; with one document per cluster this is s/√n, ddof 1)."""
    scores = scores[scores["value"].notna()]
    docs = scores.groupby(["model", "doc_id"], sort=True).agg(
        value=("value", "mean"), samples=("value", "size")
    )
    if "cluster_id" in scores:
        first = scores.groupby(["model", "doc_id"], sort=True)["cluster_id"].first()
        docs["cluster"] = first.reindex(docs.index)
    else:
        docs["cluster"] = np.nan
    docs = docs.reset_index()
    docs["cluster"] = docs["cluster"].astype(object).where(docs["cluster"].notna(), None)
    rows = []
    for model, group in docs.groupby("model", sort=True):
        clusters = group["cluster"].where(
            group["cluster"].notna(), "doc:" + group["doc_id"].astype(str)
        )
        x = group["value"].to_numpy(dtype=float)
        se = clustered_se(x, clusters.to_numpy()) if x.size > 1 else float("nan")
        rows.append((model, float(x.mean()), se, x.size, int(group["samples"].sum())))
    return pd.DataFrame(rows, columns=["model", "score", "score_se", "n", "n_samples"])


def table_from_store(
    store: Any, task: str | None = None, metric: str | None = None
) -> pd.DataFrame:
    """One row per model: the store's model metadata joined with the per-model mean score.

    Columns: model, family, params, tokens, flops, step, date, score, score_se, n (documents
    behind the mean), n_samples, task, metric. With several tasks/metrics, pass ``task`` and
    ``metric``. See :func:`_per_model` for how repeats and orderings enter the mean and its SE.
    """
    models = store.models()
    scores = store.evidence(task=task, metric=metric).scores
    if scores.empty:
        raise InputError(f"no scores in {store.path} for task={task!r} metric={metric!r}")
    pairs = scores[["task", "metric"]].drop_duplicates()
    if len(pairs) > 1:
        listing = ", ".join(f"{t}/{m}" for t, m in pairs.itertuples(index=False))
        raise InputError(
            f"several task/metric pairs in the store ({listing}): pass task and metric"
        )
    per = _per_model(scores)
    per["task"], per["metric"] = pairs.iloc[0]["task"], pairs.iloc[0]["metric"]
    meta = models.rename(columns={"release_date": "date"}).drop(
        columns=[c for c in ("spec", "extra", "parent") if c in models.columns]
    )
    out = per.merge(meta, on="model", how="left")
    out = complete_columns(out, source=str(store.path))
    out.attrs["source"] = f"store {store.path}"
    return out
