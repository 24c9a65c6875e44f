"""Time the 4,500-start Chinchilla fit on Epoch's 245 points and compare with Epoch's refit.

    python benchmarks/forecast_speed.py [--data DIR] [--exhaustive]

DIR defaults to $ASSAY_DATA, else shared/data found above the repo or its main checkout
(_data.py). Like Epoch, the 5 highest-loss points are dropped. ``--exhaustive`` also runs L-BFGS-B from every one of the 4,500 starts (the
straightforward loop: minutes) and checks the batched search reached the same optimum.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _data import shared_data

from assay.forecast import fit_law, load_table
from assay.forecast._lse import fit_lse

EPOCH = {"E": 1.817, "A": 482.0, "B": 2085.4, "alpha": 0.3478, "beta": 0.3659}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=shared_data())
    parser.add_argument("--exhaustive", action="store_true", help="also run the per-start loop")
    args = parser.parse_args()
    df = load_table(args.data / "chinchilla_points.csv", params="Model Size", flops="Training FLOP")
    df = df.sort_values("loss").iloc[:-5]  # Epoch drop the 5 highest-loss points
    print(f"{len(df)} points (Epoch's 245 minus the 5 highest-loss), 4,500 starts")

    t0, c0 = time.perf_counter(), time.process_time()
    fit = fit_law(df, "chinchilla")
    batched_s = time.perf_counter() - t0
    print(
        f"batched multi-start fit: {batched_s:.2f} s wall, {time.process_time() - c0:.2f} s CPU "
        "(straightforward loop: 129 s; goal <= 10 s)"
    )
    print(f"objective (summed Huber, delta=1e-3): {fit.objective:.10f}")
    print(f"{'param':<6} {'assay':>12} {'Epoch':>12} {'rel diff':>9}")
    for k, v in EPOCH.items():
        print(f"{k:<6} {fit.params[k]:>12.4f} {v:>12.4f} {fit.params[k] / v - 1:>+9.2%}")
    # Epoch's published parameters under the same objective, for reference
    theta_epoch = np.log([[EPOCH["A"], EPOCH["B"], 1, 1, EPOCH["E"]]])
    theta_epoch[0, 2:4] = EPOCH["alpha"], EPOCH["beta"]
    from assay.forecast._lse import huber_objective

    log_x = np.log(df[["params", "tokens"]].to_numpy())
    log_y = np.log(df["loss"].to_numpy())
    print(
        f"objective at Epoch's published values: {huber_objective(theta_epoch, log_x, log_y)[0]:.10f}"
    )

    t0, c0 = time.perf_counter(), time.process_time()
    boot = fit_law(df, "chinchilla", bootstrap=200, seed=0)
    print(
        f"fit + 200 bootstrap refits: {time.perf_counter() - t0:.1f} s wall, "
        f"{time.process_time() - c0:.1f} s CPU"
    )
    for k in EPOCH:
        lo, hi = boot.ci[k]
        print(f"  {k:<6} 95% CI [{lo:.4f}, {hi:.4f}]")

    if args.exhaustive:
        t0, c0 = time.perf_counter(), time.process_time()
        ref = fit_lse(log_x, log_y, keep=())
        loop_s = time.perf_counter() - t0
        print(f"  ({time.process_time() - c0:.1f} s CPU)")
        a, b, al, be, e = ref.theta
        print(f"exhaustive loop (L-BFGS-B from each of 4,500 starts): {loop_s:.1f} s")
        print(
            f"  objective {ref.objective:.10f} (batched: {fit.objective:.10f}, "
            f"diff {fit.objective - ref.objective:+.2e})"
        )
        print(
            f"  E {np.exp(e):.4f} A {np.exp(a):.2f} B {np.exp(b):.2f} alpha {al:.4f} beta {be:.4f}"
        )
        print(f"  speed-up: {loop_s / batched_s:.1f}x")


if __name__ == "__main__":
    main()
