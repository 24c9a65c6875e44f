"""Calibration measures against scikit-learn and against known truth, bootstrap coverage, and
the speed of the HELM-column functions.

1. Peer: scikit-learn's ``brier_score_loss`` and ``calibration_curve(strategy="quantile")``
   (equal-mass bins) on the same answers: max |difference| (target: < 1e-12 for Brier, and the
   same bins up to ties at the bin edges).
2. Known truth: confidences c ~ U(0.35, 1), right with probability c − δ. For δ = 0 (calibrated)
   the true calibration error is 0; for δ = 0.1 both the true ECE (L1) and CE₂ (L2) are 0.1.
   Mean of each estimator over ``--reps`` data sets per n, beside the truth.
3. Coverage of the 95% document-bootstrap interval of the ECE (δ = 0.1, 0.05; target 95%):
   the plain percentile interval against the basic one. (assay now reports the bias-corrected
   outcome-resampling interval instead: benchmarks/calibration_coverage.py.)
4. Speed: calibration (1000 resamples) and efficiency on 100k samples.

    python benchmarks/helm_calibration.py [--reps 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

from assay.stats import calibration, calibration_scores, efficiency
from assay.stats._calibration import _intervals, _Prepared


def _data(rng: np.random.Generator, n: int, delta: float):
    c = rng.uniform(0.35, 1.0, n)
    y = (rng.random(n) < c - delta).astype(float)
    return c, y


def peer(rng: np.random.Generator) -> None:
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    c, y = _data(rng, 5000, 0.05)
    ours = calibration_scores(c, y, n_bins=10)
    brier = brier_score_loss(y, c)
    frac, mean_pred = calibration_curve(y, c, n_bins=10, strategy="quantile")
    pts = pd.DataFrame(
        {"model": "m", "task": "t", "doc_id": np.arange(c.size).astype(str), "cluster_id": None,
         "choice_logprobs": list(np.log(np.c_[c, 1 - c])), "chosen_position": 0,
         "metric.acc": y}
    )  # fmt: skip
    bins = calibration(pts, n_bins=10, n_resamples=0).bins
    print("1. peer: scikit-learn 1.x on 5000 answers, 10 equal-mass bins")
    print(f"   Brier      assay {ours['brier']:.12f}  sklearn {brier:.12f}  "
          f"|diff| {abs(ours['brier'] - brier):.1e}  (target < 1e-12)")  # fmt: skip
    print(f"   bin accuracy   max |diff| {np.max(np.abs(bins['accuracy'] - frac)):.1e}")
    print(f"   bin confidence max |diff| {np.max(np.abs(bins['confidence'] - mean_pred)):.1e}")


def truth(rng: np.random.Generator, reps: int) -> None:
    print(f"\n2. estimators vs truth (mean over {reps} data sets, 15 equal-mass bins)")
    print("   delta  n      true  ECE(plug-in)  CE2(plug-in)  CE2(debiased)")
    for delta in (0.0, 0.1):
        for n in (200, 1000, 5000):
            est = [calibration_scores(*_data(rng, n, delta)) for _ in range(reps)]
            m = {k: np.mean([e[k] for e in est]) for k in ("ece", "ce2", "ce2_debiased")}
            print(f"   {delta:<5}  {n:<5}  {delta:.3f}  {m['ece']:.4f}        "
                  f"{m['ce2']:.4f}        {m['ce2_debiased']:.4f}")  # fmt: skip


def coverage(rng: np.random.Generator, reps: int) -> None:
    print(f"\n3. 95% bootstrap interval of the ECE ({reps} data sets, 300 resamples; target 0.95)")
    print("   delta  n      percentile  basic")
    for delta in (0.1, 0.05):
        for n in (200, 500, 2000):
            hits = np.zeros(2)
            for _ in range(reps):
                c, y = _data(rng, n, delta)
                pts = pd.DataFrame({"confidence": c, "correct": y, "cluster_id": None,
                                    "doc_id": np.arange(n).astype(str)})  # fmt: skip
                prep = _Prepared(pts, 15)
                est = prep.measures(np.ones((1, n)))
                boot = prep.boot(np.random.default_rng(int(rng.integers(1e9))), 300)
                lo, hi = np.quantile(boot["ece"], [0.025, 0.975])
                ours = _intervals({k: v[0] for k, v in est.items()}, boot, 0.05)
                hits += [lo <= delta <= hi, ours["ece_low"] <= delta <= ours["ece_high"]]
            print(f"   {delta:<5}  {n:<5}  {hits[0] / reps:.3f}       {hits[1] / reps:.3f}")


def speed(rng: np.random.Generator) -> None:
    n = 100_000
    ll = rng.normal(0, 1.5, (n, 4))
    p = np.exp(ll) / np.exp(ll).sum(1, keepdims=True)
    right = rng.random(n) < p.max(1)
    df = pd.DataFrame(
        {"model": "m", "task": "t", "doc_id": np.arange(n).astype(str), "cluster_id": None,
         "choice_logprobs": list(ll), "chosen_position": np.nan, "metric.acc": right * 1.0,
         "input_tokens": rng.integers(10, 500, n), "output_tokens": rng.integers(0, 50, n),
         "latency_s": rng.gamma(2, 0.05, n),
         "extra": [json.dumps({"batch": f"b{i // 32}", "batch_seconds": 1.0, "runtime": "x"})
                   for i in range(n)]}
    )  # fmt: skip
    t0, c0 = time.perf_counter(), time.process_time()
    calibration(df, n_resamples=1000)
    t1, c1 = time.perf_counter(), time.process_time()
    efficiency(df)
    t2, c2 = time.perf_counter(), time.process_time()
    print(f"\n4. speed on {n:,} samples (CPU s, wall s on a shared machine): calibration with 1000 "
          f"resamples {c1 - c0:.1f} CPU s ({t1 - t0:.1f} wall), efficiency {c2 - c1:.2f} CPU s "
          f"({t2 - t1:.2f} wall)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    peer(rng)
    truth(rng, args.reps)
    coverage(rng, args.reps)
    speed(rng)


if __name__ == "__main__":
    main()
