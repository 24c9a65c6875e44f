"""Sample-level ranking (ONEBench Plackett–Luce, HELM mean win rate, plain mean)."""

from __future__ import annotations

import choix
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.errors import InputError
from assay.rank import ELO_PER_LOGIT, kendall_tau, rank_samples
from assay.rank._samples import pairwise_wins, sample_matrix
from assay.store import SampleRecord, open_store


def tidy(values: np.ndarray, tasks: np.ndarray, metric="acc", names=None) -> pd.DataFrame:
    """Long scores from a models × samples matrix with NaN for missing cells."""
    m, s = np.nonzero(~np.isnan(values))
    names = names or [f"m{i:02d}" for i in range(values.shape[0])]
    return pd.DataFrame(
        {
            "model": np.asarray(names)[m],
            "task": tasks[s],
            "doc_id": s.astype(str),
            "repeat": 0,
            "metric": metric,
            "value": values[m, s],
        }
    )


def simulate_binary(k=15, s=4000, keep=0.5, seed=0):
    rng = np.random.default_rng(seed)
    skill = np.linspace(-1.5, 1.5, k)
    difficulty = rng.normal(0, 1.5, s)
    p = 1 / (1 + np.exp(-(skill[:, None] - difficulty[None, :])))
    x = (rng.random((k, s)) < p).astype(float)
    x[rng.random((k, s)) > keep] = np.nan  # each model on its own random subset
    tasks = np.where(np.arange(s) < s // 2, "arith", "trivia")
    return x, tasks, skill


def test_plackett_luce_survives_dropping_95_percent_of_samples():
    # 15 models, each on a random half of 20 000 binary samples; 5% kept = 1000 samples
    x, tasks, skill = simulate_binary(s=20_000)
    full = rank_samples(tidy(x, tasks), method="pl", bootstrap=0)
    truth = pd.Series(skill, index=[f"m{i:02d}" for i in range(len(skill))])
    assert kendall_tau(full, truth).statistic >= 0.9
    rng = np.random.default_rng(1)
    for _ in range(3):
        cols = rng.choice(x.shape[1], size=x.shape[1] // 20, replace=False)  # keep 5%
        sub = rank_samples(tidy(x[:, cols], tasks[cols]), method="pl", bootstrap=0)
        assert kendall_tau(sub, full).statistic >= 0.9


def test_pl_matches_choix_on_the_broken_comparisons():
    x, tasks, _ = simulate_binary(k=6, s=600, keep=0.7, seed=3)
    ours = rank_samples(tidy(x, tasks), method="pl", bootstrap=0, l2=0.0)  # default: auto
    k = x.shape[0]
    dense = pairwise_wins(x)  # dense[i, j]: samples where i beat j
    theirs = choix.ilsr_pairwise_dense(dense, tol=1e-12)
    expected = 1000 + ELO_PER_LOGIT * (theirs - theirs.mean())
    got = ours.table.set_index("model").loc[[f"m{i:02d}" for i in range(k)], "rating"]
    np.testing.assert_allclose(got.to_numpy(), expected, atol=0.01)


def test_comparisons_by_hand():
    x = np.array([[1.0, 0.0, np.nan], [0.0, 0.0, 1.0], [0.5, np.nan, 0.0]])
    c = pairwise_wins(x)
    # sample 0: 0 > 2 > 1; sample 1: 0 = 1 (no comparison); sample 2: 1 > 2
    expected = np.array([[0, 1, 1], [0, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(c, expected)
    # weighted: sample 0 counted twice, sample 2 dropped
    w = pairwise_wins(x, np.array([[2.0, 1.0, 0.0]]))[0]
    np.testing.assert_array_equal(w, [[0, 2, 2], [0, 0, 0], [0, 2, 0]])


def test_winrate_and_mean_by_hand():
    # two tasks; model c misses task t2 entirely
    nan = np.nan
    x = np.array(
        [
            [1, 1, 0, 1, 1],  # a: t1 mean 2/3, t2 mean 1
            [1, 0, 0, 0, 1],  # b: t1 1/3, t2 1/2
            [1, 1, 1, nan, nan],  # c: t1 1
        ],
        dtype=float,
    )
    tasks = np.array(["t1", "t1", "t1", "t2", "t2"])
    df = tidy(x, tasks, names=["a", "b", "c"])
    mean = rank_samples(df, method="mean", bootstrap=0)
    t = mean.table.set_index("model")
    assert t.loc["a", "rating"] == pytest.approx((2 / 3 + 1) / 2)
    assert t.loc["b", "rating"] == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert t.loc["c", "rating"] == pytest.approx(1.0)
    assert t["n"].to_dict() == {"a": 5, "b": 5, "c": 3}
    assert mean.details.loc["c", "coverage"] == pytest.approx(3 / 5)
    win = rank_samples(df, method="winrate", bootstrap=0).table.set_index("model")
    # t1: c > a > b -> c 1, a 1/2, b 0; t2 (c missing): a > b -> a 1, b 0
    assert win.loc["a", "rating"] == pytest.approx((0.5 + 1) / 2)
    assert win.loc["b", "rating"] == pytest.approx(0.0)
    assert win.loc["c", "rating"] == pytest.approx(1.0)


def test_ties_count_half_in_the_win_rate():
    x = np.array([[1.0, 0.5], [1.0, 0.5], [0.0, 0.0]])
    df = tidy(x, np.array(["t1", "t2"]), names=["a", "b", "c"])
    win = rank_samples(df, method="winrate", bootstrap=0).table.set_index("model")["rating"]
    assert win["a"] == pytest.approx(0.75) and win["b"] == pytest.approx(0.75)
    assert win["c"] == pytest.approx(0.0)


def test_bootstrap_intervals_and_metric_choice():
    x, tasks, _ = simulate_binary(k=5, s=800, keep=0.8, seed=5)
    df = tidy(x, tasks)
    extra = df.assign(metric="acc_norm", value=1 - df["value"])
    both = pd.concat([df, extra])
    default = rank_samples(both, bootstrap=50, seed=1)  # picks acc over acc_norm
    assert default.info["metrics"] == {"arith": "acc", "trivia": "acc"}
    flipped = rank_samples(both, metric="acc_norm", bootstrap=0)
    assert kendall_tau(default, flipped).statistic == pytest.approx(-1.0)
    t = default.table
    assert (t["ci_low"] <= t["rating"]).all() and (t["rating"] <= t["ci_high"]).all()
    assert default.bootstrap.shape == (50, 5)
    for method in ("winrate", "mean"):
        r = rank_samples(df, method=method, bootstrap=30, seed=2)
        assert r.table["ci_low"].le(r.table["ci_high"]).all()
        assert r.table["rating"].min() >= 0 and r.table["rating"].max() <= 1


def test_lower_is_better_metrics_are_negated():
    x = np.array([[10.0, 12.0], [20.0, 25.0]])
    df = tidy(x, np.array(["lm", "lm"]), metric="perplexity", names=["good", "bad"])
    r = rank_samples(df, method="mean", bootstrap=0)
    assert r.table["model"].tolist() == ["good", "bad"]


def test_errors():
    with pytest.raises(InputError, match="missing column"):
        rank_samples(pd.DataFrame({"model": ["a"]}))
    x, tasks, _ = simulate_binary(k=3, s=20)
    with pytest.raises(InputError, match="--metric 'f1'"):
        rank_samples(tidy(x, tasks), metric="f1")
    with pytest.raises(InputError, match="method"):
        rank_samples(tidy(x, tasks), method="borda")
    one = tidy(x[:1], tasks)
    with pytest.raises(InputError, match="two models"):
        sample_matrix(one)


def test_cli_rank_samples_from_a_store(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    x, tasks, _ = simulate_binary(k=4, s=200, keep=0.9, seed=8)
    df = tidy(x, tasks)
    records = [
        SampleRecord(run_id=f"run-{m}-{t}", model=m, task=t, doc_id=d, repeat=0, metrics={"acc": v})
        for m, t, d, v in zip(df["model"], df["task"], df["doc_id"], df["value"], strict=True)
    ]
    store.write_samples(records)
    res = CliRunner().invoke(
        app,
        ["rank", "samples", "--store", str(tmp_path / "s.duckdb"), "--json", "--bootstrap", "20"],
    )
    assert res.exit_code == 0, res.output
    import json

    out = json.loads(res.output)
    api = rank_samples(store.scores(), bootstrap=20).to_dict()
    assert out["ratings"] == api["ratings"]
    # every command with an interval takes --confidence (an audit: `rank samples` had none)
    argv = ["rank", "samples", "--store", str(tmp_path / "s.duckdb"), "--json", "--bootstrap", "20"]
    res = CliRunner().invoke(app, [*argv, "--confidence", "0.8"])
    assert res.exit_code == 0, res.output
    narrow = json.loads(res.output)
    assert narrow["confidence_level"] == 0.8
    assert (
        narrow["ratings"]
        == rank_samples(store.scores(), bootstrap=20, confidence=0.8).to_dict()["ratings"]
    )


def test_task_level_tables_resample_tasks():
    # one score per (model, task): the bootstrap must resample tasks, not pretend certainty
    rng = np.random.default_rng(4)
    x = np.clip(rng.normal(0.6, 0.15, (6, 8)) + np.linspace(0, 0.2, 6)[:, None], 0, 1)
    df = tidy(x, np.array([f"bench{t}" for t in range(8)]))
    for method in ("pl", "winrate", "mean"):
        r = rank_samples(df, method=method, bootstrap=200, seed=0)
        width = r.table["ci_high"] - r.table["ci_low"]
        assert (width > 0).all(), method
    mean = rank_samples(df, method="mean", bootstrap=200, seed=0)
    # replicate means are task-weighted averages: they stay inside each model's score range
    for i, row in enumerate(mean.bootstrap.T):
        assert x[i].min() - 1e-12 <= row.min() and row.max() <= x[i].max() + 1e-12
    np.testing.assert_allclose(mean.rating.loc[[f"m{i:02d}" for i in range(6)]], x.mean(axis=1))
