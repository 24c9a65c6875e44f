"""Held-out forecasts from a handful of sizes (issue 32, item 2): each design's MAE beside the
naive baselines, and its 90% coverage beside the goals.

    python benchmarks/forecast_heldout.py [--data DIR]

DIR is the public data folder (default: $ASSAY_DATA, else shared/data found above the repository
or its main checkout, benchmarks/_data.py).
Designs (ObsScaling's base-model table; Epoch's Chinchilla points):

1. OPT, fit on sizes <= 2.7B (4 sizes), predict 6.7–66B, 8 benchmarks: `backtest_score`
   (power-error default), with each benchmark's item count (binomial evaluation noise) and
   without it (noise only in the scatter, as when n is not given).
2. Leave one of Pythia / OPT / BLOOM out (observational scaling, each benchmark the target of
   the other 7): `leave_family_out` (blend default) on a table of those three families only,
   and on the whole table (the held-out family against every other family).
3. Pythia, fit on sizes <= 1.4B (5 sizes), predict 2.8B, 6.9B, 12B, 8 benchmarks.
4. Chinchilla loss above 1e21 FLOP (23 runs): `backtest` (chinchilla law, calibrated).

A last table compares the leave-one-family-out methods (the default, blend, is the winner).

Naive baselines: last value (the largest fitted size or run; for an unseen family the other families'
model nearest in compute), a line in log size (log compute), the family mean (of the fitted
sizes; of the other families' models). Goals: MAE <= the best naive baseline; each design's 90%
coverage consistent with 90% (exact two-sided binomial test, p >= 0.05); pooled coverage 85–95%;
and, by simulation (a known law with binomial noise), 90% coverage within 85–95%.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _support  # noqa: F401  (tests/support on the path)
import numpy as np
import pandas as pd
from _data import shared_data
from scipy import stats
from simulations import score_law_coverage

from assay.forecast import (
    LOFO_METHODS,
    backtest,
    backtest_score,
    leave_family_out,
    load_table,
    naive_baselines,
)

LEVEL = 0.9
# benchmark: (chance, items in its test set)
BENCH = {
    "MMLU": (0.25, 14042),
    "ARC-C": (0.25, 1172),
    "HellaSwag": (0.25, 10042),
    "Winograd": (0.5, 1267),
    "TruthfulQA": (0.0, 817),
    "GSM8K": (0.0, 1319),
    "XWinograd": (0.5, 2325),
    "HumanEval": (0.0, 164),
}
THREE = ["Pythia", "OPT", "BLOOM"]
# families with 6+ sizes beyond designs 1 and 3: (family, cut) keeping the smaller half
OTHER = [("OPT", 6.8e9), ("Cerebras-GPT", 1.4e9), ("Qwen1.5", 1.5e10)]


def obs_table(data: Path) -> pd.DataFrame:
    df = pd.read_csv(data / "obsscaling" / "base_llm_benchmark_eval.csv")
    df = df.rename(columns={"Model": "model", "Model Family": "family"})
    df["flops"] = df["FLOPs (1E21)"] * 1e21
    df["params"] = df["Model Size (B)"] * 1e9
    return df


def sizes_design(df: pd.DataFrame, fam: str, cut: float, use_n: bool) -> dict:
    """Every benchmark of one family: fit on params <= cut, predict the larger sizes."""
    f = df[df["family"] == fam]
    err, inside, base = [], [], {}
    for bench, (chance, n) in BENCH.items():
        bt = backtest_score(f, x="params", y=bench, holdout_above=cut, floor=chance,
                            n_items=n if use_n else None, level=LEVEL)  # fmt: skip
        t = bt.table
        err.append(np.abs(t["prediction"] - t["actual"]).to_numpy())
        inside.append(((t["low"] <= t["actual"]) & (t["actual"] <= t["high"])).to_numpy())
        for k, v in bt.baselines.items():
            base.setdefault(k, []).append(np.full(len(t), v))
    return _summary(np.concatenate(err), np.concatenate(inside),
                    {k: np.concatenate(v) for k, v in base.items()}, scale=100)  # fmt: skip


def family_design(df: pd.DataFrame, method: str = "blend", families=THREE) -> dict:
    err, inside, base = [], [], {}
    for bench, (chance, n) in BENCH.items():
        others = [b for b in BENCH if b != bench]
        k = 3 if method == "observational" else None  # observational alone: Ruan et al.'s 3 PCs
        bt = leave_family_out(df, others, bench, floor=chance, families=families, n_items=n,
                              method=method, n_components=k, level=LEVEL)  # fmt: skip
        t = bt.heldout
        err.append(np.abs(t["prediction"] - t["actual"]).to_numpy())
        inside.append(((t["low"] <= t["actual"]) & (t["actual"] <= t["high"])).to_numpy())
        for k in ("flat", "log-linear", "family-mean"):
            base.setdefault(k, []).append(np.abs(t[k] - t["actual"]).to_numpy())
    return _summary(np.concatenate(err), np.concatenate(inside),
                    {k: np.concatenate(v) for k, v in base.items()}, scale=100)  # fmt: skip


def chinchilla_design(data: Path) -> dict:
    df = load_table(data / "chinchilla_points.csv", params="Model Size", flops="Training FLOP")
    bt = backtest(df, law="chinchilla", holdout_above=1e21, on="flops", level=LEVEL)
    t = bt.table
    below = df[df["flops"] <= 1e21]
    preds = naive_baselines(below["flops"], below["loss"], t["flops"])
    base = {k: np.abs(v - t["actual"].to_numpy()) for k, v in preds.items()}
    inside = ((t["low"] <= t["actual"]) & (t["actual"] <= t["high"])).to_numpy()
    return _summary(np.abs(t["prediction"] - t["actual"]).to_numpy(), inside, base, scale=1)


def _summary(err, inside, base, scale) -> dict:
    bmae = {k: float(np.mean(v)) * scale for k, v in base.items()}
    n, k = len(err), int(inside.sum())
    return {
        "n": n,
        "mae": float(err.mean()) * scale,
        "baselines": bmae,
        "covered": k,
        "coverage": k / n,
        "p": stats.binomtest(k, n, LEVEL).pvalue,
    }


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def show(name: str, s: dict, unit: str) -> None:
    """One design: forecasts, MAE beside each naive baseline with the skill against it, the
    coverage with its exact binomial p-value, PASS/MISS against each goal."""
    best = min(s["baselines"], key=s["baselines"].get)
    mae_ok = s["mae"] <= s["baselines"][best]
    cov_ok = s["p"] >= 0.05
    base = ", ".join(
        f"{k} {v:.3g} (skill {1 - s['mae'] / v:+.2f})" for k, v in s["baselines"].items()
    )
    print(
        f"{name}\n    forecasts {s['n']}; MAE {s['mae']:.3g} {unit}; naive MAE: {base}\n"
        f"    [{_verdict(mae_ok)}] MAE <= best naive ({best} {s['baselines'][best]:.3g}; "
        f"strictly better: {'yes' if s['mae'] < s['baselines'][best] else 'no'})\n"
        f"    [{_verdict(cov_ok)}] 90% coverage {s['coverage']:.1%} ({s['covered']}/{s['n']}) "
        f"consistent with 90%: exact two-sided binomial p = {s['p']:.3f} (goal p >= 0.05)"
    )


def simulation(reps: int = 200, seed: int = 11) -> list[tuple[str, float]]:
    """Known law + binomial noise (a Pythia-like design: 8 sizes 70M-12B, fit the 5 smallest,
    predict the 3 largest; the error above chance 0.25 is 0.7·(x/7e7)^-0.15): coverage of the
    default forecaster's 90% interval with n given and not, at 1,000 and 200 items."""
    out = []
    for n_items in (1000, 200):
        for given in (True, False):
            cover = score_law_coverage(n_items, given, reps=reps, seed=seed, level=LEVEL)
            out.append((f"n = {n_items}, {'n given' if given else 'n not given'}", cover))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=shared_data())
    args = parser.parse_args()
    df = obs_table(args.data)
    designs = [
        ("1. OPT <= 2.7B -> 6.7-66B, 8 benchmarks (binomial n given)",
         sizes_design(df, "OPT", 2.8e9, True), "pp"),
        ("   same, n not given (noise in the scatter only)",
         sizes_design(df, "OPT", 2.8e9, False), "pp"),
        ("2. leave one of Pythia/OPT/BLOOM out, table of those three families",
         family_design(df[df["family"].isin(THREE)]), "pp"),
        ("   same, whole ObsScaling table (other families fitted too)",
         family_design(df[df["flops"].notna()]), "pp"),
        ("   same, whole table, every family left out in turn (not only the three)",
         family_design(df[df["flops"].notna()], families=None), "pp"),
        ("3. Pythia <= 1.4B -> 2.8-12B, 8 benchmarks (binomial n given)",
         sizes_design(df, "Pythia", 1.5e9, True), "pp"),
        ("   same, n not given", sizes_design(df, "Pythia", 1.5e9, False), "pp"),
        ("4. Chinchilla loss above 1e21 FLOP (chinchilla law, calibrated)",
         chinchilla_design(args.data), "(loss)"),
    ]  # fmt: skip
    for name, s, unit in designs:
        show(name, s, unit)
    main_rows = [designs[i][1] for i in (0, 2, 5, 7)]
    k, n = sum(s["covered"] for s in main_rows), sum(s["n"] for s in main_rows)
    ok = 0.85 <= k / n <= 0.95
    print("\nleave-one-family-out: which downstream method wins (MAE pp / 90% coverage)")
    print(f"{'method':<16} {'three families':>18} {'whole table':>18}")
    three, whole = df[df["family"].isin(THREE)], df[df["flops"].notna()]
    for method in LOFO_METHODS:
        a, b = family_design(three, method), family_design(whole, method)
        print(f"{method:<16} {a['mae']:>9.2f} / {a['coverage']:>5.1%} "
              f"{b['mae']:>9.2f} / {b['coverage']:>5.1%}")  # fmt: skip
    print(
        "\nother families of the table with 6+ sizes, fit on the smaller half (n given), the rest held out:"
    )
    for fam, cut in OTHER:
        show(f"   {fam} <= {cut / 1e9:.3g}B", sizes_design(df, fam, cut, True), "pp")
    print("\nsimulation: known law + binomial noise, 200 families each (goal 85-95%)")
    for label, cover in simulation():
        print(f"    [{_verdict(0.85 <= cover <= 0.95)}] {label}: 90% coverage {cover:.1%}")
    print(
        f"\n[{_verdict(ok)}] pooled 90% coverage over designs 1-4 (first row of each): "
        f"{k / n:.1%} ({k}/{n}); goal 85-95%"
    )


if __name__ == "__main__":
    main()
