"""Adaptive testing: the error of the predicted full-benchmark score after k adaptively chosen
questions, against k random questions and tinyBenchmarks' published figure.

Simulated 2PL benchmarks of N items (N in {1000, 5000}; discrimination a = exp(N(0, 0.4²)),
difficulty b ~ N(0, 1.2²)). As in practice the item parameters are not known: 200 earlier
models (θ ~ N(0, 1)) answer every item and ``assay.stats.fit_irt_2pl`` estimates them; then
500 new models (θ ~ N(0, 1)) are tested with ``assay.stats.adaptive_test`` (the most
informative item at the current ability estimate, k items) using the *estimated* parameters
and the earlier answers they came from (``fitted_on=``: prior, shrunk discriminations and the
interval's calibration by refitting the items to simulated earlier answers).
The truth is each new model's mean over all N of its simulated answers (with their Bernoulli
noise, as a real full run). Printed: mean absolute error in points (100 × |predicted − true|)
of the adaptive prediction, of the same method given the true item parameters (what better
item estimates could reach), of the mean of k random items and of an oracle that knows θ
and the true parameters (the floor: the noise of the unasked answers), the 95 % interval's coverage,
and the targets: ≤ 1.5 points at k = 100 (tinyBenchmarks, Polo et al. 2024, report about 2
points at 100 items on real benchmarks), coverage 95 ± 2 %.

    python benchmarks/adaptive.py [--seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.special import expit

from assay.stats import adaptive_test, fit_irt_2pl

SIZES, KS, OLD, NEW = (1000, 5000), (50, 100), 200, 500


def _answers(rng, theta, a, b) -> np.ndarray:
    return (rng.random((theta.size, a.size)) < expit(a * (theta[:, None] - b))).astype(float)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    print(
        f"{OLD} earlier models fit the 2PL items; {NEW} new models tested adaptively with the "
        f"fitted parameters; seed {args.seed}"
    )
    head = (
        f"{'N':>5} {'k':>4} | {'adaptive MAE':>12} {'true items':>10} {'random MAE':>10} "
        f"{'oracle MAE':>10} | "
        f"{'coverage':>8} | targets"
    )
    print(head)
    print("-" * len(head))
    for n in SIZES:
        a, b = np.exp(rng.normal(0, 0.4, n)), rng.normal(0, 1.2, n)
        old = _answers(rng, rng.standard_normal(OLD), a, b)
        fit = fit_irt_2pl(old)
        a_hat, b_hat = fit.discrimination.to_numpy(), fit.difficulty.to_numpy()
        theta = rng.standard_normal(NEW)
        y = _answers(rng, theta, a, b)
        p_true = expit(a * (theta[:, None] - b))
        truth = y.mean(axis=1)
        for k in KS:
            res = adaptive_test(y, a_hat, b_hat, k=k, seed=args.seed, fitted_on=old)
            mae = 100 * np.abs(res.score - truth).mean()
            known = 100 * np.abs(adaptive_test(y, a, b, k=k, calibrate=0).score - truth).mean()
            picks = np.argsort(rng.random(y.shape), axis=1)[:, :k]
            rand = 100 * np.abs(np.take_along_axis(y, picks, 1).mean(axis=1) - truth).mean()
            asked = ~np.isnan(res.responses)  # the oracle knows θ and the true a, b
            oracle = (np.nansum(res.responses, axis=1) + (~asked * p_true).sum(axis=1)) / n
            floor = 100 * np.abs(oracle - truth).mean()
            cover = float(((res.score_low <= truth) & (truth <= res.score_high)).mean())
            targets = [f"coverage {cover:.3f} in 0.95 ± 0.02 {_mark(abs(cover - 0.95) <= 0.02)}"]
            if k == 100:
                targets.insert(0, f"MAE {mae:.2f} ≤ 1.5 points {_mark(mae <= 1.5)} (tiny ~2)")
            print(
                f"{n:5d} {k:4d} | {mae:12.2f} {known:10.2f} {rand:10.2f} {floor:10.2f} | "
                f"{cover:8.3f} | " + "; ".join(targets)
            )
    print(
        "MAE: mean absolute error of the predicted full-benchmark mean, in points; true items: "
        "the same method with the true a, b (no estimation error); random: the "
        "mean of k random items; oracle: the same items with θ and the true a, b known (the "
        "noise of the unasked answers alone); coverage: share of true means inside the 95 % interval."
    )


def _mark(ok: bool) -> str:
    return "ok" if ok else "MISS"


if __name__ == "__main__":
    main()
