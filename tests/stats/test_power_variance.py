"""Power formulas, variance decomposition and monotonicity: by hand and by simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from assay.errors import InputError
from assay.stats import (
    estimate_components,
    minimum_detectable_effect,
    monotonicity,
    power,
    power_analysis,
    sample_size,
    variance_decomposition,
)
from assay.stats._variance import kendall_tau_b, two_way_anova

Z = sps.norm.ppf(0.975) + sps.norm.ppf(0.8)


def test_sample_size_mde_power_by_hand():
    comps = {"omega2": 0.25, "sigma2_a": 0.2, "sigma2_b": 0.1, "k_a": 4, "k_b": 2}
    v = 0.25 + 0.2 / 4 + 0.1 / 2
    n = sample_size(0.05, **comps)
    assert n == pytest.approx(Z**2 * v / 0.05**2)
    assert minimum_detectable_effect(n, **comps) == pytest.approx(0.05)
    shift = 0.05 / np.sqrt(v / n)
    expected = sps.norm.cdf(shift - 1.959964) + sps.norm.cdf(-shift - 1.959964)
    assert power(0.05, n, **comps) == pytest.approx(expected, abs=1e-6)
    assert power(0.05, n, **comps) == pytest.approx(0.8, abs=1e-4)
    more_repeats = sample_size(0.05, **{**comps, "k_a": 40, "k_b": 40})
    assert more_repeats == pytest.approx(Z**2 * (0.25 + 0.2 / 40 + 0.1 / 40) / 0.05**2)
    res = power_analysis(n=1000)
    assert res.delta == pytest.approx(Z * np.sqrt(0.5 / 1000)) and res.power == pytest.approx(
        0.8, abs=1e-4
    )
    with pytest.raises(InputError):
        power_analysis()


def test_power_holds_in_simulation():
    rng = np.random.default_rng(30)
    omega2, delta = 0.3, 0.04
    n = int(np.ceil(sample_size(delta, omega2=omega2)))
    d = rng.normal(delta, np.sqrt(omega2), size=(2_000, n))
    t = d.mean(axis=1) / (d.std(axis=1, ddof=1) / np.sqrt(n))
    rejected = np.mean(np.abs(t) > sps.norm.ppf(0.975))
    assert 0.77 <= rejected <= 0.83, rejected


def test_estimate_components_by_hand():
    rows = []
    a = {"d1": [1, 0], "d2": [1, 1], "d3": [0, 0]}
    b = {"d1": [0, 0], "d2": [1, 0], "d3": [0, 1]}
    for model, table in (("a", a), ("b", b)):
        for doc, vals in table.items():
            for r, v in enumerate(vals):
                rows.append({"model": model, "task": "t", "doc_id": doc, "repeat": r,
                             "metric": "acc", "value": float(v)})  # fmt: skip
    comps = estimate_components(pd.DataFrame(rows), "a", "b", task="t", metric="acc")
    s2a = np.mean([0.5, 0.0, 0.0])  # within-doc ddof-1 variances of a
    s2b = np.mean([0.0, 0.5, 0.5])
    d = np.array([0.5, 0.5, -0.5])
    assert comps.sigma2_a == pytest.approx(s2a) and comps.sigma2_b == pytest.approx(s2b)
    assert comps.omega2 == pytest.approx(max(d.var(ddof=1) - s2a / 2 - s2b / 2, 0))
    assert comps.k_a == 2 and comps.n == 3


def test_two_way_anova_by_hand():
    x = np.array([[1.0, 2.0], [3.0, 5.0], [2.0, 5.0]])
    grand = x.mean()
    ss_col = 3 * np.sum((x.mean(axis=0) - grand) ** 2)
    ss_res = np.sum((x - x.mean(axis=1, keepdims=True) - x.mean(axis=0) + grand) ** 2)
    out = two_way_anova(x)
    assert out["ms_col"] == pytest.approx(ss_col / 1)
    assert out["ms_res"] == pytest.approx(ss_res / 2)
    assert out["p"] == pytest.approx(sps.f.sf((ss_col / 1) / (ss_res / 2), 1, 2))


def _template_scores(effect: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 500
    p_doc = rng.beta(2, 2, n)
    frames = []
    for k, tpl in enumerate(["plain", "fancy"]):
        for r in range(2):
            v = (rng.random(n) < np.clip(p_doc + effect * k, 0, 1)).astype(float)
            frames.append(pd.DataFrame({"model": "m", "task": "t", "run_id": f"run-{tpl}",
                                        "doc_id": [f"d{i}" for i in range(n)], "repeat": r,
                                        "template_id": tpl, "metric": "acc", "value": v}))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def test_variance_decomposition_finds_a_template_effect():
    table = variance_decomposition(_template_scores(0.15, seed=31)).table.set_index("factor")
    assert set(table.index) == {"template_id", "run_id", "repeat"}
    tpl = table.loc["template_id"]
    assert tpl["levels"] == 2 and tpl["n"] == 500
    assert tpl["p_value"] < 1e-6 and tpl["ratio"] > 10
    # E[MS_level]/n = var_factor + var_noise; a 0.15 shift (clipped at 1) gives about D^2/2
    assert tpl["var_factor"] == pytest.approx(tpl["var_levels"] - tpl["var_noise"])
    assert 0.005 < tpl["var_factor"] < 0.02
    rep = table.loc["repeat"]  # sampling repeats: no systematic effect
    assert rep["p_value"] > 0.01 and rep["ratio"] < 5
    null = variance_decomposition(_template_scores(0.0, seed=32)).table.set_index("factor")
    assert null.loc["template_id", "p_value"] > 0.01


def test_kendall_tau_b_matches_scipy():
    rng = np.random.default_rng(33)
    steps = np.array([1.0, 2.0, 2.0, 5.0, 9.0, 10.0])
    values = rng.integers(0, 4, size=(20, 6)).astype(float)  # with ties
    ours = kendall_tau_b(steps, values)
    ref = [sps.kendalltau(steps, v).statistic for v in values]
    np.testing.assert_allclose(ours, ref)


def test_monotonicity_on_rising_checkpoints():
    rng = np.random.default_rng(34)
    n = 300
    frames = []
    for k, p in enumerate([0.3, 0.4, 0.5, 0.6, 0.7]):
        v = (rng.random(n) < p).astype(float)
        frames.append(pd.DataFrame({"model": f"ckpt{k}", "task": "t", "doc_id": [f"d{i}" for i in range(n)],
                                    "metric": "acc", "value": v}))  # fmt: skip
    scores = pd.concat(frames, ignore_index=True)
    names = [f"ckpt{k}" for k in range(5)]
    res = monotonicity(scores, names, steps=[100, 200, 400, 800, 1600], n_resamples=1_000)
    assert res.tau == 1.0 and res.ci_high == 1.0 and res.ci_low >= 0.6
    assert list(res.table["step"]) == [100, 200, 400, 800, 1600]
    flat = monotonicity(scores, names[::-1], n_resamples=1_000)
    assert flat.tau == -1.0
    with pytest.raises(InputError):
        monotonicity(scores, names[:2])
