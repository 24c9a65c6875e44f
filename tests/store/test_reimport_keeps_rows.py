"""Re-importing a log never removes stored rows the new file lacks: an inspect log whose samples
are partly unscored (scores missing, or no scorer value that maps to a number) adds or replaces
only its scored samples, and the summary and the CLI line say how many it skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_main

from assay.errors import InputError
from assay.store import import_inspect, open_store

LOG = Path(__file__).resolve().parents[1] / "data" / "inspect" / "runs" / "json" / "arith_mock.json"


def _variant(tmp_path: Path, change, name: str = "log.json") -> Path:
    log = json.loads(LOG.read_text())  # the same eval_id: the same run as LOG
    change(log["samples"])
    out = tmp_path / name
    out.write_text(json.dumps(log))
    return out


def _metric_rows(store) -> int:
    return int(store.sql("SELECT count(*) AS n FROM sample_metrics")["n"].iloc[0])


def _unscore_half(samples):
    for sample in samples[::2]:
        sample.pop("scores")  # inspect writes no scores for a sample it did not score
    for sample in samples[1::2][:2]:
        sample["scores"] = {"match": {"value": None}}  # nothing that maps to a number


def test_partly_unscored_reimport_keeps_every_metric_row(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    first = import_inspect(store, LOG)
    assert (first.samples, first.unscored) == (12, 0)
    assert _metric_rows(store) == 60  # 12 samples x 5 metrics
    before = store.samples().drop(columns="created_at")

    summary = import_inspect(store, _variant(tmp_path, _unscore_half))
    assert (summary.samples, summary.unscored) == (4, 8)
    assert _metric_rows(store) == 60
    after = store.samples().drop(columns="created_at")
    assert after.equals(before)  # the scored samples are the same ones, the others untouched


def test_a_sample_missing_one_scorer_keeps_that_metric(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    import_inspect(store, LOG)

    def drop_graded(samples):
        for sample in samples:
            sample["scores"].pop("graded")
            sample["scores"]["closeness"]["value"] = 0.25

    import_inspect(store, _variant(tmp_path, drop_graded))
    assert _metric_rows(store) == 60
    df = store.samples()
    assert (df["metric.closeness"] == 0.25).all()  # what the new file holds replaces
    assert df["metric.graded"].notna().all()  # what it lacks stays


def test_a_wholly_unscored_log_is_one_line_and_changes_nothing(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    import_inspect(store, LOG)
    runs = store.runs().drop(columns="created_at")

    def unscore(samples):
        for sample in samples:
            sample["scores"] = None

    with pytest.raises(InputError, match="no scored samples") as err:
        import_inspect(store, _variant(tmp_path, unscore))
    assert "\n" not in str(err.value) and "12 without a score" in str(err.value)
    assert _metric_rows(store) == 60
    assert store.runs().drop(columns="created_at").equals(runs)


def test_cli_says_what_it_skipped(tmp_path):
    db = tmp_path / "cli.duckdb"
    code, out, err = run_main(["import", "inspect", LOG, "--store", db])
    assert code == 0, err
    code, out, err = run_main(
        ["import", "inspect", _variant(tmp_path, _unscore_half), "--store", db]
    )
    assert code == 0, err
    assert "imported 4 samples" in out
    assert "8 samples had no score in the source and were skipped" in " ".join(out.split())
    code, out, err = run_main(
        ["import", "inspect", _variant(tmp_path, _unscore_half), "--store", db, "--json"]
    )
    assert code == 0, err
    assert json.loads(out)["unscored"] == 8
    assert _metric_rows(open_store(db)) == 60
