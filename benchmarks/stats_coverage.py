"""Coverage of assay's default intervals, and rejection rates of its paired tests under the null.

Binary scores, n in {100, 500, 2000} questions x accuracy p in {0.05, 0.5, 0.95}, without
clusters and with clusters of 5 questions (20, 100, 400 clusters; ICC 0.2: a cluster's accuracy
is Beta(4p, 4(1 - p))). Paired cells: two models whose per-question (or per-cluster) accuracies
share that Beta draw, with true difference 0 (the null) or 0.2 * min(p, 1 - p). Each cell has
``--datasets`` simulated data sets (default 2,000), vectorised across data sets through the
same functions ``mean_ci`` / ``paired_test`` call (checked on a few data sets per cell); clustered
means use the beta-binomial score interval of issue 32 (see benchmarks/cluster_coverage.py). The
"before" columns are the intervals assay used until issue 13: mean_ci's t / clustered t, and
compare()'s rule (Wilson only below 10 successes or failures, else t); pairs: the paired t
(clustered pairs: the clustered t, still the default; * marks the opt-in cluster-adjusted McNemar
test, shown for comparison).
Target: 95 +- 1.5 % coverage, 5 +- 1 % rejection.

    python benchmarks/stats_coverage.py [--datasets 2000] [--seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats as sps

from assay.stats import mean_ci, paired_test, wilson_ci
from assay.stats._cluster_score import cluster_score_ci
from assay.stats._paired import mcnemar_clustered, mcnemar_score

NS, PS, SIZE, ICC, ALPHA = (100, 500, 2000), (0.05, 0.5, 0.95), 5, 0.2, 0.05
KAPPA = (1 - ICC) / ICC  # Beta(κp, κ(1 − p)) has intra-class correlation 1/(κ + 1)


def _ok(cov: float) -> str:
    return "ok" if abs(cov - 0.95) <= 0.015 else "MISS"


def _cov(lo, hi, truth) -> float:
    return float(np.mean((lo <= truth) & (truth <= hi)))


def _t_ci(mean, se, df):
    q = sps.t.ppf(1 - ALPHA / 2, df)
    return mean - q * se, mean + q * se


def _cluster_var(sums: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and CR1 clustered variance of the mean from (S, G) cluster sums of equal size."""
    g = sums.shape[1]
    n = g * size
    mean = sums.sum(axis=1) / n
    var = ((sums - size * mean[:, None]) ** 2).sum(axis=1) / n**2 * g / (g - 1)
    return mean, var


def _expand(cluster_sums: np.ndarray) -> np.ndarray:
    """Per-question 0/1 scores (clusters of SIZE) with the given number right per cluster."""
    return (np.arange(SIZE)[None, :] < cluster_sums[:, None]).astype(float).ravel()


def _shifted(p_true: np.ndarray, p: float, delta: float) -> np.ndarray:
    """Model B's accuracies: A's lowered so that E[B] = p − δ."""
    scale = p_true / p if p <= 0.5 else (1 - p_true) / (1 - p)
    return np.clip(p_true - delta * scale, 0, 1)


def means(rng, s: int) -> list[tuple]:
    rows = []
    for n in NS:
        for p in PS:
            k = rng.binomial(n, p, size=s).astype(float)
            lo, hi = wilson_ci(k, np.full(s, n))
            phat = k / n
            se = np.sqrt(phat * (1 - phat) / (n - 1))
            old_lo, old_hi = _t_ci(phat, se, n - 1)
            few = np.minimum(k, n - k) < 10
            cmp = _cov(np.where(few, lo, old_lo), np.where(few, hi, old_hi), p)
            x = (np.arange(n) < k[0]).astype(float)
            ref = mean_ci(x)
            assert ref.method == "wilson" and np.isclose(ref.ci_low, lo[0])
            rows.append(
                ("mean", "wilson", n, p, "-", 0.0, _cov(lo, hi, p), _cov(old_lo, old_hi, p), cmp)
            )
        for p in PS:
            g = n // SIZE
            pc = rng.beta(KAPPA * p, KAPPA * (1 - p), size=(s, g))
            sums = rng.binomial(SIZE, pc).astype(float)
            mean, var = _cluster_var(sums, SIZE)
            counts = np.stack([np.bincount(r.astype(int), minlength=SIZE + 1) for r in sums])
            lo, hi, _ = cluster_score_ci(np.full(SIZE + 1, SIZE), np.arange(SIZE + 1), counts)
            old = _t_ci(mean, np.sqrt(var), g - 1)
            x = (np.arange(SIZE)[None, :] < sums[0][:, None]).astype(float).ravel()
            ref = mean_ci(x, clusters=np.repeat(np.arange(g), SIZE))
            assert ref.method == "wilson-betabinomial" and np.isclose(ref.ci_high, hi[0], atol=1e-3)
            old_cov = _cov(*old, p)
            rows.append(
                ("mean", "wilson-betabinomial", n, p, g, 0.0, _cov(lo, hi, p), old_cov, old_cov)
            )
    return rows


def paired(rng, s: int) -> tuple[list[tuple], list[tuple]]:
    cov_rows, null_rows = [], []
    for n in NS:
        for p in PS:
            for delta in (0.0, 0.2 * min(p, 1 - p)):
                pi = rng.beta(KAPPA * p, KAPPA * (1 - p), size=(s, n))
                qi = _shifted(pi, p, delta)
                truth = p - float(qi.mean())
                a = rng.random((s, n)) < pi
                b = rng.random((s, n)) < qi
                n12 = (a & ~b).sum(axis=1).astype(float)
                n21 = (~a & b).sum(axis=1).astype(float)
                lo, hi, _, pval = mcnemar_score(n12, n21, np.full(s, float(n)))
                d = a.astype(float) - b
                dm, se = d.mean(axis=1), d.std(axis=1, ddof=1) / np.sqrt(n)
                t_lo, t_hi = _t_ci(dm, se, n - 1)
                ref = paired_test(a[0].astype(float), b[0].astype(float))
                assert ref.method == "mcnemar" and np.isclose(ref.ci_low, lo[0])
                row = ("paired", "mcnemar", n, p, "-", delta, _cov(lo, hi, truth))
                cov_rows.append((*row, _cov(t_lo, t_hi, truth), None))
                if delta == 0:
                    disc = n12 + n21
                    tail = np.minimum(
                        sps.binom.cdf(n12, disc, 0.5), sps.binom.sf(n12 - 1, disc, 0.5)
                    )
                    exact = np.where(disc > 0, np.minimum(1, 2 * tail), 1.0)
                    t_p = 2 * sps.t.sf(np.abs(dm / np.where(se > 0, se, np.inf)), n - 1)
                    for name, pv in (("mcnemar", pval), ("mcnemar-exact", exact), ("t", t_p)):
                        null_rows.append((name, n, p, "-", float(np.mean(pv < ALPHA))))
        g = n // SIZE
        ids = np.repeat(np.arange(g), SIZE)
        for p in PS:
            for delta in (0.0, 0.2 * min(p, 1 - p)):
                pc = rng.beta(KAPPA * p, KAPPA * (1 - p), size=(s, g))
                qc = _shifted(pc, p, delta)
                truth = p - float(qc.mean())
                a_sums, b_sums = rng.binomial(SIZE, pc), rng.binomial(SIZE, qc)
                sums = (a_sums - b_sums).astype(float)
                mean, var = _cluster_var(sums, SIZE)
                se = np.sqrt(var)
                t_lo, t_hi = _t_ci(mean, se, g - 1)
                s_ = sums.sum(axis=1)
                lo, hi, _, pval, _ = mcnemar_clustered(
                    s_, float(n), (sums**2).sum(axis=1), float(g * SIZE**2), SIZE * s_
                )
                pair = tuple(_expand(x[0]) for x in (a_sums, b_sums))
                ref = paired_test(*pair, clusters=ids)  # the default: the clustered t
                assert ref.method == "t" and np.isclose(ref.ci_high, t_hi[0])
                opt = paired_test(*pair, clusters=ids, method="mcnemar-clustered")
                assert np.isclose(opt.ci_high, hi[0]) and np.isclose(opt.pvalue, pval[0])
                t_cov = _cov(t_lo, t_hi, truth)
                cov_rows.append(("paired", "t (clustered)", n, p, g, delta, t_cov, t_cov, None))
                row = ("paired", "mcnemar-clustered*", n, p, g, delta, _cov(lo, hi, truth))
                cov_rows.append((*row, None, None))
                if delta == 0:
                    t_p = 2 * sps.t.sf(np.abs(mean / np.where(se > 0, se, np.inf)), g - 1)
                    for name, pv in (("mcnemar-clustered", pval), ("t (clustered)", t_p)):
                        null_rows.append((name, n, p, g, float(np.mean(pv < ALPHA))))
    return cov_rows, null_rows


def without_spread(rng, s: int) -> list[tuple[str, float, float]]:
    """Coverage where the data often show no spread (an outside audit's cells): the clustered
    default when B rarely loses one of A's right answers (80 questions in 20 clusters; the
    zero-width interval of no disagreement covered 42.7 % / 68 %), and mcnemar-exact with an
    empty discordant cell (Clopper-Pearson mapped through (b + c) / n covered 54 % / 53 %)."""
    rows = []
    cl = np.repeat(np.arange(20), 4)
    for q in (0.01, 0.02):
        hits = 0
        for _ in range(s):
            a = (rng.random(80) < 0.7).astype(float)
            b = a.copy()
            b[(rng.random(80) < q) & (a == 1)] = 0.0
            r = paired_test(a, b, clusters=cl)
            hits += r.ci_low <= 0.7 * q <= r.ci_high
        rows.append((f"t (clustered), B loses {q:.0%}, 80 q / 20 clusters", 0.7 * q, hits / s))
    for p10, p01, n in ((0.2, 0.0, 60), (0.1, 0.0, 100), (0.15, 0.05, 100)):
        hits = 0
        for _ in range(s):
            u = rng.random(n)
            a = np.where(u < p10, 1.0, np.where(u < p10 + p01, 0.0, (u > 0.6).astype(float)))
            b = np.where(u < p10, 0.0, np.where(u < p10 + p01, 1.0, a))
            r = paired_test(a, b, method="mcnemar-exact")
            hits += r.ci_low <= p10 - p01 <= r.ci_high
        rows.append((f"mcnemar-exact, b/n {p10}, c/n {p01}, n {n}", p10 - p01, hits / s))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    s = args.datasets
    print(f"coverage of the default 95% interval, {s:,} data sets per cell (target 95 +- 1.5)")
    print(f"{'what':<7} {'method':<19} {'n':>5} {'p':>5} {'clusters':>8} {'diff':>6}"
          f" {'coverage':>9}  target        before: {'t':>5} {'compare':>7}")  # fmt: skip
    cov_rows, null_rows = paired(rng, s)
    for what, method, n, p, g, delta, cov, t_old, cmp_old in [*means(rng, s), *cov_rows]:
        old = ["" if c is None else f"{100 * c:.1f}" for c in (t_old, cmp_old)]
        print(f"{what:<7} {method:<19} {n:>5} {p:>5} {g!s:>8} {delta:>6.3f} {100 * cov:>8.1f}%"
              f"  95+-1.5 {_ok(cov):<4}         {old[0]:>5} {old[1]:>7}")  # fmt: skip
    print("exact Wilson coverage (binomial pmf, no simulation):")
    for n in NS:
        k = np.arange(n + 1)
        lo, hi = wilson_ci(k, np.full(n + 1, n))
        pmf = [sps.binom.pmf(k, n, p)[(lo <= p) & (p <= hi)].sum() for p in PS]
        print(
            f"  n={n:<5} "
            + "  ".join(f"p={p}: {100 * c:.2f}%" for p, c in zip(PS, pmf, strict=True))
        )
    print(f"\ncoverage where the data often show no spread, {s:,} data sets per cell")
    for name, delta, cov in without_spread(rng, s):
        flag = "conservative" if cov > 0.965 else _ok(cov)
        print(f"{name:<50} diff {delta:.3f} {100 * cov:>6.1f}%  95+-1.5 {flag}")
    print(f"\nrejection rate of paired tests under the null at alpha {ALPHA} (target 5 +- 1)")
    print(f"{'test':<19} {'n':>5} {'p':>5} {'clusters':>8} {'rejected':>9}  target")
    for name, n, p, g, rate in null_rows:
        flag = "ok" if abs(rate - 0.05) <= 0.01 else ("conservative" if rate < 0.04 else "MISS")
        print(f"{name:<19} {n:>5} {p:>5} {g!s:>8} {100 * rate:>8.1f}%  5+-1 {flag}")


if __name__ == "__main__":
    main()
