"""PATE and point-adjusted F1: hand-computed answers, the values of the reference
implementation (``pate`` 0.1.1 from PyPI, run side by side when installed; its pinned numpy 1.24
cannot live beside assay, so its values on these fixed series are also recorded here from
benchmarks/pate_reference.py), and the metrics end to end through ``assay import samples``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from cli_helpers import run_main
from simulations import pate_cases

from assay.core import metric_info
from assay.errors import InputError
from assay.metrics import anomaly_intervals, pate, point_adjusted_f1
from assay.store import open_store

CASES = pate_cases()  # twelve random series, every third with tied scores
# pate 0.1.1: PATE(y, s, e_buffer=e, d_buffer=d) and, on s above its 90th percentile,
# PATE(..., binary_scores=True)
REFERENCE_CONTINUOUS = [
    0.5852749972808,
    0.5337189717663,
    0.8708123045987,
    0.7784167026824,
    0.5330767569442,
    0.5286622665821,
    0.0666967743438,
    0.5617787221949,
    1.0,
    0.5058869350589,
    0.6116111514557,
    0.5567049606438,
]
REFERENCE_BINARY = [
    0.4806835129761,
    0.4024093599851,
    0.5804629123383,
    0.6510216248442,
    0.3999250677386,
    0.3401271461732,
    0.0165289256198,
    0.4445714133906,
    0.1960801884569,
    0.4112931337826,
    0.405049911175,
    0.4161711037821,
]


@pytest.mark.parametrize("i", range(12))
def test_pate_equals_the_reference_values(i):
    y, s, e, d = CASES[i]
    assert pate(y, s, e, d) == pytest.approx(REFERENCE_CONTINUOUS[i], abs=1e-12)
    binary = (s > np.quantile(s, 0.9)).astype(int)
    assert pate(y, binary, e, d, binary=True) == pytest.approx(REFERENCE_BINARY[i], abs=1e-12)


@pytest.mark.parametrize("i", [0, 4, 9])
def test_pate_side_by_side_with_the_reference(i):
    # pate pins numpy 1.24: it runs where it is installed alone (benchmarks/pate_reference.py)
    reference = pytest.importorskip("pate.PATE_metric", exc_type=ImportError)
    y, s, e, d = CASES[i]
    assert pate(y, s, e, d) == pytest.approx(reference.PATE(y, s, e, d), abs=1e-12)


def test_pate_by_hand():
    """Label [3, 4] in 10 points, predictions at 2, 3 and 5, buffers of 2: F1 over the four
    buffer sizes is 2/5 (no buffers), 14/27 (the point at 5 in the post-buffer weighs 0.4, as
    does the point at 2 in the pre-buffer) and 18/29 (both)."""
    y = np.zeros(10, int)
    y[3:5] = 1
    pred = np.zeros(10, int)
    pred[[2, 3, 5]] = 1
    expected = (2 / 5 + 14 / 27 + 14 / 27 + 18 / 29) / 4
    assert pate(y, pred, 2, 2, binary=True) == pytest.approx(expected, abs=1e-12)


def test_point_adjusted_f1_by_hand():
    y = [0, 0, 1, 1, 1, 0, 0, 0, 1, 1]
    s = [0.1, 0.2, 0.9, 0.1, 0.1, 0.3, 0.1, 0.1, 0.2, 0.2]
    assert point_adjusted_f1(y, s, threshold=0.9) == pytest.approx(6 / 8)  # TP 3, FN 2
    assert point_adjusted_f1(y, s) == pytest.approx(10 / 12)  # best: at 0.2, TP 5, FP 2
    np.testing.assert_array_equal(anomaly_intervals(y), [[2, 4], [8, 9]])


def test_point_adjusted_f1_equals_a_plain_loop():
    for y, s, _, _ in CASES[:6]:
        best = 0.0
        for cut in np.unique(s):
            pred = s >= cut
            for a, b in anomaly_intervals(y):
                if pred[a : b + 1].any():
                    pred[a : b + 1] = True
            tp = float((pred & (y == 1)).sum())
            fp, fn = float((pred & (y == 0)).sum()), float((~pred & (y == 1)).sum())
            best = max(best, 2 * tp / (2 * tp + fp + fn) if tp else 0.0)
        assert point_adjusted_f1(y, s) == pytest.approx(best, abs=1e-12)


def test_point_adjustment_flatters_random_scores():
    """Random scores on long anomalies: point-adjusted F1 is high, PATE is not."""
    rng = np.random.default_rng(3)
    y = np.zeros(2000, int)
    for start in range(100, 2000, 400):
        y[start : start + 80] = 1
    s = rng.random(2000)
    assert point_adjusted_f1(y, s) > 0.8
    assert pate(y, s, 20, 20) < 0.3


def test_bad_series_are_one_line_errors():
    with pytest.raises(InputError, match="one length"):
        pate([0, 1], [0.1])
    with pytest.raises(InputError, match="0 .normal. or 1"):
        pate([0, 2], [0.1, 0.2])
    with pytest.raises(InputError, match="at least one anomaly"):
        point_adjusted_f1([0, 0], [0.1, 0.2])


def test_registry_and_import_samples(tmp_path):
    for name in ("pate", "pa_f1"):
        info = metric_info(name)
        assert info.higher_is_better and info.bounds == (0.0, 1.0) and not info.log_scale
    rows = []
    for model, noise in (("sharp", 0.2), ("blunt", 2.0)):
        for i, (y, _, _, _) in enumerate(CASES[:6]):
            scores = y + noise * np.random.default_rng(i).random(y.size)
            rows.append(
                {
                    "model": model,
                    "task": "kpi",
                    "doc_id": f"series{i}",
                    "anomaly_labels": json.dumps(y.tolist()),
                    "anomaly_scores": json.dumps(scores.tolist()),
                }
            )
    file = tmp_path / "series.jsonl"
    pd.DataFrame(rows).to_json(file, orient="records", lines=True)
    store_path = tmp_path / "s.duckdb"
    args = ["import", "samples", str(file), "--store", str(store_path)]
    code, _, err = run_main([*args, "--metric", "pate", "--metric", "pa_f1"])
    assert code == 0, err
    scores = open_store(store_path).scores()
    got = scores.set_index(["model", "doc_id", "metric"])["value"]
    for model, noise in (("sharp", 0.2), ("blunt", 2.0)):
        for i, (y, _, _, _) in enumerate(CASES[:6]):
            s = y + noise * np.random.default_rng(i).random(y.size)
            assert got[(model, f"series{i}", "pate")] == pytest.approx(pate(y, s))
            assert got[(model, f"series{i}", "pa_f1")] == pytest.approx(point_adjusted_f1(y, s))
    code, out, err = run_main(["compare", "--store", str(store_path), "--json"])
    assert code == 0, err
    means = {r["model"]: r["mean"] for r in json.loads(out)["scores"]}
    assert means["sharp"] > means["blunt"]  # the headline is pate (higher is better)
    assert {r["metric"] for r in json.loads(out)["scores"]} == {"pate"}


def test_import_with_a_bad_series_is_one_error(tmp_path):
    file = tmp_path / "bad.jsonl"
    rows = [
        {
            "model": "m",
            "task": "t",
            "doc_id": "1",
            "anomaly_labels": "[0, 1]",
            "anomaly_scores": "not a list",
        }
    ]
    pd.DataFrame(rows).to_json(file, orient="records", lines=True)
    code, _, err = run_main(
        ["import", "samples", str(file), "--store", str(tmp_path / "s"), "--metric", "pate"]
    )
    assert code != 0 and "anomaly_scores" in err and "not a list of numbers" in err
    assert "Traceback" not in err
