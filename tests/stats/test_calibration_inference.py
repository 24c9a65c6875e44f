"""Calibration inference: the consistency-resampling test against exact binomial answers, the
ECE / CE₂ intervals on seeded simulations (a calibrated model's include 0, a miscalibrated
one's cover the population value), "too few" answers, diagram bins chosen by n, the level."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from assay.stats import calibration, calibration_scores


def test_pvalues_match_the_exact_binomial_null():
    # one bin of 10 answers at confidence 0.8, all right: ECE = 0.2; under calibration the
    # number right k ~ Binomial(10, 0.8) and ECE* = |k/10 − 0.8| ≥ 0.2 iff k ≤ 6 or k = 10
    r = calibration_scores([0.8] * 10, [1] * 10, n_bins=1, n_resamples=20_000, seed=4)
    exact = binom.cdf(6, 10, 0.8) + binom.pmf(10, 10, 0.8)
    assert r["ece"] == pytest.approx(0.2)
    assert r["ece_pvalue"] == pytest.approx(exact, abs=0.01)
    # unclipped debiased CE₂² = (k/10 − 0.8)² − (k/10)(1 − k/10)/9, here 0.04: enumerate k
    k = np.arange(11)
    u = (k / 10 - 0.8) ** 2 - (k / 10) * (1 - k / 10) / 9
    exact_u = binom.pmf(k, 10, 0.8)[u >= 0.04 - 1e-12].sum()
    assert r["ce2_debiased_pvalue"] == pytest.approx(exact_u, abs=0.01)
    # a confident miss: ECE* ≥ 0.9 only when the answer is wrong under the null (p = 0.1)
    one = calibration_scores([0.9], [0], n_bins=1, n_resamples=20_000, seed=1)
    assert one["ece_pvalue"] == pytest.approx(0.1, abs=0.01)


def _data(rng, n, shift):
    c = rng.uniform(0.35, 1.0, n)
    return c, (rng.random(n) < c - shift).astype(float)


def _run(n, shift, reps, seed):
    rng = np.random.default_rng(seed)
    rows = [calibration_scores(*_data(rng, n, shift), n_resamples=400, seed=i) for i in range(reps)]
    return pd.DataFrame(rows)


def test_calibrated_model_intervals_include_zero_and_test_holds_its_level():
    t = _run(500, 0.0, 40, seed=11)
    for k in ("ece", "ce2_debiased"):
        assert np.mean(t[f"{k}_pvalue"] <= 0.05) <= 0.15
        assert np.mean(t[f"{k}_low"] <= 0) >= 0.85
        assert (t[f"{k}_high"] > t[f"{k}_low"]).all()  # never a point
    # the debiased ECE removes most of the plug-in's noise (plug-in ≈ 0.06 at n = 500)
    assert t["ece"].mean() > 0.05 and t["ece_debiased"].mean() < 0.035


def test_miscalibrated_model_intervals_cover_and_test_detects():
    # overconfident by 0.06 everywhere: the population ECE and CE₂ (any binning) are 0.06
    t = _run(2000, 0.06, 30, seed=12)
    for k in ("ece", "ce2_debiased"):
        cover = (t[f"{k}_low"] <= 0.06) & (t[f"{k}_high"] >= 0.06)
        assert cover.mean() >= 0.83
        assert np.mean(t[f"{k}_pvalue"] <= 0.05) >= 0.8
        assert (t[f"{k}_high"] - t[f"{k}_low"]).mean() < 0.07  # informative, not [0, 1]
    assert t["ece_debiased"].mean() == pytest.approx(0.06, abs=0.006)


def _rows(n, seed=0):
    rng = np.random.default_rng(seed)
    c, y = _data(rng, n, 0.0)
    return pd.DataFrame(
        {"model": "m", "task": "t", "doc_id": [f"d{i}" for i in range(n)], "cluster_id": None,
         "choice_logprobs": list(np.log(np.c_[c, 1 - c])), "chosen_position": 0,
         "metric.acc": y}
    )  # fmt: skip


def test_too_few_answers_get_a_note_and_the_whole_range():
    r = calibration_scores([0.694] * 3, [1, 1, 1], n_bins=15, n_resamples=200)
    assert "too few" in r["interval_note"]
    assert (r["ece_low"], r["ece_high"]) == (0.0, 1.0)
    assert (r["ce2_debiased_low"], r["ce2_debiased_high"]) == (0.0, 1.0)
    res = calibration(_rows(12), n_resamples=200)
    assert "too few" in res.table.loc[0, "interval_note"]
    assert res.table.loc[0, "ece_high"] > res.table.loc[0, "ece_low"]


def test_reliability_diagram_bins_hold_at_least_ten_answers():
    for n, expected in ((20, 2), (95, 9), (5, 1), (3000, 15)):
        bins = calibration(_rows(n), n_resamples=0).bins
        assert len(bins) == expected and bins["n"].sum() == n and bins["n"].min() >= min(10, n)


def test_every_group_gets_pvalues_and_the_level_is_used():
    both = pd.concat([_rows(300, 1), _rows(300, 2).assign(model="k")], ignore_index=True)
    res = calibration(both, alpha=0.1, n_resamples=300)
    assert res.confidence_level == pytest.approx(0.9)
    t = res.table
    assert len(t) == 2 and t[["ece_pvalue", "ce2_debiased_pvalue"]].notna().all().all()
    assert ((t["ece_pvalue"] > 0) & (t["ece_pvalue"] <= 1)).all()
    wide = calibration(both, alpha=0.01, n_resamples=300).table
    assert ((wide["ece_high"] - wide["ece_low"]) > (t["ece_high"] - t["ece_low"])).all()


def test_report_panel_uses_the_level_it_is_given():
    from assay.core import Settings
    from assay.report._helm_panels import calibration_panel

    panel = calibration_panel(_rows(200), {"t": "acc"}, Settings(0.9, resamples=100))
    assert panel.results["calibration"].confidence_level == pytest.approx(0.9)
    table = next(i for i in panel.items if i["kind"] == "table")
    assert "ECE [90%]" in table["columns"] and "p (calibrated)" in table["columns"]
