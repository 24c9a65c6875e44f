"""Stop when decided: anytime-valid sequential comparisons against a fixed-n paired test.

Two models answer the same N questions (default 10,000, about MMLU's size) in a random order;
the paired difference per question is +1 (only A right), −1 (only B right) or 0, with the
models disagreeing on a fraction r of the questions (default 0.3) and true mean difference Δ:
P(+1) = (r + Δ)/2, P(−1) = (r − Δ)/2. For each Δ, ``--runs`` simulated comparisons (default
1,000, fixed seed), three procedures:

* sequential — ``assay.stats.sequential_test`` (the PrPl-EB confidence sequence) looked at after
  every batch of 100 questions, stopping at the first look where it is above 0 (A better),
  below 0 (B better) or inside (−δ, δ) (equivalent; δ = 0.02), as ``assay eval --until-decided``;
* naive t — a 95 % paired t-interval looked at after every batch, stopping when it excludes 0
  (what must not be done: its error rate under Δ = 0 is far above α);
* fixed-n — the paired t-test on all N questions (α = 0.05).

Printed per Δ: the rate of each decision, the error rate (a winner when Δ = 0; a wrong sign or
"equivalent" when |Δ| ≥ δ), the power (the right winner), the mean fraction of the N questions
used, and the time-uniform miss rate of the confidence sequence (the true Δ outside the
interval at some question), each beside its target:
error ≤ α = 0.05 at Δ = 0 (any stopping time), miss ≤ α, fraction ≤ 40 % when |Δ| ≥ 2δ,
power ≥ 0.9 when |Δ| ≥ 2δ.

    python benchmarks/sequential.py [--runs 1000] [--n 10000] [--disagree 0.3] [--seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats as sps

from assay.stats import confidence_sequence, sequential_test

ALPHA, DELTA, BATCH = 0.05, 0.02, 100
DIFFS = (0.0, 0.01, 0.02, 0.04, 0.06, 0.10)
CHUNK = 200  # runs simulated at once (memory)


def _simulate(rng, runs: int, n: int, r: float, diff: float) -> np.ndarray:
    u = rng.random((runs, n))
    up, down = (r + diff) / 2, (r - diff) / 2
    return np.where(u < up, 1.0, np.where(u < up + down, -1.0, 0.0))


def _naive(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stop at the first batch whose t-interval excludes 0: (rejected, questions used)."""
    t = np.arange(1, d.shape[1] + 1)
    mean = np.cumsum(d, axis=1) / t
    var = np.maximum(np.cumsum(d * d, axis=1) / t - mean**2, 0) * t / np.maximum(t - 1, 1)
    looks = np.arange(BATCH, d.shape[1] + 1, BATCH) - 1
    q = sps.t.ppf(1 - ALPHA / 2, t[looks] - 1)
    hit = np.abs(mean[:, looks]) > q * np.sqrt(var[:, looks] / t[looks])
    first = np.where(hit.any(axis=1), hit.argmax(axis=1), looks.size - 1)
    return hit.any(axis=1), looks[first] + 1


def _fixed(d: np.ndarray) -> np.ndarray:
    """Paired t-test on all questions: +1 A better, −1 B better, 0 no decision."""
    n = d.shape[1]
    mean, sd = d.mean(axis=1), d.std(axis=1, ddof=1)
    stat = mean / (sd / np.sqrt(n))
    q = sps.t.ppf(1 - ALPHA / 2, n - 1)
    return np.sign(stat) * (np.abs(stat) > q)


def _cell(rng, runs: int, n: int, r: float, diff: float) -> dict[str, float]:
    dec, used, naive_rej, naive_used, fixed, miss = [], [], [], [], [], []
    for start in range(0, runs, CHUNK):
        d = _simulate(rng, min(CHUNK, runs - start), n, r, diff)
        res = sequential_test(d, delta=DELTA, every=BATCH, confidence=1 - ALPHA)
        dec.append(res.decision)
        used.append(res.stopped_at / n)
        cs = confidence_sequence(d, confidence=1 - ALPHA)
        miss.append(((cs.lower > diff) | (cs.upper < diff)).any(axis=1))
        rej, at = _naive(d)
        naive_rej.append(rej)
        naive_used.append(at / n)
        fixed.append(_fixed(d))
    dec_all = np.concatenate(dec)
    fixed_all = np.concatenate(fixed)
    rate = {k: float(np.mean(dec_all == k)) for k in ("A better", "B better", "equivalent")}
    if diff == 0:
        error = rate["A better"] + rate["B better"]
        fixed_error = float(np.mean(fixed_all != 0))
    else:
        error = rate["B better"] + (rate["equivalent"] if diff >= DELTA else 0.0)
        fixed_error = float(np.mean(fixed_all < 0))
    return {
        **rate,
        "error": error,
        "power": rate["A better"],
        "used": float(np.mean(np.concatenate(used))),
        "miss": float(np.mean(np.concatenate(miss))),
        "naive_rej": float(np.mean(np.concatenate(naive_rej))),
        "naive_used": float(np.mean(np.concatenate(naive_used))),
        "fixed_error": fixed_error,
        "fixed_power": float(np.mean(fixed_all > 0)),
    }


def _mark(ok: bool) -> str:
    return "ok" if ok else "MISS"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--disagree", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    print(
        f"{args.runs} runs per row, N = {args.n} questions, models disagree on "
        f"{args.disagree:.0%}, looks every {BATCH}, delta = {DELTA}, alpha = {ALPHA}, "
        f"seed {args.seed}"
    )
    head = (
        f"{'Δ':>5} | {'A':>5} {'B':>5} {'equiv':>5} {'error':>6} {'power':>5} {'used':>5} "
        f"{'CS miss':>7} | {'naive t: reject':>15} {'used':>5} | {'fixed-n: error':>14} "
        f"{'power':>5} | targets"
    )
    print(head)
    print("-" * len(head))
    for diff in DIFFS:
        c = _cell(rng, args.runs, args.n, args.disagree, diff)
        targets = [f"miss {c['miss']:.3f} ≤ {ALPHA} {_mark(c['miss'] <= ALPHA)}"]
        if diff == 0:
            targets.append(f"error {c['error']:.3f} ≤ {ALPHA} {_mark(c['error'] <= ALPHA)}")
            targets.append(f"naive {c['naive_rej']:.3f} > {ALPHA} (inflated)")
        if diff >= 2 * DELTA:
            targets.append(f"used {c['used']:.1%} ≤ 40% {_mark(c['used'] <= 0.4)}")
            targets.append(f"power {c['power']:.3f} ≥ 0.9 {_mark(c['power'] >= 0.9)}")
        power, fixed_power = (
            ("    —", "    —") if diff == 0 else (f"{c['power']:5.3f}", f"{c['fixed_power']:5.3f}")
        )
        print(
            f"{diff:5.2f} | {c['A better']:5.3f} {c['B better']:5.3f} {c['equivalent']:5.3f} "
            f"{c['error']:6.3f} {power} {c['used']:5.1%} {c['miss']:7.3f} | "
            f"{c['naive_rej']:15.3f} {c['naive_used']:5.1%} | {c['fixed_error']:14.3f} "
            f"{fixed_power} | " + "; ".join(targets)
        )
    print(
        "A/B/equiv: rate of each sequential decision; error: a winner at Δ = 0, else B or "
        "'equivalent' (|Δ| ≥ δ); used: mean fraction of the N questions; CS miss: the true Δ "
        "outside the confidence sequence at some question; naive t: a t-interval looked at "
        "every batch, stopped when it excludes 0 (at Δ = 0 every rejection is an error); "
        "fixed-n: paired t-test on all N (error: wrong sign, or any rejection at Δ = 0)."
    )


if __name__ == "__main__":
    main()
