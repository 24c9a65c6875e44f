"""Issue 32, item 3: sparse rankings whose subsets are confounded with difficulty. Small
fixed-seed versions of benchmarks/sparse_design.py (the generator: tests/support/simulations.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import kendalltau
from simulations import onebench, onebench_scores

from assay.errors import InputError
from assay.rank import rank_samples
from assay.rank._design import choose_method, overlap_dispersion
from assay.rank._rasch import fit_rasch
from assay.rank._samples import sample_matrix

SMALL = {"models": 30, "tasks": 12, "per_task": 60, "runs_per_model": 4}


def _onebench(seed, keep):
    """The benchmark's design (tasks near ability), smaller: 30 models, 12 tasks × 60."""
    return onebench(seed, True, keep, **SMALL)


def _tau(r, theta):
    names = [f"m{i:02d}" for i in range(len(theta))]
    return kendalltau(r.table.set_index("model").loc[names, "rating"], theta).statistic


@pytest.mark.parametrize("seed", [0, 1])
def test_task_prior_fixes_irt_when_tasks_are_confounded_with_ability(seed):
    """Models run on tasks near their ability: one prior mean for every sample (the irt
    before issue 32) loses to Plackett–Luce; difficulties around their task's mean win."""
    x, theta, task = _onebench(seed, keep=0.2)
    scores = onebench_scores(x, task)
    tau = {m: _tau(rank_samples(scores, method=m, bootstrap=0), theta) for m in ("pl", "irt")}
    before = kendalltau(fit_rasch(sample_matrix(scores).values)[0][0], theta).statistic
    assert before < tau["pl"] - 0.05
    assert tau["irt"] > tau["pl"] and tau["irt"] > before + 0.1
    auto = rank_samples(scores, bootstrap=0)
    assert auto.method == "irt" and auto.info["chosen_by"]["method"] == "irt"
    assert _tau(auto, theta) == pytest.approx(tau["irt"])


@pytest.mark.parametrize("keep", [0.5, 0.2])
def test_auto_falls_back_to_pl_when_models_saw_different_slices_of_a_task(keep):
    x, theta, task = _onebench(3, keep=keep)
    scores = onebench_scores(x, task, one_label=True)  # the tasks become slices of one task
    tau = {m: _tau(rank_samples(scores, method=m, bootstrap=0), theta) for m in ("pl", "irt")}
    assert tau["pl"] > tau["irt"] + 0.05
    auto = rank_samples(scores, bootstrap=0)
    chosen = auto.info["chosen_by"]
    assert auto.method == "pl" and chosen["overlap_dispersion"] > chosen["dispersion_limit"]
    assert _tau(auto, theta) == pytest.approx(tau["pl"])
    assert auto.to_dict()["chosen_by"]["method"] == "pl"


def test_auto_keeps_irt_on_random_sparse_cells():
    rng = np.random.default_rng(4)
    theta, b = rng.normal(0, 1, 30), rng.normal(0, 1, 800)
    x = (rng.random((30, 800)) < expit(theta[:, None] - b)).astype(float)
    x[rng.random((30, 800)) > 0.05] = np.nan
    auto = rank_samples(onebench_scores(x, np.zeros(800, int), one_label=True), bootstrap=0)
    assert auto.method == "irt"
    assert 0.8 < auto.info["chosen_by"]["overlap_dispersion"] < 1.2


def test_overlap_dispersion_by_hand():
    # one task of 4 samples; a saw {0, 1}, b saw {0, 1}, c saw {2, 3}: n = 2 each, E = 1,
    # V = 2·2·2·2 / (16 · 3) = 1/3; O_ab = 2, O_ac = O_bc = 0 → D = (3 + 3 + 3) / 3 = 3
    present = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1]], dtype=bool)
    d, pairs = overlap_dispersion(present, np.zeros(4, int))
    assert (d, pairs) == (pytest.approx(3.0), 3)
    # everyone saw everything: no freedom, no pairs
    assert np.isnan(overlap_dispersion(np.ones((3, 4), bool), np.zeros(4, int))[0])


def test_scores_outside_the_unit_interval_choose_pl():
    values = np.array([[0.5, 2.0], [1.0, 0.0]])
    assert choose_method(values, np.zeros(2, int))[0] == "pl"


def test_auto_keeps_irt_when_pl_cannot_link_the_models(monkeypatch):
    # a and b share samples 0-1 only, and tie on both (no comparison); c shares 2-3 with a.
    # Were the design to send auto to pl, pl could not place b: auto keeps irt and says why
    import assay.rank._samples as samples

    slices = ("pl", {"reason": "within tasks, models saw different slices (...): difficulty "
                     "may be confounded with who saw what"})  # fmt: skip
    monkeypatch.setattr(samples, "choose_method", lambda values, groups: slices)
    rows = [("a", 0, 1.0), ("b", 0, 1.0), ("a", 1, 0.0), ("b", 1, 0.0), ("a", 2, 1.0),
            ("c", 2, 0.0), ("a", 3, 0.0), ("c", 3, 1.0), ("b", 4, 1.0), ("c", 5, 1.0)]  # fmt: skip
    df = pd.DataFrame(rows, columns=["model", "doc_id", "value"]).assign(task="t", metric="acc")
    df["doc_id"] = df["doc_id"].astype(str)
    r = rank_samples(df, bootstrap=0)
    assert r.method == "irt" and "pl cannot rank" in r.info["chosen_by"]["reason"]
    with pytest.raises(InputError, match="never compared"):
        rank_samples(df, method="pl", bootstrap=0)
