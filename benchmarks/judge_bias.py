"""LLM-judge bias controls against known answers, and their speed.

Simulated judges with a known bias (fixed seeds), each estimate printed beside its true value:

1. position: a judge that says "A" with probability p whatever the answers; the swap analysis
   should give first-position share p and verdict agreement 2p(1 − p).
2. length control: a judge with P(A) = σ(γ·tanh(Δlen/60) + quality), models of equal quality
   but different lengths (true LC win rate 0.5) and one better model at equal length (true
   σ(1) = 0.731); mean, sd and 95% interval coverage over repeated simulations.
3. Cohen's κ: two raters with true κ = 0.5 (3 categories); FCE standard error beside the delta
   method and the coverage of the bootstrap and Wald intervals.
4. speed of the analyses on 100 000 judged pairs (200 bootstrap rounds), beside a 5 s target.

``--real`` also runs the bundled SmolLM2-135M as a pairwise judge on 8 prompts × 3 answers.

    python benchmarks/judge_bias.py [--sims 40] [--real]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from scipy.special import expit

from assay.rank import cohen_kappa, judge_pairs, lc_win_rate, position_consistency


class PositionJudge:
    name = "position"

    def __init__(self, p, seed):
        self.p, self.rng = p, np.random.default_rng(seed)

    def compare_many(self, items):
        return np.where(self.rng.random(len(items)) < self.p, "A", "B").tolist()


class LengthJudge:
    name = "length"

    def __init__(self, seed, gamma=2.0, bonus=1.0):
        self.rng, self.gamma, self.bonus = np.random.default_rng(seed), gamma, bonus

    def compare_many(self, items):
        la = np.array([len(a) for _, a, _ in items], dtype=float)
        lb = np.array([len(b) for _, _, b in items], dtype=float)
        good = np.array([[a[0] == "g", b[0] == "g"] for _, a, b in items], dtype=float)
        logit = self.gamma * np.tanh((la - lb) / 60) + self.bonus * (good[:, 0] - good[:, 1])
        return np.where(self.rng.random(len(items)) < expit(logit), "A", "B").tolist()


def outputs(means, n_prompts, seed, sd=60.0):
    rng = np.random.default_rng(seed)
    lengths = np.maximum(5, rng.normal(list(means.values()), sd, size=(n_prompts, len(means))))
    return pd.DataFrame(
        [
            {"prompt_id": f"p{p}", "prompt": f"q{p}", "model": m, "output": m[0] * int(n)}
            for p in range(n_prompts)
            for m, n in zip(means, lengths[p], strict=True)
        ]
    )


def position_section() -> None:
    print("1. position swap (400 prompts × 3 pairs, 200 bootstrap rounds)")
    print(f"{'p':>5} {'first-shown share [95% CI]':>30} {'true':>6} {'agreement':>10} {'true':>6}")
    for p in (0.5, 0.65, 0.8):
        judged = judge_pairs(outputs({"x": 100, "y": 100, "z": 100}, 400, 1), PositionJudge(p, 7))
        r = position_consistency(judged, bootstrap=200, seed=0)
        ci = f"{r.first_rate:.3f} [{r.first_ci[0]:.3f}, {r.first_ci[1]:.3f}]"
        print(f"{p:>5} {ci:>30} {p:>6.3f} {r.agreement:>10.3f} {2 * p * (1 - p):>6.3f}")


def lc_section(sims: int) -> None:
    print(f"\n2. length-controlled win rate vs baseline ({sims} simulations × 400 prompts)")
    rows = []
    for s in range(sims):
        o = outputs({"long": 300, "short": 150, "good": 200, "base": 200}, 400, 100 + s)
        judged = judge_pairs(o, LengthJudge(seed=500 + s), baseline="base", seed=s)
        t = lc_win_rate(judged, "base", bootstrap=200, seed=s).table.set_index("model")
        for m, truth in (("long", 0.5), ("short", 0.5), ("good", float(expit(1.0)))):
            rows.append(
                {
                    "model": m,
                    "truth": truth,
                    "raw": t.loc[m, "win_rate"],
                    "lc": t.loc[m, "lc_win_rate"],
                    "covered": t.loc[m, "lc_low"] <= truth <= t.loc[m, "lc_high"],
                }
            )
    df = pd.DataFrame(rows).groupby("model", sort=False)
    summary = df.agg(
        truth=("truth", "first"),
        raw_mean=("raw", "mean"),
        lc_mean=("lc", "mean"),
        lc_sd=("lc", "std"),
        coverage=("covered", "mean"),
    )
    print(summary.round(3).to_string())
    print("   target: lc_mean = truth, coverage ≈ 0.95; raw win rate shows the length bias")


def kappa_section(sims: int) -> None:
    print(f"\n3. Cohen's κ: true κ = 0.5, 3 categories, n = 300 ({sims * 5} simulations)")
    # a table with uniform margins and κ = 0.5: p_o = 2/3 with p_e = 1/3
    p = np.full((3, 3), (1 - 2 / 3) / 6)
    np.fill_diagonal(p, 2 / 9)
    rng = np.random.default_rng(0)
    labels = np.array(["A", "B", "tie"])
    wald = boot = 0
    ses, sds = [], []
    estimates = []
    for s in range(sims * 5):
        cells = rng.choice(9, size=300, p=p.ravel())
        k = cohen_kappa(labels[cells // 3], labels[cells % 3], bootstrap=200, seed=s)
        estimates.append(k.kappa)
        ses.append(k.se)
        z = 1.959964
        wald += k.kappa - z * k.se <= 0.5 <= k.kappa + z * k.se
        boot += k.ci[0] <= 0.5 <= k.ci[1]
        sds.append(k.kappa)
    n = sims * 5
    print(
        f"   mean κ {np.mean(estimates):.3f} (true 0.500); mean FCE se {np.mean(ses):.4f} vs sd of"
    )
    print(f"   the estimates {np.std(sds, ddof=1):.4f}; coverage Wald {wald / n:.2f}, bootstrap ")
    print(f"   {boot / n:.2f} (target 0.95)")


def speed_section() -> None:
    print("\n4. speed on 100 000 judged pairs (200 bootstrap rounds)")
    rng = np.random.default_rng(3)
    n = 100_000
    judged = pd.DataFrame(
        {
            "prompt_id": [f"p{i}" for i in rng.integers(0, 20_000, n)],
            "model_a": rng.choice(["m1", "m2", "m3", "m4"], n),
            "model_b": "base",
            "verdict_ab": rng.choice(["A", "B", "tie"], n),
            "verdict_ba": rng.choice(["A", "B", "tie"], n),
            "winner": rng.choice(["model_a", "model_b", "tie"], n),
            "len_a": rng.integers(10, 1000, n),
            "len_b": rng.integers(10, 1000, n),
        }
    )
    for name, call in (
        ("position_consistency", lambda: position_consistency(judged, bootstrap=200)),
        ("lc_win_rate", lambda: lc_win_rate(judged, "base", bootstrap=200)),
    ):
        start, cpu = time.perf_counter(), time.process_time()
        call()
        wall, used = time.perf_counter() - start, time.process_time() - cpu
        print(f"   {name:<22} {wall:6.2f} s wall, {used:6.2f} s CPU (target 5 s)")


def real_section() -> None:
    from assay.models import load_model
    from assay.rank import ModelJudge

    print("\n5. SmolLM2-135M as pairwise judge (loglikelihood mode), 8 prompts × 3 answers")
    questions = [
        ("What is 2 + 2?", "4"), ("What colour is the sky on a clear day?", "Blue"),
        ("What is the capital of France?", "Paris"), ("How many legs has a spider?", "Eight"),
        ("What is the opposite of hot?", "Cold"), ("What is 10 divided by 2?", "5"),
        ("Which animal says moo?", "A cow"), ("What do bees make?", "Honey"),
    ]  # fmt: skip
    rows = []
    for i, (q, right) in enumerate(questions):
        for model, answer in (
            ("right", right),
            ("wrong", "I do not know, maybe a banana"),
            ("rambling", f"Well, there are many views on this; some would say {right.lower()}, "
                         "others would disagree, and it depends on context."),
        ):  # fmt: skip
            rows.append({"prompt_id": f"q{i}", "prompt": q, "model": model, "output": answer})
    backend = load_model("smollm2-135m")
    try:
        start = time.perf_counter()
        judged = judge_pairs(pd.DataFrame(rows), ModelJudge(backend), seed=0)
        wall = time.perf_counter() - start
    finally:
        backend.close()
    r = position_consistency(judged, bootstrap=200, seed=0)
    print(f"   {len(judged)} pairs in {wall:.1f} s; verdicts agree across orders {r.agreement:.2f}")
    print(f"   first-shown share {r.first_rate:.2f} [{r.first_ci[0]:.2f}, {r.first_ci[1]:.2f}]")
    print(f"   winners: {judged['winner'].value_counts().to_dict()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=40)
    parser.add_argument("--real", action="store_true")
    args = parser.parse_args()
    position_section()
    lc_section(args.sims)
    kappa_section(args.sims)
    speed_section()
    if args.real:
        real_section()


if __name__ == "__main__":
    main()
