"""Efficiency of a run: throughput, latency percentiles, tokens, cost from a price table, and
the runtime model runtime = a + b·prompt + c·output fitted on the stored batch timings.

Narayanan et al. (2023), "Cheaply Evaluating Inference Efficiency Metrics for Autoregressive
Transformer APIs": a query's runtime is close to linear in its prompt and output tokens, so the
fit (:func:`assay.core.fit_cost`) separates a fixed overhead from per-token costs.

Latency percentiles carry distribution-free intervals from order statistics: for the q-quantile
of n latencies, [x₍l₎, x₍u₎] with l = F⁻¹(α/2), u = F⁻¹(1 − α/2) + 1 of Binomial(n, q) covers
the true quantile with probability ≥ 1 − α (Conover 1999, §3.2). Cost per sample is
(prompt·input_per_1m + output·output_per_1m) / 10⁶ with a t-interval over samples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from assay.core import (
    CostFit,
    accepts_confidence,
    fit_cost,
    parse_json,
    read_text,
    require_columns,
)
from assay.errors import InputError

from ._estimators import mean_ci
from ._results import ResultMixin

__all__ = ["EfficiencyResult", "efficiency", "extra_field", "read_prices"]

PRICE_COLUMNS = ("model", "input_per_1m", "output_per_1m")
PERCENTILES = (50, 95, 99)
#: what a price table adds to a row: cost per sample with its interval, in total, per 1,000 samples
COST_COLUMNS = (
    "cost_per_sample",
    "cost_per_sample_low",
    "cost_per_sample_high",
    "cost_total",
    "cost_per_1k",
)


@dataclass
class EfficiencyResult(ResultMixin):
    """Per (model, task): ``table`` with n, prompt_tokens / output_tokens (mean per sample and
    total), seconds (summed latency), tokens_per_s (output tokens per second), total_tokens_per_s
    (prompt + output), latency_mean, latency_p50/p95/p99 with ``_low``/``_high`` bounds, and with
    a price table cost_per_sample (+ interval), cost_total and cost_per_1k.
    ``fits``: one runtime fit per (model, runtime) from the stored batch timings."""

    table: pd.DataFrame
    fits: list[CostFit] = field(default_factory=list)
    fit_models: list[str] = field(default_factory=list)
    priced: bool = False
    confidence_level: float = 0.95

    def fits_table(self) -> pd.DataFrame:
        """The runtime fits as rows (model first)."""
        rows = [
            {"model": m, **f.to_dict()} for m, f in zip(self.fit_models, self.fits, strict=True)
        ]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["fits"] = self.fits_table().to_dict(orient="records")
        return out


def _bad(source: str, what: str) -> InputError:
    return InputError(f"{source}: {what}")


def read_prices(path: str | Path) -> pd.DataFrame:
    """A price table: CSV with columns model, input_per_1m, output_per_1m (US$ or any unit per
    million tokens), or JSON — a list of such objects or ``{model: {input_per_1m, ...}}``.
    Missing, non-numeric, negative or repeated entries are one-line :class:`InputError`\\ s."""
    path = Path(path)
    text = read_text(path)
    if path.suffix.lower() == ".json":
        data = parse_json(text, path)
        if isinstance(data, dict):
            data = [
                {"model": k, **v} if isinstance(v, dict) else {"model": k} for k, v in data.items()
            ]
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise _bad(str(path), "a price table is a list of objects or {model: {...}}")
        df = pd.DataFrame(data)
    else:
        from io import StringIO

        try:
            df = pd.read_csv(StringIO(text), dtype={"model": str})
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise _bad(str(path), f"not a readable CSV ({str(exc).splitlines()[0]})") from None
    return check_prices(df, source=str(path))


def check_prices(df: pd.DataFrame, *, source: str = "prices") -> pd.DataFrame:
    """The price table validated: the three columns, numbers ≥ 0, one row per model."""
    missing = [c for c in PRICE_COLUMNS if c not in df]
    if missing:
        raise _bad(
            source, f"missing column(s) {', '.join(missing)} (need {', '.join(PRICE_COLUMNS)})"
        )
    if df.empty:
        raise _bad(source, "the price table has no rows")
    out = df[list(PRICE_COLUMNS)].copy()
    names = out["model"]
    blank = names.isna().to_numpy() | (names.astype(str).str.strip() == "").to_numpy()
    if blank.any():  # (astype(str) would make the model "nan" or "None")
        raise _bad(source, f"row {int(np.flatnonzero(blank)[0]) + 1}: no model name")
    out["model"] = names.astype(str).str.strip()
    for col in PRICE_COLUMNS[1:]:
        values = pd.to_numeric(out[col], errors="coerce")
        bad = values.isna() | ~np.isfinite(values)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise _bad(
                source,
                f"{col} of model {out['model'].iloc[i]!r} is not a number: {df[col].iloc[i]!r}",
            )
        if (values < 0).any():
            i = int(np.flatnonzero((values < 0).to_numpy())[0])
            raise _bad(
                source,
                f"{col} of model {out['model'].iloc[i]!r} is negative ({values.iloc[i]:g}): prices must be >= 0",
            )
        out[col] = values.astype(float)
    dup = out["model"].duplicated()
    if dup.any():
        raise _bad(source, f"model {out['model'][dup].iloc[0]!r} is listed twice")
    return out.reset_index(drop=True)


def extra_field(extra: pd.Series, key: str) -> pd.Series:
    """A top-level scalar field of the stored ``extra`` JSON text (strings unquoted, numbers
    and booleans as text, missing as NaN), vectorised with a regular expression."""
    pattern = rf'"{re.escape(key)}"\s*:\s*("(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*|true|false)'
    found = extra.astype("string").str.extract(pattern)[0]
    quoted = found.str.startswith('"', na=False)
    return found.where(~quoted, found.str.slice(1, -1).str.replace(r"\\(.)", r"\1", regex=True))


def _costs(
    prices: pd.DataFrame, model: str, prompt: np.ndarray, output: np.ndarray, alpha: float
) -> tuple[float, ...]:
    """The :data:`COST_COLUMNS` of ``model``'s samples (``prompt`` and ``output`` tokens each),
    NaN when the price table has no row for the model."""
    if model not in prices.index:
        return (np.nan,) * len(COST_COLUMNS)
    price = prices.loc[model]
    cost = (
        np.nan_to_num(prompt) * price["input_per_1m"]
        + np.nan_to_num(output) * price["output_per_1m"]
    ) / 1e6
    ci = mean_ci(cost, method="t", alpha=alpha)
    return ci.mean, ci.ci_low, ci.ci_high, float(cost.sum()), 1000 * ci.mean


def _quantile_ci(sorted_x: np.ndarray, q: float, alpha: float) -> tuple[float, float, float]:
    """Sample quantile (linear interpolation) and the order-statistic interval."""
    n = sorted_x.size
    est = float(np.quantile(sorted_x, q))
    lo = int(sps.binom.ppf(alpha / 2, n, q))  # 1-based rank l: x_(l) (0 → unbounded)
    hi = int(sps.binom.ppf(1 - alpha / 2, n, q)) + 1
    low = float(sorted_x[lo - 1]) if lo >= 1 else float("nan")
    high = float(sorted_x[hi - 1]) if hi <= n else float("nan")
    return est, low, high


def _runtime_fits(df: pd.DataFrame) -> tuple[list[CostFit], list[str]]:
    """One :class:`CostFit` per (model, runtime) over the batches recorded in ``extra``."""
    if "extra" not in df or df["extra"].isna().all():
        return [], []
    batches = pd.DataFrame(
        {
            "model": df["model"].to_numpy(),
            "batch": extra_field(df["extra"], "batch").to_numpy(),
            "seconds": pd.to_numeric(
                extra_field(df["extra"], "batch_seconds"), errors="coerce"
            ).to_numpy(),
            "runtime": extra_field(df["extra"], "runtime").fillna("unknown").to_numpy(),
            "prompt_tokens": pd.to_numeric(df["input_tokens"], errors="coerce")
            .fillna(0)
            .to_numpy(),
            "output_tokens": pd.to_numeric(df["output_tokens"], errors="coerce")
            .fillna(0)
            .to_numpy(),
        }
    ).dropna(subset=["batch", "seconds"])
    fits, names = [], []
    for (model, runtime), group in batches.groupby(["model", "runtime"], sort=True):
        per = group.groupby("batch").agg(
            n=("seconds", "size"),
            prompt_tokens=("prompt_tokens", "sum"),
            output_tokens=("output_tokens", "sum"),
            seconds=("seconds", "first"),
        )
        fit = fit_cost(per, runtime=str(runtime))
        if fit is not None:
            fits.append(fit)
            names.append(str(model))
    return fits, names


@accepts_confidence()
def efficiency(
    samples: pd.DataFrame, *, prices: pd.DataFrame | None = None, alpha: float = 0.05
) -> EfficiencyResult:
    """Throughput, latency percentiles, tokens and (with ``prices``) cost per model and task
    from ``Store.samples()`` rows (input_tokens, output_tokens, latency_s, extra)."""
    require_columns(
        samples, ["model", "task", "input_tokens", "output_tokens", "latency_s"], name="samples"
    )
    if not 0 < alpha < 1:
        raise InputError(f"alpha {alpha}: must be in (0, 1)")
    if prices is not None:
        prices = check_prices(prices).set_index("model")
    df = samples.reset_index(drop=True)
    if df.empty:
        raise InputError("no samples to measure")
    rows = []
    for (model, task), g in df.groupby(["model", "task"], sort=True):
        prompt = pd.to_numeric(g["input_tokens"], errors="coerce").to_numpy(float)
        output = pd.to_numeric(g["output_tokens"], errors="coerce").to_numpy(float)
        latency = pd.to_numeric(g["latency_s"], errors="coerce").to_numpy(float)
        timed = np.sort(latency[~np.isnan(latency)])
        seconds = float(timed.sum()) if timed.size else float("nan")
        row = {
            "model": model,
            "task": task,
            "n": len(g),
            "n_timed": int(timed.size),
            "prompt_tokens": float(np.nanmean(prompt)) if (~np.isnan(prompt)).any() else np.nan,
            "output_tokens": float(np.nanmean(output)) if (~np.isnan(output)).any() else np.nan,
            "prompt_tokens_total": float(np.nansum(prompt)),
            "output_tokens_total": float(np.nansum(output)),
            "seconds": seconds,
        }
        with np.errstate(invalid="ignore", divide="ignore"):
            row["tokens_per_s"] = row["output_tokens_total"] / seconds if seconds > 0 else np.nan
            row["total_tokens_per_s"] = (
                (row["prompt_tokens_total"] + row["output_tokens_total"]) / seconds
                if seconds > 0
                else np.nan
            )
        row["latency_mean"] = float(timed.mean()) if timed.size else np.nan
        for p in PERCENTILES:
            est, lo, hi = _quantile_ci(timed, p / 100, alpha) if timed.size else (np.nan,) * 3
            row[f"latency_p{p}"], row[f"latency_p{p}_low"], row[f"latency_p{p}_high"] = est, lo, hi
        if prices is not None:
            row.update(
                zip(COST_COLUMNS, _costs(prices, str(model), prompt, output, alpha), strict=True)
            )
        rows.append(row)
    fits, names = _runtime_fits(df)
    return EfficiencyResult(
        table=pd.DataFrame(rows),
        fits=fits,
        fit_models=names,
        priced=prices is not None,
        confidence_level=1 - alpha,
    )
