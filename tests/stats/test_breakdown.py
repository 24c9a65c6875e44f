"""Breakdown: group means with intervals, the permutation test that groups differ, binning of
a continuous difficulty, fields from extra JSON, user CSV groups and paired model gaps."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from assay.errors import InputError
from assay.stats import breakdown, document_groups, read_groups


def _scores(rates: dict[str, dict[float, float]], n: int = 60, seed: int = 0) -> pd.DataFrame:
    """Binary acc per model with accuracy rates[model][difficulty] on n docs per level."""
    rng = np.random.default_rng(seed)
    rows = []
    for model, by_level in rates.items():
        for level, p in by_level.items():
            values = (rng.random(n) < p).astype(float)
            for i, v in enumerate(values):
                rows.append({"model": model, "task": "t", "run_id": model,
                             "doc_id": f"L{level}-{i}", "repeat": 0, "template_id": "x",
                             "cluster_id": None, "difficulty": level, "metric": "acc",
                             "value": v})  # fmt: skip
    return pd.DataFrame(rows)


def test_group_means_and_real_gap():
    s = _scores({"m": {1: 0.9, 2: 0.6, 3: 0.2}, "flat": {1: 0.5, 2: 0.5, 3: 0.5}})
    res = breakdown(s, "difficulty", n_permutations=2000)
    g = res.groups.set_index(["model", "group"])
    sub = s[(s["model"] == "m") & (s["difficulty"] == 2)]
    assert g.loc[("m", "2"), "mean"] == pytest.approx(sub["value"].mean())
    assert g.loc[("m", "2"), "n"] == 60 and g.loc[("m", "2"), "method"] == "wilson"
    t = res.tests.set_index("model")
    assert t.loc["m", "p_adjusted"] < 0.01 and t.loc["m", "best_group"] == "1"
    assert t.loc["m", "worst_group"] == "3" and t.loc["m", "gap_low"] > 0.4
    assert t.loc["flat", "pvalue"] > 0.05
    # Holm over the two tests: the larger p is max(2·p_min, p_max)
    p = np.sort(t["pvalue"].to_numpy())
    assert t["p_adjusted"].max() == pytest.approx(max(2 * p[0], p[1]))


def test_continuous_difficulty_is_binned_and_pairs():
    s = _scores({"a": {1: 0.9, 2: 0.7}, "b": {1: 0.5, 2: 0.7}})
    rng = np.random.default_rng(1)
    s["difficulty"] = s["difficulty"] + rng.uniform(0, 0.5, len(s)).round(3)
    docs = s.drop_duplicates("doc_id")
    s["difficulty"] = s["doc_id"].map(docs.set_index("doc_id")["difficulty"])
    res = breakdown(s, "difficulty", n_bins=4, pair=("a", "b"), n_permutations=200)
    assert res.groups["group"].nunique() == 4
    assert all(str(x).startswith("[") for x in res.groups["group"])
    assert res.groups.groupby("model")["n"].sum().tolist() == [120, 120]
    assert len(res.pairs) == 4 and res.pairs["p_adjusted"].ge(res.pairs["pvalue"]).all()


def test_groups_from_extra_and_csv(tmp_path):
    s = _scores({"m": {1: 0.9, 2: 0.3}})
    samples = pd.DataFrame(
        {"task": "t", "doc_id": s["doc_id"],
         "extra": [json.dumps({"subject": "bio" if d.startswith("L1") else "law"})
                   for d in s["doc_id"]]}
    )  # fmt: skip
    groups = document_groups(samples, "subject")
    res = breakdown(s, "subject", groups=groups, n_permutations=500)
    assert set(res.groups["group"]) == {"bio", "law"}
    assert res.tests.iloc[0]["best_group"] == "bio"
    path = tmp_path / "g.csv"
    groups[["doc_id", "group"]].rename(columns={"group": "field"}).to_csv(path, index=False)
    again = breakdown(s, "field", groups=read_groups(path, "field"), n_permutations=500)
    assert again.groups["mean"].tolist() == res.groups["mean"].tolist()
    with pytest.raises(InputError, match="no document has a field 'nope'"):
        document_groups(samples, "nope")
    with pytest.raises(InputError, match="not a score column"):
        breakdown(s, "nope")
