"""Quantile forecasts (issue 35, item 1): WIS and pinball loss against worked examples and
sklearn, the repairs of crossing quantiles that can only lower WIS, interval coverage, and the
metrics end to end through `assay import samples --metric` and `assay compare --json`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.core import (
    interval_coverage,
    isotonic_quantiles,
    metric_info,
    parse_metric_spec,
    pinball_loss,
    sort_quantiles,
    weighted_interval_score,
)
from assay.errors import InputError

LEVELS = [0.05, 0.25, 0.5, 0.75, 0.95]  # the median, the 50% and the 90% central intervals
Q = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 4.0, 5.0]])


def test_wis_and_pinball_worked_examples():
    # y = 6 above every quantile: ½|6 − 3| = 1.5; IS_0.1 = 4 + 20·1 = 24, weight 0.05 -> 1.2;
    # IS_0.5 = 2 + 4·2 = 10, weight 0.25 -> 2.5; WIS = 5.2 / (2 + ½) = 2.08.
    # y = 2.5 inside: ½·0.5 = 0.25; IS_0.1 = 4 -> 0.2; IS_0.5 = 2 -> 0.5; WIS = 0.95 / 2.5 = 0.38.
    y = np.array([6.0, 2.5])
    assert weighted_interval_score(Q, LEVELS, y) == pytest.approx([2.08, 0.38], abs=1e-12)
    # pinball τ(y − q) above q, (1 − τ)(q − y) below: y = 6: .25 + 1 + 1.5 + 1.5 + .95 = 5.2;
    # y = 2.5: .075 + .125 + .25 + .375 + .125 = 0.95; the mean over the five levels
    assert pinball_loss(Q, LEVELS, y) == pytest.approx([1.04, 0.19], abs=1e-12)
    assert interval_coverage(Q, LEVELS, y, 0.5).tolist() == [0.0, 1.0]
    assert interval_coverage(Q, LEVELS, [6.0, 5.0], 0.9).tolist() == [0.0, 1.0]  # ends count


def test_pinball_matches_sklearn_and_wis_is_twice_the_mean_pinball():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(35)
    q = np.sort(rng.normal(size=(200, 5)), axis=1) * 2
    y = rng.normal(size=200)
    per_level = [metrics.mean_pinball_loss(y, q[:, j], alpha=tau) for j, tau in enumerate(LEVELS)]
    assert pinball_loss(q, LEVELS, y).mean() == pytest.approx(np.mean(per_level), rel=1e-12)
    # Bracher et al. (2021): WIS over K intervals and the median = 2 · mean pinball over 2K + 1
    assert weighted_interval_score(q, LEVELS, y) == pytest.approx(
        2 * pinball_loss(q, LEVELS, y), rel=1e-12
    )


def test_isotonic_matches_sklearn_and_both_repairs_only_lower_wis():
    isotonic = pytest.importorskip("sklearn.isotonic")
    rng = np.random.default_rng(7)
    levels = np.array([0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975])
    q = np.sort(rng.normal(size=(400, 7)), axis=1) + rng.normal(scale=0.8, size=(400, 7))
    y = rng.normal(size=400)
    crossing = (np.diff(q, axis=1) < 0).any(axis=1)
    assert crossing.mean() > 0.9  # the noise makes nearly every forecast cross
    iso = isotonic_quantiles(q)
    for row in range(0, 400, 37):  # PAV of sklearn, row by row
        ref = isotonic.IsotonicRegression().fit_transform(np.arange(7), q[row])
        assert iso[row] == pytest.approx(ref, abs=1e-12)
    assert (np.diff(iso, axis=1) >= -1e-12).all()
    raw = weighted_interval_score(q, levels, y)
    for fixed in (sort_quantiles(q), iso):
        after = weighted_interval_score(fixed, levels, y)
        assert (after <= raw + 1e-12).all()  # for every forecast and every y
        assert (after < raw - 1e-9).mean() > 0.5
        assert pinball_loss(fixed, levels, y).mean() < pinball_loss(q, levels, y).mean()
    untouched = q[~crossing]
    assert sort_quantiles(untouched) == pytest.approx(untouched)


def test_bad_levels_are_one_line_errors():
    with pytest.raises(InputError, match="symmetric about 0.5"):
        weighted_interval_score(Q[:, :4], LEVELS[:4], [1.0, 2.0])
    with pytest.raises(InputError, match="needs the levels 0.1 and 0.9"):
        interval_coverage(Q, LEVELS, [1.0, 2.0], 0.8)
    with pytest.raises(InputError, match="increasing"):
        pinball_loss(Q, LEVELS[::-1], [1.0, 2.0])


def test_registry_declares_the_quantile_metrics():
    for name in ("wis", "wis_sorted", "wis_isotonic", "pinball"):
        info = metric_info(name)
        assert info.lower_is_better and info.bounds == (0.0, np.inf)
        assert info.interval == "clustered"
    cov = metric_info("coverage@90")
    assert cov.bounds == (0.0, 1.0) and cov.priority < 0 and "90%" in cov.description
    assert metric_info("coverage@x").bounds is None  # not a family member
    # a task file naming a built-in metric ({} or nothing) keeps its definition
    for spec in ({}, None):
        assert parse_metric_spec("wis", spec) == metric_info("wis")
    assert parse_metric_spec("coverage@80", {}) == metric_info("coverage@80")
    assert parse_metric_spec("wis", {"priority": 3}).higher_is_better  # a full declaration


def test_import_samples_computes_wis_and_compare_ranks_it(tmp_path):
    rng = np.random.default_rng(3)
    n = 60
    y = rng.normal(size=n)
    rows = []
    for model, spread in (("sharp", 1.0), ("wide", 3.0)):
        centre = y + rng.normal(scale=0.5, size=n)
        z = np.array([-1.645, -0.674, 0.0, 0.674, 1.645])
        q = centre[:, None] + spread * 0.5 * z[None, :]
        for i in range(n):
            row = {"model": model, "task": "flu", "doc_id": f"w{i}", "target": y[i]}
            row.update({f"quantile.{lv}": q[i, j] for j, lv in enumerate(LEVELS)})
            rows.append(row)
    path = tmp_path / "forecasts.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    store = str(tmp_path / "s.duckdb")
    runner = CliRunner()
    args = ["import", "samples", str(path), "--store", store, "--json"]
    for metric in ("wis", "wis_isotonic", "pinball", "coverage@50"):
        args += ["--metric", metric]
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    out = runner.invoke(app, ["compare", "--store", store, "--metric", "wis", "--json"])
    assert out.exit_code == 0, out.output
    scores = {r["model"]: r for r in json.loads(out.output)["scores"] if r["metric"] == "wis"}
    frame = pd.DataFrame(rows)
    for model, row in scores.items():
        sub = frame[frame["model"] == model]
        q = sub[[f"quantile.{lv}" for lv in LEVELS]].to_numpy()
        expected = weighted_interval_score(q, LEVELS, sub["target"].to_numpy()).mean()
        assert row["mean"] == pytest.approx(expected, rel=1e-9) and row["n"] == n
        assert row["ci_low"] < row["mean"] < row["ci_high"]
    assert scores["sharp"]["mean"] < scores["wide"]["mean"]
    pairs = json.loads(out.output)["pairs"]
    assert len(pairs) == 1 and pairs[0]["p_adjusted"] < 0.05


def test_import_samples_without_quantile_columns_is_one_line_error(tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"model": ["m"], "task": ["t"], "doc_id": ["a"], "target": [1.0]}).to_csv(
        path, index=False
    )
    store = str(tmp_path / "s.duckdb")
    done = CliRunner().invoke(
        app, ["import", "samples", str(path), "--store", store, "--metric", "wis"]
    )
    assert done.exit_code == 1
    assert "metric 'wis' needs quantile.<level> columns" in str(done.exception)
