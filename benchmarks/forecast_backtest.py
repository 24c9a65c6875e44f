"""Backtests on public data: fit on the smaller models, forecast the larger ones.

    python benchmarks/forecast_backtest.py [--data DIR]

1. Chinchilla points (Epoch's 245 runs): chinchilla, kaplan and power-in-compute laws fitted on
   runs with C <= 1e21 FLOP, scored on the runs above (MAE, MAPE, 90% interval coverage).
2. Observational scaling (Ruan et al.) on the ObsScaling base-model table: PCA (3 PCs) over the
   other 7 benchmarks, sigmoid to GSM8K / MMLU / ARC-C fitted on models with C <= 8.4e22 FLOP
   (Llama-2-7B's compute), scored on the larger models.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from assay.forecast import backtest, load_table, observational_scaling

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def chinchilla(data: Path) -> None:
    df = load_table(data / "chinchilla_points.csv", params="Model Size", flops="Training FLOP")
    print(f"Chinchilla points: {len(df)} runs; cut at 1e21 FLOP")
    print(
        f"{'law':<11} {'n_fit':>5} {'n_out':>5} {'MAE':>8} {'MAPE %':>7} {'cover90':>8} {'time s':>7}"
    )
    for law, opts in (("chinchilla", {}), ("kaplan", {}), ("power", {"x": "flops"})):
        t0 = time.perf_counter()
        bt = backtest(df, law=law, holdout_above=1e21, on="flops", bootstrap=100, **opts)
        print(
            f"{law:<11} {bt.n_fit:>5} {bt.n_heldout:>5} {bt.mae:>8.4f} {bt.mape:>7.2f} "
            f"{bt.coverage:>8.0%} {time.perf_counter() - t0:>7.1f}"
        )


def obsscaling(data: Path) -> None:
    df = pd.read_csv(data / "obsscaling" / "base_llm_benchmark_eval.csv")
    df = df.rename(columns={"Model": "model", "Model Family": "family"})
    df["flops"] = df["FLOPs (1E21)"] * 1e21
    df = df[df["flops"].notna()].reset_index(drop=True)
    every = [
        "MMLU",
        "ARC-C",
        "HellaSwag",
        "Winograd",
        "TruthfulQA",
        "GSM8K",
        "XWinograd",
        "HumanEval",
    ]
    cut = 8.4e22
    small = (df["flops"] <= cut).to_numpy()
    print(
        f"\nObsScaling: {len(df)} models with FLOPs; target fitted on C <= {cut:.2g} "
        f"({int(small.sum())} models), scored on the {int((~small).sum())} larger ones"
    )
    print(
        f"{'target':<8} {'chance':>6} {'PC var':>7} {'train RMSE':>10} {'MAE':>7} {'MAPE %':>7} "
        f"{'baseline MAE':>12}"
    )
    for target, chance in (("GSM8K", 0.0), ("MMLU", 0.25), ("ARC-C", 0.25)):
        benches = [b for b in every if b != target]
        fit = observational_scaling(
            df, benches, target, n_components=3, floor=chance, fit_mask=small, bootstrap=0
        )
        s = fit.scores
        held = s[~s["used_in_fit"] & np.isfinite(s["target"])]
        err = np.abs(held["fitted"] - held["target"])
        base = np.abs(held["target"] - s.loc[s["used_in_fit"], "target"].mean()).mean()
        print(
            f"{target:<8} {chance:>6.2f} {fit.explained_variance.sum():>7.3f} {fit.rmse:>10.4f} "
            f"{err.mean():>7.4f} {100 * np.mean(err / held['target']):>7.1f} {base:>12.4f}"
        )
    print("(baseline: predict the small models' mean score)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("ASSAY_DATA", DEFAULT_DATA))
    )
    args = parser.parse_args()
    chinchilla(args.data)
    obsscaling(args.data)


if __name__ == "__main__":
    main()
