"""`assay export --format lm-eval`: lm-eval 0.4 files that `assay import lm-eval` reads back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import run_main
from fake_backend import FakeBackend
from lm_eval_files import write_lm_eval_output

from assay.errors import InputError
from assay.runner import evaluate
from assay.store import export_lm_eval, import_inspect, import_lm_eval, open_store

DATA = Path(__file__).resolve().parents[1] / "data" / "inspect"
KEYS = ["model", "task", "doc_id", "repeat"]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A store with an eval (multiple choice with permuted choices, generation with repeats),
    an lm-eval import and an inspect import (epochs, dict scores)."""
    root = tmp_path_factory.mktemp("src")
    store = open_store(root / "a.duckdb")
    fake = FakeBackend(name="fake-a")
    evaluate(fake, ["arith_mc"], store=store, limit=6, permute_choices=2, progress=False)
    evaluate(fake, ["arith_gen"], store=store, limit=5, repeats=2, progress=False)
    write_lm_eval_output(root / "lm", n_docs=7)
    import_lm_eval(store, root / "lm")
    import_inspect(store, DATA / "runs" / "json")
    return store


def _frame(store) -> pd.DataFrame:
    df = store.samples().drop(columns=["run_id", "created_at"])
    return df.sort_values(KEYS).reset_index(drop=True)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    for col in a.columns:
        left, right = a[col].tolist(), b[col].tolist()
        for i, (x, y) in enumerate(zip(left, right, strict=True)):
            if isinstance(x, np.ndarray | list) or isinstance(y, np.ndarray | list):
                assert list(x) == list(y), (col, i)
            elif col == "extra":
                parse = [json.loads(v) if isinstance(v, str) else None for v in (x, y)]
                assert parse[0] == parse[1], (col, i)
            else:
                assert (pd.isna(x) and pd.isna(y)) or x == y, (col, i, x, y)


def test_round_trip_reads_back_every_sample_identically(source, tmp_path):
    count = export_lm_eval(source, tmp_path / "out")
    assert count == len(source.samples())
    back = open_store(tmp_path / "b.duckdb")
    summary = import_lm_eval(back, tmp_path / "out")
    assert summary.samples == count
    _same(_frame(source), _frame(back))
    runs = ["model", "task", "task_version", "num_fewshot"]
    left = source.runs()[runs].sort_values(["model", "task"]).reset_index(drop=True)
    right = back.runs()[runs].sort_values(["model", "task"]).reset_index(drop=True)
    assert left.astype(str).equals(right.astype(str))


def test_results_hold_lm_eval_keys(source, tmp_path):
    export_lm_eval(source, tmp_path / "out")
    files = sorted((tmp_path / "out").rglob("results_*.json"))
    assert len(files) == len(source.runs())
    data = json.loads(files[0].read_text())
    assert set(data) >= {"results", "configs", "versions", "n-shot", "config", "model_name"}
    by_model = {}
    for file in files:
        data = json.loads(file.read_text())
        ((task, res),) = data["results"].items()
        by_model[data["model_name"], task] = res
        samples = list(file.parent.glob(f"samples_{task}_{file.stem.split('_', 1)[1]}.jsonl"))
        assert len(samples) == 1
    toy = by_model["toy-model", "toy_add"]
    lines = [
        json.loads(line)
        for line in next((tmp_path / "out").rglob("samples_toy_add_*.jsonl"))
        .read_text()
        .splitlines()
    ]
    accs = np.array([line["acc"] for line in lines])
    assert toy["acc,none"] == pytest.approx(accs.mean(), abs=1e-15)
    assert toy["acc_stderr,none"] == pytest.approx(accs.std(ddof=1) / np.sqrt(len(accs)))
    weak = by_model["scripted/weak", "arith"]  # the same numbers inspect reported
    expected = json.loads((DATA / "expected.json").read_text())["scripted/weak arith"]
    assert weak["match,none"] == expected["match"]["accuracy"]
    assert weak["match_stderr,none"] == pytest.approx(expected["match"]["stderr"], rel=1e-12)


def test_export_keeps_the_folder_safety_contract(source, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(InputError, match="folder is not empty"):
        export_lm_eval(source, out)
    export_lm_eval(source, out, overwrite=True)
    first = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    export_lm_eval(source, out, overwrite=True)  # replaces only its own files
    again = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert first == again and (out / "mine.txt").read_text() == "keep me"
    marker = json.loads((out / ".assay-export").read_text())
    assert marker["format"] == "lm-eval" and "mine.txt" not in marker["files"]
    victim = out / marker["files"][0]
    victim.unlink()
    victim.write_text("{}")  # a file in the way that the marker lists is still ours to replace
    (out / "model=x").mkdir()
    (out / "model=x" / "note.md").write_text("not ours")
    export_lm_eval(source, out, overwrite=True)
    assert (out / "model=x" / "note.md").read_text() == "not ours"


def test_cli_export_lm_eval(source, tmp_path):
    code, out, err = run_main(
        ["export", tmp_path / "cli", "--format", "lm-eval", "--store", source.path]
    )
    assert code == 0, err
    assert "lm-eval" in out
    code, out, err = run_main(
        ["import", "lm-eval", tmp_path / "cli", "--store", tmp_path / "c.duckdb"]
    )
    assert code == 0, err


def test_bad_assay_object_is_one_line(source, tmp_path):
    export_lm_eval(source, tmp_path / "out")
    file = next((tmp_path / "out").rglob("samples_toy_add_*.jsonl"))
    lines = file.read_text().splitlines()
    row = json.loads(lines[2])
    row["assay"]["repeat"] = -1
    lines[2] = json.dumps(row)
    file.write_text("\n".join(lines) + "\n")
    back = open_store(tmp_path / "b.duckdb")
    with pytest.raises(InputError, match=r"line 3, field 'assay.repeat'"):
        import_lm_eval(back, tmp_path / "out")
    assert back.sql("SELECT count(*) AS n FROM samples")["n"].iloc[0] == 0


def test_compare_reads_lm_eval_folders(source, tmp_path):
    export_lm_eval(source, tmp_path / "out")
    code, out, err = run_main(["compare", tmp_path / "out", "--task", "toy_add", "--json"])
    assert code == 0, err
    (row,) = json.loads(out)["scores"]
    assert row["model"] == "toy-model" and row["n"] == 7


@pytest.mark.parametrize(
    ("results", "folder", "name"),
    [
        ({"model_name": "/work/ckpt/smollm-135m/"}, "x", "smollm-135m"),
        ({"model_name": "HuggingFaceTB/SmolLM2-135M"}, "x", "HuggingFaceTB/SmolLM2-135M"),
        ({"config": {"model_args": "pretrained=./runs/step-100,dtype=auto"}}, "x", "step-100"),
        ({"config": {"model_args": {"pretrained": "gpt2"}}}, "x", "gpt2"),
        ({"config": {"model": "hf"}}, "EleutherAI__pythia-70m", "EleutherAI/pythia-70m"),
        ({"config": {"model": "hf"}}, "__work__models__toy", "toy"),
        ({"model_name": "/a/b", "assay": {"model": "/a/b"}}, "x", "/a/b"),  # assay's own export
    ],
)
def test_default_model_name_rule(tmp_path, results, folder, name):
    model_dir = tmp_path / "out" / folder
    model_dir.mkdir(parents=True)
    date = "2026-01-01T00-00-00.000001"
    (model_dir / f"results_{date}.json").write_text(json.dumps({"results": {}, **results}))
    line = {"doc_id": 0, "filtered_resps": ["x"], "metrics": ["acc"], "acc": 1.0}
    (model_dir / f"samples_t_{date}.jsonl").write_text(json.dumps(line) + "\n")
    store = open_store(tmp_path / "s.duckdb")
    assert import_lm_eval(store, tmp_path / "out").models == [name]
    assert import_lm_eval(store, tmp_path / "out", model="mine").models == ["mine"]
