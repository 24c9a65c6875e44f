"""Efficiency: latency percentiles with order-statistic intervals, throughput, cost from a
price table (CSV/JSON, bad prices refused) and the runtime fit from stored batch timings."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from assay.errors import InputError
from assay.stats import check_prices, efficiency, read_prices


def _samples() -> pd.DataFrame:
    """Two models; batches of 4 samples whose time is 0.05·n + 0.001·prompt + 0.02·output."""
    rng = np.random.default_rng(0)
    rows = []
    for model in ("a", "b"):
        for batch in range(30):
            prompt = rng.integers(10, 200, 4)
            output = rng.integers(1, 40, 4)
            seconds = 0.05 * 4 + 0.001 * prompt.sum() + 0.02 * output.sum()
            for i in range(4):
                extra = {"batch": f"{model}{batch}", "batch_seconds": seconds, "runtime": "sim"}
                rows.append({"model": model, "task": "t", "doc_id": f"{batch}-{i}",
                             "input_tokens": prompt[i], "output_tokens": output[i],
                             "latency_s": seconds / 4, "extra": json.dumps(extra)})  # fmt: skip
    return pd.DataFrame(rows)


def test_latency_tokens_and_runtime_fit():
    s = _samples()
    res = efficiency(s)
    row = res.table.set_index("model").loc["a"]
    lat = np.sort(s.loc[s["model"] == "a", "latency_s"].to_numpy())
    assert row["latency_p50"] == pytest.approx(np.quantile(lat, 0.5))
    assert row["latency_p95"] == pytest.approx(np.quantile(lat, 0.95))
    # n = 120, q = 0.5: ranks 50 and 71 of Binomial(120, 0.5) quantiles (0.025, 0.975) + 1
    assert row["latency_p50_low"] == lat[49] and row["latency_p50_high"] == lat[70]
    out = s.loc[s["model"] == "a", "output_tokens"].sum()
    assert row["tokens_per_s"] == pytest.approx(out / lat.sum())
    fits = res.fits_table().set_index("model")
    assert fits.loc["a", "a"] == pytest.approx(0.05, rel=1e-6)
    assert fits.loc["a", "b"] == pytest.approx(0.001, rel=1e-6)
    assert fits.loc["a", "c"] == pytest.approx(0.02, rel=1e-6)
    assert fits.loc["b", "n_batches"] == 30 and fits.loc["b", "runtime"] == "sim"


def test_cost_from_csv_and_json(tmp_path):
    s = _samples()
    csv = tmp_path / "p.csv"
    csv.write_text("model,input_per_1m,output_per_1m\na,2.0,8.0\n")
    res = efficiency(s, prices=read_prices(csv))
    a = s[s["model"] == "a"]
    cost = (a["input_tokens"] * 2.0 + a["output_tokens"] * 8.0) / 1e6
    row = res.table.set_index("model")
    assert row.loc["a", "cost_total"] == pytest.approx(cost.sum())
    assert row.loc["a", "cost_per_sample"] == pytest.approx(cost.mean())
    assert row.loc["a", "cost_per_sample_low"] < cost.mean() < row.loc["a", "cost_per_sample_high"]
    assert np.isnan(row.loc["b", "cost_total"])  # no price for b
    js = tmp_path / "p.json"
    js.write_text(json.dumps({"a": {"input_per_1m": 2, "output_per_1m": 8}}))
    assert read_prices(js).to_dict("records") == [
        {"model": "a", "input_per_1m": 2.0, "output_per_1m": 8.0}
    ]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("model,input_per_1m,output_per_1m\na,-1,2\n", "negative"),
        ("model,input_per_1m,output_per_1m\na,x,2\n", "not a number"),
        ("model,input_per_1m\na,1\n", "missing column"),
        ("model,input_per_1m,output_per_1m\na,1,2\na,1,2\n", "listed twice"),
        ("model,input_per_1m,output_per_1m\na,1,2\n,1,2\n", "row 2: no model name"),
        ("model,input_per_1m,output_per_1m\n  ,1,2\n", "row 1: no model name"),
    ],
)
def test_bad_price_tables(tmp_path, text, match):
    path = tmp_path / "p.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=match) as err:
        read_prices(path)
    assert "\n" not in str(err.value)


def test_negative_price_frame_and_json():
    with pytest.raises(InputError, match="negative"):
        check_prices(pd.DataFrame({"model": ["m"], "input_per_1m": [1], "output_per_1m": [-3]}))
    with pytest.raises(InputError, match="alpha"):
        efficiency(_samples(), alpha=2)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"a": {"input_per_1m": 2,', r"p\.json: line 1: not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, r"p\.json: JSON nested too deeply"),
        ('[{"model": null, "input_per_1m": 1, "output_per_1m": 2}]', r"row 1: no model name"),
    ],
)
def test_bad_json_price_tables_are_one_line_in_the_shared_wording(tmp_path, text, match):
    path = tmp_path / "p.json"
    path.write_text(text)
    with pytest.raises(InputError, match=match) as err:
        read_prices(path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95])
def test_cost_interval_follows_the_confidence(confidence):
    """An audit: the cost interval stayed at 95 % whatever --confidence said."""
    s = _samples()
    prices = check_prices(
        pd.DataFrame({"model": ["a"], "input_per_1m": [2.0], "output_per_1m": [8.0]})
    )
    row = efficiency(s, prices=prices, confidence=confidence).table.set_index("model").loc["a"]
    a = s[s["model"] == "a"]
    cost = ((a["input_tokens"] * 2.0 + a["output_tokens"] * 8.0) / 1e6).to_numpy(float)
    half = sps.t.ppf(0.5 + confidence / 2, cost.size - 1) * cost.std(ddof=1) / np.sqrt(cost.size)
    assert row["cost_per_sample_low"] == pytest.approx(cost.mean() - half)
    assert row["cost_per_sample_high"] == pytest.approx(cost.mean() + half)
