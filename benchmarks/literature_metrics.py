"""The numbers docs/metrics.md states for the metrics from the wider literature, each beside its
target: the worked examples (computed by hand in the docs), NDCG against sklearn.metrics.ndcg_score,
how much sorting and isotonic repair lower the WIS of crossing quantile forecasts (target: never
higher), and the coverage of the 95% interval of DAF formed from its delta-method pseudo-values
(target 95 +- 1.5 %, simulated data sets of 400 materials, prevalence ~0.23).

    python benchmarks/literature_metrics.py [--datasets 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from assay.core import (
    discovery_acceleration,
    discovery_metrics,
    discovery_pseudo_values,
    isotonic_quantiles,
    ndcg,
    pinball_loss,
    sort_quantiles,
    weighted_interval_score,
)

LEVELS = [0.05, 0.25, 0.5, 0.75, 0.95]


def worked_examples() -> None:
    q = np.array([[1.0, 2, 3, 4, 5]])
    rows = [
        ("WIS, quantiles 1..5, y = 6", weighted_interval_score(q, LEVELS, [6.0])[0], 2.08),
        ("mean pinball, same", pinball_loss(q, LEVELS, [6.0])[0], 1.04),
        ("NDCG, grades 3 2 3 0 1 2", ndcg([[3, 2, 3, 0, 1, 2]])[0], 6.861127 / 7.140995),
    ]
    pred = [-0.1, -0.05, 0.2, -0.3, 0.4, 0.1, -0.2, 0.3]
    true = [-0.02, 0.1, 0.05, -0.1, 0.3, -0.01, 0.2, 0.5]
    got = discovery_metrics(pred, true)
    rows += [
        ("precision", got["precision"], 1 / 2),
        ("recall", got["recall"], 2 / 3),
        ("F1", got["f1"], 4 / 7),
        ("DAF", got["daf"], 4 / 3),
        ("DAF@1", discovery_acceleration(pred, true, k=1), 8 / 3),
    ]
    print(f"{'worked example':<28} {'assay':>9} {'by hand':>9}")
    for name, value, target in rows:
        flag = "" if math.isclose(value, target, abs_tol=1e-5) else "  MISMATCH"
        print(f"{name:<28} {value:>9.4f} {target:>9.4f}{flag}")


def against_sklearn(rng) -> None:
    from sklearn.metrics import ndcg_score

    rel = rng.integers(0, 4, size=(2000, 20)).astype(float)
    score = rng.normal(size=(2000, 20))
    worst = max(
        float(
            np.max(
                np.abs(
                    ndcg(rel, score, k=k)
                    - [ndcg_score(rel[i : i + 1], score[i : i + 1], k=k) for i in range(2000)]
                )
            )
        )
        for k in (1, 5, 10, None)
    )
    print(
        f"\nNDCG vs sklearn.metrics.ndcg_score, 2,000 queries, k in 1, 5, 10, all: "
        f"max |difference| {worst:.1e} (target < 1e-12)"
    )


def repairs(rng) -> None:
    levels = np.array([0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975])
    q = np.sort(rng.normal(size=(20000, 7)), axis=1) + rng.normal(scale=0.8, size=(20000, 7))
    y = rng.normal(size=20000)
    raw = weighted_interval_score(q, levels, y)
    print(
        f"\ncrossing quantile forecasts: {np.mean((np.diff(q, axis=1) < 0).any(axis=1)):.0%} "
        f"of 20,000 cross; mean WIS raw {raw.mean():.4f}"
    )
    for name, fixed in (("sorted", sort_quantiles(q)), ("isotonic", isotonic_quantiles(q))):
        after = weighted_interval_score(fixed, levels, y)
        print(
            f"  {name:<9} mean WIS {after.mean():.4f}; forecasts made worse: "
            f"{int((after > raw + 1e-12).sum())} (target 0), better: {np.mean(after < raw):.0%}"
        )


def daf_coverage(rng, datasets: int) -> None:
    n, mu, sd, noise = 400, 0.15, 0.2, 0.15
    # the true DAF of this design, from one very large sample
    big_true = rng.normal(mu, sd, size=2_000_000)
    truth = discovery_metrics(big_true + rng.normal(0, noise, size=big_true.size), big_true)["daf"]
    z = 1.959963984540054
    hit = 0
    for _ in range(datasets):
        true = rng.normal(mu, sd, size=n)
        v = discovery_pseudo_values(true + rng.normal(0, noise, size=n), true)["daf"]
        half = z * v.std(ddof=1) / math.sqrt(n)
        hit += abs(v.mean() - truth) <= half
    print(
        f"\nDAF (true {truth:.3f}): coverage of the 95% interval from pseudo-values, "
        f"{datasets:,} data sets of {n}: {100 * hit / datasets:.1f}% (target 95 +- 1.5)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    worked_examples()
    against_sklearn(rng)
    repairs(rng)
    daf_coverage(rng, args.datasets)


if __name__ == "__main__":
    main()
