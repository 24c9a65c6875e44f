"""The report's position-bias panel on a built-in task with text targets (logic_tf): accuracy
by the position of the right answer comes from the stored positions, not 1.0 everywhere."""

from __future__ import annotations

import numpy as np
from fake_backend import FakeBackend, answer_key

from assay.report._panel import fmt
from assay.report._panels import position_bias_panel
from assay.runner import evaluate
from assay.store import open_store
from assay.tasks import load_task


def test_bias_panel_uses_stored_target_positions(tmp_path):
    task = load_task("logic_tf")
    instances = task.instances(limit=30, permute_choices=2)
    fake = FakeBackend(answers=answer_key(instances), skill=0.5)
    evaluate(fake, task, store=tmp_path / "s.duckdb", limit=30, permute_choices=2, progress=False)
    samples = open_store(tmp_path / "s.duckdb").samples()
    panel = position_bias_panel(samples, {"logic_tf": "acc"})
    result = next(iter(panel.results.values()))
    gold = np.array([i.payload.target_position for i in instances])
    assert list(result.table["gold"]) == list(np.bincount(gold, minlength=2))
    assert (result.table["accuracy"] < 1).all()
    table = next(i for i in panel.items if i["kind"] == "table" and i["id"] == "position-bias")
    shown = table["rows"][0][table["columns"].index("acc by right-answer position")]["text"]
    assert shown == " · ".join(fmt(v) for v in result.table["accuracy"])
