"""Calibration: hand-computed ECE/MCE/Brier/AURC, the debiased estimator, softmax confidence
from stored log-likelihoods (lm-eval style rows), bootstrap intervals and paired comparisons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay.errors import InputError
from assay.stats import calibration, calibration_points, calibration_scores, compare_calibration


def test_hand_computed_table():
    # sorted confidences 0.6 0.7 | 0.8 0.9 → bins (p̄, ȳ) = (0.65, 0.5), (0.85, 0.5)
    r = calibration_scores([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0], n_bins=2)
    assert r["ece"] == pytest.approx(0.5 * 0.15 + 0.5 * 0.35)  # 0.25
    assert r["mce"] == pytest.approx(0.35)
    assert r["ce2"] == pytest.approx(np.sqrt(0.5 * 0.15**2 + 0.5 * 0.35**2))
    # debiased: 0.5·(0.0225 − 0.25) + 0.5·(0.1225 − 0.25) < 0 → 0
    assert r["ce2_debiased"] == 0.0
    assert r["brier"] == pytest.approx((0.01 + 0.64 + 0.09 + 0.36) / 4)
    # Murphy: REL − RES + UNC + within-bin = Brier exactly
    assert r["reliability"] == pytest.approx(0.5 * 0.15**2 + 0.5 * 0.35**2)
    assert r["resolution"] == 0.0 and r["uncertainty"] == 0.25
    assert r["reliability"] - r["resolution"] + r["uncertainty"] + r["within_bin"] == pytest.approx(
        r["brier"]
    )
    # risks at coverage 1..4: 0, 1/2, 1/3, 1/2; oracle order: 0, 0, 1/3, 1/2
    assert r["aurc"] == pytest.approx((0 + 1 / 2 + 1 / 3 + 1 / 2) / 4)
    assert r["e_aurc"] == pytest.approx(r["aurc"] - (1 / 3 + 1 / 2) / 4)


def test_six_answers_three_bins():
    c = [0.2, 0.3, 0.5, 0.6, 0.95, 0.85]
    y = [0, 1, 1, 0, 1, 1]
    r = calibration_scores(c, y, n_bins=3)
    # bins by rank: {0.2, 0.3}, {0.5, 0.6}, {0.85, 0.95}: gaps 0.25−0.5, 0.55−0.5, 0.9−1
    assert r["ece"] == pytest.approx((0.25 + 0.05 + 0.1) / 3)
    assert r["mce"] == pytest.approx(0.25)


def test_debiased_estimate_removes_binning_noise():
    rng = np.random.default_rng(3)
    c = rng.uniform(0.3, 1.0, 4000)
    y = (rng.random(4000) < c).astype(float)  # perfectly calibrated
    r = calibration_scores(c, y, n_bins=15)
    assert 0.005 < r["ce2"] < 0.04  # the plug-in sees noise
    assert r["ce2_debiased"] < r["ce2"] / 2
    over = np.clip(c + 0.15, 0, 1)  # overconfident by 0.15
    r2 = calibration_scores(over, y, n_bins=15, n_resamples=300)
    assert r2["ece"] == pytest.approx(0.15 - np.mean(c + 0.15 > 1) * 0.05, abs=0.03)
    assert r2["ece_low"] < r2["ece"] < r2["ece_high"] and r2["ece_low"] > 0.1


def _samples(model: str, n: int, temperature: float, seed: int) -> pd.DataFrame:
    """lm-eval-like rows: choice log-likelihoods, no chosen_position, acc from the argmax.
    The answer is right with probability softmax(logits)[argmax] at temperature 1; the stored
    log-likelihoods are the logits / temperature (temperature < 1 → overconfident)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, (n, 4))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    top = p.argmax(1)
    right = rng.random(n) < p[np.arange(n), top]
    return pd.DataFrame(
        {
            "model": model,
            "task": "mc",
            "doc_id": [f"d{i}" for i in range(n)],
            "cluster_id": None,
            "choice_logprobs": list(logits / temperature),
            "chosen_position": np.nan,
            "metric.acc": right.astype(float),
        }
    )


def test_calibration_from_logprobs_and_paired_difference():
    good = _samples("good", 1500, 1.0, 1)
    over = _samples("over", 1500, 0.4, 1)  # same answers, sharper probabilities
    pts = calibration_points(good)
    ll = np.vstack(good["choice_logprobs"])
    expected = np.exp(ll).max(1) / np.exp(ll).sum(1)
    assert np.allclose(pts["confidence"], expected)
    res = calibration(pd.concat([good, over]), n_resamples=300)
    t = res.table.set_index("model")
    assert t.loc["good", "ece"] < 0.05 < 0.1 < t.loc["over", "ece"]
    assert t.loc["good", "accuracy"] == t.loc["over", "accuracy"]
    assert t.loc["over", "ece_low"] > t.loc["good", "ece_high"]
    assert set(res.bins["model"]) == {"good", "over"} and res.bins["n"].sum() == 3000
    curve = res.risk_coverage[res.risk_coverage["model"] == "good"]
    assert curve["selective_accuracy"].iloc[0] > curve["selective_accuracy"].iloc[-1]
    cmp = compare_calibration(pd.concat([good, over]), "over", "good", n_resamples=500)
    ece = cmp.table.set_index("measure").loc["ece_debiased"]
    assert ece["diff"] > 0.05 and ece["ci_low"] > 0 and ece["pvalue"] < 0.01
    aurc = cmp.table.set_index("measure").loc["aurc"]  # nearly the same ranking: no AURC gap
    assert abs(aurc["diff"]) < 0.02 and aurc["ci_low"] < 0 < aurc["ci_high"]


def test_bad_inputs():
    s = _samples("m", 10, 1.0, 0)
    with pytest.raises(InputError, match="metric.acc_norm"):
        calibration(s, metric="acc_norm")
    with pytest.raises(InputError, match="not binary"):
        calibration(s.assign(**{"metric.acc": 0.5}))
    with pytest.raises(InputError, match="no multiple-choice samples"):
        calibration(s.assign(choice_logprobs=None))
    with pytest.raises(InputError, match="n_bins"):
        calibration_scores([0.5], [1], n_bins=0)
    with pytest.raises(InputError, match="unknown model"):
        compare_calibration(s, "m", "zz")


def test_imported_lm_eval_run_is_calibrated_from_its_logprobs(tmp_path):
    from lm_eval_files import write_lm_eval_output

    from assay.store import import_lm_eval, open_store

    _, truth = write_lm_eval_output(tmp_path / "out", n_docs=30)
    store = open_store(tmp_path / "s.duckdb")
    import_lm_eval(store, tmp_path / "out")
    samples = store.samples()
    pts = calibration_points(samples).set_index("doc_id")
    for doc_id, (logprobs, acc, *_rest) in truth.items():
        p = np.exp(logprobs) / np.exp(logprobs).sum()
        assert pts.loc[doc_id, "confidence"] == pytest.approx(p.max())
        assert pts.loc[doc_id, "correct"] == acc
    res = calibration(samples, n_bins=5, n_resamples=100)
    row = res.table.iloc[0]
    c, y = pts["confidence"].to_numpy(), pts["correct"].to_numpy()
    assert row["n"] == 30 and row["brier"] == pytest.approx(np.mean((c - y) ** 2))
    assert row["ece"] == pytest.approx(calibration_scores(c, y, n_bins=5)["ece"])
