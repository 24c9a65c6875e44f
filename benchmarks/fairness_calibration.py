"""Calibration of the fairness and robustness tests by fixed-seed simulation.

* rm-ANOVA F test of a group effect (``assay.stats.fairness``): type-I error at α = 0.05 when
  groups do not matter (target 0.05), and power when one group is shifted.
* The paired interval of a perturbation's difference (``assay.stats.robustness``): coverage of
  the true shift (target 0.95) with 0/1 scores and with continuous scores.
* The noise floor of the per-axis gap (max − min of group means), which LLMBI sums: its mean
  under no bias, and its mean under a true gap of 0.10 (upward-biased by noise).

    python benchmarks/fairness_calibration.py [--reps 2000]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from assay.stats import fairness, robustness
from assay.stats._fairness import rm_anova


def probe_matrix(rng, n_probes: int, groups: int, shift: float) -> np.ndarray:
    """p(positive)-like scores: a probe effect, a group shift on group 0, noise; in [0, 1]."""
    probe = rng.normal(0.5, 0.15, size=(n_probes, 1))
    x = probe + rng.normal(0, 0.08, size=(n_probes, groups))
    x[:, 0] += shift
    return np.clip(x, 0, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=2000)
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    print("rm-ANOVA F test, 24 probes (alpha = 0.05)")
    for groups in (2, 5):
        null = np.mean([rm_anova(probe_matrix(rng, 24, groups, 0.0))[1] < 0.05
                        for _ in range(args.reps)])  # fmt: skip
        power = np.mean([rm_anova(probe_matrix(rng, 24, groups, 0.05))[1] < 0.05
                         for _ in range(args.reps)])  # fmt: skip
        print(f"  {groups} groups: type-I error {null:.3f} (target 0.050), "
              f"power at shift 0.05: {power:.3f}")  # fmt: skip

    print("paired interval of perturbed - clean, 100 documents (target coverage 0.95)")
    for kind in ("binary", "continuous"):
        hits = 0
        reps = max(args.reps // 4, 100)
        for _ in range(reps):
            p = rng.uniform(0.2, 0.9, 100)
            if kind == "binary":
                clean = (rng.random(100) < p).astype(float)
                pert = (rng.random(100) < p - 0.05).astype(float)
                truth = -0.05
            else:
                clean = p + rng.normal(0, 0.05, 100)
                pert = clean - 0.05 + rng.normal(0, 0.05, 100)
                truth = -0.05
            rows = pd.DataFrame({
                "model": "m", "task": ["t"] * 100 + ["t+typos"] * 100,
                "doc_id": [f"d{i}" for i in range(100)] * 2,
                "metric": "acc" if kind == "binary" else "p_correct",
                "value": np.concatenate([clean, pert]),
            })  # fmt: skip
            row = robustness(rows).table.iloc[0]
            hits += row["ci_low"] <= truth <= row["ci_high"]
        print(f"  {kind}: coverage {hits / reps:.3f} over {reps} runs (target 0.950)")

    print("per-axis gap (max - min group mean), 24 probes x 5 groups")
    for shift in (0.0, 0.10):
        gaps = []
        for _ in range(max(args.reps // 10, 50)):
            x = probe_matrix(rng, 24, 5, shift)
            rows = [{"model": "m", "task": "f", "doc_id": f"ax/sent{i:02d}/g{g}",
                     "metric": "p_correct", "value": x[i, g]}
                    for i in range(24) for g in range(5)]  # fmt: skip
            gaps.append(fairness(pd.DataFrame(rows)).axes["gap"].iloc[0])
        print(f"  true gap {shift:.2f}: mean measured gap {np.mean(gaps):.3f}")


if __name__ == "__main__":
    main()
