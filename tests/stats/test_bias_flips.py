"""Position bias and MUSCLE flips on hand-built data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from assay.errors import InputError
from assay.stats import flips, position_bias, wilson_ci


def _samples() -> pd.DataFrame:
    """20 four-choice answers; the right answer is original choice 0 (its text "zero"), stored
    as the runner stores it: ``extra.target_position`` = its shown position."""
    chosen = [0] * 10 + [1] * 5 + [2] * 3 + [3] * 2
    orders = [[0, 1, 2, 3], [1, 0, 2, 3], [2, 3, 0, 1], [3, 2, 1, 0]] * 5
    rows = []
    for i, (c, order) in enumerate(zip(chosen, orders, strict=True)):
        rows.append(
            {"model": "m", "task": "t", "doc_id": f"d{i % 10}", "repeat": i // 10,
             "chosen_position": c, "choice_order": order, "target": "zero",
             "extra": json.dumps({"batch": "b", "target_position": order.index(0)}),
             "choice_logprobs": [-1.0] * 4, "metric.acc": float(order[c] == 0)}
        )  # fmt: skip
    return pd.DataFrame(rows)


def test_position_bias_by_hand():
    df = _samples()
    res = position_bias(df)
    observed, expected = np.array([10, 5, 3, 2]), np.full(4, 5.0)
    chi2 = np.sum((observed - expected) ** 2 / expected)  # (25 + 0 + 4 + 9) / 5 = 7.6
    assert res.chi2 == pytest.approx(7.6) == pytest.approx(chi2)
    assert res.pvalue == pytest.approx(sps.chi2.sf(7.6, 3)) and res.df == 3
    table = res.table.set_index("position")
    assert list(table["chosen"]) == [10, 5, 3, 2]
    # gold position = index of original choice 0 in the shown order: 0, 1, 2, 3 repeating
    assert list(table["gold"]) == [5, 5, 5, 5]
    gold = np.tile([0, 1, 2, 3], 5)
    correct = df["metric.acc"].to_numpy()
    for p in range(4):
        k = correct[gold == p].sum()
        assert table.loc[p, "accuracy"] == pytest.approx(k / 5)
        assert table.loc[p, "ci_low"] == pytest.approx(wilson_ci(k, 5)[0])
    per_doc = df.groupby("doc_id")["metric.acc"].mean()
    assert res.permutation_accuracy == pytest.approx(per_doc.mean())
    assert res.permutation_stderr == pytest.approx(per_doc.std(ddof=1) / np.sqrt(10))
    assert res.original_accuracy == pytest.approx(correct[::4].mean())
    assert res.orderings_per_doc == 2 and res.n_docs == 10


def test_position_bias_needs_one_model():
    df = pd.concat([_samples(), _samples().assign(model="other")])
    with pytest.raises(InputError, match="per model and task"):
        position_bias(df)
    assert position_bias(df, model="other").n == 20


def _scores(values: dict[str, list[float]], task: str = "t") -> pd.DataFrame:
    rows = [{"model": m, "task": task, "doc_id": f"d{i}", "repeat": 0, "metric": "acc",
             "value": v} for m, vals in values.items() for i, v in enumerate(vals)]  # fmt: skip
    return pd.DataFrame(rows)


def test_flips_by_hand():
    scores = _scores({"old": [1, 1, 0, 0, 1, 1], "new": [1, 0, 1, 0, 0, 1]})
    res = flips(scores, "old", "new")
    row = res.table.iloc[0]
    assert (row["negative_flips"], row["positive_flips"], row["new_errors"]) == (2, 1, 3)
    assert row["nfr"] == pytest.approx(2 / 6) and row["pfr"] == pytest.approx(1 / 6)
    assert row["nfi"] == pytest.approx(2 / 3)
    assert (row["nfr_low"], row["nfr_high"]) == pytest.approx(wilson_ci(2, 6))
    assert (row["nfi_low"], row["nfi_high"]) == pytest.approx(wilson_ci(2, 3))
    assert res.flipped_doc_ids == ["d1", "d4"]
    assert res.flipped.set_index("doc_id").loc["d2", "kind"] == "positive"
    assert set(res.to_dict()) >= {"table", "flipped", "flipped_doc_ids"}


def test_flips_pool_tasks_and_errors():
    scores = pd.concat(
        [_scores({"old": [1, 1, 0], "new": [0, 1, 1]}, "t1"),
         _scores({"old": [1, 0], "new": [0, 0]}, "t2")]
    )  # fmt: skip
    table = flips(scores, "old", "new").table.set_index("task")
    assert list(table.index) == ["t1", "t2", "(all)"]
    assert table.loc["(all)", "negative_flips"] == 2 and table.loc["(all)", "n"] == 5
    with pytest.raises(InputError, match="unknown model 'newer'"):
        flips(scores, "old", "newer")


def test_chosen_position_from_logprobs_when_missing():
    df = _samples()
    logprobs = np.full((len(df), 4), -5.0)
    logprobs[np.arange(len(df)), df["chosen_position"].to_numpy()] = -0.5
    imported = df.assign(chosen_position=np.nan, choice_logprobs=list(logprobs))
    res = position_bias(imported)
    assert res.chi2 == pytest.approx(7.6)
    assert list(res.table["chosen"]) == [10, 5, 3, 2]
