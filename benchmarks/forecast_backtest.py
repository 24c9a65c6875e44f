"""Forecast scorecard on public data: fit on the smaller models, forecast the larger ones.

    python benchmarks/forecast_backtest.py [--data DIR] [--quick]

DIR defaults to $ASSAY_DATA, else shared/data found above the repository or its main checkout
(also from a git worktree; benchmarks/_data.py).

For each data set and method: MAE, coverage of the stated 90% interval, its mean width and the
weighted interval score (WIS, 50/80/90/95% intervals + median; lower is better), beside naive
baselines. Targets (issue 14): calibrated 90% intervals cover 85–95% of held-out points on
Chinchilla and ObsScaling; the downstream default beats both naive baselines with MAE ≤ 2.5 pp
and 90% intervals covering 80–100%.

1. Chinchilla points (Epoch's 245 runs): laws fitted on runs with C <= 1e21 FLOP, scored on the
   23 runs above; calibrated (rolling-origin) intervals beside the bootstrap ones.
2. ObsScaling base models: observational scaling (PCA over the other 7 benchmarks), the target
   fitted on models with C <= 8.4e22 FLOP, scored on the larger ones (per model and through
   ``predict(family, flops)``); calibrated intervals beside the bootstrap (link-draw) ones.
3. Pythia (ObsScaling table, 70M–12B, 8 benchmarks): bounded-score forecasts fitted on sizes
   <= 1.4B, scored on 2.8B, 6.9B, 12B; the default ``power-error`` beside ``select`` and the
   naive baselines (``flat``: the 1.4B score; ``log-linear``: a line in log params).
(epoch/models.csv has no held-out scores to forecast; it is not scored here.)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _data import shared_data

from assay.forecast import (
    backtest,
    backtest_score,
    forecast_errors,
    interval_score,
    load_table,
    observational_scaling,
)

HEADER = f"{'method':<26} {'n_out':>5} {'MAE':>8} {'cover90':>8} {'width':>8} {'WIS':>8}"
LEVELS = (0.5, 0.8, 0.9, 0.95)


def row(name: str, n: int, mae: float, cover: float, width: float, wis: float) -> str:
    return f"{name:<26} {n:>5} {mae:>8.4f} {cover:>8.0%} {width:>8.4f} {wis:>8.4f}"


def chinchilla(data: Path, quick: bool) -> None:
    df = load_table(data / "chinchilla_points.csv", params="Model Size", flops="Training FLOP")
    print(f"1. Chinchilla points: {len(df)} runs; fit on C <= 1e21, score the runs above")
    print(HEADER + f" {'time s':>7}")
    laws = (("chinchilla", {}), ("power", {"x": "flops"}))
    laws = laws if quick else (*laws, ("kaplan", {}))
    for law, opts in laws:
        for calibrate in (True, False):
            t0 = time.perf_counter()
            bt = backtest(df, law=law, holdout_above=1e21, on="flops", bootstrap=100,
                          calibrate=calibrate, **opts)  # fmt: skip
            name = f"{law} ({'calibrated' if calibrate else 'bootstrap'})"
            line = row(name, bt.n_heldout, bt.mae, bt.coverage, bt.width, bt.wis)
            print(f"{line} {time.perf_counter() - t0:>7.1f}")
    below, above = df[df.flops <= 1e21], df[df.flops > 1e21]
    flat = np.abs(above.loss - below.loss.min()).mean()
    slope, icpt = np.polyfit(np.log(below.flops), np.log(below.loss), 1)
    line = np.abs(above.loss - np.exp(icpt + slope * np.log(above.flops))).mean()
    print(f"{'naive: lowest fitted loss':<26} {len(above):>5} {flat:>8.4f}")
    print(f"{'naive: log-log line':<26} {len(above):>5} {line:>8.4f}")


def _obs_table(data: Path) -> pd.DataFrame:
    df = pd.read_csv(data / "obsscaling" / "base_llm_benchmark_eval.csv")
    df = df.rename(columns={"Model": "model", "Model Family": "family"})
    df["flops"] = df["FLOPs (1E21)"] * 1e21
    return df[df["flops"].notna()].reset_index(drop=True)


EVERY = ["MMLU", "ARC-C", "HellaSwag", "Winograd", "TruthfulQA", "GSM8K", "XWinograd", "HumanEval"]


def _scored(actual, pred, low, high, bounds) -> tuple[float, float, float, float]:
    mae, _, cover = forecast_errors(actual, pred, low, high)
    wis = interval_score(np.asarray(actual), np.asarray(pred), bounds)
    return mae, cover, float(np.mean(np.asarray(high) - np.asarray(low))), float(np.mean(wis))


def obsscaling(data: Path) -> None:
    df, cut = _obs_table(data), 8.4e22
    small = (df["flops"] <= cut).to_numpy()
    print(f"\n2. ObsScaling: {len(df)} models with FLOPs; target fitted on C <= {cut:.2g} "
          f"({int(small.sum())} models), scored on the {int((~small).sum())} larger ones")  # fmt: skip
    print(HEADER)
    for target, chance in (("GSM8K", 0.0), ("MMLU", 0.25), ("ARC-C", 0.25)):
        benches = [b for b in EVERY if b != target]
        fit = observational_scaling(df, benches, target, n_components=3, floor=chance,
                                    fit_mask=small, bootstrap=100)  # fmt: skip
        held = df[~small & df[target].notna() & df["family"].isin(fit.family_lines.family)]
        actual = held[target].to_numpy(float)
        for how in ("calibrated", "bootstrap"):
            saved = fit.calibration
            if how == "bootstrap":
                fit.calibration = None
            preds = {lv: [fit.predict(f, c, level=lv).iloc[0] for f, c in
                          zip(held["family"], held["flops"], strict=True)] for lv in LEVELS}  # fmt: skip
            fit.calibration = saved
            p90 = pd.DataFrame(preds[0.9])
            bounds = {
                lv: (pd.DataFrame(p)["low"], pd.DataFrame(p)["high"]) for lv, p in preds.items()
            }
            mae, cover, width, wis = _scored(actual, p90.prediction, p90.low, p90.high, bounds)
            print(row(f"{target} predict(family) {how[:5]}", len(held), mae, cover, width, wis))
        s = fit.scores
        h = s[~s["used_in_fit"] & np.isfinite(s["target"])]
        mae, _, cover = forecast_errors(h["target"], h["fitted"], h["low"], h["high"])
        print(row(f"{target} per model calib", len(h), mae, cover,
                  float((h["high"] - h["low"]).mean()), float("nan")))  # fmt: skip
        base = np.abs(h["target"] - s.loc[s["used_in_fit"], "target"].mean()).mean()
        print(f"{'naive: small models mean':<26} {len(h):>5} {base:>8.4f}")


PYTHIA_CHANCE = {"MMLU": 0.25, "ARC-C": 0.25, "HellaSwag": 0.25, "Winograd": 0.5,
                 "TruthfulQA": 0.0, "GSM8K": 0.0, "XWinograd": 0.5, "HumanEval": 0.0}  # fmt: skip


def pythia(data: Path) -> None:
    df = _obs_table(data)
    fam = df[df["family"] == "Pythia"].copy()
    fam["params"] = fam["Model Size (B)"] * 1e9
    print(f"\n3. Pythia: {len(fam)} models, {len(PYTHIA_CHANCE)} benchmarks; fit on params <= "
          "1.4e9, score 2.8B, 6.9B, 12B (MAE and width in points of accuracy)")  # fmt: skip
    print(HEADER)
    baselines: dict[str, list[float]] = {"flat": [], "log-linear": []}
    for method in ("power-error", "select", "log-linear", "flat"):
        stats = []
        for bench, chance in PYTHIA_CHANCE.items():
            bt = backtest_score(fam, x="params", y=bench, holdout_above=1.5e9, floor=chance,
                                method=method)  # fmt: skip
            stats.append((bt.n_heldout, bt.mae, bt.coverage, bt.width, bt.wis))
            if method == "power-error":
                for k in baselines:
                    baselines[k].append(bt.baselines[k])
        n, mae, cover, width, wis = np.array(stats).T
        print(row(method + (" (default)" if method == "power-error" else ""), int(n.sum()),
                  100 * mae.mean(), cover.mean(), 100 * width.mean(), 100 * wis.mean()))  # fmt: skip
    for k, v in baselines.items():
        print(f"{'naive: ' + k:<26} {'':>5} {100 * np.mean(v):>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=shared_data())
    parser.add_argument("--quick", action="store_true", help="Skip the Kaplan law.")
    args = parser.parse_args()
    chinchilla(args.data, args.quick)
    obsscaling(args.data)
    pythia(args.data)


if __name__ == "__main__":
    main()
