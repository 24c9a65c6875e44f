"""RunSpec and the run-scoped backends: ``evaluate(...)`` is ``run(RunSpec(...))``; a spec's
model is loaded once per call (or once per grid), never kept by the process."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from fake_backend import FakeBackend, answer_key

import assay.runner._score as score
from assay.errors import InputError
from assay.models import BackendInfo
from assay.runner import Backends, Grid, RunSpec, evaluate, run, run_grid
from assay.tasks import load_task

TASKS = ("arith_mc", "arith_gen")
SPEC = "openai:m@http://127.0.0.1:9/v1"


def _counting_loader(monkeypatch) -> list[str]:
    calls: list[str] = []
    key = answer_key(i for t in TASKS for i in load_task(t).instances())
    info = BackendInfo(kind="openai", runtime="openai:http://127.0.0.1:9/v1")

    def fake_load(spec, **options):
        calls.append(spec)
        return FakeBackend("m", answers=key, skill=0.5, info=info)

    monkeypatch.setattr(score, "load_model", fake_load)
    return calls


def test_evaluate_is_run_of_a_spec(tmp_path):
    key = answer_key(i for t in TASKS for i in load_task(t).instances(limit=5))
    fake = FakeBackend("m", answers=key, skill=0.5)
    kw = dict(limit=5, permute_choices=1, seed=3)
    a = evaluate(fake, TASKS, store=tmp_path / "a.duckdb", progress=False, **kw)
    spec = RunSpec(model=FakeBackend("m", answers=key, skill=0.5), tasks=TASKS, **kw)
    b = run(spec, store=tmp_path / "b.duckdb", progress=False)
    assert a.run_ids == b.run_ids and a.new_samples == b.new_samples == 10
    pd.testing.assert_frame_equal(a.table, b.table)


def test_spec_is_checked_before_anything_runs(tmp_path):
    with pytest.raises(InputError, match="a run needs a model"):
        run(RunSpec(tasks=TASKS), store=tmp_path / "s.duckdb")
    with pytest.raises(InputError, match="repeats must be an integer in"):
        RunSpec(model="x", tasks=TASKS, repeats=0).checked()
    assert RunSpec(model="x", tasks="arith_mc", batch_size=" 16").checked().batch_size == 16
    assert RunSpec(model="x", tasks="arith_mc").tasks == ("arith_mc",)
    assert not (tmp_path / "s.duckdb").exists()
    with pytest.raises(dataclasses.FrozenInstanceError):
        RunSpec(model="x").seed = 1  # type: ignore[misc]


def test_a_spec_loads_once_per_call_and_is_not_kept(monkeypatch, tmp_path):
    """Two calls that each have work load the model twice: nothing outlives a call."""
    calls = _counting_loader(monkeypatch)
    evaluate(SPEC, TASKS, store=tmp_path / "a.duckdb", limit=3, progress=False)
    evaluate(SPEC, TASKS, store=tmp_path / "b.duckdb", limit=3, progress=False)
    assert calls == [SPEC, SPEC]


def test_a_grid_shares_one_load_across_its_cells(monkeypatch, tmp_path):
    calls = _counting_loader(monkeypatch)
    grid = Grid(models=(SPEC,), tasks=TASKS, seeds=(0, 1), orderings=(0, 1), limit=3)
    results = run_grid(grid, store=tmp_path / "s.duckdb", progress=False)
    assert len(results) == 4 and all(r.new_samples > 0 for _, r in results)
    assert calls == [SPEC]  # four cells, one load


def test_backends_scope_closes_what_it_loaded(monkeypatch):
    closed: list[str] = []

    class Closing(FakeBackend):
        def close(self) -> None:
            closed.append(self.name)

    monkeypatch.setattr(score, "load_model", lambda spec, **options: Closing(spec))
    given = Closing("given")
    with Backends() as scope:
        assert scope.get(given) is given and len(scope) == 0
        assert scope.get("a", batch_size=4) is scope.get("a", batch_size=4)
        assert scope.get("a") is not scope.get("a", batch_size=4) and len(scope) == 2
    assert closed == ["a", "a"] and len(scope) == 0  # the given backend stays open
    assert not hasattr(score, "_BACKENDS")
