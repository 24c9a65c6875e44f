"""Adaptive testing: what else could lower the error at 100 items — item-selection rules, item
estimates and an ideal design, against the method and the floor.

The simulation of ``benchmarks/adaptive.py`` (2PL items a = exp(N(0, 0.4²)), b ~ N(0, 1.2²);
items fitted on 200 earlier models; 500 new models θ ~ N(0, 1); the truth is each new model's
mean over all N simulated answers), the same seeds' benchmarks. Every row predicts the score
as the method does — the posterior expectation of the full-benchmark mean (answers given +
E[Σ p_j(θ)] of the unasked items over the ability's posterior) — and differs in the items
used or how the next question is chosen:

- method: fitted items (discriminations shrunk by empirical Bayes), the largest Fisher
  information a²p(1 − p) at the posterior-mean ability (``adaptive_test(fitted_on=...)``);
- fitted, raw a: the same without the shrinkage of the discriminations;
- fitted, score variance: the item that most lowers the linearised posterior variance of the
  predicted score, (D − a_j p_j q_j)² / (1/V + a_j² p_j q_j) − p_j q_j with V the ability's
  posterior variance and D = Σ_unasked a p q (weighs what an item tells about the unasked
  items' total and removes its own Bernoulli variance);
- true items: the method given the true a, b (what better item estimates could reach);
- true, posterior information: information averaged over the ability's posterior;
- true, score variance: as above with the true items;
- true, ideal design: the items chosen at the TRUE ability (no method can), the prediction as
  the method's — so no selection rule can do much better than this row;
- floor: any method that sees k items (θ and the items known; the noise of the unasked answers).

Printed: MAE in points, mean ± SE over the seeds, and the mean paired difference to the method.

    python benchmarks/adaptive_limits.py [--seeds 0 1 2 3] [--size 1000] [--k 100]
"""

from __future__ import annotations

import argparse

import numpy as np
from adaptive import NEW, OLD, answers, bank, floor
from scipy.special import expit

from assay.stats import fit_irt_2pl
from assay.stats._adaptive import GRID, _cat, _from_fit, _Items, _predict


def _score_variance(it: _Items):
    def select(w, rows, asked):
        theta = w @ GRID
        var = np.maximum(w @ GRID**2 - theta**2, 1e-9)
        p = expit(it.a * (theta[:, None] - it.b))
        pq = p * (1 - p)
        apq = it.a * pq
        d = np.where(asked, 0.0, apq).sum(axis=1, keepdims=True)
        return -((d - apq) ** 2 / (1 / var[:, None] + it.a**2 * pq) - pq)

    return select


def _posterior_information(it: _Items):
    prob = expit(it.a * (GRID[:, None] - it.b))
    info = it.a**2 * prob * (1 - prob)  # grid × items
    return lambda w, rows, asked: w @ info


def _ideal(theta: np.ndarray, a: np.ndarray, b: np.ndarray):
    p = expit(a * (theta[:, None] - b))
    info = a**2 * p * (1 - p)
    return lambda w, rows, asked: info[rows]


def one(n: int, k: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng([seed, n])  # the benchmarks of benchmarks/adaptive.py
    a, b = bank(rng, n)
    old = answers(rng, rng.standard_normal(OLD), a, b)
    fit = fit_irt_2pl(old)
    a_hat, b_hat = fit.discrimination.to_numpy(), fit.difficulty.to_numpy()
    theta = rng.standard_normal(NEW)
    y = answers(rng, theta, a, b)
    truth = y.mean(axis=1)
    fitted = _from_fit(old, a_hat, b_hat)
    true = _Items(a, b)
    rows = {
        "method": (fitted, None),
        "fitted, raw a": (_Items(a_hat, b_hat, fitted.mean, fitted.sd), None),
        "fitted, score variance": (fitted, _score_variance(fitted)),
        "true items": (true, None),
        "true, posterior information": (true, _posterior_information(true)),
        "true, score variance": (true, _score_variance(true)),
        "true, ideal design": (true, _ideal(theta, a, b)),
    }
    out = {}
    for name, (it, select) in rows.items():
        _, asked, resp, w, prob = _cat(lambda r, c: y[r, c], NEW, it, k, None, select)
        out[name] = 100 * np.abs(_predict(asked, resp, w, prob)[0] - truth).mean()
    out["floor"] = 100 * np.abs(floor(y, expit(a * (theta[:, None] - b)), k) - truth).mean()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--k", type=int, default=100)
    args = ap.parse_args()
    runs = [one(args.size, args.k, s) for s in args.seeds]
    m = len(runs)
    print(
        f"N = {args.size} items, k = {args.k}; items fitted on {OLD} earlier models; {NEW} new "
        f"models; seeds {' '.join(map(str, args.seeds))}; MAE in points, mean ± SE over seeds"
    )
    print(f"{'':30s} {'MAE':>13} {'− method':>14}")
    base = np.array([r["method"] for r in runs])
    for name in runs[0]:
        v = np.array([r[name] for r in runs])
        se = v.std(ddof=1) / np.sqrt(m) if m > 1 else 0.0
        d = v - base
        dse = d.std(ddof=1) / np.sqrt(m) if m > 1 else 0.0
        print(f"{name:30s} {v.mean():6.2f} ± {se:4.2f} {d.mean():+7.2f} ± {dse:4.2f}")
    print("target: MAE ≤ 1.5 points at k = 100 (tinyBenchmarks ~2 on real benchmarks)")


if __name__ == "__main__":
    main()
