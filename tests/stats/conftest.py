"""Simulated tidy score frames shaped like ``Store.scores()``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def simulate_scores(
    accuracies: dict[str, float],
    *,
    tasks=("t1",),
    n: int = 200,
    repeats: int = 1,
    cluster_size: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Binary ``acc`` rows for each model (accuracy p), task, doc and repeat."""
    rng = np.random.default_rng(seed)
    frames = []
    for t in tasks:
        for m, p in accuracies.items():
            values = (rng.random((n, repeats)) < p).astype(float)
            docs = np.repeat([f"d{i:04d}" for i in range(n)], repeats)
            frames.append(
                pd.DataFrame(
                    {
                        "model": m,
                        "task": t,
                        "run_id": f"{m}-{t}",
                        "doc_id": docs,
                        "repeat": np.tile(np.arange(repeats), n),
                        "template_id": "default",
                        "cluster_id": (
                            np.repeat([f"c{i // cluster_size}" for i in range(n)], repeats)
                            if cluster_size
                            else None
                        ),
                        "difficulty": np.nan,
                        "metric": "acc",
                        "value": values.ravel(),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def make_scores():
    return simulate_scores
