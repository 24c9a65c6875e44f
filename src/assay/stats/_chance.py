"""Chance levels: the score a model gets by guessing, which every score is read against."""

from __future__ import annotations

import numpy as np
import pandas as pd

from assay.core import MetricMap, metric_info

__all__ = ["chance_levels", "headline_chance"]


def chance_levels(samples: pd.DataFrame) -> dict[str, float]:
    """Per task, the accuracy of guessing uniformly: the mean over its samples of
    1 / number of choices (from the stored per-choice log-likelihoods)."""
    if samples.empty or "choice_logprobs" not in samples:
        return {}
    sizes = samples["choice_logprobs"].map(
        lambda c: len(c) if isinstance(c, list | tuple | np.ndarray) and len(c) else np.nan
    )
    frame = pd.DataFrame({"task": samples["task"], "inv": 1.0 / sizes.astype(float)}).dropna()
    frame = frame[np.isfinite(frame["inv"])]
    return {str(k): float(v) for k, v in frame.groupby("task")["inv"].mean().items()}


def headline_chance(
    headline: dict[str, str], samples: pd.DataFrame, metrics: MetricMap | None = None
) -> dict[str, float]:
    """Per task, its headline metric's score of guessing: the registry's fixed chance
    (``metric_info(m, metrics).chance``, ``metrics`` the store's definitions), else for an accuracy (``acc*``) of a multiple-choice task
    :func:`chance_levels`. Tasks with neither are left out."""
    by_choices = chance_levels(samples)
    out = {}
    for task, metric in headline.items():
        fixed = metric_info(metric, metrics).chance
        if fixed is not None:
            out[task] = float(fixed)
        elif metric.startswith("acc") and task in by_choices:
            out[task] = float(by_choices[task])
    return out
