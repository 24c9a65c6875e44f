"""lighteval details and results (written by lighteval itself: tests/support/make_lighteval_logs.py),
and the ``model=`` override of ``import_samples``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_helpers import run_main

from assay.errors import InputError
from assay.stats import compare
from assay.store import export_samples, import_lighteval, import_samples, open_store
from assay.store._sources import source_kind

DATA = Path(__file__).resolve().parents[1] / "data" / "lighteval"
OUT = DATA / "out"
EXPECTED = json.loads((DATA / "expected.json").read_text())
A_RESULTS = next((OUT / "results" / "org" / "dummy-a").glob("results_*.json"))
A_MC = next((OUT / "details" / "org" / "dummy-a").rglob("details_arith_mc*.parquet"))


def _counts(store) -> tuple[int, int, int]:
    row = store.sql(
        "SELECT (SELECT count(*) FROM models), (SELECT count(*) FROM runs), "
        "(SELECT count(*) FROM samples)"
    )
    return tuple(int(v) for v in row.iloc[0])


def test_scores_equal_lightevals_reported_metrics(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    summary = import_lighteval(store, OUT)
    assert summary.models == ["dummy-b", "org/dummy-a"]
    assert summary.tasks == ["arith_mc", "echo_gen"]
    assert (summary.runs, summary.samples) == (4, 60)
    scores = store.scores()
    checked = 0
    for key, values in EXPECTED.items():
        model, full_task = key.split(" ")
        task = full_task.split("|")[0]
        for metric, value in values.items():
            if metric.endswith("_stderr"):
                continue
            row = compare(scores, metric=metric, models=[model], tasks=[task]).scores.iloc[0]
            assert row["mean"] == value  # exactly lighteval's number
            # both use the n - 1 (ddof 1) sample standard deviation over sqrt(n)
            assert row["stderr"] == pytest.approx(values[f"{metric}_stderr"], rel=1e-12)
            checked += 1
    assert checked == 4


def test_fields_land_where_documented(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    import_lighteval(store, OUT)
    mc = store.samples(model="org/dummy-a", task="arith_mc").set_index("doc_id")
    row = mc.loc["19"]  # doc.id
    assert (row["prompt"], row["target"]) == ("5+2=", "9")  # doc.query, choices[gold_index]
    assert len(row["choice_logprobs"]) == 4
    assert row["chosen_position"] == int(pd.Series(row["choice_logprobs"]).idxmax())
    assert row["prediction"] == ["7", "8", "6", "9"][row["chosen_position"]]
    assert json.loads(row["extra"])["gold_index"] == 3
    assert set(mc["metric.acc"]) <= {0.0, 1.0}
    gen = store.samples(model="org/dummy-a", task="echo_gen").set_index("doc_id")
    assert gen.loc["0", "prediction"] == "random baseline"  # text_post_processed[0]
    assert gen.loc["0", "metric.em"] == 1.0 and gen.loc["1", "metric.em"] == 0.0
    runs = store.runs(model="org/dummy-a").set_index("task")
    assert runs.loc["arith_mc", "num_fewshot"] == 0
    assert runs.loc["arith_mc", "task_version"] == "1"
    settings = json.loads(runs.loc["arith_mc", "settings"])
    assert settings["source"] == "lighteval" and settings["model"] == "org/dummy-a"
    assert settings["model_config"]["seed"] == 1
    extra = json.loads(runs.loc["arith_mc", "extra"])
    assert extra["lighteval_task"] == "arith_mc|0"
    assert extra["results"] == EXPECTED["org/dummy-a arith_mc|0"]


def test_one_file_finds_its_results_or_details(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    summary = import_lighteval(store, A_MC)  # the results JSON names the model
    assert (summary.models, summary.tasks, summary.samples) == (["org/dummy-a"], ["arith_mc"], 20)
    other = open_store(tmp_path / "o.duckdb")
    summary = import_lighteval(other, A_RESULTS)  # its details are read
    assert (summary.runs, summary.samples) == (2, 30)
    assert source_kind(A_RESULTS) == "lighteval" and source_kind(OUT) == "lighteval"


def test_details_without_results_are_named_by_their_folder(tmp_path):
    shutil.copytree(OUT / "details", tmp_path / "out" / "details")
    store = open_store(tmp_path / "s.duckdb")
    summary = import_lighteval(store, tmp_path / "out")
    assert summary.models == ["dummy-b", "org/dummy-a"]
    assert json.loads(store.runs()["extra"].iloc[0])["results"] is None


def test_model_override_and_reimport_is_a_no_op(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    folder = OUT / "details" / "org" / "dummy-a"
    import_lighteval(store, folder, model="a")
    before = store.samples().drop(columns="created_at")
    import_lighteval(store, folder, model="a")
    assert store.samples().drop(columns="created_at").equals(before)
    assert store.models()["model"].tolist() == ["a"]
    assert json.loads(store.runs()["settings"].iloc[0])["model"] == "org/dummy-a"


def _rewrite(tmp_path: Path, change) -> Path:
    """A copy of the fixtures with dummy-a's arith_mc details changed by ``change(table)``."""
    out = tmp_path / "out"
    shutil.copytree(OUT, out)
    target = out / A_MC.relative_to(OUT)
    pq.write_table(change(pq.read_table(target)), target)
    return out


def _edit_row(field: str, value):
    def change(table: pa.Table) -> pa.Table:
        rows = table.to_pylist()
        rows[4]["doc"][field] = value
        return pa.Table.from_pylist(rows, schema=table.schema)

    return change


BAD = {
    "duplicate": (
        lambda t: pa.concat_tables([t, t.slice(2, 1)]),
        r"row 21: doc id '\d+' appears twice \(also at .*row 3\)",
    ),
    "columns": (lambda t: t.drop_columns(["metric"]), "lacks column.s. metric; lighteval 0.13"),
    "gold": (_edit_row("gold_index", 9), r"row 5, field 'doc.gold_index': not an index"),
    "id": (_edit_row("id", ""), r"row 5, field 'doc.id': missing or empty"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_details_are_one_line_and_write_nothing(tmp_path, case):
    change, message = BAD[case]
    out = _rewrite(tmp_path, change)
    store = open_store(tmp_path / "s.duckdb")
    with pytest.raises(InputError, match=message) as err:
        import_lighteval(store, out)
    assert "\n" not in str(err.value) and "details_arith_mc" in str(err.value)
    assert _counts(store) == (0, 0, 0)


def test_files_that_are_not_lighteval(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    garbage = tmp_path / "details_x|0_2026-01-01T00-00-00.000000.parquet"
    garbage.write_bytes(b"not parquet")
    with pytest.raises(InputError, match="cannot be read as parquet"):
        import_lighteval(store, garbage)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no lighteval details"):
        import_lighteval(store, tmp_path / "empty")
    out = tmp_path / "out"
    shutil.copytree(OUT, out)
    (out / A_RESULTS.relative_to(OUT)).write_text("{not json")
    with pytest.raises(InputError, match=r"results_.*json: line 1: not valid JSON"):
        import_lighteval(store, out)
    assert _counts(store) == (0, 0, 0)


def test_cli_import_and_compare_paths(tmp_path):
    db = tmp_path / "cli.duckdb"
    code, out, err = run_main(["import", "lighteval", A_RESULTS, "--store", db, "--model", "x"])
    assert code == 0, err
    assert "imported 30 samples in 2 runs (x × arith_mc, echo_gen)" in out
    code, out, err = run_main(["import", "lighteval", OUT, "--store", db])
    assert code == 0, err
    assert "imported 60 samples in 4 runs" in out
    code, out, err = run_main(["import", "lighteval", tmp_path / "nope", "--store", db])
    assert code == 1 and "no such file" in err
    code, out, err = run_main(["compare", OUT, "--metric", "acc", "--json"])
    assert code == 0, err
    scores = {r["model"]: r["mean"] for r in json.loads(out)["scores"]}
    assert scores == {"org/dummy-a": 0.15, "dummy-b": 0.1}


def test_import_samples_model_override(tmp_path):
    rows = pd.DataFrame(
        {"system": ["a", "b"], "task": ["t", "t"], "doc_id": [1, 2], "metric.acc": [1, 0]}
    )
    path = tmp_path / "rows.csv"
    rows.to_csv(path, index=False)
    store = open_store(tmp_path / "s.duckdb")
    summary = import_samples(store, path, model="m", mapping={"model": "system"})
    assert summary["models"] == ["m"] and summary["runs"] == 1
    with pytest.raises(InputError, match="required field 'model' is missing"):
        import_samples(store, path)  # no model column: --model is how to name it
    # a renamed export gets runs of its own, next to the original ones
    export_samples(store, tmp_path / "exp", fmt="csv")
    import_samples(store, tmp_path / "exp", model="renamed")
    assert sorted(store.models()["model"]) == ["m", "renamed"]
    assert store.runs()["run_id"].nunique() == 2
    code, out, err = run_main(["import", "samples", path, "--store", tmp_path / "c.duckdb",
                               "--model", "z"])  # fmt: skip
    assert code == 0, err
    assert "(z × t)" in out
    with pytest.raises(InputError, match="empty model name"):
        import_samples(store, path, model=" ")
