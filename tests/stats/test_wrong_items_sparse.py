"""Item analysis on sparse results: every item with enough responses is kept (each item uses
the models that answered it, as IRT does); on a complete matrix the numbers are unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from assay.errors import InputError
from assay.stats import item_analysis


def _long(matrix: np.ndarray) -> pd.DataFrame:
    m, n = matrix.shape
    df = pd.DataFrame(
        {"model": np.repeat([f"m{i:02d}" for i in range(m)], n), "task": "t",
         "doc_id": np.tile([f"q{j:03d}" for j in range(n)], m), "repeat": 0, "metric": "acc",
         "value": matrix.ravel()}
    )  # fmt: skip
    return df[df["value"].notna()]


def _simulate(m: int = 30, n: int = 100, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    theta, a, b = rng.normal(size=m), rng.lognormal(0, 0.3, n), rng.normal(size=n)
    return (rng.random((m, n)) < expit(a * (theta[:, None] - b))).astype(float)


def _complete_case(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The old computation on a complete matrix: rest totals over the other items."""
    p = x.mean(axis=0)
    rest = x.sum(axis=1, keepdims=True) - x
    xc, rc = x - p, rest - rest.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.sum(xc * rc, axis=0) / np.sqrt(np.sum(xc**2, axis=0) * np.sum(rc**2, axis=0))
    return p, r


def test_dense_numbers_are_unchanged():
    x = _simulate()
    table = item_analysis(_long(x)).table
    p, r = _complete_case(x)
    assert len(table) == 100 and (table["n_models"] == 30).all()
    np.testing.assert_allclose(table["difficulty"], p)
    np.testing.assert_allclose(table["discrimination"], r, equal_nan=True)


def test_sparse_keeps_every_item_with_enough_responses():
    dense = _simulate()
    rng = np.random.default_rng(1)
    x = np.where(rng.random(dense.shape) < 0.3, np.nan, dense)  # each model misses ~30%
    x[:, 7] = np.nan
    x[:2, 7] = 1.0  # item q007: only 2 models answered
    assert np.isnan(x).any(axis=0).sum() == 100  # complete-case analysis would keep nothing
    table = item_analysis(_long(x)).table.set_index("doc_id")
    answered = (~np.isnan(x)).sum(axis=0)
    assert len(table) == int((answered >= 3).sum()) == 99 and "q007" not in table.index
    np.testing.assert_array_equal(table["n_models"], answered[answered >= 3])
    np.testing.assert_allclose(table["difficulty"], np.nanmean(x, axis=0)[answered >= 3])
    # item 0 by hand: models that answered it, their mean over the other items they answered
    seen = ~np.isnan(x[:, 0])
    rest = np.nanmean(x[seen][:, 1:], axis=1)
    assert table.loc["q000", "discrimination"] == pytest.approx(np.corrcoef(x[seen, 0], rest)[0, 1])
    # sparse discriminations track the complete-data ones
    _, r_dense = _complete_case(dense)
    keep = np.isfinite(table["discrimination"].to_numpy()) & np.isfinite(r_dense[answered >= 3])
    corr = np.corrcoef(table["discrimination"].to_numpy()[keep], r_dense[answered >= 3][keep])
    assert corr[0, 1] > 0.6
    with pytest.raises(InputError, match="at least 40 models"):
        item_analysis(_long(x), min_models=40)
