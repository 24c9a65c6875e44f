"""Plots of forecasts: data, fitted curve, interval band, held-out points, backtested error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from assay.core import plot_label as plain_text  # noqa: E402
from assay.errors import InputError  # noqa: E402

__all__ = ["plot_forecast"]


def _x_axis(fit, data: pd.DataFrame) -> str:
    if len(fit.inputs) == 1:
        return fit.inputs[0]
    return "flops" if "flops" in data.columns else fit.inputs[0]


def _law_curve(ax, fit, data: pd.DataFrame, xcol: str, heldout: pd.DataFrame | None, level: float):
    frames = [data] + ([heldout] if heldout is not None else [])
    allx = pd.concat([pd.to_numeric(f[xcol], errors="coerce") for f in frames]).dropna()
    grid = np.geomspace(allx.min() / 1.5, allx.max() * 3, 80)
    if len(fit.inputs) == 1:
        band = fit.predict(grid, level=level)
        label = plain_text(f"{fit.law} fit")
    else:  # L(N, D) laws: the compute-optimal frontier L(N_opt(C), D_opt(C))
        from ._optimal import compute_optimal

        opt = compute_optimal(fit, grid)
        band = fit.predict(
            pd.DataFrame(
                {fit.inputs[0]: opt.table["params_opt"], fit.inputs[1]: opt.table["tokens_opt"]}
            ),
            level=level,
        )
        label = plain_text(f"{fit.law}: compute-optimal frontier")
    ax.plot(grid, band["prediction"], color="C0", label=label)
    ax.fill_between(
        grid, band["low"], band["high"], color="C0", alpha=0.2, label=f"{level:.0%} interval"
    )


def plot_forecast(
    fit: Any,
    data: pd.DataFrame | None = None,
    *,
    heldout: pd.DataFrame | None = None,
    path: str | Path,
    backtest: Any = None,
    level: float = 0.9,
    title: str | None = None,
) -> Path:
    """Draw data points, the fitted curve with its ``level`` band and held-out points (marked
    as crosses), titled with the backtested error; write PNG or SVG by ``path``'s suffix."""
    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise InputError(f"{path}: plot file must end in .png, .svg or .pdf")
    with plt.rc_context({"text.usetex": False}):  # labels come from data: never TeX
        return _draw(fit, data, heldout, path, backtest, level, title)


def _draw(fit, data, heldout, path: Path, backtest, level: float, title: str | None) -> Path:
    from ._density import DensityResult
    from ._downstream import DownstreamFit
    from ._laws import LawFit

    fig, ax = plt.subplots(figsize=(7, 4.5))
    if isinstance(fit, LawFit):
        xcol = _x_axis(fit, data if data is not None else pd.DataFrame())
        if data is not None:
            ax.scatter(
                data[xcol],
                data[fit.y],
                s=12,
                color="k",
                alpha=0.6,
                label=f"fitted points (n={fit.n})",
            )
        if heldout is not None:
            ax.scatter(
                heldout[xcol], heldout[fit.y], s=40, marker="x", color="C3", label="held out"
            )
        _law_curve(ax, fit, data if data is not None else heldout, xcol, heldout, level)
        ax.set(xscale="log", xlabel=plain_text(xcol), ylabel=plain_text(fit.y))
    elif isinstance(fit, DownstreamFit):
        frames = [f for f in (data, heldout) if f is not None]
        allx = pd.concat([f[fit.x] for f in frames])
        grid = np.geomspace(allx.min() / 1.5, allx.max() * 3, 60)
        pred = fit.predict(grid, level=level)
        if data is not None:
            ax.scatter(
                data[fit.x], data[fit.y], s=12, color="k", label=f"fitted points (n={fit.n})"
            )
        if heldout is not None:
            ax.scatter(
                heldout[fit.x], heldout[fit.y], s=40, marker="x", color="C3", label="held out"
            )
        ax.plot(grid, pred["prediction"], color="C0", label="two-stage fit")
        ax.fill_between(
            grid, pred["low"], pred["high"], color="C0", alpha=0.2, label=f"{level:.0%} interval"
        )
        ax.set(xscale="log", xlabel=plain_text(fit.x), ylabel=plain_text(fit.y))
    elif isinstance(fit, DensityResult):
        t = fit.table[fit.table["in_range"]]
        dates = pd.to_datetime(t[fit.date_column])
        ax.scatter(dates, t["density"], s=14, color="k", label=f"models (n={fit.n} in trend)")
        line = pd.date_range(dates.min(), dates.max(), periods=50)
        ax.plot(line, fit.trend(line), color="C0", label="trend: ln density linear in date")
        ax.set(yscale="log", ylabel="capacity density (N_eff / N)", xlabel="release date")
        ax.set_title(fit.summary(), fontsize=8 if fit.direction == "unclear" else None)
    else:
        plt.close(fig)
        raise InputError(f"cannot plot a {type(fit).__name__}")
    if backtest is not None:
        ax.set_title(
            plain_text(title)
            if title
            else f"backtest: MAE {backtest.mae:.3g}, MAPE {backtest.mape:.1f}%, "
            f"{backtest.level:.0%} coverage {backtest.coverage:.0%} (n={backtest.n_heldout})"
        )
    elif title:
        ax.set_title(plain_text(title))
    elif not ax.get_title():
        ax.set_title("no backtest: error unknown")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
