"""Paired calibration comparison (an outside audit): the plug-in ECE difference is biased
towards 0, so its percentile interval missed a true −0.06; the comparison reports the debiased
ECE difference, p-values are never 0, and the level is carried."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay.stats import calibration, compare_calibration

N, K = 600, 4


def _pair(rng: np.random.Generator, gap_b: float) -> pd.DataFrame:
    """A calibrated (y ~ Bern(p̂)) and B with y ~ Bern(p̂ + gap_b), same confidences."""
    rows = []
    for model, gap in (("A", 0.0), ("B", gap_b)):
        p = rng.uniform(0.35, 0.99, N)
        y = (rng.random(N) < p + gap).astype(float)
        ll = np.log(np.column_stack([p] + [(1 - p) / (K - 1)] * (K - 1)))
        rows.append(
            pd.DataFrame(
                {
                    "model": model,
                    "task": "mc",
                    "doc_id": [f"d{i}" for i in range(N)],
                    "cluster_id": None,
                    "choice_logprobs": list(ll),
                    "chosen_position": 0,
                    "metric.acc": y,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_debiased_ece_difference_is_closer_to_the_truth_and_covers_more():
    # true binned ECE difference A − B = 0 − 0.06; the old percentile interval of plug-in
    # differences covered it in about a third of runs (mean plug-in difference ≈ −0.023 here)
    rng = np.random.default_rng(11)
    runs, cover_ece, cover_ce2, plug, deb = 30, 0, 0, [], []
    for r in range(runs):
        df = _pair(rng, -0.06)
        t = compare_calibration(df, "A", "B", n_resamples=400, seed=r).table.set_index("measure")
        row = t.loc["ece_debiased"]
        cover_ece += row["ci_low"] <= -0.06 <= row["ci_high"]
        cover_ce2 += t.loc["ce2_debiased", "ci_low"] <= -0.06 <= t.loc["ce2_debiased", "ci_high"]
        deb.append(row["diff"])
        one = calibration(df, n_resamples=0).table.set_index("model")["ece"]
        plug.append(one["A"] - one["B"])
    assert "ece" not in t.index  # the biased plug-in difference is not offered
    assert abs(np.mean(deb) + 0.06) < abs(np.mean(plug) + 0.06) - 0.01
    # seeded: 25/30 and 26/30 here (0.875 / 0.95 in the audit's 200 runs) — below 95% for
    # the ECE, as docs/stats.md and the result's interval_note say
    assert cover_ece / runs >= 0.8 and cover_ce2 / runs >= 0.8


def test_pvalue_is_never_zero_and_level_is_kept():
    df = _pair(np.random.default_rng(2), -0.3)
    res = compare_calibration(df, "A", "B", n_resamples=199, confidence=0.9)
    t = res.table.set_index("measure")
    # every resample puts B's Brier above A's: p = 2·(1 + 0)/(1 + 199), not 0
    assert t.loc["brier", "pvalue"] == pytest.approx(2 / 200)
    assert (res.table["pvalue"] > 0).all()
    assert res.confidence_level == pytest.approx(0.9)
    assert "88%" in res.interval_note and "below its level" in res.interval_note
    # basic interval for the MCE: 2·diff − the resamples' quantiles, so diff lies inside
    assert t.loc["mce", "ci_low"] <= t.loc["mce", "diff"] <= t.loc["mce", "ci_high"]
