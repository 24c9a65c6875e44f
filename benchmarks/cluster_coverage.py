"""Coverage of the 95% interval of a mean of 0/1 scores, with and without clusters (issue 32).

Cells: n in {100, 500, 2000} questions x accuracy p in {0.05, 0.5, 0.95} x design: iid
(Wilson), clusters of 5, clusters of 20, 20 clusters (of n/20), and the issue's 20 clusters of
50 (n = 1000); designs with fewer than 5 clusters are left out. A cluster's accuracy is
Beta(kp, k(1 - p)) with k = (1 - ICC)/ICC, ICC 0.2, and each data set draws its true p near
the nominal one (logit p + U(-0.3, 0.3)), so coverage is judged on average, not at one
lattice point. Each cell has ``--datasets`` simulated data sets (default 2,000), vectorised
through the function ``mean_ci`` calls (checked on one data set per cell). ``before`` is the
interval used until issue 32: Wilson on n / deff with deff estimated once, at p-hat. A second
table repeats the issue's designs at ICC 0.05 and 0.5.
Target: 93-97.5% coverage in every cell; bounds never outside [0, 1].

    python benchmarks/cluster_coverage.py [--datasets 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from assay.stats import mean_ci, wilson_ci
from assay.stats._cluster_score import cluster_score_ci
from assay.stats._estimators import cluster_wilson_ci

NS, PS, LOW, HIGH = (100, 500, 2000), (0.05, 0.5, 0.95), 0.93, 0.975


def _truth(rng, p: float, s: int) -> np.ndarray:
    x = np.log(p / (1 - p)) + rng.uniform(-0.3, 0.3, s)
    return 1 / (1 + np.exp(-x))


def _cov(lo, hi, truth) -> float:
    return float(np.mean((lo <= truth) & (truth <= hi)))


def _iid(rng, n: int, p: float, s: int):
    truth = _truth(rng, p, s)
    k = rng.binomial(n, truth).astype(float)
    lo, hi = wilson_ci(k, np.full(s, n))
    est = mean_ci((np.arange(n) < k[0]).astype(float))
    assert est.method == "wilson" and np.isclose(est.ci_low, lo[0])
    return truth, lo, hi, None


def _clustered(rng, g: int, m: int, p: float, s: int, icc: float):
    truth = _truth(rng, p, s)
    kappa = (1 - icc) / icc
    pc = rng.beta(kappa * truth[:, None], kappa * (1 - truth[:, None]), size=(s, g))
    sums = rng.binomial(m, pc)
    counts = np.bincount((sums + (m + 1) * np.arange(s)[:, None]).ravel(),
                         minlength=s * (m + 1)).reshape(s, m + 1)  # fmt: skip
    lo, hi, _ = cluster_score_ci(np.full(m + 1, m), np.arange(m + 1), counts)
    x = (np.arange(m)[None, :] < sums[0][:, None]).astype(float).ravel()
    est = mean_ci(x, clusters=np.repeat(np.arange(g), m))
    assert est.method == "wilson-betabinomial"
    assert np.allclose((est.ci_low, est.ci_high), (lo[0], hi[0]), atol=1e-3)
    n = g * m
    mean = sums.sum(axis=1) / n
    var = ((sums - m * mean[:, None]) ** 2).sum(axis=1) / n**2 * g / (g - 1)
    old = cluster_wilson_ci(mean, n, var, float(m))[:2]
    return truth, lo, hi, old


def _designs():
    for n in NS:
        yield n, "iid", None, None
        shapes = {(n // 5, 5), (n // 20, 20), (20, n // 20)}
        for g, m in sorted(shapes, key=lambda gm: (gm[1], gm[0])):
            if g >= 5:
                yield n, f"{g} clusters of {m}", g, m
    yield 1000, "20 clusters of 50", 20, 50


def _line(n, design, p, icc, truth, lo, hi, old, bad: list) -> str:
    cov = _cov(lo, hi, truth)
    ok = LOW <= cov <= HIGH and lo.min() >= 0 and hi.max() <= 1
    if not ok:
        bad.append((n, design, p, icc))
    before = "" if old is None else f"{100 * _cov(*old, truth):.1f}"
    return (f"{n:>5} {design:<20} {p:>5} {icc:>4} {100 * cov:>8.1f}%  93-97.5 "
            f"{'ok' if ok else 'MISS':<4}  {before:>6}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    s, bad, start = args.datasets, [], time.perf_counter()
    head = f"{'n':>5} {'design':<20} {'p':>5} {'icc':>4} {'coverage':>9}  target  ok?   before"
    print(f"coverage of the default 95% interval, {s:,} data sets per cell, true p near p")
    print(head)
    for n, design, g, m in _designs():
        for p in PS:
            out = _iid(rng, n, p, s) if g is None else _clustered(rng, g, m, p, s, 0.2)
            print(_line(n, design, p, 0.2 if g else "-", *out, bad), flush=True)
    print("\nthe issue's designs at other intra-class correlations")
    print(head)
    for icc in (0.05, 0.5):
        for g, m in ((20, 5), (20, 50), (100, 20)):
            for p in PS:
                out = _clustered(rng, g, m, p, s, icc)
                print(_line(g * m, f"{g} clusters of {m}", p, icc, *out, bad), flush=True)
    print(f"\ncells outside 93-97.5%: {len(bad)}; {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
