"""inspect_ai logs (written by inspect_ai itself: tests/support/make_inspect_logs.py) into the store."""

from __future__ import annotations

import json
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
from cli_helpers import run_main

from assay.errors import InputError
from assay.stats import compare
from assay.store import import_inspect, open_store, read_inspect

DATA = Path(__file__).resolve().parents[1] / "data" / "inspect"
EXPECTED = json.loads((DATA / "expected.json").read_text())
METRICS = {"match": "match", "graded": "graded", "closeness": "closeness",
           "exact": "parts.exact", "chars": "parts.chars"}  # fmt: skip
# inspect >= 0.3.1xx writes zstd-compressed .eval files; Python < 3.14 reads them with zstandard
zstd = pytest.mark.skipif(
    sys.version_info < (3, 14) and not __import__("importlib").util.find_spec("zstandard"),
    reason="zstd .eval logs need the zstandard package before Python 3.14",
)


def _store(tmp_path, name="s.duckdb"):
    return open_store(tmp_path / name)


def _counts(store) -> tuple[int, int, int]:
    row = store.sql(
        "SELECT (SELECT count(*) FROM models), (SELECT count(*) FROM runs), "
        "(SELECT count(*) FROM samples)"
    )
    return tuple(int(v) for v in row.iloc[0])


@pytest.mark.parametrize("fmt", [pytest.param("eval", marks=zstd), "json"])
def test_scores_equal_inspects_own_metrics(tmp_path, fmt):
    store = _store(tmp_path)
    summary = import_inspect(store, DATA / "runs" / fmt)
    assert summary.models == ["mockllm/model", "scripted/weak"]
    assert summary.tasks == ["arith"]
    assert (summary.runs, summary.samples, summary.errored) == (2, 23, 1)
    scores = store.scores()
    for key, by_scorer in EXPECTED.items():
        model, task = key.split(" ")
        for scorer, values in by_scorer.items():
            res = compare(scores, metric=METRICS[scorer], models=[model], tasks=[task])
            row = res.scores.iloc[0]
            mean = values.get("accuracy", values.get("mean"))
            assert row["mean"] == mean  # exactly inspect's accuracy / mean
            if "stderr" in values:  # both use the n - 1 (ddof 1) sample standard deviation
                assert row["stderr"] == pytest.approx(values["stderr"], rel=1e-12)


def test_fields_land_where_documented(tmp_path):
    store = _store(tmp_path)
    import_inspect(store, DATA / "runs" / "json")
    df = store.samples(model="scripted/weak").set_index(["doc_id", "repeat"])
    row = df.loc[("q1", 1)]  # epoch 2 is repeat 1
    assert row["prompt"] == "What is 2+3?"
    assert row["target"] == "5"
    assert row["prediction"] == "ANSWER: 6"
    assert (row["input_tokens"], row["output_tokens"]) == (6, 2)
    assert row["latency_s"] > 0
    assert row["metric.match"] == 0.0 and row["metric.graded"] == 0.5  # I and P
    assert row["metric.parts.exact"] == 0.0 and row["metric.parts.chars"] == 1.0
    assert df.loc[("q3", 1), "metric.graded"] == 0.0  # N: no answer counts 0, as in inspect
    extra = json.loads(row["extra"])
    assert extra["scores"]["graded"]["value"] == "P"
    assert extra["metadata"] == {"op": "+"}
    assert ("q6", 0) not in df.index  # errored: left out, not counted as wrong
    runs = store.runs(model="scripted/weak")
    settings = json.loads(runs["settings"].iloc[0])
    assert settings["epochs"] == 2 and settings["model"] == "scripted/weak"
    assert settings["generate_config"]["temperature"] == 0.0
    assert runs["task_version"].iloc[0] == "1"
    assert json.loads(runs["extra"].iloc[0])["status"] == "success"


@zstd
def test_eval_and_json_formats_import_the_same(tmp_path):
    a, b = _store(tmp_path, "a.duckdb"), _store(tmp_path, "b.duckdb")
    import_inspect(a, DATA / "runs" / "eval")
    import_inspect(b, DATA / "runs" / "json")
    drop = ["created_at", "extra"]
    left, right = a.samples().drop(columns=drop), b.samples().drop(columns=drop)
    assert left.equals(right)
    assert sorted(a.runs()["run_id"]) == sorted(b.runs()["run_id"])


def test_deflate_eval_reads_with_the_standard_library(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "zstandard", None)  # not installed
    store = _store(tmp_path)
    summary = import_inspect(store, DATA / "deflate" / "arith_mock.eval")
    assert (summary.samples, summary.models) == (12, ["mockllm/model"])
    res = compare(store.scores(), metric="match")
    assert res.scores["mean"].iloc[0] == EXPECTED["mockllm/model arith"]["match"]["accuracy"]


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="Python 3.14 reads zstd itself")
def test_zstd_without_zstandard_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "zstandard", None)
    store = _store(tmp_path)
    with pytest.raises(InputError, match=r"compressed with zstd.*pip install zstandard"):
        import_inspect(store, DATA / "runs" / "eval" / "arith_mock.eval")
    assert _counts(store) == (0, 0, 0)


@pytest.mark.parametrize("fmt", [pytest.param("eval", marks=zstd), "json"])
def test_errored_run_imports_what_finished(tmp_path, fmt):
    store = _store(tmp_path)
    summary = import_inspect(store, DATA / "errored" / fmt)
    assert (summary.samples, summary.errored) == (5, 2)
    extra = json.loads(store.runs()["extra"].iloc[0])
    assert extra["status"] == "error" and "scripted failure" in extra["error"]
    assert sorted(store.samples()["doc_id"]) == ["q1", "q2", "q3", "q4", "q5"]


def test_model_override_and_reimport_is_a_no_op(tmp_path):
    store = _store(tmp_path)
    log = DATA / "runs" / "json" / "arith_mock.json"
    import_inspect(store, log, model="mock")
    before = store.samples()
    import_inspect(store, log, model="mock")
    assert store.samples().drop(columns="created_at").equals(before.drop(columns="created_at"))
    assert store.models()["model"].tolist() == ["mock"]
    assert json.loads(store.runs()["settings"].iloc[0])["model"] == "mockllm/model"


def _json_log(tmp_path: Path, change) -> Path:
    log = json.loads((DATA / "runs" / "json" / "arith_mock.json").read_text())
    log["eval"]["eval_id"] = "another-run"
    change(log)
    out = tmp_path / "bad" / "log.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(log))
    return out


def _dup(log):
    log["samples"].append(log["samples"][0])


def _bad_score(log):
    log["samples"][3]["scores"]["match"] = "C"


BAD_JSON = {
    "version": (lambda log: log.update(version=99), "inspect log version 99 is not one"),
    "no eval": (lambda log: log.pop("eval"), "not an inspect log"),
    "duplicate": (_dup, r"sample id 'q1' epoch 1 appears twice"),
    "score": (_bad_score, r"samples\[3\], field 'scores.match': not a score"),
    "epoch": (lambda log: log["samples"][2].update(epoch=0), "field 'epoch'"),
}


@pytest.mark.parametrize("case", sorted(BAD_JSON))
def test_bad_json_logs_are_one_line_and_write_nothing(tmp_path, case):
    change, message = BAD_JSON[case]
    store = _store(tmp_path)
    folder = tmp_path / "logs"
    shutil.copytree(DATA / "runs" / "json", folder)  # good logs next to the bad one
    bad = _json_log(tmp_path, change)
    shutil.copy(bad, folder / "zz_bad.json")
    with pytest.raises(InputError, match=message) as err:
        import_inspect(store, folder)
    assert "\n" not in str(err.value)
    assert _counts(store) == (0, 0, 0)


def test_zips_that_are_not_inspect_logs(tmp_path):
    store = _store(tmp_path)
    other = tmp_path / "other.eval"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(InputError, match="a zip archive but not an inspect log"):
        import_inspect(store, other)
    garbage = tmp_path / "garbage.eval"
    garbage.write_bytes(b"not a zip at all")
    with pytest.raises(InputError, match="not a zip archive"):
        import_inspect(store, garbage)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no inspect logs"):
        import_inspect(store, tmp_path / "empty")
    assert _counts(store) == (0, 0, 0)


def test_read_inspect_counts_without_a_store():
    models, runs, samples, errored = read_inspect(DATA / "errored" / "json")
    assert [m.model for m in models] == ["scripted/weak"]
    assert len(runs) == 1 and len(samples) == 5 and errored == 2


def test_cli_import_inspect(tmp_path):
    db = tmp_path / "cli.duckdb"
    log = DATA / "runs" / "json" / "arith_mock.json"
    code, out, err = run_main(["import", "inspect", log, "--store", db, "--model", "x"])
    assert code == 0, err
    assert "imported 12 samples in 1 runs (x × arith)" in out
    code, out, err = run_main(["import", "inspect", DATA / "errored" / "json", "--store", db])
    assert code == 0, err
    assert "2 samples errored" in out
    code, out, err = run_main(["import", "inspect", tmp_path / "nope.eval", "--store", db])
    assert code == 1 and "no such file" in err


def test_compare_paths_without_importing(tmp_path):
    code, out, err = run_main(["compare", DATA / "runs" / "json", "--metric", "graded", "--json"])
    assert code == 0, err
    scores = {r["model"]: r for r in json.loads(out)["scores"]}
    assert scores["scripted/weak"]["mean"] == EXPECTED["scripted/weak arith"]["graded"]["accuracy"]
    assert not (tmp_path / "assay.duckdb").exists()
    # the same model in two paths: each is named by its path
    code, out, err = run_main(
        [
            "compare",
            DATA / "runs" / "json" / "arith_weak.json",
            DATA / "errored" / "json",
            "--metric",
            "match",
            "--json",
        ]  # fmt: skip
    )
    assert code == 0, err
    assert sorted(r["model"] for r in json.loads(out)["scores"]) == ["arith_weak.json", "json"]
    code, out, err = run_main(["compare", DATA / "runs" / "json", "--store", tmp_path / "x"])
    assert code == 1 and "not both" in err


def test_eval_of_a_run_that_never_finished(tmp_path):
    """No header.json (the process died): read from _journal/start.json, status started."""
    src, out = DATA / "deflate" / "arith_mock.eval", tmp_path / "died.eval"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            if info.filename not in ("header.json", "summaries.json", "reductions.json"):
                zout.writestr(info.filename, zin.read(info.filename))
    store = _store(tmp_path)
    assert import_inspect(store, out).samples == 12
    assert json.loads(store.runs()["extra"].iloc[0])["status"] == "started"


def test_the_same_log_twice_in_one_folder(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    log = DATA / "runs" / "json" / "arith_mock.json"
    shutil.copy(log, folder / "a.json")
    shutil.copy(log, folder / "b.json")
    store = _store(tmp_path)
    with pytest.raises(InputError, match="appears twice.*the same log in two files"):
        import_inspect(store, folder)
    assert _counts(store) == (0, 0, 0)
