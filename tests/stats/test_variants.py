"""``variant_differences``: each variant against the reference, with compare's p-values adjusted
over compare's family (every pair on every task), on hand-made answers with known counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from assay.errors import InputError
from assay.stats import compare, variant_differences

N = 100
#: docs each model gets right: ref 0–49; v1 0–39 and 50–69; v2 10–49.
RIGHT = {"ref": range(0, 50), "v1": [*range(0, 40), *range(50, 70)], "v2": range(10, 50)}


def answers(tasks=("t",), order=("ref", "v1", "v2")) -> pd.DataFrame:
    frames = []
    for task in tasks:
        for model in order:
            value = np.zeros(N)
            value[list(RIGHT[model])] = 1.0
            frames.append(
                pd.DataFrame(
                    {
                        "model": model,
                        "task": task,
                        "run_id": f"{model}-{task}",
                        "doc_id": [f"d{i:03d}" for i in range(N)],
                        "metric": "acc",
                        "value": value,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def mcnemar_p(b: int, c: int) -> float:
    """McNemar's χ² test (no continuity correction) on b and c discordant answers."""
    return float(sps.chi2.sf((b - c) ** 2 / (b + c), df=1))


def holm(p: list[float]) -> np.ndarray:
    """Holm's step-down adjustment written out: sorted p times m, m − 1, ..., running max."""
    p = np.asarray(p)
    order = np.argsort(p)
    m = len(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def test_differences_are_the_variants_minus_the_reference_with_the_full_family():
    res = variant_differences(answers(), models=["ref", "v1", "v2"])
    t = res.table.set_index("variant")
    assert res.reference == "ref" and list(t.index) == ["v1", "v2"]
    assert t.loc["v1", "diff"] == pytest.approx(0.10) and t.loc["v2", "diff"] == pytest.approx(
        -0.10
    )
    # answers only the variant got right / only the reference got right
    assert (t.loc["v1", "variant_only_right"], t.loc["v1", "reference_only_right"]) == (20, 10)
    assert (t.loc["v2", "variant_only_right"], t.loc["v2", "reference_only_right"]) == (0, 10)
    raw = {"v1": mcnemar_p(20, 10), "v2": mcnemar_p(0, 10), "v1-v2": mcnemar_p(30, 10)}
    assert t["p_value"].to_numpy() == pytest.approx([raw["v1"], raw["v2"]], rel=1e-9)
    # Holm over all three pairs (v1 − v2 too), not over the two shown: 0.00473, not 0.00315
    full = holm([raw["v1"], raw["v2"], raw["v1-v2"]])
    assert t["p_adjusted"].to_numpy() == pytest.approx(full[:2], rel=1e-9)
    assert t.loc["v2", "p_adjusted"] == pytest.approx(3 * raw["v2"], rel=1e-9)
    assert t.loc["v2", "p_adjusted"] != pytest.approx(holm([raw["v1"], raw["v2"]])[1])
    assert res.family.size == 3 and res.family.correction == "holm"
    assert res.family.statement == (
        "Holm-adjusted over 3 comparisons (every pair of 3 models on each of 1 task)"
    )
    assert res.headline == {"t": "acc"}


def test_numbers_are_compares_pairs_oriented():
    scores = answers(tasks=("t1", "t2"))
    comp = compare(scores, models=["v2", "ref", "v1"])
    res = variant_differences(scores, models=["v2", "ref", "v1"])
    assert res.reference == "v2" and res.family == comp.family and comp.family.size == 6
    shown = list(zip(res.table["task"], res.table["variant"], strict=True))
    assert shown == [("t1", "ref"), ("t1", "v1"), ("t2", "ref"), ("t2", "v1")]
    pairs = comp.pairs.set_index(["task", "model_a", "model_b"])
    for row in res.table.itertuples():
        pair = pairs.loc[(row.task, "v2", row.variant)]
        # compare's pair is v2 − variant: the difference and its interval change sign
        assert (row.diff, row.ci_low, row.ci_high) == pytest.approx(
            (-pair["diff"], -pair["ci_high"], -pair["ci_low"])
        )
        assert (row.p_value, row.p_adjusted) == (pair["p_value"], pair["p_adjusted"])
    assert res.table["ci_low"].lt(res.table["diff"]).all()


def test_reference_correction_and_errors():
    scores = answers(tasks=("t1", "t2"))
    res = variant_differences(scores, reference="v1", correction="bh")
    assert res.reference == "v1" and set(res.table["variant"]) == {"ref", "v2"}
    assert res.family.correction == "bh" and res.family.size == 6
    assert res.family.statement.startswith("Benjamini–Hochberg-adjusted over 6 comparisons")
    bh = compare(scores, correction="bh").pairs
    assert sorted(res.table["p_adjusted"]) == sorted(
        bh.loc[bh["model_a"].eq("v1") | bh["model_b"].eq("v1"), "p_adjusted"]
    )
    out = res.to_dict()
    assert out["family"]["size"] == 6 and len(out["differences"]) == 4
    assert variant_differences(scores, models=["ref"]).table.empty
    with pytest.raises(InputError, match="unknown reference 'nope'; available: ref, v1, v2"):
        variant_differences(scores, reference="nope")
