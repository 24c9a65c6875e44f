"""lm-eval's command-line flags on `assay eval -t NAME` for lm-eval's tasks: `--limit` as a count
or a fraction, `--batch-size` passed through, `--confidence` for assay's intervals; the model is a
fake (``load_model`` patched), the data a small `--data-dir` mirror (no hub)."""

from __future__ import annotations

import json
import math

import pytest

pytest.importorskip("lm_eval")
pytest.importorskip("datasets")
pytest.importorskip("pyarrow")

from cli_helpers import run_main  # noqa: E402
from fake_backend import FakeBackend  # noqa: E402

from assay.errors import InputError  # noqa: E402
from assay.runner import LmEvalOptions  # noqa: E402
from assay.stats import pooled_mean  # noqa: E402
from assay.store import open_store  # noqa: E402

from .test_lm_eval_by_name import write_arc  # noqa: E402


@pytest.fixture(autouse=True)
def _offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf_cache"))


@pytest.fixture
def loaded(monkeypatch):
    """``assay.models.load_model`` answering with a fake; the keywords it got are recorded."""
    calls: list[dict] = []

    def load(spec, **options):
        calls.append({"spec": spec, **options})
        fake = FakeBackend("fake-a")
        fake.batch_size = options.get("batch_size")
        return fake

    monkeypatch.setattr("assay.models.load_model", load)
    return calls


def _eval(tmp_path, *extra):
    data = tmp_path / "data"
    if not data.exists():
        write_arc(data, n_test=12)
    store = tmp_path / "s.duckdb"
    code, out, err = run_main(
        ["eval", "-m", "fake-a", "-t", "arc_easy", "--data-dir", data, "--store", store, *extra],
        env={"COLUMNS": "250"},
    )
    return code, out, err, store


def _doc_ids(store) -> list[int]:
    rows = open_store(store).sql("SELECT DISTINCT doc_id FROM samples WHERE task = 'arc_easy'")
    return sorted(int(d) for d in rows["doc_id"])


@pytest.mark.parametrize(("limit", "docs"), [("0.25", 3), ("0.3", 4), ("5", 5), ("5.0", 5)])
def test_limit_is_a_count_or_a_fraction_as_lm_eval_reads_it(tmp_path, loaded, limit, docs):
    """12 test documents: a fraction takes ceil(12 x) of them (lm-eval's rule), a count N the
    first N."""
    code, _, err, store = _eval(tmp_path, "--limit", limit, "--json")
    assert code == 0, err
    assert _doc_ids(store) == list(range(docs))
    assert docs == (math.ceil(12 * float(limit)) if float(limit) < 1 else int(float(limit)))


@pytest.mark.parametrize("limit", ["2.5", "0", "-0.5", "1.5"])
def test_a_limit_that_is_neither_is_one_line(tmp_path, loaded, limit):
    code, _, err, store = _eval(tmp_path, "--limit", limit)
    assert code != 0 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "--limit" in err
    assert not store.exists() and not loaded


def test_a_fraction_is_refused_for_assays_own_tasks(tmp_path, loaded):
    store = tmp_path / "s.duckdb"
    code, _, err = run_main(
        ["eval", "-m", "fake-a", "-t", "arith_mc", "-n", "0.5", "--store", store]
    )
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "fraction" in err and "lm-eval" in err
    assert not store.exists() and not loaded


def test_options_read_limit_and_batch_size():
    assert LmEvalOptions(limit=0.5).limit == 0.5
    assert LmEvalOptions(limit=3.0).limit == 3 and isinstance(LmEvalOptions(limit=3.0).limit, int)
    assert LmEvalOptions(batch_size="16").batch_size == 16
    assert LmEvalOptions(batch_size=" auto ").batch_size == "auto"
    for bad in ({"limit": 2.5}, {"limit": 0}, {"batch_size": "many"}, {"batch_size": 0}):
        with pytest.raises(InputError):
            LmEvalOptions(**bad)


@pytest.mark.parametrize(("given", "size"), [("8", 8), ("auto", "auto")])
def test_batch_size_reaches_the_model_and_lm_evals_results(tmp_path, loaded, given, size):
    out = tmp_path / "out"
    code, _, err, _ = _eval(tmp_path, "-n", "4", "-b", given, "--output-path", out, "--json")
    assert code == 0, err
    assert loaded == [{"spec": "fake-a", "batch_size": size}]
    results = json.loads(next((out / "fake-a").glob("results_*.json")).read_text())
    assert results["config"]["batch_size"] == size


def test_bad_batch_size_is_one_line_before_the_model_loads(tmp_path, loaded):
    code, _, err, store = _eval(tmp_path, "-b", "many")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "batch" in err, err
    assert not loaded and not store.exists()


def test_confidence_sets_the_level_of_assays_intervals(tmp_path, loaded):
    code, out, err, store = _eval(tmp_path, "--confidence", "0.8", "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["confidence_level"] == 0.8
    scores = open_store(store).evidence().scores
    row = next(r for r in got["lm_eval"] if r["task"] == "arc_easy" and r["metric"] == "acc")
    at80 = pooled_mean(scores, ["arc_easy"], "acc", alpha=0.2)
    at95 = pooled_mean(scores, ["arc_easy"], "acc")
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((at80.ci_low, at80.ci_high), abs=1e-12)
    assert at95.ci_high - at95.ci_low > row["ci_high"] - row["ci_low"] > 0
    code, out, err, _ = _eval(tmp_path, "--confidence", "0.8")
    assert code == 0, err
    assert "80% interval" in out and "95%" not in out


def test_default_table_is_at_95_percent(tmp_path, loaded):
    code, out, err, _ = _eval(tmp_path, "-n", "4")
    assert code == 0, err
    assert "95% interval" in out
