"""Bradley–Terry speed: 1.5 million simulated battles among 130 models.

Targets (issue 6): fit <= 0.3 s, 100 bootstrap rounds <= 5 s. Printed beside the same fit by
scipy L-BFGS on the per-battle logistic formulation (Chatbot Arena's notebook style: one row
per battle, ties as two half-weight rows) and by choix (I-LSR on the dense count matrix).

    python benchmarks/rank_speed.py [--battles 1500000] [--models 130]
"""

from __future__ import annotations

import argparse
import os
import time

import choix
import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import log_expit

from assay.rank import ELO_PER_LOGIT, aggregate_battles, fit_counts


def simulate(n_battles: int, n_models: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1.0, n_models)
    a = rng.integers(0, n_models, n_battles)
    b = (a + rng.integers(1, n_models, n_battles)) % n_models
    p = 1 / (1 + np.exp(-(theta[a] - theta[b])))
    u = rng.random(n_battles)
    tie = u > 0.85
    winner = np.where(tie, "tie", np.where(rng.random(n_battles) < p, "model_a", "model_b"))
    names = np.array([f"model-{i:03d}" for i in range(n_models)])
    df = pd.DataFrame(
        {
            "model_a": pd.Categorical(names[a]),
            "model_b": pd.Categorical(names[b]),
            "winner": winner,
        }
    )
    return df, theta


def timed(fn, repeat: int = 3):
    """(best wall time, CPU time of that run, result) over ``repeat`` runs; the machine is
    shared, so CPU time (process time, all threads) shows the work without the waiting."""
    best, cpu, out = np.inf, np.inf, None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        wall = time.perf_counter() - t
        if wall < best:
            best, cpu = wall, time.process_time() - c
    return best, cpu, out


def scipy_per_battle(battles: pd.DataFrame, models: list[str]) -> np.ndarray:
    """Chatbot Arena style: a ±1 design row per battle, ties as two half-weight rows, L-BFGS."""
    index = pd.Index(models)
    a = index.get_indexer(battles["model_a"].astype(str))
    b = index.get_indexer(battles["model_b"].astype(str))
    w = battles["winner"].to_numpy()
    tie = w == "tie"
    ia = np.concatenate([a, a[tie]])
    ib = np.concatenate([b, b[tie]])
    y = np.concatenate([np.where(w == "model_b", 0.0, 1.0), np.zeros(tie.sum())])
    weight = np.concatenate([np.where(tie, 0.5, 1.0), np.full(tie.sum(), 0.5)])
    k = len(models)

    def f(theta):
        d = theta[ia] - theta[ib]
        nll = -(weight * (y * log_expit(d) + (1 - y) * log_expit(-d))).sum()
        r = weight * (y - 1 / (1 + np.exp(-d)))
        g = -(np.bincount(ia, r, k) - np.bincount(ib, r, k))
        return nll, g

    res = minimize(f, np.zeros(k), jac=True, method="L-BFGS-B", options={"maxiter": 1000})
    return res.x - res.x.mean()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--battles", type=int, default=1_500_000)
    ap.add_argument("--models", type=int, default=130)
    ap.add_argument("--rounds", type=int, default=100)
    args = ap.parse_args()

    battles, truth = simulate(args.battles, args.models)
    t_agg, c_agg, pairs = timed(lambda: aggregate_battles(battles))
    t_fit, c_fit, fit = timed(lambda: fit_counts(pairs, bootstrap=0))
    t_boot, c_boot, boot = timed(lambda: fit_counts(pairs, bootstrap=args.rounds, seed=1), 2)
    ours = fit.win_probability.index.map(fit.rating.to_dict()).to_numpy()
    ours_theta = (ours - ours.mean()) / ELO_PER_LOGIT

    t_scipy, c_scipy, scipy_theta = timed(lambda: scipy_per_battle(battles, pairs.models), 1)
    k = len(pairs.models)
    dense = np.zeros((k, k))
    dense[pairs.pair_i, pairs.pair_j] = pairs.counts[:, 0] + 0.5 * pairs.counts[:, 2]
    dense[pairs.pair_j, pairs.pair_i] = pairs.counts[:, 1] + 0.5 * pairs.counts[:, 2]
    # choix's dense I-LSR takes comp_mat[i, j] = wins of i over j
    t_choix, c_choix, choix_theta = timed(lambda: choix.ilsr_pairwise_dense(dense, tol=1e-10))
    choix_theta = choix_theta - choix_theta.mean()

    order = np.argsort([int(m.split("-")[1]) for m in pairs.models])
    corr = np.corrcoef(ours_theta[order], truth)[0, 1]
    print(f"{args.battles:,} battles, {k} models, {len(pairs.pair_i)} pairs")
    print(f"{'':34s}   wall s    cpu s")
    print(f"aggregate (factorize + bincount) : {t_agg:7.3f}  {c_agg:7.3f}")
    print(f"assay BT fit (Newton on counts)  : {t_fit:7.3f}  {c_fit:7.3f}   target <= 0.3 s")
    print(
        f"assay fit + {args.rounds} bootstrap rounds : {t_boot:7.3f}  {c_boot:7.3f}   target <= 5 s"
    )
    print(
        f"scipy L-BFGS per-battle logistic : {t_scipy:7.3f}  {c_scipy:7.3f}"
        f"   {t_scipy / t_fit:6.1f}x slower than assay's fit"
    )
    print(
        f"choix ilsr_pairwise_dense        : {t_choix:7.3f}  {c_choix:7.3f}"
        f"   {t_choix / t_fit:6.2f}x assay's fit time"
    )
    diff_scipy = ELO_PER_LOGIT * np.abs(ours_theta - scipy_theta).max()
    diff_choix = ELO_PER_LOGIT * np.abs(ours_theta - choix_theta).max()
    print(f"max |assay - scipy| = {diff_scipy:.4f} Elo, max |assay - choix| = {diff_choix:.4f} Elo")
    print(f"correlation with the simulated truth: {corr:.5f}")
    width = (boot.table["ci_high"] - boot.table["ci_low"]).median()
    print(f"median 95% interval width: {width:.1f} Elo points")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} (2 cores)")


if __name__ == "__main__":
    main()
