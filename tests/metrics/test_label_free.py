"""Matrix Nuclear-Norm and Matrix Entropy of answer distributions: known answers, the L1,2
approximation against the exact SVD, per-sample pseudo-values whose mean is the metric and
whose deviations are its influence (finite differences), and the store round trip through
``assay store label-free`` into compare and rank."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from cli_helpers import run_main
from fake_backend import FakeBackend, answer_key

from assay.core import metric_info
from assay.errors import InputError
from assay.metrics import (
    LABEL_FREE,
    choice_matrix,
    label_free_values,
    matrix_entropy,
    matrix_nuclear_norm,
)
from assay.runner import evaluate
from assay.store import add_label_free_metrics, open_store
from assay.tasks import load_task

ONE_HOT = np.repeat(np.eye(4), 5, axis=0)  # 20 confident answers, 5 at each position


def test_known_answers():
    # confident answers spread evenly: σ = (√5, √5, √5, √5), the maximum 1
    assert matrix_nuclear_norm(ONE_HOT) == pytest.approx(1.0)
    assert matrix_nuclear_norm(ONE_HOT, exact=True) == pytest.approx(1.0)
    assert matrix_entropy(ONE_HOT) == pytest.approx(1.0)
    # all at one position: √n / √(n·4) = 1/2, rank one
    same = np.zeros((20, 4))
    same[:, 2] = 1
    assert matrix_nuclear_norm(same) == pytest.approx(0.5)
    assert matrix_nuclear_norm(same, exact=True) == pytest.approx(0.5)
    assert matrix_entropy(same) == pytest.approx(0.0, abs=1e-12)
    # uniform: one singular value √(n/C), so 1/C exactly; the L1,2 form says 1/√C
    flat = np.full((20, 4), 0.25)
    assert matrix_nuclear_norm(flat, exact=True) == pytest.approx(0.25)
    assert matrix_nuclear_norm(flat) == pytest.approx(0.5)
    assert matrix_entropy(flat) == pytest.approx(0.0, abs=1e-12)
    # 3 answers at A, 1 at B: eigenvalues of AᵀA / tr = (3/4, 1/4), D = 2
    a = np.array([[1, 0], [1, 0], [1, 0], [0, 1]], float)
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25)) / math.log(2)
    assert matrix_entropy(a) == pytest.approx(h)  # 0.8112781244591328
    assert matrix_nuclear_norm(a, exact=True) == pytest.approx((math.sqrt(3) + 1) / math.sqrt(8))


def test_l12_approximation_against_the_svd():
    rng = np.random.default_rng(0)
    for sharpness in (0.5, 2.0, 8.0):
        a = choice_matrix(rng.normal(size=(50, 4)) * sharpness)
        exact = np.linalg.svd(a, compute_uv=False).sum() / math.sqrt(50 * 4)
        assert matrix_nuclear_norm(a, exact=True) == pytest.approx(exact, rel=1e-12)
        approx = matrix_nuclear_norm(a)
        assert approx >= exact - 1e-12  # Σ top-D column norms bounds ‖A‖_* from above here
        if sharpness == 8.0:  # near one-hot rows: near-orthogonal columns, a tight bound
            assert approx == pytest.approx(exact, rel=0.02)


def test_choice_matrix_softmax_and_padding():
    a = choice_matrix([[0.0, math.log(3)], [math.log(2), 0.0, math.log(1)]])
    np.testing.assert_allclose(a, [[0.25, 0.75, 0.0], [0.5, 0.25, 0.25]])
    with pytest.raises(InputError):
        choice_matrix([[0.0, float("nan")]])


@pytest.mark.parametrize("name", LABEL_FREE)
def test_pseudo_values_mean_and_influence(name):
    fn = {
        "matrix_nuclear_norm": matrix_nuclear_norm,
        "matrix_nuclear_norm_exact": lambda a: matrix_nuclear_norm(a, exact=True),
        "matrix_entropy": matrix_entropy,
    }[name]
    rng = np.random.default_rng(1)
    a = choice_matrix(rng.normal(size=(30, 4)) * 2)
    v = label_free_values(a, name)
    assert v.mean() == pytest.approx(fn(a), abs=1e-12)
    # weighting sample i by 1 + ε·n moves the mean matrix by ε'(x_i − M): v_i − θ is the slope
    eps, n = 1e-7, len(a)
    for i in (0, 7, 19):
        w = np.ones(n)
        w[i] += eps * n
        scaled = a * np.sqrt(w / w.sum() * n)[:, None]
        slope = (fn(scaled) - fn(a)) / (eps * n / (n + eps * n))
        assert v[i] - v.mean() == pytest.approx(slope, rel=1e-4, abs=1e-6)


def test_registry():
    for name in LABEL_FREE:
        info = metric_info(name)
        assert info.higher_is_better and info.priority < metric_info("acc").priority


def test_store_round_trip_compare_and_rank(tmp_path):
    task = load_task("arith_mc")
    key = answer_key(task.instances(limit=12))
    store = open_store(tmp_path / "s.duckdb")
    evaluate(
        FakeBackend("sharp", answers=key, skill=0.9), [task], store=store, limit=12, progress=False
    )
    evaluate(FakeBackend("vague"), [task], store=store, limit=12, progress=False)
    code, out, err = run_main(["store", "label-free", "--store", str(store.path), "--json"])
    assert code == 0, err
    result = json.loads(out)
    assert result["runs"] == 2 and result["samples"] == 24
    samples = store.samples()
    for row in result["values"]:
        logprobs = samples.loc[samples["run_id"] == row["run_id"], "choice_logprobs"].tolist()
        a = choice_matrix(logprobs)
        assert row["matrix_nuclear_norm"] == pytest.approx(matrix_nuclear_norm(a))
        assert row["matrix_nuclear_norm_exact"] == pytest.approx(matrix_nuclear_norm(a, exact=True))
        assert row["matrix_entropy"] == pytest.approx(matrix_entropy(a))
    code, out, err = run_main(
        ["compare", "--store", str(store.path), "--metric", "matrix_nuclear_norm", "--json"]
    )
    assert code == 0, err
    means = {r["model"]: r["mean"] for r in json.loads(out)["scores"]}
    values = {r["model"]: r["matrix_nuclear_norm"] for r in result["values"]}
    assert means == pytest.approx(values)
    assert means["sharp"] > means["vague"]  # confident answers: the larger nuclear norm
    code, out, err = run_main(
        [
            "rank",
            "samples",
            "--store",
            str(store.path),
            "--metric",
            "matrix_entropy",
            "--json",
            "--bootstrap",
            "0",
        ]
    )
    assert code == 0, err
    again = add_label_free_metrics(store)  # replaces, never adds rows
    assert again["values"] == result["values"]
    assert len(store.scores(metric="matrix_entropy")) == 24


def test_a_store_without_choices_is_one_error(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    evaluate(
        FakeBackend("g", generation="1"),
        [load_task("arith_gen")],
        store=store,
        limit=3,
        progress=False,
    )
    code, _, err = run_main(["store", "label-free", "--store", str(store.path)])
    assert code != 0 and "no multiple-choice samples" in err
