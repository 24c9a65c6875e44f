"""DIA reliability: hand-computed confidence index, near miss and reliability score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay.errors import InputError
from assay.stats import reliability


def _scores(table: dict[str, dict[str, list[float]]], cluster: dict[str, str] | None = None):
    rows = []
    for model, docs in table.items():
        for doc, values in docs.items():
            for r, v in enumerate(values):
                rows.append({"model": model, "task": "t", "run_id": model, "doc_id": doc,
                             "repeat": r, "template_id": "x", "difficulty": np.nan,
                             "cluster_id": (cluster or {}).get(doc), "metric": "acc",
                             "value": v})  # fmt: skip
    return pd.DataFrame(rows)


def test_hand_computed_table():
    # q1 all right, q2 one miss, q3 all wrong, q4 right-wrong-skipped
    s = _scores({"m": {"q1": [1, 1, 1], "q2": [1, 0, 1], "q3": [0, 0, 0], "q4": [1, 0, np.nan]}})
    row = reliability(s).table.iloc[0]
    assert row["questions"] == 4 and row["variants"] == 3
    assert row["all_right"] == 0.25 and row["all_right_count"] == 1
    assert row["near_miss"] == 0.25  # q2 (q4 has 1 right of 3)
    assert row["mean"] == pytest.approx((1 + 2 / 3 + 0 + 1 / 3) / 4)
    # RS per question: (3)/3, (2 − 2)/3, (−6)/3, (1 − 2)/3
    assert row["rs"] == pytest.approx(1 + 0 - 2 - 1 / 3)
    assert row["rs_mean"] == pytest.approx(row["rs"] / 4)
    assert row["skipped"] == 1
    assert row["all_right_low"] < 0.25 < row["all_right_high"]


def test_pairs_clusters_and_errors():
    rng = np.random.default_rng(0)
    strong = {f"q{i}": [1.0] * 4 if rng.random() < 0.8 else [1, 0, 1, 1] for i in range(80)}
    weak = {f"q{i}": list((rng.random(4) < 0.8).astype(float)) for i in range(80)}
    res = reliability(_scores({"strong": strong, "weak": weak}))
    t = res.table.set_index("model")
    # same mean accuracy (about 0.8-0.95) but far fewer all-right questions for the weak one
    assert t.loc["strong", "all_right"] > t.loc["weak", "all_right"] + 0.3
    pair = res.pairs.iloc[0]
    assert pair["diff"] > 0.3 and pair["p_adjusted"] < 0.001
    # by cluster: two docs of one template are one question with 2 + 2 variants
    s = _scores({"m": {"a": [1, 1], "b": [1, 0], "c": [1, 1], "d": [1, 1]}},
                cluster={"a": "T1", "b": "T1", "c": "T2", "d": "T2"})  # fmt: skip
    by_cluster = reliability(s, by="cluster").table.iloc[0]
    assert by_cluster["questions"] == 2 and by_cluster["all_right"] == 0.5
    assert by_cluster["variants"] == 4
    with pytest.raises(InputError, match="2 or more variants"):
        reliability(_scores({"m": {"a": [1.0], "b": [0.0]}}))
    with pytest.raises(InputError, match="by 'x'"):
        reliability(s, by="x")
