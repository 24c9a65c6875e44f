"""``assay eval --data-root DIR`` (issue 29): without it a task file that reads outside its own
folder is one line and nothing is stored; with it the outside folder is admitted; a task's own
``data/`` works without it (tests/tasks/test_data_roots.py checks the Python side)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from cli_helpers import run_main
from fake_backend import FakeBackend

import assay.runner
import assay.runner._job

SECRET = "root:x:0:0:the secret line"


@pytest.fixture
def fake_cli(monkeypatch):
    """``assay eval -m fake`` evaluates with a fake backend (the CLI takes spec strings)."""
    real = assay.runner.evaluate

    def evaluate_with_fake(model, *args, **kwargs):
        return real(FakeBackend("fake") if model == "fake" else model, *args, **kwargs)

    monkeypatch.setattr(assay.runner, "evaluate", evaluate_with_fake)
    monkeypatch.setattr(assay.runner._job, "evaluate", evaluate_with_fake)


def _task(tmp: Path, data_path: str) -> Path:
    for where, text in (("elsewhere/secret.jsonl", SECRET), ("task/data/own.jsonl", "2+2?")):
        (tmp / where).parent.mkdir(parents=True, exist_ok=True)
        (tmp / where).write_text(json.dumps({"question": text, "answer": "4"}) + "\n")
    spec = {
        "name": "t",
        "request_type": "generate",
        "templates": {"default": "{{ question }}"},
        "target": "answer",
        "data": {"path": data_path},
    }
    path = tmp / "task" / f"task-{data_path.count('/')}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _eval(task: Path, store: Path, *more: str) -> tuple[int, str, str]:
    args = ["eval", "-m", "fake", "-t", str(task), "--store", str(store), "--no-progress"]
    return run_main([*args, "--json", *more])


def test_eval_data_root_admits_an_outside_folder(fake_cli, tmp_path):
    task = _task(tmp_path, "../elsewhere/secret.jsonl")
    store = tmp_path / "s.duckdb"
    code, out, err = _eval(task, store)
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "--data-root" in err and SECRET not in out + err
    assert not store.exists()
    code, out, err = _eval(task, store, "--data-root", str(tmp_path / "elsewhere"))
    assert code == 0, err
    assert json.loads(out)["new_samples"] == 1


def test_eval_reads_the_tasks_own_data_folder_without_a_root(fake_cli, tmp_path):
    task = _task(tmp_path, "data/own.jsonl")
    code, out, err = _eval(task, tmp_path / "s.duckdb")
    assert code == 0, err
    assert json.loads(out)["new_samples"] == 1
