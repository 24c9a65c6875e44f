"""tinyBenchmarks anchors against k random items on simulated 2PL data (issue 13).

100 models × 1,000 items, θ ~ N(0, 1), a ~ LogNormal(0, 0.3), b ~ N(0, 1); each of ``--datasets``
seeded datasets is split into 80 known (training) models and 20 new ones. For each anchor
``embedding`` the anchors are picked on the training models (``anchor_points``) and the new
models' full-benchmark scores are estimated from their k answers (``estimate_from_anchors``).
Printed: mean absolute error (percentage points) of the weighted anchor mean, IRT and p-IRT,
beside the mean of k random items (200 draws per dataset) and p-IRT on those random items.
Target: the default anchors with the recommended estimator (p-IRT) beat k random items.

    python benchmarks/anchors_vs_random.py [--datasets 10] [--k 100]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from scipy.special import expit

from assay.stats import anchor_points, estimate_from_anchors
from assay.stats._anchors import EMBEDDINGS


def simulate(m: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    theta, a, b = rng.normal(0, 1, m), rng.lognormal(0, 0.3, n), rng.normal(0, 1, n)
    return (rng.random((m, n)) < expit(a * (theta[:, None] - b))).astype(float)


def one_dataset(seed: int, k: int, m: int = 100, n: int = 1000) -> dict[str, float]:
    y = simulate(m, n, seed)
    rng = np.random.default_rng(1000 + seed)
    order = rng.permutation(m)
    train, test = order[: int(0.8 * m)], order[int(0.8 * m) :]
    frame = pd.DataFrame(y, columns=[f"q{j}" for j in range(n)])
    truth = y[test].mean(axis=1)
    out: dict[str, float] = {}
    draws = np.argsort(rng.random((200, n)), axis=1)[:, :k]
    out["random items: mean"] = np.mean(np.abs(y[test][:, draws].mean(axis=2) - truth[:, None]))
    for embedding in EMBEDDINGS:
        anchors = anchor_points(frame.iloc[train], k, embedding=embedding, seed=seed)
        est = estimate_from_anchors(anchors, frame.iloc[test]).table
        for name in ("anchor", "irt", "pirt"):
            out[f"{embedding}: {name}"] = np.mean(np.abs(est[name].to_numpy() - truth))
        if embedding == "information":  # p-IRT on random items, same IRT fit
            errs = []
            for rows in draws[:20]:  # 20 draws: each needs its own ability fit
                fake = anchors.__class__(
                    [f"q{j}" for j in rows], np.full(k, 1 / k), anchors.labels,
                    anchors.irt, "random", anchors.validation,
                )  # fmt: skip
                e = estimate_from_anchors(fake, frame.iloc[test]).table["pirt"].to_numpy()
                errs.append(np.mean(np.abs(e - truth)))
            out["random items: pirt"] = float(np.mean(errs))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=int, default=10)
    ap.add_argument("--k", type=int, default=100)
    args = ap.parse_args()
    start = time.perf_counter()
    rows = pd.DataFrame([one_dataset(s, args.k) for s in range(args.datasets)])
    mae, se = 100 * rows.mean(), 100 * rows.std(ddof=1) / np.sqrt(len(rows))
    print(f"MAE (pp) of full-score estimates for 20 new models, k={args.k} of 1000 items,")
    print(f"{args.datasets} datasets of 100 models (80 known); ± is the SE over datasets\n")
    for name in mae.index:
        print(f"  {name:<26} {mae[name]:5.2f} ± {se[name]:.2f}")
    best, base = mae["information: pirt"], mae["random items: mean"]
    verdict = "beats" if best < base else "does NOT beat"
    print(f"\ndefault anchors + p-IRT {best:.2f} pp {verdict} {args.k} random items {base:.2f} pp")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
