"""Issue 33: style control, sandwich intervals, the fast JSONL reader."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from assay.cli import app
from assay.errors import InputError
from assay.rank import (
    ELO_PER_LOGIT,
    _battle_files,
    fit_battles,
    read_battles,
    style_design,
    text_style,
)

NAMES = np.array(["m0", "m1", "m2", "m3", "m4"])


def styled(n=3000, seed=0, ties=0.0, beta=(0.6, -0.3)):
    """Battles whose winner depends on strengths and on two style differences."""
    rng = np.random.default_rng(seed)
    k = len(NAMES)
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    la, lb = rng.integers(5, 800, n), rng.integers(5, 800, n)
    ha, hb = rng.integers(0, 6, n), rng.integers(0, 6, n)
    z = np.column_stack([(la - lb) / (la + lb + 1), (ha - hb) / (ha + hb + 1)])
    z = (z - z.mean(0)) / z.std(0)
    theta = np.linspace(-0.8, 0.8, k)
    p = expit(theta[a] - theta[b] + z @ np.asarray(beta))
    win = np.where(rng.random(n) < p, "model_a", "model_b")
    win = np.where(rng.random(n) < ties, "tie", win)
    style_a = [{"tokens": int(x), "headers": int(h)} for x, h in zip(la, ha, strict=True)]
    style_b = [{"tokens": int(x), "headers": int(h)} for x, h in zip(lb, hb, strict=True)]
    return pd.DataFrame(
        {
            "model_a": NAMES[a],
            "model_b": NAMES[b],
            "winner": win,
            "style_a": style_a,
            "style_b": style_b,
        }
    ), theta


def design(df):
    """The same design for a plain logistic regression: ±1 model columns (m0 dropped)."""
    k = len(NAMES)
    a = pd.Index(NAMES).get_indexer(df["model_a"])
    b = pd.Index(NAMES).get_indexer(df["model_b"])
    x = np.zeros((len(df), k))
    x[np.arange(len(df)), a] = 1.0
    x[np.arange(len(df)), b] = -1.0
    return np.column_stack([x[:, 1:], style_design(df).to_numpy()])


def test_style_coefficients_equal_a_plain_logistic_regression():
    df, _ = styled()
    ratings = fit_battles(df, style_control=True, bootstrap=0)
    coef = ratings.info["style_coefficients"]
    assert list(coef) == ["tokens", "headers"]
    y = (df["winner"] == "model_a").to_numpy(int)
    ref = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-12, max_iter=10_000)
    ref.fit(design(df), y)
    assert coef["tokens"] == pytest.approx(ref.coef_[0][-2], abs=1e-5)
    assert coef["headers"] == pytest.approx(ref.coef_[0][-1], abs=1e-5)
    # strengths: m0 fixed at 0 in the reference; ours are centred, on the Elo scale
    theta = np.concatenate([[0.0], ref.coef_[0][:-2]])
    elo = ELO_PER_LOGIT * (theta - theta.mean()) + 1000.0
    ours = ratings.rating.reindex(NAMES).to_numpy()
    np.testing.assert_allclose(ours, elo, atol=1e-3)
    # the simulated effects are recovered (3000 battles: SE about 0.04)
    assert coef["tokens"] == pytest.approx(0.6, abs=0.15)
    assert coef["headers"] == pytest.approx(-0.3, abs=0.15)
    lo, hi = ratings.info["style_intervals"]["tokens"]
    assert lo < coef["tokens"] < hi


def test_style_control_with_anchor_bootstrap_and_sandwich():
    df, _ = styled(n=800, seed=1, ties=0.1)
    plain = fit_battles(df, style_control=True, bootstrap=0)
    pinned = fit_battles(df, style_control=True, bootstrap=0, anchor=("m2", 1200.0))
    shift = pinned.rating - plain.rating
    np.testing.assert_allclose(shift.to_numpy(), shift.iloc[0], atol=1e-9)
    assert pinned.rating["m2"] == pytest.approx(1200.0)
    row = pinned.table.set_index("model").loc["m2"]
    assert row.ci_low == row.ci_high == pytest.approx(1200.0)
    boot = fit_battles(df, style_control=True, bootstrap=60, seed=3)
    assert boot.info["ci_method"] == "bootstrap" and boot.bootstrap.shape == (60, 5)
    np.testing.assert_allclose(boot.rating.to_numpy(), plain.rating.to_numpy())
    sand = fit_battles(df, style_control=True, ci="sandwich")
    assert sand.info["ci_method"] == "sandwich"
    assert set(sand.info["raw_ratings"]) == set(NAMES)


def test_style_features_from_answer_text():
    counts = text_style(
        pd.Series(["# Title\n\nsome words here\n- a\n- b\n1. c\n**bold** and __also__", None])
    )
    assert counts.iloc[0].to_dict() == {
        "length": 14.0,
        "header_count": 1.0,
        "list_count": 3.0,
        "bold_count": 2.0,
    }
    assert counts.iloc[1].sum() == 0
    df = pd.DataFrame(
        {
            "model_a": ["x", "y", "x"],
            "model_b": ["y", "x", "y"],
            "winner": ["model_a"] * 3,
            "answer_a": ["a b c", "a", "a b"],
            "answer_b": ["a", "a b c d", "a b"],
        }
    )
    z = style_design(df)["length"].to_numpy()
    raw = np.array([2 / 5, -3 / 6, 0.0])
    np.testing.assert_allclose(z, (raw - raw.mean()) / raw.std())
    with pytest.raises(InputError, match="style_a/style_b"):
        style_design(df.drop(columns=["answer_a"]))


def test_sandwich_is_the_robust_covariance_of_the_estimate():
    """H⁻¹ M H⁻¹ from per-battle scores, computed here directly on a 3-model example."""
    df = pd.DataFrame(
        {
            "model_a": ["a", "a", "b", "c", "a", "b", "c", "b"] * 5,
            "model_b": ["b", "c", "c", "a", "b", "a", "b", "c"] * 5,
            "winner": [
                "model_a",
                "tie",
                "model_b",
                "model_a",
                "model_b",
                "tie",
                "model_a",
                "model_a",
            ]
            * 5,
        }
    )
    r = fit_battles(df, ci="sandwich")
    assert r.info["ci_method"] == "sandwich" and r.bootstrap.shape[0] == 0
    theta = (r.rating.reindex(["a", "b", "c"]).to_numpy() - 1000.0) / ELO_PER_LOGIT
    idx = {"a": 0, "b": 1, "c": 2}
    x = np.zeros((len(df), 3))
    x[np.arange(len(df)), df["model_a"].map(idx)] = 1
    x[np.arange(len(df)), df["model_b"].map(idx)] = -1
    y = df["winner"].map({"model_a": 1.0, "model_b": 0.0, "tie": 0.5}).to_numpy()
    p = expit(x @ theta)
    h = (x * (p * (1 - p))[:, None]).T @ x
    m = (x * ((y - p) ** 2)[:, None]).T @ x
    hp = np.linalg.pinv(h)
    cov = hp @ m @ hp
    half = 1.959964 * ELO_PER_LOGIT * np.sqrt(np.diag(cov))
    table = r.table.set_index("model").reindex(["a", "b", "c"])
    np.testing.assert_allclose(table["ci_high"] - table["rating"], half, rtol=1e-4)
    # anchored: the interval of a difference to the anchor, the anchor itself exact
    pinned = fit_battles(df, ci="sandwich", anchor=("a", 1000.0)).table.set_index("model")
    var_ba = cov[1, 1] + cov[0, 0] - 2 * cov[0, 1]
    half_b = 1.959964 * ELO_PER_LOGIT * np.sqrt(var_ba)
    assert pinned.loc["b", "ci_high"] - pinned.loc["b", "rating"] == pytest.approx(half_b, 1e-4)
    assert pinned.loc["a", "ci_low"] == pinned.loc["a", "ci_high"] == 1000.0
    with pytest.raises(InputError, match="--ci"):
        fit_battles(df, ci="jackknife")
    with pytest.raises(InputError, match="--ci bootstrap needs"):
        fit_battles(df, ci="bootstrap", bootstrap=0)


def test_fast_reader_agrees_with_the_careful_one(tmp_path, monkeypatch):
    rows = [
        {
            "id": f"v{i}",
            "model_a": "x",
            "model_b": "y",
            "winner": "tie",
            "question_id": i,
            "tstamp": 1700000000 + i,
            "style_a": {"n": i},
            "style_b": {"n": 1},
        }
        for i in range(5)
    ]
    path = tmp_path / "b.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert _battle_files._block_fast(path, path.read_bytes(), 1) is not None
    fast = read_battles(path, extras=True)
    path.write_text("".join(json.dumps(r) + "\n\n" for r in rows))  # blank lines
    assert list(next(_battle_files._jsonl_frames(path)).index) == [1, 3, 5, 7, 9]
    monkeypatch.setattr(_battle_files, "_block_fast", lambda *args: None)  # careful path
    assert list(next(_battle_files._jsonl_frames(path)).index) == [1, 3, 5, 7, 9]
    careful = read_battles(path, extras=True)
    assert list(careful["vote_id"]) == list(fast["vote_id"]) == [f"v{i}" for i in range(5)]
    pd.testing.assert_frame_equal(
        fast.drop(columns="vote_id"), careful.drop(columns="vote_id"), check_dtype=False
    )


def test_cli_style_control_and_sandwich_json(tmp_path):
    df, _ = styled(n=600, seed=2)
    path = tmp_path / "b.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in df.to_dict(orient="records")))
    runner = CliRunner()
    store = str(tmp_path / "s.duckdb")
    res = runner.invoke(
        app,
        [
            "rank",
            "battles",
            str(path),
            "--style-control",
            "--bootstrap",
            "0",
            "--anchor",
            "m0=1000",
            "--store",
            store,
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    ref = fit_battles(df, style_control=True, bootstrap=0, anchor=("m0", 1000.0))
    assert out["style_coefficients"] == pytest.approx(ref.info["style_coefficients"])
    res = runner.invoke(
        app, ["rank", "battles", str(path), "--ci", "sandwich", "--store", store, "--json"]
    )
    assert json.loads(res.output)["ci_method"] == "sandwich"
    text = runner.invoke(
        app, ["rank", "battles", str(path), "--style-control", "--bootstrap", "0", "--store", store]
    )
    assert "style coefficients" in text.output and "tokens" in text.output


def test_sandwich_matches_wald_when_the_model_is_right():
    """Data drawn from the Davidson model itself: robust and model-based widths agree."""
    rng = np.random.default_rng(5)
    n, k = 20_000, 4
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    theta = np.array([-0.6, -0.1, 0.2, 0.5])
    d, nu = theta[a] - theta[b], 0.8
    w_a, w_b = np.exp(d / 2), np.exp(-d / 2)
    u = rng.random(n) * (w_a + w_b + nu)
    win = np.where(u < w_a, "model_a", np.where(u < w_a + w_b, "model_b", "tie"))
    df = pd.DataFrame({"model_a": NAMES[a], "model_b": NAMES[b], "winner": win})
    for method in ("davidson", "bt"):
        wald = fit_battles(df, method=method, bootstrap=0).table
        sand = fit_battles(df, method=method, ci="sandwich").table
        np.testing.assert_allclose(sand["rating"], wald["rating"])
        ratio = (sand["ci_high"] - sand["ci_low"]) / (wald["ci_high"] - wald["ci_low"])
        if method == "davidson":
            np.testing.assert_allclose(ratio, 1.0, atol=0.05)
        else:  # ties as half wins: the binomial Hessian overstates the variance of ties
            assert (ratio < 1.0).all()
