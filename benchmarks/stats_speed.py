"""Paired bootstrap speed: assay.stats.bootstrap_ci vs lm-eval's bootstrap_stderr.

A paired bootstrap of 10,000 resamples over 100,000 paired samples (goal: <= 1 s), on binary
scores (two models' 0/1 answers, the usual accuracy case) and on continuous scores (e.g. a
log-likelihood or F1 per question). lm-eval resamples in pure Python (``random.choices`` + the
metric per resample, chunks of 1000 over a process pool); its full 10,000-resample run on
100,000 samples takes minutes, so it is timed on ``--lm-eval-resamples`` resamples without the
pool and its per-resample cost is extrapolated to 10,000 (printed as such).

"before" is the index resampling assay used for continuous scores until issue 13 (still used
below 20,000 values), timed on ``--before-resamples`` resamples and scaled to the full count;
"after" is the binned-sum path (multinomial counts over 256 equal-count bins), whose interval
must agree with the index resampling within Monte Carlo error.

    python benchmarks/stats_speed.py [--n 100000] [--resamples 10000] [--lm-eval-resamples 30]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from assay.stats import _estimators, bootstrap_ci, paired_test

TARGET = 1.0  # seconds for 10,000 resamples x 100,000 pairs


def _best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def _before(a, c, method: str, b: int, k: int, after) -> None:
    """Index resampling (the path before issue 13) on k resamples, scaled to b."""
    saved = _estimators._BINNED_FROM
    _estimators._BINNED_FROM = 10**12
    try:
        start = time.perf_counter()
        res = bootstrap_ci(a, c, method=method, n_resamples=k, seed=2)
        secs = (time.perf_counter() - start) * b / k
    finally:
        _estimators._BINNED_FROM = saved
    # Monte Carlo sd of a difference of two 2.5% quantiles (normal: √(q(1−q))/φ(z_q) ≈ 2.67 sd)
    mc = 2.67 * res.stderr * np.sqrt(1 / k + 1 / b)
    gap = max(abs(res.ci_low - after.ci_low), abs(res.ci_high - after.ci_high)) / mc
    print(
        f"{'':<11} {'  before (index) ' + method:<26} {secs:>9.3f} {secs / b * 1e6:>10.1f} us"
        f"  [{res.ci_low:.5f}, {res.ci_high:.5f}] se {res.stderr:.5f}  ({k:,} resamples,"
        f" scaled; bounds differ by {gap:.1f} Monte Carlo sd of {mc:.5f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--lm-eval-resamples", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before-resamples", type=int, default=2_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n, b = args.n, args.resamples
    difficulty = rng.beta(2, 2, n)
    data = {
        "binary": (
            (rng.random(n) < difficulty).astype(float),
            (rng.random(n) < 0.95 * difficulty).astype(float),
        ),
        "continuous": (difficulty + rng.normal(0, 0.1, n), difficulty + rng.normal(-0.01, 0.1, n)),
    }
    print(f"paired bootstrap, {b:,} resamples over {n:,} paired samples (best of {args.repeats})")
    print(f"{'data':<11} {'method':<26} {'seconds':>9} {'per resample':>13}  interval")
    for name, (a, c) in data.items():
        for method in ("percentile", "bca"):
            secs, res = _best_of(
                lambda a=a, c=c, m=method: bootstrap_ci(a, c, method=m, n_resamples=b, seed=1),
                args.repeats,
            )
            ok = "ok" if secs <= TARGET else "MISS"
            print(
                f"{name:<11} {'assay ' + method:<26} {secs:>9.3f} {secs / b * 1e6:>10.1f} us"
                f"  [{res.ci_low:.5f}, {res.ci_high:.5f}] se {res.stderr:.5f}"
                f"  target <= {TARGET:g} s {ok}"
            )
            if name == "continuous":
                _before(a, c, method, b, args.before_resamples, res)
        secs, res = _best_of(lambda a=a, c=c: paired_test(a, c, method="t"), args.repeats)
        print(
            f"{name:<11} {'assay paired t (closed)':<26} {secs:>9.3f} {'':>13}"
            f"  [{res.ci_low:.5f}, {res.ci_high:.5f}] se {res.stderr:.5f}"
        )

        os.environ["DISABLE_MULTIPROC"] = "1"  # time the per-resample work, not pool start-up
        from lm_eval.api.metrics import bootstrap_stderr, mean

        diffs = list(a - c)
        k = args.lm_eval_resamples
        start = time.perf_counter()
        se = bootstrap_stderr(mean, diffs, iters=k)
        secs = time.perf_counter() - start
        per = secs / k
        print(
            f"{name:<11} {'lm-eval bootstrap_stderr':<26} {per * b:>9.1f} {per * 1e6:>10.1f} us"
            f"  (extrapolated from {k} resamples in {secs:.2f} s; se {se:.5f}; no interval)"
        )


if __name__ == "__main__":
    main()
