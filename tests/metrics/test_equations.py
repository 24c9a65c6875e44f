"""SRSD's normalised tree edit distance: hand-computed answers, the same distances as APTED (a
second tree-edit-distance implementation), text that is never evaluated as code, and the
metric end to end: registry, task file, ``assay import samples --metric``, compare and rank."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from cli_helpers import run_main
from fake_backend import FakeBackend

from assay.core import metric_info
from assay.errors import InputError
from assay.metrics import COMPUTED, equation_tree_size, tree_edit_distance
from assay.metrics._equations import _parse
from assay.report import build_report
from assay.runner import evaluate
from assay.store import import_samples, open_store
from assay.tasks import load_task

apted = pytest.importorskip("apted")  # the dev extra installs it: CI runs this file whole

# (prediction, truth, distance): hand-counted edit scripts on SRSD's labelling (numbers "c")
KNOWN = [
    ("x**2 + y", "x**2 + y", 0.0),  # the same tree
    ("y + x^2", "x**2 + y", 0.0),  # sympy's canonical order; ^ is a power
    ("x**2", "x**2 + y", 2 / 5),  # Add[Pow[x, c], y]: delete Add and y
    ("x**3 + y", "x**2 + y", 0.0),  # constants are all "c"
    ("x*y", "x + y", 1 / 3),  # relabel Add -> Mul
    ("x - y", "x + y", 2 / 3),  # Add[x, Mul[c, y]]: insert Mul and c
    ("sin(x)", "x", 1.0),  # 1 edit / 1 node, clipped at 1
    ("cos(x)", "x**2 + y", 4 / 5),  # relabel cos -> Add; insert Pow, c and y
    ("cos(z)", "x**2 + y", 1.0),  # and relabel z -> x: 5 edits
    ("G*m1*m2/r**2", "G*m1*m2/r**2", 0.0),
    ("G*m1*m2/r", "G*m1*m2/r**2", 0.0),  # r**-1 and r**-2 are both Pow[r, c] (SRSD's labels)
    ("G*m1*m2", "G*m1*m2/r**2", 3 / 7),  # Mul[G, m1, m2, Pow[r, c]]: insert Pow, r and c
    ("y = a*b", "a*b", 0.0),  # an equation: its right-hand side
    ("not an equation (", "x + y", 1.0),
    ("", "x + y", 1.0),
]


@pytest.mark.parametrize("pred,true,expected", KNOWN)
def test_known_distances(pred, true, expected):
    assert tree_edit_distance(pred, true) == pytest.approx(expected, abs=1e-12)


def test_tree_sizes_and_vectorised_form():
    assert equation_tree_size("x**2 + y") == 5
    assert equation_tree_size("G*m1*m2/r**2") == 7
    got = tree_edit_distance([p for p, _, _ in KNOWN], [t for _, t, _ in KNOWN])
    np.testing.assert_allclose(got, [d for _, _, d in KNOWN], atol=1e-12)
    with pytest.raises(InputError, match="2 predictions for 1 targets"):
        tree_edit_distance(["x", "y"], ["x"])
    with pytest.raises(InputError, match="target is not an equation"):
        tree_edit_distance("x", "(((")


def _apted_tree(expr):
    from apted.helpers import Tree

    label = "c" if expr.is_number else (str(expr) if expr.is_Symbol else type(expr).__name__)
    return Tree(label, *[_apted_tree(a) for a in expr.args])


PAIRS = [
    ("x*exp(-y/z)", "x*exp(-y/(2*z))"),
    ("sqrt(x**2 + y**2)", "sqrt(x**2 + y**2 + z**2)"),
    ("a*sin(w*t + p)", "a*cos(w*t)"),
    ("q1*q2/(4*pi*e*r**2)", "q1*q2/(e*r**2)"),
    ("m*c**2/sqrt(1 - v**2/c**2)", "m*c**2"),
    ("log(x) + tanh(y)", "x*y*z"),
]


@pytest.mark.parametrize("pred,true", PAIRS)
def test_same_distance_as_apted(pred, true):
    from apted import APTED

    guess, truth = _parse(pred), _parse(true)
    d = APTED(_apted_tree(guess), _apted_tree(truth)).compute_edit_distance()
    size = equation_tree_size(true)
    assert tree_edit_distance(pred, true) == pytest.approx(min(1.0, d / size), abs=1e-12)


@pytest.mark.parametrize(
    "text",
    ["().__class__", "x.func", "open('f')", "__import__('os')", "9**9**9**9", "x; y", "2**10**5"],
)
def test_text_is_never_run_as_code(text):
    assert tree_edit_distance(text, "x + y") == 1.0  # not an equation: as far as possible


def test_registry_and_a_declared_task(tmp_path):
    info = metric_info("tree_edit_distance")
    assert info.lower_is_better and info.bounds == (0.0, 1.0) and not info.log_scale
    path = tmp_path / "eq.yaml"
    path.write_text(
        "name: eq\nrequest_type: generate\ntemplates: 'Law {{ n }}:'\ntarget: law\n"
        "metrics: {tree_edit_distance: {}}\n"
        "docs:\n  - {doc_id: a, n: 1, law: 'x**2 + y'}\n  - {doc_id: b, n: 2, law: 'G*m/r**2'}\n",
        encoding="utf-8",
    )
    task = load_task(path)
    assert task.metrics["tree_edit_distance"] == info  # a bare declaration keeps the registry's
    answers = {"Law 1:": "x**2", "Law 2:": "G*m/r**2"}
    store = open_store(tmp_path / "s.duckdb")
    evaluate(
        FakeBackend("m", generation=lambda r: answers[r.context]),
        [task],
        store=store,
        progress=False,
    )
    scores = store.scores(metric="tree_edit_distance").set_index("doc_id")["value"]
    assert scores.to_dict() == pytest.approx({"a": 0.4, "b": 0.0})


def test_import_samples_computes_it_and_compare_and_rank_use_it(tmp_path):
    rows = []
    truths = ["x**2 + y", "x*y", "sin(x)", "G*m1*m2/r**2"] * 3
    wrong = {"good": ["x**2 + y", "x*y", "sin(x)", "G*m1*m2"], "bad": ["x", "x+y", "x", "G"]}
    for model, preds in wrong.items():
        for i, truth in enumerate(truths):
            rows.append(
                {
                    "model": model,
                    "task": "laws",
                    "doc_id": f"d{i}",
                    "prediction": preds[i % 4],
                    "target": truth,
                }
            )
    file = tmp_path / "answers.csv"
    pd.DataFrame(rows).to_csv(file, index=False)
    assert "tree_edit_distance" in COMPUTED
    store_path = tmp_path / "s.duckdb"
    code, _, err = run_main(
        [
            "import",
            "samples",
            str(file),
            "--store",
            str(store_path),
            "--metric",
            "tree_edit_distance",
        ]
    )
    assert code == 0, err
    scores = open_store(store_path).scores(metric="tree_edit_distance")
    means = scores.groupby("model")["value"].mean()
    assert means["good"] == pytest.approx(3 / 7 / 4)
    assert means["bad"] == pytest.approx((4 / 5 + 1 / 3 + 1 / 2 + 6 / 7) / 4)
    code, out, err = run_main(["compare", "--store", str(store_path), "--json"])
    assert code == 0, err
    compared = {r["model"]: r for r in json.loads(out)["scores"]}
    assert compared["good"]["metric"] == "tree_edit_distance"
    assert compared["good"]["mean"] == pytest.approx(means["good"])
    group = {r["model"]: r["tied_with_best"] for r in json.loads(out)["groups"]}
    assert group == {"good": True, "bad": False}  # lower is better
    code, out, err = run_main(
        ["rank", "samples", "--store", str(store_path), "--json", "--bootstrap", "20"]
    )
    assert code == 0, err
    ranked = json.loads(out)
    assert [r["model"] for r in ranked["ratings"]] == ["good", "bad"]
    assert ranked["metrics"] == {"laws": "tree_edit_distance"}
    report = build_report(open_store(store_path), bootstrap=0, scaling_bootstrap=0)
    assert report.headline == {"laws": "tree_edit_distance"}
    assert report.panel("leaderboard").items[0]["row_keys"] == ["good", "bad"]


def test_import_without_the_fields_is_one_error(tmp_path):
    file = tmp_path / "a.csv"
    pd.DataFrame([{"model": "m", "task": "t", "doc_id": "1", "prediction": "x"}]).to_csv(file)
    with pytest.raises(InputError, match="computed from field"):
        import_samples(open_store(tmp_path / "s.duckdb"), file, metrics=["tree_edit_distance"])
