"""A resumed run with nothing left to compute never loads the model: the run ids come from the
spec alone (``describe_spec``), and they are the ids a loaded backend gives."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from fake_backend import FakeBackend, answer_key

import assay.runner._score as score
from assay.errors import InputError
from assay.models import BackendInfo, describe_spec
from assay.runner import evaluate
from assay.store import open_store
from assay.tasks import load_task

TASKS = ("arith_mc", "arith_gen")
URL = "http://127.0.0.1:9/v1"


def _counting_loader(monkeypatch, name: str, info: BackendInfo) -> list[str]:
    """Replace ``load_model`` by one that counts its calls and returns a FakeBackend."""
    calls: list[str] = []
    key = answer_key(i for t in TASKS for i in load_task(t).instances())

    def fake_load(spec, **options):
        calls.append(spec)
        return FakeBackend(name, answers=key, skill=0.5, info=info)

    monkeypatch.setattr(score, "load_model", fake_load)
    return calls


@pytest.mark.parametrize(
    ("spec", "name", "info"),
    [
        (f"openai:m@{URL}", "m", BackendInfo(kind="openai", runtime=f"openai:{URL}")),
        (
            "smollm2-135m",
            "smollm2-135m",
            BackendInfo(kind="hf", runtime="hf:cpu:float32", dtype="float32"),
        ),
    ],
)
def test_second_evaluate_loads_nothing(monkeypatch, tmp_path, spec, name, info):
    calls = _counting_loader(monkeypatch, name, info)
    path = tmp_path / "s.duckdb"
    first = evaluate(spec, TASKS, store=path, limit=6, progress=False)
    assert calls == [spec] and first.new_samples == 12
    second = evaluate(spec, TASKS, store=path, limit=6, progress=False)
    assert calls == [spec]  # not loaded again
    assert (second.new_samples, second.resumed_samples) == (0, 12)
    assert second.run_ids == first.run_ids and second.model == first.model
    pd.testing.assert_frame_equal(second.table, first.table)


def test_missing_instances_load_the_model_once(monkeypatch, tmp_path):
    info = BackendInfo(kind="openai", runtime=f"openai:{URL}")
    calls = _counting_loader(monkeypatch, "m", info)
    path = tmp_path / "s.duckdb"
    evaluate(f"openai:m@{URL}", TASKS, store=path, limit=4, progress=False)
    more = evaluate(f"openai:m@{URL}", TASKS, store=path, limit=6, progress=False)
    assert len(calls) == 2 and (more.new_samples, more.resumed_samples) == (4, 8)


def test_a_backend_unlike_its_description_gets_its_own_run_ids(monkeypatch, tmp_path):
    """The description is checked once the model is loaded: a loaded dtype that differs from
    the predicted one is another run, never resumed into the predicted one's samples."""
    real = BackendInfo(kind="hf", runtime="hf:cpu:bfloat16", dtype="bfloat16")
    calls = _counting_loader(monkeypatch, "smollm2-135m", real)
    path = tmp_path / "s.duckdb"
    first = evaluate("smollm2-135m", TASKS, store=path, limit=4, progress=False)
    direct = evaluate(score.load_model("smollm2-135m"), TASKS, store=tmp_path / "d.duckdb", limit=4)
    assert first.run_ids == direct.run_ids  # the loaded backend's ids, not the predicted ones
    again = evaluate("smollm2-135m", TASKS, store=path, limit=4, progress=False)
    assert len(calls) == 3  # the predicted ids are not stored: it loads, then resumes
    assert (again.new_samples, again.resumed_samples) == (0, 8)


def test_resume_without_loading_keeps_the_stored_runtime(monkeypatch, tmp_path):
    """The runtime is no part of a run id; a resume that loads nothing keeps the one the
    samples were timed on (here a GPU, whatever this machine's guess)."""
    info = BackendInfo(kind="hf", runtime="hf:cuda:float32", dtype="float32")
    calls = _counting_loader(monkeypatch, "smollm2-135m", info)
    path = tmp_path / "s.duckdb"
    first = evaluate("smollm2-135m", TASKS, store=path, limit=4, progress=False)
    second = evaluate("smollm2-135m", TASKS, store=path, limit=4, progress=False)
    assert len(calls) == 1 and first.cost.runtime == second.cost.runtime == "hf:cuda:float32"
    extras = [json.loads(e) for e in open_store(path).runs()["extra"]]
    assert {e["runtime"] for e in extras} == {"hf:cuda:float32"}


def test_describe_spec():
    assert describe_spec(f"openai:gpt@{URL}/,name=x") == (
        "x",
        BackendInfo(kind="openai", runtime=f"openai:{URL}"),
    )
    assert describe_spec("llamacpp:/models/tiny.gguf") == (
        "tiny",
        BackendInfo(kind="llamacpp", runtime="llamacpp:cpu"),
    )
    assert describe_spec("hf:/m/q.gguf,dtype=bf16,device=cuda:0") == (
        "q",
        BackendInfo(kind="hf", runtime="hf:cuda:bfloat16", dtype="bfloat16"),
    )
    assert describe_spec("hf:org/model,device=cpu,dtype=fp16")[0] == "org/model"
    assert describe_spec("hf:org/model") is None  # the checkpoint's dtype: only loading tells
    assert describe_spec("hf:org/model,dtype=int3") is None  # load_model raises
    with pytest.raises(InputError, match="unknown option"):
        describe_spec("llamacpp:/m.gguf,colour=red")


@pytest.mark.real_model
def test_description_matches_the_loaded_bundled_model(backend):
    name, info = describe_spec("smollm2-135m")
    assert (name, info.kind, info.dtype, info.runtime) == (
        backend.name,
        backend.info.kind,
        backend.info.dtype,
        backend.info.runtime,
    )
