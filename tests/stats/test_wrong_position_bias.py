"""Position bias on built-in tasks, whose stored ``target`` is the answer *text*: the gold
position comes from what the runner stored (``extra.target_position``), never from the text."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fake_backend import FakeBackend, answer_key

from assay.runner import evaluate
from assay.stats import position_bias
from assay.store import open_store
from assay.tasks import load_task


def _store_samples(tmp_path, name: str, limit: int) -> tuple[pd.DataFrame, list]:
    task = load_task(name)
    instances = task.instances(limit=limit, permute_choices=2)
    fake = FakeBackend(answers=answer_key(instances), skill=0.5)
    path = tmp_path / f"{name}.duckdb"
    evaluate(fake, task, store=path, limit=limit, permute_choices=2, progress=False)
    return open_store(path).samples(), instances


@pytest.mark.parametrize(("name", "limit"), [("arith_mc", 40), ("logic_tf", 30)])
def test_gold_positions_and_accuracy_by_position_are_the_stored_ones(tmp_path, name, limit):
    samples, instances = _store_samples(tmp_path, name, limit)
    right = samples["metric.acc"] == 1
    assert (samples["target"] == samples["prediction"])[right].all()  # the target is the text
    res = position_bias(samples)
    truth = pd.DataFrame(
        {
            "doc_id": [str(i.doc_id) for i in instances],
            "repeat": [int(i.repeat) for i in instances],
            "gold": [i.payload.target_position for i in instances],
        }
    ).merge(samples[["doc_id", "repeat", "metric.acc"]], on=["doc_id", "repeat"])
    assert len(truth) == len(samples) == 2 * limit
    k = len(res.table)
    gold_n = np.bincount(truth["gold"], minlength=k)
    right = np.bincount(truth["gold"], weights=truth["metric.acc"], minlength=k)
    table = res.table.set_index("position")
    assert list(table["gold"]) == list(gold_n)
    assert table["accuracy"].to_numpy() == pytest.approx(right / gold_n)
    # every position had wrong answers too: accuracy by position is not the 1.0 of
    # "gold = chosen when right" (the fallback when the target could not be placed)
    assert (table["accuracy"] < 1).all()
    as_dicts = samples.assign(extra=samples["extra"].map(json.loads))  # a frame built by hand
    pd.testing.assert_frame_equal(position_bias(as_dicts).table, res.table)


def test_numeric_answer_text_is_not_read_as_an_index(tmp_path):
    """arith_mc answers are numbers ("16", "104"): with no stored position they must not
    become positions. Nor does a right answer alone place its gold at the chosen position: with
    the wrong answers' gold unknown every position's accuracy would be 1 by construction (an
    outside audit); no accuracy by position is claimed then."""
    samples, _ = _store_samples(tmp_path, "arith_mc", 20)
    res = position_bias(samples.drop(columns="extra"))
    assert res.table["gold"].sum() == 0
    assert res.table["accuracy"].isna().all()


def test_imported_integer_targets_without_orders_are_indices():
    """lm-eval imports: no choice_order, ``target`` is the gold index, chosen = argmax."""
    gold = np.array([0, 1, 2, 3] * 5)
    chosen = np.array([0, 1, 2, 3, 0] * 4)
    samples = pd.DataFrame(
        {
            "model": "m",
            "task": "t",
            "doc_id": [f"d{i}" for i in range(20)],
            "chosen_position": chosen,
            "target": gold.astype(str),
            "metric.acc": (gold == chosen).astype(float),
        }
    )
    table = position_bias(samples).table
    assert list(table["gold"]) == [5, 5, 5, 5]
    assert table["accuracy"].to_numpy() == pytest.approx(
        [(gold[gold == p] == chosen[gold == p]).mean() for p in range(4)]
    )


def test_imported_integer_targets_are_looked_up_in_the_choice_order():
    """An audit: rows with ``choice_order`` and an integer ``target`` (the original index) had
    their gold taken from right answers only: accuracy 1.000 at every position."""
    rng = np.random.default_rng(5)
    n = 400
    orders = [list(rng.permutation(4)) for _ in range(n)]
    target = rng.integers(0, 4, n)  # the original index of the right answer
    shown = np.array([o.index(t) for o, t in zip(orders, target, strict=True)])
    right = rng.random(n) < 0.4 + 0.1 * shown  # accuracy rises with the shown position
    chosen = np.where(right, shown, (shown + rng.integers(1, 4, n)) % 4)
    samples = pd.DataFrame(
        {
            "model": "m",
            "task": "t",
            "doc_id": [f"d{i}" for i in range(n)],
            "chosen_position": chosen,
            "choice_order": orders,
            "target": target.astype(str),
            "metric.acc": right.astype(float),
        }
    )
    table = position_bias(samples).table
    assert list(table["gold"]) == [int((shown == p).sum()) for p in range(4)]
    assert table["accuracy"].to_numpy() == pytest.approx(
        [right[shown == p].mean() for p in range(4)]
    )
