"""Every bad input gets one clear line and changes nothing (issue 11).

Each case runs one ``assay`` command in-process against a copy of a small store and asserts: exit
code 1, exactly one non-empty line on stderr, no traceback, and the store file byte-for-byte
unchanged (and no stray files written next to it).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import run_main

from assay.store import ModelInfo, RunInfo, SampleRecord, Store

BASE_MODELS = ("alpha", "beta")
BASE_TASKS = ("t1", "t2")
N_DOCS = 30


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def base_store(tmp_path_factory) -> Path:
    """Two models x two tasks x 30 binary questions, an eval-like run, metadata and battles."""
    path = tmp_path_factory.mktemp("base") / "assay.duckdb"
    store = Store(path)
    rng = np.random.default_rng(0)
    records, runs = [], []
    for model in BASE_MODELS:
        for task in BASE_TASKS:
            run_id = f"{model}-{task}"
            runs.append(RunInfo(run_id=run_id, model=model, task=task, source="assay"))
            for i in range(N_DOCS):
                records.append(
                    SampleRecord(
                        run_id=run_id,
                        model=model,
                        task=task,
                        doc_id=f"d{i}",
                        metrics={"acc": float(rng.random() < 0.6)},
                        prompt=f"Question {i}?",
                        target="A",
                        prediction="A",
                        choice_logprobs=[-0.5, -1.5],
                        chosen_position=0,
                    )
                )
    store.upsert_models(
        [ModelInfo(model="alpha", params=1e8, tokens=1e10), ModelInfo(model="beta", params=2e8)]
    )
    for run in runs:
        store.upsert_run(run)
    store.write_samples(records)
    store.add_battles(
        [{"model_a": "alpha", "model_b": "beta", "winner": w} for w in ["model_a", "model_b"] * 5]
    )
    return path


# -- the malformed files --------------------------------------------------------------------


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _csv(rows: list[dict]) -> str:
    return pd.DataFrame(rows).to_csv(index=False)


def _sample_rows(n: int = 3, **override) -> list[dict]:
    rows = [
        {"model": "gamma", "task": "t1", "doc_id": f"d{i}", "metric.acc": 1.0} for i in range(n)
    ]
    for row in rows:
        row.update(override)
    return rows


def _yaml_task(template: str, data: str = "data.jsonl") -> str:
    return (
        "name: evil\n"
        f"data: {data}\n"
        "request_type: generate\n"
        f"template: {json.dumps(template)}\n"
        "target: '{{ answer }}'\n"
        "metrics: [exact_match]\n"
    )


def _bigbench(examples: list | None = None, prefix: str = "") -> str:
    body = {
        "name": "bb",
        "description": "a test",
        "keywords": [],
        "metrics": ["multiple_choice_grade"],
        "examples": (
            examples
            if examples is not None
            else [{"input": "1+1?", "target_scores": {"2": 1, "3": 0}}]
        ),
    }
    if prefix:
        body["task_prefix"] = prefix
    return json.dumps(body)


def _files(d: Path, store: Path) -> dict[str, Path]:
    """Every file a case may refer to, written fresh in the case's folder."""
    good = d / "data.jsonl"
    _write(good, "".join(json.dumps({"q": "hi", "answer": "x"}) + "\n" for _ in range(3)))
    real = store.read_bytes()
    corrupt = bytearray(real)
    corrupt[12288:] = b"\x5a" * (len(real) - 12288)  # every block after the headers
    newer = d / "newer.duckdb"
    shutil.copy(store, newer)
    s = Store(newer)
    s.sql("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    noschema = d / "noschema.duckdb"
    shutil.copy(store, noschema)
    Store(noschema).sql("DELETE FROM meta WHERE key = 'schema_version'")
    escape = "{{ cycler.__init__.__globals__.os.system('touch " + str(d / "PWNED") + "') }}"
    return {
        "text.duckdb": _write(d / "text.duckdb", "this is not a database\n" * 10),
        "empty.duckdb": _write(d / "empty.duckdb", b""),
        "truncated.duckdb": _write(d / "truncated.duckdb", real[:4096]),
        "corrupt.duckdb": _write(d / "corrupt.duckdb", bytes(corrupt)),
        "dir.duckdb": (d / "dir.duckdb").mkdir() or d / "dir.duckdb",
        "newer.duckdb": newer,
        "noschema.duckdb": noschema,
        # samples importers
        "utf8.csv": _write(d / "utf8.csv", b"model,task,doc_id,metric.acc\nm\xff\xfe,t,d0,1\n"),
        "utf8.jsonl": _write(
            d / "utf8.jsonl", b'{"model": "m\xff", "task": "t", "doc_id": "d", "metric.acc": 1}\n'
        ),
        "type.csv": _write(d / "type.csv", _csv(_sample_rows(repeat="abc"))),
        "metric_type.csv": _write(
            d / "metric_type.csv", _csv(_sample_rows(**{"metric.acc": "yes"}))
        ),
        "overflow.csv": _write(d / "overflow.csv", _csv(_sample_rows(repeat=1e20))),
        "negrepeat.csv": _write(d / "negrepeat.csv", _csv(_sample_rows(repeat=-1))),
        "inf.csv": _write(d / "inf.csv", _csv(_sample_rows(**{"metric.acc": float("inf")}))),
        "ninf.jsonl": _write(
            d / "ninf.jsonl",
            '{"model": "g", "task": "t", "doc_id": "d0", "metric.acc": -Infinity}\n',
        ),
        "nan.jsonl": _write(
            d / "nan.jsonl", '{"model": "g", "task": "t", "doc_id": "d0", "metric.acc": NaN}\n'
        ),
        "dup.csv": _write(d / "dup.csv", _csv(_sample_rows(doc_id="d0"))),
        "ragged.csv": _write(
            d / "ragged.csv", "model,task,doc_id,metric.acc\ng,t1,d0,1\ng,t1,d1,1,extra,more\n"
        ),
        "nomodel.csv": _write(d / "nomodel.csv", "task,doc_id,metric.acc\nt1,d0,1\n"),
        "nometric.csv": _write(d / "nometric.csv", "model,task,doc_id\ng,t1,d0\n"),
        "emptyfile.csv": _write(d / "emptyfile.csv", ""),
        "notjson.jsonl": _write(
            d / "notjson.jsonl",
            '{"model": "g", "task": "t", "doc_id": "d0", "metric.acc": 1}\n{oops\n',
        ),
        "array.jsonl": _write(d / "array.jsonl", "[1, 2, 3]\n"),
        "runclash.csv": _write(
            d / "runclash.csv",
            _csv(_sample_rows(run_id="alpha-t1", model="alpha", task="t1")),
        ),
        "bad.parquet": _write(d / "bad.parquet", "not parquet at all"),
        "rows.txt": _write(d / "rows.txt", "model task doc_id\n"),
        "emptydir": (d / "emptydir").mkdir() or d / "emptydir",
        # lm-eval
        "lmeval_bad/results_x.json": _write(d / "lmeval_bad" / "results_x.json", "{not json"),
        # model metadata
        "negparams.csv": _write(d / "negparams.csv", "model,params\nalpha,-5\n"),
        "negtokens.csv": _write(d / "negtokens.csv", "model,tokens\nalpha,-1e9\n"),
        "strparams.csv": _write(d / "strparams.csv", "model,params\nalpha,big\n"),
        "meta_nomodel.csv": _write(d / "meta_nomodel.csv", "who,params\nalpha,5\n"),
        # task files
        "escape.yaml": _write(d / "escape.yaml", _yaml_task(escape)),
        "mro.yaml": _write(
            d / "mro.yaml", _yaml_task("{{ ''.__class__.__mro__[1].__subclasses__() }}")
        ),
        "undefined.yaml": _write(d / "undefined.yaml", _yaml_task("{{ nope }}")),
        "div0.yaml": _write(d / "div0.yaml", _yaml_task("{{ 1 // 0 }}")),
        "syntax.yaml": _write(d / "syntax.yaml", _yaml_task("{{ q ")),
        "notmapping.yaml": _write(d / "notmapping.yaml", "- just\n- a list\n"),
        "invalid.yaml": _write(d / "invalid.yaml", "name: [unclosed\n"),
        "nodocs.yaml": _write(d / "nodocs.yaml", _yaml_task("{{ q }}", data="empty.jsonl")),
        "empty.jsonl": _write(d / "empty.jsonl", ""),
        "bb_escape.json": _write(d / "bb_escape.json", _bigbench(prefix=escape)),
        "bb_scores.json": _write(
            d / "bb_scores.json",
            _bigbench([{"input": "1+1?", "target_scores": {"2": "yes", "3": "no"}}]),
        ),
        "bb_empty.json": _write(d / "bb_empty.json", _bigbench([])),
        "bb_notjson.json": _write(d / "bb_notjson.json", '{"examples": ['),
        # battles
        "huge.jsonl": _write(
            d / "huge.jsonl",
            '{"model_a": "a", "model_b": "b", "winner": "model_a", "count": 1e12}\n',
        ),
        "negcount.jsonl": _write(
            d / "negcount.jsonl",
            '{"model_a": "a", "model_b": "b", "winner": "model_a", "count": -2}\n',
        ),
        "winner.jsonl": _write(
            d / "winner.jsonl", '{"model_a": "a", "model_b": "b", "winner": "both"}\n'
        ),
        "self.jsonl": _write(
            d / "self.jsonl", '{"model_a": "a", "model_b": " a ", "winner": "model_a"}\n'
        ),
        "noname.jsonl": _write(
            d / "noname.jsonl", '{"model_a": "  ", "model_b": "b", "winner": "model_a"}\n'
        ),
        "battle_cols.csv": _write(d / "battle_cols.csv", "a,b,winner\nx,y,model_a\n"),
        # forecasts
        "runs_noloss.csv": _write(d / "runs_noloss.csv", "params,tokens\n1e8,1e9\n2e8,2e9\n"),
        "runs_neg.csv": _write(
            d / "runs_neg.csv",
            "params,tokens,loss\n"
            + "".join(f"{-p:g},{p * 20:g},3.0\n" for p in [1e8, 2e8, 4e8, 8e8]),
        ),
        "runs.csv": _write(
            d / "runs.csv",
            "params,tokens,flops,loss,score\n"
            + "".join(
                f"{p:g},{p * 20:g},{6 * p * p * 20:g},{1.8 + 400 / p**0.34 + 400 / (20 * p) ** 0.28:.4f},"
                f"{min(0.9, 0.1 * i):.2f}\n"
                for i, p in enumerate([1e7, 2e7, 4e7, 8e7, 1.6e8, 3.2e8, 6.4e8, 1.3e9])
            ),
        ),
        "outputs_cols.jsonl": _write(d / "outputs_cols.jsonl", '{"prompt": "p", "output": "o"}\n'),
        "a_file": _write(d / "a_file", "I am a file\n"),
        "nonempty/keep.txt": _write(d / "nonempty" / "keep.txt", "precious\n"),
        "nonempty": d / "nonempty",
        "good.jsonl": good,
    }


# -- the table ------------------------------------------------------------------------------
# (id, argv); "{X}" is replaced by the case folder's file X, "{store}" by the store copy.

BAD_STORES = ["text", "empty", "truncated", "corrupt", "dir", "newer", "noschema"]

CASES: list[tuple[str, list[str]]] = [
    *[(f"store-{k}-info", ["store", "info", "--store", f"{{{k}.duckdb}}"]) for k in BAD_STORES],
    *[(f"store-{k}-compare", ["compare", "--store", f"{{{k}.duckdb}}"]) for k in BAD_STORES[:3]],
    ("store-missing", ["compare", "--store", "{missing.duckdb}"]),
    *[
        (f"merge-{k}-in", ["store", "merge", f"{{{k}.duckdb}}", "-o", "{store}"])
        for k in BAD_STORES
    ],
    *[
        (f"merge-{k}-out", ["store", "merge", "{store}", "-o", f"{{{k}.duckdb}}"])
        for k in BAD_STORES
    ],
    ("merge-missing", ["store", "merge", "{missing.duckdb}", "-o", "{store}"]),
    ("merge-self", ["store", "merge", "{store}", "-o", "{store}"]),
    ("query-write", ["store", "query", "DELETE FROM samples", "--store", "{store}"]),
    ("query-drop", ["store", "query", "DROP TABLE battles", "--store", "{store}"]),
    ("query-syntax", ["store", "query", "SELEC nothing", "--store", "{store}"]),
    # samples importers
    *[
        (f"samples-{name}", ["import", "samples", f"{{{name}}}", "--store", "{store}"])
        for name in [
            "utf8.csv",
            "utf8.jsonl",
            "type.csv",
            "metric_type.csv",
            "overflow.csv",
            "negrepeat.csv",
            "inf.csv",
            "ninf.jsonl",
            "nan.jsonl",
            "dup.csv",
            "ragged.csv",
            "nomodel.csv",
            "nometric.csv",
            "emptyfile.csv",
            "notjson.jsonl",
            "array.jsonl",
            "runclash.csv",
            "bad.parquet",
            "rows.txt",
            "emptydir",
            "missing.csv",
        ]
    ],
    (
        "samples-badmap",
        ["import", "samples", "{good.jsonl}", "--map", "model", "--store", "{store}"],
    ),
    (
        "samples-unknown-field",
        ["import", "samples", "{good.jsonl}", "--map", "colour=q", "--store", "{store}"],
    ),
    ("lmeval-badjson", ["import", "lm-eval", "{lmeval_bad/results_x.json}", "--store", "{store}"]),
    ("lmeval-dir", ["import", "lm-eval", "{emptydir}", "--store", "{store}"]),
    ("lmeval-missing", ["import", "lm-eval", "{missing_dir}", "--store", "{store}"]),
    *[
        (f"meta-{name}", ["models", "set-meta", f"{{{name}}}", "--store", "{store}"])
        for name in ["negparams.csv", "negtokens.csv", "strparams.csv", "meta_nomodel.csv"]
    ],
    # task files
    ("tasks-show-negative", ["tasks", "show", "arith_mc", "-n", "-5"]),
    ("tasks-show-unknown", ["tasks", "show", "no_such_task"]),
    *[
        (f"tasks-{name}", ["tasks", "show", f"{{{name}}}"])
        for name in [
            "escape.yaml",
            "mro.yaml",
            "undefined.yaml",
            "div0.yaml",
            "syntax.yaml",
            "notmapping.yaml",
            "invalid.yaml",
            "nodocs.yaml",
            "bb_scores.json",
            "bb_empty.json",
            "bb_notjson.json",
        ]
    ],
    # eval: rejected before the model or the store is touched
    ("eval-limit", ["eval", "-t", "arith_mc", "--limit", "-1", "--store", "{store}"]),
    ("eval-batch0", ["eval", "-t", "arith_mc", "--batch-size", "0", "--store", "{store}"]),
    ("eval-batchstr", ["eval", "-t", "arith_mc", "--batch-size", "many", "--store", "{store}"]),
    ("eval-repeats", ["eval", "-t", "arith_mc", "--repeats", "0", "--store", "{store}"]),
    ("eval-permute", ["eval", "-t", "arith_mc", "--permute-choices", "-2", "--store", "{store}"]),
    ("eval-task", ["eval", "-t", "no_such_task", "--store", "{store}"]),
    *[
        (f"eval-shard-{i}", ["eval", "-t", "arith_mc", "--shard", spec, "--store", "{store}"])
        for i, spec in enumerate(["0/3", "4/3", "a/b", "3"])
    ],
    ("eval-taskfile", ["eval", "-t", "{escape.yaml}", "--store", "{store}"]),
    ("eval-backend", ["eval", "-m", "nosuch:thing", "-t", "arith_mc", "--store", "{store}"]),
    (
        "eval-concurrency0",
        [
            "eval",
            "-m",
            "openai:m@http://127.0.0.1:9/v1,concurrency=0",
            "-t",
            "arith_mc",
            "--store",
            "{store}",
        ],
    ),
    (
        "eval-refused",
        [
            "eval",
            "-m",
            "openai:m@http://127.0.0.1:{port}/v1",
            "-t",
            "arith_mc",
            "--limit",
            "2",
            "--no-progress",
            "--store",
            "{store}",
        ],
    ),
    # export
    ("export-file", ["export", "{a_file}", "--store", "{store}"]),
    ("export-nonempty", ["export", "{nonempty}", "--store", "{store}"]),
    ("export-format", ["export", "{out_dir}", "--format", "xml", "--store", "{store}"]),
    # stats
    ("compare-models", ["compare", "--models", "alpha,nobody", "--store", "{store}"]),
    ("compare-correction", ["compare", "--correction", "bonferoni", "--store", "{store}"]),
    ("compare-test", ["compare", "--test", "magic", "--store", "{store}"]),
    ("compare-metric", ["compare", "--metric", "nosuch", "--store", "{store}"]),
    ("compare-alpha", ["compare", "--alpha", "2", "--store", "{store}"]),
    ("power-n", ["power", "--n", "-5"]),
    ("power-power", ["power", "--delta", "0.02", "--power", "1.5"]),
    ("power-omega", ["power", "--delta", "0.02", "--omega2", "-1"]),
    ("flips-unknown", ["flips", "--old", "nobody", "--new", "alpha", "--store", "{store}"]),
    ("bias-unknown", ["bias", "--model", "nobody", "--store", "{store}"]),
    ("items-anchors", ["items", "--anchors", "-3", "--store", "{store}"]),
    ("variance-unknown", ["variance", "--model", "nobody", "--store", "{store}"]),
    # rank
    *[
        (f"battles-{name}", ["rank", "battles", f"{{{name}}}", "--store", "{store}"])
        for name in [
            "huge.jsonl",
            "negcount.jsonl",
            "winner.jsonl",
            "self.jsonl",
            "noname.jsonl",
            "battle_cols.csv",
        ]
    ],
    ("battles-bootstrap", ["rank", "battles", "--bootstrap", "-1", "--store", "{store}"]),
    ("battles-method", ["rank", "battles", "--method", "glicko", "--store", "{store}"]),
    ("battles-anchor", ["rank", "battles", "--anchor", "alpha", "--store", "{store}"]),
    (
        "battles-anchor-unknown",
        ["rank", "battles", "--anchor", "nobody=1200", "--store", "{store}"],
    ),
    ("samples-bootstrap", ["rank", "samples", "--bootstrap", "-1", "--store", "{store}"]),
    ("samples-method", ["rank", "samples", "--method", "borda2", "--store", "{store}"]),
    ("tournament-cols", ["arena", "tournament", "{outputs_cols.jsonl}", "--judge", "smollm2-135m"]),
    # forecasts
    ("fit-missing", ["forecast", "fit", "{missing.csv}"]),
    ("fit-noloss", ["forecast", "fit", "{runs_noloss.csv}"]),
    ("fit-negative", ["forecast", "fit", "{runs_neg.csv}"]),
    ("fit-law", ["forecast", "fit", "{runs.csv}", "--law", "moore"]),
    ("fit-bootstrap", ["forecast", "fit", "{runs.csv}", "--bootstrap", "-1"]),
    ("fit-plot-dir", ["forecast", "fit", "{runs.csv}", "--plot", "{missing_dir}/x/fit.png"]),
    (
        "backtest-level",
        ["forecast", "backtest", "{runs.csv}", "--holdout-above", "1e18", "--level", "1.5"],
    ),
    ("downstream-at", ["forecast", "downstream", "{runs.csv}", "--at", "lots"]),
    # report
    ("report-maxdocs", ["report", "--max-docs", "-1", "-o", "{out.html}", "--store", "{store}"]),
    ("report-bootstrap", ["report", "--bootstrap", "-1", "-o", "{out.html}", "--store", "{store}"]),
    ("report-outdir", ["report", "-o", "{missing_dir}/r.html", "--store", "{store}"]),
    ("report-outisdir", ["report", "-o", "{emptydir}", "--store", "{store}"]),
    ("report-store", ["report", "-o", "{out.html}", "--store", "{text.duckdb}"]),
]


@pytest.fixture(scope="module")
def base_inputs(base_store, tmp_path_factory) -> Path:
    """The malformed files, written once; each case gets its own copy."""
    folder = tmp_path_factory.mktemp("inputs") / "in"
    _files(folder, base_store)
    return folder


@pytest.mark.parametrize(("argv"), [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_one_line_nothing_changed(argv, base_store, base_inputs, tmp_path, monkeypatch):
    (tmp_path / "crash").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "crash"))
    store = tmp_path / "assay.duckdb"
    shutil.copy(base_store, store)
    shutil.copytree(base_inputs, tmp_path / "in")
    files = {
        str(p.relative_to(base_inputs)): tmp_path / "in" / p.relative_to(base_inputs)
        for p in base_inputs.rglob("*")
    }
    port = _closed_port()

    def fill(arg: str) -> str:
        if arg == "{store}":
            return str(store)
        out = arg.replace("{port}", str(port))
        if out.startswith("{"):
            name, _, rest = out[1:].partition("}")
            path = files.get(name, tmp_path / "in" / name)
            return str(path) + rest
        return out

    args = [fill(a) for a in argv]
    before = {p: _sha(p) for p in (tmp_path / "in").rglob("*") if p.is_file()}
    store_sha = _sha(store)
    code, _, stderr = run_main(args)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 1, (args, code, stderr)
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert "trace written" not in stderr, "a crash, not a handled error"
    assert _sha(store) == store_sha, "the store changed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["assay.duckdb", "crash", "in"], (
        "a stray file"
    )
    after = {p: _sha(p) for p in (tmp_path / "in").rglob("*") if p.is_file()}
    assert after == before, "an input file changed or a file was written among the inputs"
    assert not (tmp_path / "in" / "PWNED").exists()


def test_table_is_large_enough():
    assert len(CASES) >= 60
