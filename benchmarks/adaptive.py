"""Adaptive testing: the error of the predicted full-benchmark score after k adaptively chosen
questions, against k random questions, the floor of any method that sees k questions, and
tinyBenchmarks' published figure.

Simulated 2PL benchmarks of N items (N in {1000, 5000, 14042}; 14,042 is MMLU's test set, on
which tinyBenchmarks reports; discrimination a = exp(N(0, 0.4²)), difficulty b ~ N(0, 1.2²)).
As in practice the item parameters are not known: 200 earlier models (θ ~ N(0, 1)) answer every
item and ``assay.stats.fit_irt_2pl`` estimates them; then 500 new models (θ ~ N(0, 1)) are
tested with ``assay.stats.adaptive_test`` (the most informative item at the current ability
estimate; k = 50 and 100, 100 alone at 14,042 items where each k's item refits cost most) using
the *estimated* parameters and the earlier answers they came from (``fitted_on=``: prior,
shrunk discriminations and the interval's calibration by refitting the items to simulated
earlier answers). The truth is each new model's mean over all N of its
simulated answers (with their Bernoulli noise, as a real full run).

Printed per (N, k), as the mean over seeds (± its standard error with several seeds): mean
absolute error in points (100 × |predicted − true|) of the adaptive prediction; of the same
method given the true item parameters (what better item estimates could reach); of the mean of
k random items; the floor of ANY method that sees k items — an oracle that knows θ and the
true a, b, asks the k items with the largest p(1 − p) at θ and adds E[Σ p_j(θ)] of the others
(what is left is the Bernoulli noise of the unasked answers) — and the 95 % interval's
coverage. Targets: ≤ 1.5 points at k = 100 (tinyBenchmarks, Polo et al. 2024, report about 2
points at 100 items on real benchmarks), coverage 95 ± 2 %.

    python benchmarks/adaptive.py [--seeds 0 1 2] [--sizes 1000 5000 14042] [--jobs 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy.special import expit

from assay.stats import adaptive_test, fit_irt_2pl

SIZES, OLD, NEW = (1000, 5000, 14042), 200, 500
KS = {1000: (50, 100), 5000: (50, 100)}
"""Questions asked per benchmark size (100 alone for the others: each k refits the items)."""
COLUMNS = ("adaptive", "true items", "random", "floor", "coverage")


def bank(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Item parameters of a simulated benchmark of ``n`` items."""
    return np.exp(rng.normal(0, 0.4, n)), rng.normal(0, 1.2, n)


def answers(rng: np.random.Generator, theta, a, b) -> np.ndarray:
    return (rng.random((theta.size, a.size)) < expit(a * (theta[:, None] - b))).astype(float)


def floor(y: np.ndarray, p: np.ndarray, k: int) -> np.ndarray:
    """The oracle's prediction: right answers on the k items of largest p(1 − p) plus the
    expected right answers p of the others (θ and the items known)."""
    top = np.argpartition(-p * (1 - p), k - 1, axis=1)[:, :k]
    seen = np.zeros(y.shape, dtype=bool)
    np.put_along_axis(seen, top, True, axis=1)
    return np.where(seen, y, p).mean(axis=1)


def one_size(n: int, seed: int) -> dict[int, dict[str, float]]:
    """Every column at every k for one simulated benchmark of ``n`` items."""
    start, cpu = time.time(), time.process_time()
    out = _one_size(n, seed)
    print(
        f"  seed {seed}, N {n}: {time.time() - start:.0f} s wall, "
        f"{time.process_time() - cpu:.0f} s CPU",
        file=sys.stderr,
        flush=True,
    )
    return out


def _one_size(n: int, seed: int) -> dict[int, dict[str, float]]:
    rng = np.random.default_rng([seed, n])
    a, b = bank(rng, n)
    old = answers(rng, rng.standard_normal(OLD), a, b)
    fit = fit_irt_2pl(old)
    a_hat, b_hat = fit.discrimination.to_numpy(), fit.difficulty.to_numpy()
    theta = rng.standard_normal(NEW)
    y = answers(rng, theta, a, b)
    p_true = expit(a * (theta[:, None] - b))
    truth = y.mean(axis=1)
    out = {}
    for k in KS.get(n, (100,)):
        res = adaptive_test(y, a_hat, b_hat, k=k, seed=seed, fitted_on=old)
        known = adaptive_test(y, a, b, k=k, calibrate=0).score
        picks = np.argsort(rng.random(y.shape), axis=1)[:, :k]
        rand = np.take_along_axis(y, picks, 1).mean(axis=1)
        cover = (res.score_low <= truth) & (truth <= res.score_high)
        out[k] = {
            "adaptive": 100 * np.abs(res.score - truth).mean(),
            "true items": 100 * np.abs(known - truth).mean(),
            "random": 100 * np.abs(rand - truth).mean(),
            "floor": 100 * np.abs(floor(y, p_true, k) - truth).mean(),
            "coverage": float(cover.mean()),
        }
    return out


def _fmt(values: list[float], digits: int) -> str:
    v = np.asarray(values)
    if v.size == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1) / np.sqrt(v.size):.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--jobs", type=int, default=1, help="processes (seed × size in parallel)")
    args = ap.parse_args()
    tasks = sorted(((n, seed) for seed in args.seeds for n in args.sizes), reverse=True)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        done = list(pool.map(one_size, *zip(*tasks, strict=True)))
    cells: dict[tuple[int, int], dict[str, list[float]]] = {}
    for (n, _), rows in zip(tasks, done, strict=True):
        for k, row in rows.items():
            for col, value in row.items():
                cells.setdefault((n, k), {c: [] for c in COLUMNS})[col].append(value)
    print(
        f"{OLD} earlier models fit the 2PL items; {NEW} new models tested adaptively with the "
        f"fitted parameters; seeds {' '.join(map(str, args.seeds))} (mean ± SE over seeds)"
    )
    w = 8 if len(args.seeds) == 1 else 13
    head = (
        f"{'N':>5} {'k':>4} | {'adaptive MAE':>{w}} {'true items':>{w}} {'random':>{w}} "
        f"{'floor':>{w}} | {'coverage':>{w + 1}} | targets"
    )
    print(head)
    print("-" * len(head))
    for (n, k), c in sorted(cells.items()):
        mae, cover = np.mean(c["adaptive"]), np.mean(c["coverage"])
        targets = [f"coverage in 0.95 ± 0.02 {_mark(abs(cover - 0.95) <= 0.02)}"]
        if k == 100:
            floor_mae = np.mean(c["floor"])
            targets.insert(
                0,
                f"MAE ≤ 1.5 points {_mark(mae <= 1.5)} (floor {floor_mae:.2f}; tinyBenchmarks ~2)",
            )
        maes = " ".join(
            f"{_fmt(c[col], 2):>{w}}" for col in ("adaptive", "true items", "random", "floor")
        )
        print(f"{n:5d} {k:4d} | {maes} | {_fmt(c['coverage'], 3):>{w + 1}} | " + "; ".join(targets))
    print(
        "MAE: mean absolute error of the predicted full-benchmark mean, in points; true items: "
        "the same method with the true a, b (no estimation error); random: the mean of k random "
        "items; floor: any method that sees k items — an oracle knowing θ and the true a, b, "
        "asking the k items of largest p(1 − p) (the noise of the unasked answers alone); "
        "coverage: share of true means inside the 95 % interval."
    )


def _mark(ok: bool) -> str:
    return "ok" if ok else "MISS"


if __name__ == "__main__":
    main()
