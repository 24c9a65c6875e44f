"""Drill-down data: every model's answer to each document, for the side-by-side view."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from assay.core import CORPUS_METRICS

MAX_TEXT = 1500


def _clip(series: pd.Series) -> pd.Series:
    text = series.astype("string").fillna("")
    long = text.str.len() > MAX_TEXT
    return text.where(~long, text.str.slice(0, MAX_TEXT) + " …")


def _doc_score(rows: pd.DataFrame, metric: str) -> pd.Series:
    """Each row's ``metric``; a corpus perplexity as the document's own (from its log-likelihood
    and its words or bytes)."""
    col = f"metric.{metric}"
    if col in rows:
        return rows[col]
    denom = f"metric.{CORPUS_METRICS.get(metric, '')}"
    if metric in CORPUS_METRICS and {"metric.logprob", denom} <= set(rows.columns):
        rate = -rows["metric.logprob"] / rows[denom]
        return rate / np.log(2) if metric == "bits_per_byte" else np.exp(rate)
    return pd.Series(np.nan, index=rows.index)


def _varies(frame: pd.DataFrame) -> np.ndarray:
    """Per row: two different values or more among the present ones (``nunique > 1``)."""
    codes, _ = pd.factorize(frame.to_numpy(dtype=object).ravel(), use_na_sentinel=True)
    codes = codes.reshape(frame.shape).astype(float)
    codes[codes < 0] = np.nan
    if codes.shape[1] == 0:
        return np.zeros(len(frame), dtype=bool)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows with nothing present
        low, high = np.nanmin(codes, axis=1), np.nanmax(codes, axis=1)
    return ~np.isnan(low) & (low != high)


def _plain(frame: pd.DataFrame) -> np.ndarray:
    """The frame's cells as JSON-ready objects: missing and non-finite values None, numbers
    Python floats (what ``assay.core.to_jsonable`` makes of them)."""
    out = frame.to_numpy(dtype=object, copy=True)
    missing = frame.isna().to_numpy()
    numeric = np.vectorize(lambda v: isinstance(v, float | np.floating), otypes=[bool])(out)
    if numeric.any():
        nums = out[numeric].astype(float)
        out[numeric] = np.where(np.isfinite(nums), nums, None).tolist()
    out[missing] = None
    return out


def drilldown_data(
    samples: pd.DataFrame,
    headline: dict[str, str],
    *,
    max_docs: int = 300,
    model_order: list[str] | None = None,
    counts: dict[str, tuple[int, int, list[str]]] | None = None,
) -> dict[str, Any]:
    """Per task with two models or more: models, and up to ``max_docs`` documents with each model's first answer and
    its headline score (a corpus perplexity shows the document's own). Documents where the models disagree are kept first when capping.
    ``counts``: when ``samples`` hold only the documents to show (``assay.store.drill_docs``
    picked them in SQL), per task its (documents, disputed documents, models): the tasks
    not named there are left out."""
    out: dict[str, Any] = {}
    if samples.empty:
        return out
    first = samples.sort_values("repeat", kind="stable").drop_duplicates(
        ["model", "task", "doc_id"], keep="first"
    )
    for task, metric in headline.items():
        rows = first[first["task"] == task]
        if counts is not None and task not in counts:
            continue
        if counts is None and rows["model"].nunique() < 2:  # side by side needs two models
            continue
        score = _doc_score(rows, metric)
        rows = rows.assign(_score=score, _pred=_clip(rows["prediction"]))
        pred = rows.pivot(index="doc_id", columns="model", values="_pred")
        val = rows.pivot(index="doc_id", columns="model", values="_score")
        if counts is not None:  # every model of the task, with answers shown or not
            pred, val = (f.reindex(columns=counts[task][2]) for f in (pred, val))
        # A document is "disputed" when the models' scores (or answers) are not all equal.
        disputed = pd.Series(_varies(val) | _varies(pred), index=pred.index)
        picked = np.lexsort((np.arange(len(pred)), ~disputed.to_numpy()))[:max_docs]
        keep = pred.index[np.sort(picked)]
        meta = rows.drop_duplicates("doc_id").set_index("doc_id").loc[keep]
        prompts, targets = _clip(meta["prompt"]), _clip(meta["target"])
        rank = {m: i for i, m in enumerate(model_order or [])}
        cols = sorted(pred.columns, key=lambda m: (rank.get(str(m), len(rank)), str(m)))
        pred, val = pred[cols], val[cols]
        models = [str(m) for m in cols]
        p_sub, v_sub = pred.loc[keep], val.loc[keep]
        answers, values = _plain(p_sub), _plain(v_sub)  # JSON-ready: missing as None
        shown = ~(p_sub.isna().to_numpy() & v_sub.isna().to_numpy())
        prompt_list, target_list = (
            _plain(prompts.to_frame())[:, 0],
            _plain(targets.to_frame())[:, 0],
        )
        docs = [
            {
                "id": str(doc),
                "prompt": prompt_list[i],
                "target": target_list[i],
                "answers": {
                    models[j]: [answers[i, j], values[i, j]] for j in np.flatnonzero(shown[i])
                },
            }
            for i, doc in enumerate(keep)
        ]
        total, n_disputed = (counts or {}).get(str(task), (len(pred), int(disputed.sum())))[:2]
        out[str(task)] = {
            "metric": metric,
            "models": models,
            "docs": docs,
            "total_docs": int(total),
            "disputed_docs": int(n_disputed),
        }
    return out
