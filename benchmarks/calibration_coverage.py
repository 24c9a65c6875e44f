"""Calibration inference on simulated data sets: does the test hold its level, do the ECE and CE₂
intervals include 0 for a calibrated model and cover the population value of a miscalibrated one?

Confidences p̂ ~ U(0.35, 1); outcomes y ~ Bernoulli(q(p̂)) with

* calibrated:          q = p̂ (population ECE = CE₂ = 0);
* shift (miscal.):     q = p̂ − 0.06 (overconfident by 0.06 everywhere: ECE = CE₂ = 0.06);
* slope (miscal.):     q = p̂ − 0.12·(p̂ − 0.35)/0.65 (gap 0 → −0.12: ECE 0.060, CE₂ 0.069);
* crossing (miscal.):  q = p̂ + 0.2·(0.675 − p̂)/0.65 (under- then overconfident: ECE ≈ 0.05).

The population value is the binned error over the same 15 equal-mass bins placed at the
population quantiles of p̂: ECE = Σ_b (1/B)|E[q(p̂) − p̂ | bin b]|, CE₂ = √(Σ_b (1/B)(…)²),
computed on 10⁶ confidences. Each data set runs ``stats.calibration_scores`` with the defaults
(α = 0.05, 15 bins, 1000 resamples) and records, for ECE and CE₂: the test's rejection
(p ≤ α), whether the interval includes 0, and whether it covers the population value.

Targets: calibrated — rejection ≤ 0.08 and 0 included ≥ 0.92; miscalibrated — coverage
0.92–0.98 at n = 500 and 2000, and rejection (power) ≥ 0.80 at n = 2000.

    python benchmarks/calibration_coverage.py [--reps 200] [--seed 0] [--designs shift,slope]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from assay.stats import calibration_scores

DESIGNS = {
    "calibrated": lambda c: c,
    "shift": lambda c: c - 0.06,
    "slope": lambda c: c - 0.12 * (c - 0.35) / 0.65,
    "crossing": lambda c: c + 0.2 * (0.675 - c) / 0.65,
}
N_BINS = 15


def population(q, n_bins: int = N_BINS) -> tuple[float, float]:
    """Binned ECE and CE₂ of the population (equal-mass bins at the quantiles of p̂)."""
    c = np.sort(np.random.default_rng(12345).uniform(0.35, 1.0, 1_000_000))
    gap = np.array([np.mean(q(b) - b) for b in np.array_split(c, n_bins)])
    return float(np.mean(np.abs(gap))), float(np.sqrt(np.mean(gap**2)))


def simulate(design: str, n: int, reps: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per data set: rejection, 0 included and truth covered, for ECE and CE₂."""
    q = DESIGNS[design]
    truth = dict(zip(("ece", "ce2_debiased"), population(q), strict=True))
    out = {f"{k}_{m}": np.zeros(reps, bool) for k in truth for m in ("reject", "zero", "cover")}
    for i in range(reps):
        c = rng.uniform(0.35, 1.0, n)
        y = (rng.random(n) < np.clip(q(c), 0, 1)).astype(float)
        r = calibration_scores(c, y, n_resamples=1000, seed=int(rng.integers(2**31)))
        for k, t in truth.items():
            lo, hi = r[f"{k}_low"], r[f"{k}_high"]
            out[f"{k}_reject"][i] = r[f"{k}_pvalue"] <= 0.05
            out[f"{k}_zero"][i] = lo <= 0.0
            out[f"{k}_cover"][i] = lo <= t <= hi
    return out | {"truth": np.array(list(truth.values()))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--designs", default="calibrated,shift,slope")
    ap.add_argument("--sizes", default="500,2000")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    print(f"{args.reps} data sets per row; 15 equal-mass bins, 1000 resamples, alpha = 0.05")
    print("design      n     measure  truth   reject  target    0-incl  target  cover  target")
    for design in args.designs.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            res = simulate(design, n, args.reps, rng)
            for j, (k, label) in enumerate((("ece", "ECE"), ("ce2_debiased", "CE2"))):
                rej, zero, cover = (res[f"{k}_{m}"].mean() for m in ("reject", "zero", "cover"))
                if design == "calibrated":
                    targets = ("<= 0.08", ">= 0.92", ">= 0.92")
                else:
                    targets = (">= 0.80" if n >= 2000 else "   -   ", "   -   ", "0.92-0.98")
                print(f"{design:<10}  {n:<5} {label:<7}  {res['truth'][j]:.3f}   {rej:.3f}   "
                      f"{targets[0]}   {zero:.3f}   {targets[1]} {cover:.3f}  {targets[2]}")  # fmt: skip
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
