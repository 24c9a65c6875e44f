"""A task file reads data only under its own folder and the folders given as data roots
(``--data-root DIR`` / ``data_roots=``): absolute paths, ``../`` and symbolic links that lead
elsewhere are one InputError; the task's own ``data/`` keeps working."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from cli_helpers import run_main
from fake_backend import FakeBackend

from assay.errors import InputError
from assay.runner import evaluate, grid_from_dict
from assay.tasks import load_task

SECRET = "root:x:0:0:the secret line"


def _data(path: Path, question: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"question": question, "answer": "4"}) + "\n")
    return path


def _task(folder: Path, data: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"name": "t", "request_type": "generate", "templates": {"default": "{{ question }}"},
            "target": "answer", "data": data}  # fmt: skip
    path = folder / "task.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture
def layout(tmp_path):
    secret = _data(tmp_path / "elsewhere" / "secret.jsonl", SECRET)
    own = _data(tmp_path / "task" / "data" / "own.jsonl", "2+2?")
    return tmp_path, secret, own


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "symlink"])
def test_task_file_cannot_read_outside_its_folder(layout, kind):
    tmp, secret, _ = layout
    folder = tmp / "task"
    if kind == "absolute":
        value = str(secret)
    elif kind == "dotdot":
        value = "../elsewhere/secret.jsonl"
    else:
        (folder / "link.jsonl").symlink_to(secret)
        value = "link.jsonl"
    path = _task(folder, {"path": value})
    with pytest.raises(InputError, match="outside the task file's folder") as err:
        load_task(str(path))
    message = str(err.value)
    assert "\n" not in message and str(path) in message and "--data-root" in message
    assert "data.path" in message and SECRET not in message
    # given as a data root, the same folder is readable
    task = load_task(str(path), data_roots=[tmp / "elsewhere"])
    assert task.instances()[0].prompt == SECRET
    # the task's own data/ keeps working, relative or absolute
    own = folder / "data" / "own.jsonl"
    for value in ("data/own.jsonl", str(own)):
        path = _task(folder, {"path": value})
        assert load_task(str(path)).instances()[0].prompt == "2+2?"


def test_fewshot_path_and_data_files_are_checked_too(layout):
    tmp, secret, _ = layout
    path = _task(tmp / "task", {"path": "data/own.jsonl", "fewshot_path": str(secret)})
    # fewshot_path is read for few-shot docs
    with pytest.raises(InputError, match="data.fewshot_path"):
        load_task(str(path))
    path = _task(tmp / "task", {"hf": "json", "data_files": str(secret), "split": "train"})
    with pytest.raises(InputError, match="data.data_files"):
        load_task(str(path))


def _lm_eval_task(folder: Path, **keys) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"task": "t", "test_split": "train", "doc_to_text": "{{ question }}",
            "doc_to_target": "answer", **keys}  # fmt: skip
    path = folder / "lm.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_lm_eval_yaml_data_files_and_dataset_path_are_checked(layout):
    tmp, secret, _ = layout
    path = _lm_eval_task(
        tmp / "task",
        dataset_path="json",
        dataset_kwargs={"data_files": "../elsewhere/secret.jsonl"},
    )
    with pytest.raises(InputError, match="dataset_kwargs.data_files") as err:
        load_task(str(path), offline=True)
    assert "\n" not in str(err.value) and "--data-root" in str(err.value)
    task = load_task(str(path), offline=True, data_roots=[str(tmp / "elsewhere")])
    assert task.instances()[0].prompt == SECRET
    path = _lm_eval_task(tmp / "task", dataset_path=str(tmp / "elsewhere"))
    with pytest.raises(InputError, match="dataset_path"):
        load_task(str(path), offline=True)
    ok = _lm_eval_task(tmp / "task", dataset_path="json",
                       dataset_kwargs={"data_files": "data/own.jsonl"})  # fmt: skip
    assert load_task(str(ok), offline=True).instances()[0].prompt == "2+2?"


def test_tasks_show_takes_data_root(layout):
    tmp, _, _ = layout
    path = _task(tmp / "task", {"path": "../elsewhere/secret.jsonl"})
    code, out, err = run_main(["tasks", "show", str(path)])
    assert code == 1 and SECRET not in out + err and "--data-root" in err
    assert len(err.strip().splitlines()) == 1
    root = ["--data-root", str(tmp / "elsewhere")]
    code, out, err = run_main(["tasks", "show", str(path), "--json", *root])
    assert code == 0 and SECRET in out, err


def test_evaluate_and_grids_take_data_roots(layout, tmp_path):
    tmp, _, _ = layout
    path = _task(tmp / "task", {"path": "../elsewhere/secret.jsonl"})
    with pytest.raises(InputError, match="outside the task file's folder"):
        evaluate(FakeBackend("f"), [str(path)], store=tmp_path / "s.duckdb", progress=False)
    assert not (tmp_path / "s.duckdb").exists()
    result = evaluate(FakeBackend("f"), [str(path)], store=tmp_path / "s.duckdb",
                      progress=False, data_roots=[tmp / "elsewhere"])  # fmt: skip
    assert result.new_samples == 1
    raw = {"models": ["smollm2-135m"], "tasks": [str(path)]}
    with pytest.raises(InputError, match="outside the task file's folder"):
        grid_from_dict(raw)
    assert grid_from_dict(raw, data_roots=[tmp / "elsewhere"]).tasks == (str(path),)
