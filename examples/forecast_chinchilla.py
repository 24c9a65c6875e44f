"""Fit Chinchilla's law to Epoch's 245 points, backtest it, and forecast a 1e24-FLOP model.

    python examples/forecast_chinchilla.py [--data DIR] [--out DIR]

DIR defaults to $ASSAY_DATA or ../shared/data next to the repo; plots go to --out (default .).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd

from assay.forecast import backtest, compute_optimal, fit_law, load_table, plot_forecast

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("ASSAY_DATA", DEFAULT_DATA))
    )
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()

    runs = load_table(
        args.data / "chinchilla_points.csv", params="Model Size", flops="Training FLOP"
    )
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
