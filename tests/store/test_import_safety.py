"""Importers with bad input: invalid UTF-8, wrong types, overflow, non-finite metrics,
duplicate samples, ragged CSV lines, bad model metadata and lm-eval logs. Each is one line
naming the file, the row and the field, and the store stays byte-for-byte unchanged."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cli_helpers import run_main
from lm_eval_files import write_lm_eval_output

from assay.errors import InputError
from assay.store import (
    RunInfo,
    SampleRecord,
    Store,
    import_lm_eval,
    import_samples,
    open_store,
    set_model_meta,
)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cli(*args: str) -> tuple[int, str]:
    """``assay ARGS`` in-process: (exit code, stderr), checking an error is one clean line."""
    code, _, err = run_main([str(a) for a in args])
    assert "Traceback" not in err
    if code:
        assert len([line for line in err.splitlines() if line.strip()]) == 1, err
        assert "trace written" not in err, err
    return code, err


@pytest.fixture
def store(tmp_path) -> Store:
    """A store with models alpha and beta, as an eval leaves it."""
    s = open_store(tmp_path / "assay.duckdb")
    for model in ("alpha", "beta"):
        s.upsert_run(RunInfo(run_id=f"{model}-t1", model=model, task="t1", source="assay"))
        s.write_samples(
            [
                SampleRecord(
                    run_id=f"{model}-t1",
                    model=model,
                    task="t1",
                    doc_id=f"d{i}",
                    metrics={"acc": float(i % 2)},
                )
                for i in range(4)
            ]
        )
    return s


# -- importers: every bad row is one line naming file, row and field ------------------------

HEADER = "model,task,doc_id,repeat,metric.acc\n"

SAMPLE_FILES: dict[str, tuple[bytes | str, str]] = {
    "utf8.csv": (b"model,task,doc_id,metric.acc\ng\xff\xfe,t,d0,1\n", "line 2: not valid UTF-8"),
    "utf8.jsonl": (
        b'{"model": "g", "task": "t", "doc_id": "d0", "metric.acc": 1}\n'
        b'{"model": "g\xff", "task": "t", "doc_id": "d1", "metric.acc": 1}\n',
        "line 2: not valid UTF-8",
    ),
    "type.csv": (HEADER + "g,t,d0,abc,1\n", "line 2, field 'repeat': not a number ('abc')"),
    "metric_type.csv": (HEADER + "g,t,d0,0,yes\n", "line 2, field 'metric.acc': not a number"),
    "object.jsonl": (
        '{"model": {"a": 1}, "task": "t", "doc_id": "d0", "metric.acc": 1}\n',
        "line 1, field 'model': not text",
    ),
    "list_metric.jsonl": (
        '{"model": "g", "task": "t", "doc_id": "d0", "metric.acc": [1]}\n',
        "line 1, field 'metric.acc': not a number",
    ),
    "overflow.csv": (HEADER + "g,t,d0,1e+20,1\n", "line 2, field 'repeat': 1e+20 is out of range"),
    "negative.csv": (HEADER + "g,t,d0,-1,1\n", "line 2, field 'repeat': -1 is out of range"),
    "tokens.csv": (
        "model,task,doc_id,input_tokens,metric.acc\ng,t,d0,99999999999,1\n",
        "field 'input_tokens': 99999999999 is out of range",
    ),
    "inf.csv": (HEADER + "g,t,d0,0,1\ng,t,d1,0,inf\n", "line 3, field 'metric.acc': not a finite"),
    "nan.csv": (HEADER + "g,t,d0,0,NaN\n", "line 2, field 'metric.acc': not a finite number"),
    "nan.jsonl": (
        '\n{"model": "g", "task": "t", "doc_id": "d0", "metric.acc": NaN}\n',
        "line 2, field 'metric.acc': not a finite number",
    ),
    "ninf.jsonl": (
        '{"model": "g", "task": "t", "doc_id": "d0", "metric.acc": -Infinity}\n',
        "line 1, field 'metric.acc': not a finite number",
    ),
    "latency.jsonl": (
        '{"model": "g", "task": "t", "doc_id": "d0", "latency_s": Infinity, "metric.acc": 1}\n',
        "line 1, field 'latency_s': not a finite number",
    ),
    "logprobs.jsonl": (
        '{"model": "g", "task": "t", "doc_id": "d0", "choice_logprobs": [NaN], "metric.acc": 1}\n',
        "line 1, field 'choice_logprobs': not a list of numbers",
    ),
    "order.csv": (
        'model,task,doc_id,choice_order,metric.acc\ng,t,d0,"[0, 1e20]",1\n',
        "line 2, field 'choice_order': not a list of whole numbers",
    ),
    "dup.csv": (HEADER + "g,t,d0,0,1\ng,t,d1,0,1\ng,t,d0,0,0\n", "line 4: sample (model 'g'"),
    "dup_repeat_default.csv": (
        "model,task,doc_id,metric.acc\ng,t,d0,1\ng,t,d0,0\n",
        "line 3: sample (model 'g', task 't', doc_id 'd0', repeat 0) appears twice (also at",
    ),
    "ragged.csv": (
        "model,task,doc_id,metric.acc\ng,t,d0,1\ng,t,d1,1,extra,more\n",
        "line 3: 6 fields, but the header has 4",
    ),
    "short.csv": ("model,task,doc_id,metric.acc\ng,t,d0\n", "line 2: 3 fields, but the header"),
    "quoted.csv": (
        'model,task,doc_id,metric.acc\ng,t,"multi\nline",1\ng,t,d1,1,x\n',
        "line 4: 5 fields",
    ),
    "header_twice.csv": ("model,task,model,metric.acc\ng,t,g,1\n", "column 'model' appears twice"),
    "empty.csv": ("", "empty file"),
    "header_only.csv": ("model,task,doc_id,metric.acc\n", "no rows"),
    "created.csv": (
        "model,task,doc_id,created_at,metric.acc\ng,t,d0,yesterday,1\n",
        "line 2, field 'created_at': not a date",
    ),
    "nometric.csv": ("model,task,doc_id\ng,t,d0\n", "no metric columns"),
}


def _write(path: Path, content: bytes | str) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", list(SAMPLE_FILES))
def test_bad_samples_file_is_one_line_and_changes_nothing(name, store, tmp_path):
    content, expected = SAMPLE_FILES[name]
    path = _write(tmp_path / name, content)
    sha = _sha(store.path)
    with pytest.raises(InputError) as err:
        import_samples(store, path)
    assert str(err.value).startswith(f"{path}: ")
    assert expected in str(err.value)
    code, cli_err = _cli("import", "samples", path, "--store", store.path)
    assert code == 1 and expected in cli_err
    assert _sha(store.path) == sha


def test_parquet_nan_and_inf_metrics_are_refused_but_missing_ones_are_not(store, tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")

    def write(name: str, values: list) -> Path:
        table = pa.table(
            {
                "model": ["g", "g"],
                "task": ["t", "t"],
                "doc_id": ["a", "b"],
                "metric.acc": pa.array(values, type=pa.float64(), from_pandas=False),
            }
        )
        pq.write_table(table, tmp_path / name)
        return tmp_path / name

    sha = _sha(store.path)
    for name, value in [("nan.parquet", float("nan")), ("inf.parquet", float("inf"))]:
        with pytest.raises(InputError, match=r"record 2, field 'metric.acc': not a finite"):
            import_samples(store, write(name, [1.0, value]))
    assert _sha(store.path) == sha
    assert import_samples(store, write("ok.parquet", [1.0, None]))["samples"] == 2
    scores = store.scores(model="g")
    assert scores["doc_id"].tolist() == ["a"]  # an empty cell is a missing metric, not an error


def test_duplicates_across_files_of_one_folder(store, tmp_path):
    folder = tmp_path / "rows"
    folder.mkdir()
    (folder / "a.csv").write_text("model,task,doc_id,metric.acc\ng,t,d0,1\n")
    (folder / "b.jsonl").write_text(
        '{"model": "g", "task": "t", "doc_id": "d0", "metric.acc": 0}\n'
    )
    sha = _sha(store.path)
    with pytest.raises(
        InputError, match=r"b.jsonl: line 1: sample .* appears twice \(also at .*a.csv: line 2\)"
    ):
        import_samples(store, folder)
    assert _sha(store.path) == sha


def test_good_csv_with_empty_cells_imports_them_as_missing(store, tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text(
        "model,task,doc_id,repeat,choice_logprobs,choice_order,latency_s,metric.acc,metric.f1\n"
        'g,t,d0,,"[-0.5, -1.5]","[1, 0]",0.25,1,\n'
        "g,t,d1,2,,,,,0.5\n"
    )
    assert import_samples(store, path)["samples"] == 2
    rows = store.samples(model="g").set_index("doc_id")
    assert list(rows.loc["d0", "choice_logprobs"]) == [-0.5, -1.5]
    assert list(rows.loc["d0", "choice_order"]) == [1, 0]
    assert rows.loc["d0", "repeat"] == 0 and rows.loc["d1", "repeat"] == 2
    nulls = store.sql(
        "SELECT choice_logprobs IS NULL, choice_order IS NULL, latency_s IS NULL FROM samples "
        "WHERE model = 'g' ORDER BY doc_id"
    )
    assert nulls.values.tolist() == [[False, False, False], [True, True, True]]
    scores = store.scores(model="g").sort_values(["doc_id", "metric"])
    assert list(zip(scores["doc_id"], scores["metric"], scores["value"], strict=True)) == [
        ("d0", "acc", 1.0),
        ("d1", "f1", 0.5),
    ]


def test_good_csv_still_imports_with_quotes_semicolons_and_a_bom(store, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_bytes(
        "\ufeffmodel;task;doc_id;prompt;metric.acc\n"
        'g;t;1;"a; b\nsecond line";1\n'
        "g;t;2;;0.5\n".encode()
    )
    assert import_samples(store, path)["samples"] == 2
    rows = store.samples(model="g").set_index("doc_id")
    assert rows.loc["1", "prompt"] == "a; b\nsecond line"
    assert rows.loc["2", "metric.acc"] == 0.5


META_FILES = {
    "negparams.csv": ("model,params\nalpha,-5\n", "line 2, field 'params': -5 is out of range"),
    "zeroparams.csv": (
        "model,params\nalpha,0\n",
        "field 'params': 0 is out of range (must be > 0)",
    ),
    "negtokens.csv": ("model,tokens\nalpha,-1e9\n", "line 2, field 'tokens': -1e9 is out of"),
    "negflops.jsonl": ('{"model": "alpha", "flops": -3}\n', "line 1, field 'flops': -3 is out"),
    "infparams.csv": ("model,params\nalpha,inf\n", "field 'params': not a finite number"),
    "step.csv": ("model,step\nalpha,1.5\n", "field 'step': not a whole number (1.5)"),
    "bigstep.csv": ("model,step\nalpha,1e30\n", "field 'step': 1e30 is out of range"),
    "dupmodel.csv": ("model,params\nalpha,1e8\nbeta,2e8\nalpha,3e8\n", "line 4, field 'model'"),
    "utf8.csv": (b"model,params\nalph\xe9,1e8\n", "line 2: not valid UTF-8"),
    "ragged.csv": ("model,params\nalpha,1,2\n", "line 2: 3 fields, but the header has 2"),
    "date.csv": ("model,date\nalpha,someday\n", "field 'release_date': not a date"),
}


@pytest.mark.parametrize("name", list(META_FILES))
def test_bad_model_metadata_is_one_line_and_changes_nothing(name, store, tmp_path):
    content, expected = META_FILES[name]
    path = _write(tmp_path / name, content)
    sha = _sha(store.path)
    with pytest.raises(InputError) as err:
        set_model_meta(store, path)
    assert str(err.value).startswith(f"{path}: ")
    assert expected in str(err.value)
    code, cli_err = _cli("models", "set-meta", path, "--store", store.path)
    assert code == 1 and expected in cli_err
    assert _sha(store.path) == sha


def _lm_eval_with(tmp_path: Path, edit) -> Path:
    model_dir, _ = write_lm_eval_output(tmp_path / "out", n_docs=4)
    sample_file = next(model_dir.glob("samples_*.jsonl"))
    lines = sample_file.read_text().splitlines()
    sample_file.write_text("\n".join(edit(lines)) + "\n")
    return sample_file


def _set(line: str, **fields) -> str:
    row = json.loads(line)
    row.update(fields)
    return json.dumps(row)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda ls: [ls[0], _set(ls[1], acc=float("nan")), *ls[2:]], "line 2, field 'acc': not a"),
        (lambda ls: [ls[0], _set(ls[1], acc=float("inf")), *ls[2:]], "line 2, field 'acc': not a"),
        (lambda ls: [*ls, ls[0]], "line 5, field 'doc_id': '0' with filter 'none' appears twice"),
        (lambda ls: [ls[0], _set(ls[1], doc_id=[1]), *ls[2:]], "line 2, field 'doc_id'"),
    ],
)
def test_bad_lm_eval_samples_change_nothing(tmp_path, edit, expected):
    sample_file = _lm_eval_with(tmp_path, edit)
    store = open_store(tmp_path / "s.duckdb")
    sha = _sha(store.path)
    with pytest.raises(InputError) as err:
        import_lm_eval(store, tmp_path / "out")
    assert str(err.value).startswith(f"{sample_file}: ")
    assert expected in str(err.value)
    assert _sha(store.path) == sha


def test_lm_eval_results_file_with_invalid_utf8(tmp_path):
    model_dir, _ = write_lm_eval_output(tmp_path / "out", n_docs=3)
    results = next(model_dir.glob("results_*.json"))
    results.write_bytes(results.read_bytes().replace(b'"results"', b'"r\xffesults"', 1))
    store = open_store(tmp_path / "s.duckdb")
    with pytest.raises(InputError, match=r"results_.*\.json: line \d+: not valid UTF-8"):
        import_lm_eval(store, tmp_path / "out")
