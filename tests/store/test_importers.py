"""lm-eval import, samples import with a column mapping, model metadata, malformed input."""

from __future__ import annotations

import json
import subprocess
import sys

import duckdb
import pandas as pd
import pytest
from lm_eval_files import write_lm_eval_output

from assay.errors import InputError
from assay.store import import_lm_eval, import_samples, open_store, set_model_meta


def _assay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assay.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_lm_eval_import_keeps_every_per_sample_value(tmp_path):
    model_dir, truth = write_lm_eval_output(tmp_path / "out", n_docs=25)
    store = open_store(tmp_path / "s.duckdb")
    summary = import_lm_eval(store, tmp_path / "out")
    assert summary.samples == 25
    assert summary.models == ["toy-model"]  # a local path is named by its folder
    assert summary.tasks == ["toy_add"]
    df = store.samples().set_index("doc_id")
    for doc_id, (logprobs, acc, acc_norm, target, doc_hash, prompt_hash) in truth.items():
        row = df.loc[doc_id]
        assert list(row["choice_logprobs"]) == logprobs  # exact: parsed from lm-eval's strings
        assert row["metric.acc"] == acc
        assert row["metric.acc_norm"] == acc_norm
        assert row["target"] == target
        assert row["doc_hash"] == doc_hash
        assert row["prompt_hash"] == prompt_hash
        assert row["prompt"].startswith("Question: What is")
    run = store.runs().iloc[0]
    assert run["num_fewshot"] == 0
    assert run["source"] == "lm-eval"
    assert (
        json.loads(run["settings"])["model_args"]
        == "pretrained=/work/models/toy-model,dtype=float32"
    )
    # a plain DuckDB client reads the same numbers
    con = duckdb.connect(str(store.path), read_only=True)
    acc_sql = con.execute(
        "SELECT doc_id, value FROM scores WHERE metric = 'acc' ORDER BY doc_id"
    ).fetchall()
    con.close()
    assert {d: v for d, v in acc_sql} == {d: t[1] for d, t in truth.items()}


def test_lm_eval_import_twice_changes_nothing(tmp_path):
    write_lm_eval_output(tmp_path / "out", n_docs=10)
    store = open_store(tmp_path / "s.duckdb")
    import_lm_eval(store, tmp_path / "out")
    first = store.info()["counts"]
    import_lm_eval(store, tmp_path / "out")
    assert store.info()["counts"] == first


def test_cli_import_then_store_info(tmp_path):
    write_lm_eval_output(tmp_path / "out", n_docs=12)
    db = str(tmp_path / "s.duckdb")
    done = _assay("import", "lm-eval", str(tmp_path / "out"), "--store", db)
    assert done.returncode == 0, done.stderr
    info = _assay("store", "info", "--store", db, "--json")
    data = json.loads(info.stdout)
    assert data["counts"]["samples"] == 12
    assert data["tasks"][0]["metrics"] == "acc,acc_norm"
    q = _assay("store", "query", "SELECT count(*) AS n FROM scores", "--store", db, "--json")
    assert json.loads(q.stdout) == [{"n": 24}]


def _bad_line(tmp_path, field_edit):
    model_dir, _ = write_lm_eval_output(tmp_path / "out", n_docs=5)
    sample_file = next(model_dir.glob("samples_*.jsonl"))
    lines = sample_file.read_text().splitlines()
    lines[2] = field_edit(lines[2])
    sample_file.write_text("\n".join(lines) + "\n")
    return sample_file


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda line: line[:-5], "line 3: not valid JSON"),
        (
            lambda line: json.dumps({k: v for k, v in json.loads(line).items() if k != "doc_id"}),
            "line 3, field 'doc_id': missing",
        ),
        (
            lambda line: json.dumps({k: v for k, v in json.loads(line).items() if k != "acc"}),
            "line 3, field 'acc': metric named but missing",
        ),
    ],
)
def test_malformed_lm_eval_file_names_file_line_field_and_writes_nothing(tmp_path, edit, expected):
    sample_file = _bad_line(tmp_path, edit)
    store = open_store(tmp_path / "s.duckdb")
    with pytest.raises(InputError) as err:
        import_lm_eval(store, tmp_path / "out")
    assert str(sample_file) in str(err.value)
    assert expected in str(err.value)
    assert store.info()["counts"]["samples"] == 0
    done = _assay("import", "lm-eval", str(tmp_path / "out"), "--store", str(store.path))
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert expected in done.stderr


def test_import_samples_with_a_column_mapping(tmp_path):
    rows = pd.DataFrame(
        {
            "system": ["a", "a", "b", "b"],
            "benchmark": ["t"] * 4,
            "item": [1, 2, 1, 2],
            "correct": [1, 0, 1, 1],
            "metric.f1": [0.5, 0.25, 1.0, 0.75],
        }
    )
    path = tmp_path / "rows.csv"
    rows.to_csv(path, index=False)
    store = open_store(tmp_path / "s.duckdb")
    summary = import_samples(
        store,
        path,
        mapping={"model": "system", "task": "benchmark", "doc_id": "item"},
        metrics=["correct"],
    )
    assert summary["samples"] == 4
    scores = store.scores(metric="correct").sort_values(["model", "doc_id"])
    assert scores["value"].tolist() == [1.0, 0.0, 1.0, 1.0]
    assert store.scores(metric="f1")["value"].sum() == pytest.approx(2.5)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "model,task,doc_id,metric.acc\na,t,1,1\na,t,2,oops\n",
            "line 3, field 'metric.acc': not a number",
        ),
        ("model,task,doc_id,metric.acc\na,t,,1\n", "line 2, field 'doc_id': empty"),
        ("model,doc_id,metric.acc\na,1,1\n", "required field 'task' is missing"),
        (
            "model,task,doc_id,repeat,metric.acc\na,t,1,1.5,1\n",
            "line 2, field 'repeat': not a whole number",
        ),
        ("model,task,doc_id,choice_logprobs,metric.acc\na,t,1,[x],1\n", "field 'choice_logprobs'"),
    ],
)
def test_malformed_samples_file(tmp_path, content, expected):
    path = tmp_path / "rows.csv"
    path.write_text(content)
    store = open_store(tmp_path / "s.duckdb")
    with pytest.raises(InputError, match=expected.replace("[", r"\[")):
        import_samples(store, path)
    assert str(path) in str(pytest.raises(InputError, import_samples, store, path).value)
    assert store.info()["counts"]["samples"] == 0


def test_malformed_jsonl_names_the_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"model": "a", "task": "t", "doc_id": 1, "metric.acc": 1}\n{"model": \n')
    with pytest.raises(InputError, match=r"rows.jsonl: line 2: not valid JSON"):
        import_samples(open_store(tmp_path / "s.duckdb"), path)


def test_model_metadata(tmp_path):
    path = tmp_path / "meta.csv"
    path.write_text(
        "model,parameters,tokens,flops,family,date,step\n"
        "p-70m,7.0e7,3.0e11,1.26e20,pythia,2023-02-13,143000\n"
        "p-160m,1.6e8,3.0e11,2.88e20,pythia,2023-02-13,143000\n"
    )
    store = open_store(tmp_path / "s.duckdb")
    assert set_model_meta(store, path) == 2
    models = store.models().set_index("model")
    assert models.loc["p-70m", "params"] == 7.0e7
    assert models.loc["p-160m", "flops"] == 2.88e20
    assert str(models.loc["p-70m", "release_date"])[:10] == "2023-02-13"
    assert models.loc["p-70m", "step"] == 143000
    # a second file with fewer columns keeps what the first set
    path.write_text("model,family\np-70m,pythia-deduped\n")
    set_model_meta(store, path)
    models = store.models().set_index("model")
    assert models.loc["p-70m", "family"] == "pythia-deduped"
    assert models.loc["p-70m", "params"] == 7.0e7
    path.write_text("model,params\np-70m,seventy\n")
    with pytest.raises(InputError, match="line 2, field 'params': not a number"):
        set_model_meta(store, path)
