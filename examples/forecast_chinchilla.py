"""Fit Chinchilla's law, backtest it on the larger runs, and forecast a 1e24-FLOP model.

    python examples/forecast_chinchilla.py [--data FILE] [--out DIR]

FILE defaults to examples/data/runs.csv (40 runs drawn from the published law by
examples/make_example_data.py); give Epoch AI's Chinchilla replication points
(chinchilla_points.csv, columns "Model Size", "Training FLOP", "loss") to refit the real data.
Plots go to --out (default .).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from assay.forecast import backtest, compute_optimal, fit_law, load_table, plot_forecast

DEFAULT_DATA = Path(__file__).resolve().parent / "data" / "runs.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()

    epoch = "Model Size" in pd.read_csv(args.data, nrows=1).columns
    names = {"params": "Model Size", "flops": "Training FLOP"} if epoch else {}
    runs = load_table(args.data, **names)
    fit = fit_law(runs, "chinchilla", bootstrap=200, seed=0)
    print("fit:", fit.to_dict())

    bt = backtest(runs, law="chinchilla", holdout_above=1e21, on="flops", seed=0)
    print(bt.summary())
    plot_forecast(
        bt.fit,
        runs[runs["flops"] <= bt.cut],
        heldout=bt.table,
        backtest=bt,
        path=args.out / "chinchilla_backtest.png",
    )

    print(compute_optimal(fit, [1e24]).table.T)
    print(fit.predict(pd.DataFrame({"params": [70e9], "tokens": [1.4e12]})))


if __name__ == "__main__":
    main()
