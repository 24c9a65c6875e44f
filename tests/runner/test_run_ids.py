"""Run ids stay what they were: a store written before keeps resuming.

The ids below were computed before the backends' facts became a typed ``BackendInfo`` (when
the runner split ``backend.runtime`` on ":" and read ``backend.info["dtype"]``); they hash
(model, task, version, template, few-shot, seed) and the settings of ``run_settings``."""

from __future__ import annotations

import pytest
from fake_backend import FakeBackend

from assay.models import BackendInfo
from assay.runner import evaluate
from assay.runner._evaluate import run_settings
from assay.store import make_run_id

BACKENDS = {
    "m1": BackendInfo(kind="hf", runtime="hf:cpu:float32", dtype="float32"),
    "m2": BackendInfo(kind="openai", runtime="openai:http://x/v1"),
    "m3": BackendInfo(kind="llamacpp", runtime="llamacpp:cpu"),
}
MORE = {"repeats": 2, "permute_choices": 1, "num_fewshot": 1, "seed": 3}
RUN_IDS = {
    ("m1", False): "9b3e5c48293081ef",
    ("m1", True): "17ffa12101d67fcb",
    ("m2", False): "3d880bac300a05f4",
    ("m2", True): "c694461b42ca714d",
    ("m3", False): "75b1e0026aa1d974",
    ("m3", True): "98acf865502737bd",
}


def test_settings_hashed_into_a_run_id():
    hf = run_settings("fp", BACKENDS["m1"], repeats=2, permute_choices=1)
    assert hf == {
        "fingerprint": "fp",
        "repeats": 2,
        "permute_choices": 1,
        "backend": "hf",
        "dtype": "float32",
    }
    remote = run_settings("fp", BACKENDS["m2"], repeats=1, permute_choices=0)
    assert remote == {"fingerprint": "fp", "repeats": 1, "permute_choices": 0, "backend": "openai"}


@pytest.mark.parametrize(("name", "more"), sorted(RUN_IDS))
def test_run_ids_are_unchanged(tmp_path, name, more):
    backend = FakeBackend(name, info=BACKENDS[name])
    options = MORE if more else {}
    result = evaluate(
        backend, "arith_mc", store=tmp_path / "s.duckdb", limit=2, progress=False, **options
    )
    assert result.run_ids == {"arith_mc": [RUN_IDS[(name, more)]]}
    settings = run_settings(
        "9ee0099de51e1ff0",  # arith_mc's fingerprint
        BACKENDS[name],
        repeats=options.get("repeats", 1),
        permute_choices=options.get("permute_choices", 0),
    )
    expected = make_run_id(
        name,
        "arith_mc",
        task_version="1",
        template_id="qa",
        num_fewshot=options.get("num_fewshot"),
        fewshot_seed=options.get("seed", 0),
        settings=settings,
    )
    assert expected == RUN_IDS[(name, more)]
