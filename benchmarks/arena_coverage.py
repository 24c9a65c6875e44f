"""Coverage of the arena's Bradley–Terry rating intervals, against the 95 % target
(93–97 %, issue 33), for the bootstrap and the sandwich (``--ci sandwich``) intervals.

Seeded simulation from known strengths: K models with Elo ratings spread evenly over
``--spread`` points (mean 1000), N battles per data set between uniformly drawn pairs, the
winner drawn from the Bradley–Terry probability (a ``--ties`` share of battles are ties). Each
data set is fitted with ``assay.rank.fit_battles`` under each interval method; a model's
interval covers when it holds the model's true rating (mean-centred, as assay reports them).
The "difference" column is the coverage of rating differences: each data set fitted again with
``anchor=(m00, its true rating)``, so every other model's interval is one for its difference
to m00 (the anchor itself is exact and not counted). Coverage is over all models of all data
sets; time is the mean seconds per fit, and last the time of one fit of a larger arena
(64 models, 50,000 battles).

    python benchmarks/arena_coverage.py [--datasets 300] [--models 8] [--battles 300 1500]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from assay.rank import fit_battles
from assay.rank._pairwise import ELO_PER_LOGIT

METHODS = {  # label -> fit_battles keyword arguments
    "bootstrap 100 (old default)": {"bootstrap": 100},
    "bootstrap 1000 (default)": {"bootstrap": 1000},
    "Wald (--bootstrap 0)": {"bootstrap": 0},
    "sandwich (--ci sandwich)": {"ci": "sandwich"},
}


def simulate(rng, k: int, n: int, spread: float, ties: float) -> tuple[pd.DataFrame, np.ndarray]:
    truth = np.linspace(-spread / 2, spread / 2, k) + 1000.0
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k  # a different model
    p_a = 1 / (1 + np.exp(-(truth[a] - truth[b]) / ELO_PER_LOGIT))
    u = rng.random(n)
    tie = rng.random(n) < ties
    winner = np.where(tie, "tie", np.where(u < p_a, "model_a", "model_b"))
    names = np.array([f"m{i:02d}" for i in range(k)])
    frame = pd.DataFrame({"model_a": names[a], "model_b": names[b], "winner": winner})
    return frame, pd.Series(truth, index=names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=300)
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--battles", type=int, nargs="+", default=[300, 1500])
    parser.add_argument("--spread", type=float, default=400.0)
    parser.add_argument("--ties", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        f"{args.models} models over {args.spread:.0f} Elo points, {args.ties:.0%} ties, "
        f"{args.datasets} data sets per row; target 95 % (± 1.3 % Monte Carlo at "
        f"{args.datasets * args.models} intervals)"
    )
    print(
        f"{'battles':>8}  {'method':<28} {'coverage':>9} {'difference':>11} {'target':>8} "
        f"{'mean width':>11} {'s / fit':>8}"
    )
    for n in args.battles:
        rng = np.random.default_rng([args.seed, n])
        data = [simulate(rng, args.models, n, args.spread, args.ties) for _ in range(args.datasets)]
        for label, kwargs in METHODS.items():
            hits, diffs, widths, seconds = [], [], [], 0.0
            for i, (frame, truth) in enumerate(data):
                start = time.perf_counter()
                table = fit_battles(frame, seed=i, **kwargs).table.set_index("model")
                seconds += time.perf_counter() - start
                true = (truth - truth.mean() + 1000.0).reindex(table.index)
                hits.append((table["ci_low"] <= true) & (true <= table["ci_high"]))
                widths.append(table["ci_high"] - table["ci_low"])
                pin = ("m00", float(truth["m00"]))
                pinned = fit_battles(frame, seed=i, anchor=pin, **kwargs).table.set_index("model")
                pinned = pinned.drop(index="m00")
                true = truth.reindex(pinned.index)
                diffs.append((pinned["ci_low"] <= true) & (true <= pinned["ci_high"]))
            coverage = float(np.mean(np.concatenate(hits)))
            difference = float(np.mean(np.concatenate(diffs)))
            width = float(np.mean(np.concatenate(widths)))
            print(
                f"{n:>8}  {label:<28} {coverage:>8.1%} {difference:>10.1%} {'93-97%':>8} "
                f"{width:>11.1f} {seconds / len(data):>8.4f}"
            )
    large(args.seed)


def large(seed: int) -> None:
    """Seconds per fit of a larger arena: 64 models, 50,000 battles (2,016 pairs)."""
    frame, _ = simulate(np.random.default_rng(seed), 64, 50_000, 800.0, 0.0)
    for label, kwargs in METHODS.items():
        start = time.perf_counter()
        fit_battles(frame, **kwargs)
        print(f"64 models, 50,000 battles  {label:<28} {time.perf_counter() - start:8.2f} s")


if __name__ == "__main__":
    main()
