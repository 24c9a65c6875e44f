"""The sample-level rankings read in DuckDB (a store's evidence) give the numbers of the same
rankings on the loaded rows."""

from __future__ import annotations

import numpy as np
import pytest

from assay.rank import rank_sample_groups, rank_samples
from assay.store import SampleRecord, open_store


def _store(path, seed=3):
    """5 models x 3 tasks, sparse (each model a random 60% of each task); task "ppl" ranked on
    a lower-is-better perplexity, task "mix" holds a second metric (f1) and a fractional
    score; two repeats of some documents (averaged); a NaN value; and two models ("solo-a",
    "solo-b") that share samples only with each other (a second group)."""
    rng = np.random.default_rng(seed)
    store = open_store(path)
    records = []
    ability = {"m1": -1.0, "m2": -0.3, "m3": 0.2, "m4": 0.9, "m5": 1.4}
    for task, docs in (("arith", 60), ("facts", 50), ("ppl", 40), ("mix", 30)):
        hard = rng.normal(0, 1, docs)
        for m, a in ability.items():
            store.upsert_run({"run_id": f"{m}|{task}", "model": m, "task": task})
            seen = rng.random(docs) < 0.6
            for d in np.flatnonzero(seen):
                right = float(rng.random() < 1 / (1 + np.exp(-(a - hard[d]))))
                for repeat in range(1 + (d % 7 == 0)):
                    if task == "ppl":
                        metrics = {"perplexity": float(np.exp(3 - a + rng.normal(0, 0.3)))}
                    elif task == "mix":
                        metrics = {"acc": right, "f1": float(rng.random())}
                    else:
                        metrics = {"acc": right if repeat == 0 else float(rng.random() < 0.5)}
                    if (m, task, d) == ("m2", "arith", int(np.flatnonzero(seen)[0])):
                        metrics = {"acc": float("nan")}
                    records.append(
                        SampleRecord(
                            run_id=f"{m}|{task}",
                            model=m,
                            task=task,
                            doc_id=f"{task}-{d:03d}",
                            repeat=repeat,
                            metrics=metrics,
                        )
                    )
    for m in ("solo-a", "solo-b"):
        store.upsert_run({"run_id": f"{m}|island", "model": m, "task": "island"})
        for d in range(20):
            right = float(rng.random() < (0.3 if m == "solo-a" else 0.7))
            records.append(
                SampleRecord(
                    run_id=f"{m}|island",
                    model=m,
                    task="island",
                    doc_id=f"i-{d:02d}",
                    repeat=0,
                    metrics={"acc": right},
                )
            )
    store.write_samples(records)
    return store


@pytest.fixture(scope="module")
def evidence(tmp_path_factory):
    ev = _store(tmp_path_factory.mktemp("sql") / "s.duckdb").evidence()
    assert ev.matrices is not None  # read in DuckDB, not from rows
    return ev


def _same(a, b):
    assert a.models == b.models
    np.testing.assert_allclose(a.table["rating"], b.table["rating"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(a.table["ci_low"], b.table["ci_low"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(a.table["ci_high"], b.table["ci_high"], rtol=1e-9, atol=1e-9)
    assert list(a.table["n"]) == list(b.table["n"])
    assert a.info == b.info


@pytest.mark.parametrize("method", ["auto", "pl", "irt", "winrate", "mean"])
def test_groups_read_in_duckdb_equal_the_loaded_rows(evidence, method):
    got, alone = rank_sample_groups(evidence, method=method, bootstrap=30, seed=4)
    want, alone_rows = rank_sample_groups(
        evidence.scores, method=method, metrics=evidence.metrics, bootstrap=30, seed=4
    )
    assert alone == alone_rows == []
    assert [g.models for g in got] == [["m1", "m2", "m3", "m4", "m5"], ["solo-a", "solo-b"]]
    for a, b in zip(got, want, strict=True):
        _same(a, b)


def test_a_chosen_metric_and_a_model_subset(evidence):
    for options in ({"metric": "f1"}, {"models": ["m1", "m3", "m5"]}):
        got = rank_samples(evidence, method="pl", bootstrap=10, **options)
        rows = evidence.scores
        if "models" in options:
            rows = rows[rows["model"].isin(options.pop("models"))]
        want = rank_samples(rows, method="pl", bootstrap=10, metrics=evidence.metrics, **options)
        _same(got, want)
    # the perplexity task is negated: the lowest perplexity ranks first
    ppl = rank_samples(evidence, method="mean", metric="perplexity", bootstrap=0)
    assert ppl.table.iloc[0]["model"] == "m5"
    assert ppl.info["metrics"] == {"ppl": "perplexity"}


def test_rasch_replicates_in_blocks_fit_as_together(monkeypatch):
    from assay.rank import _rasch

    rng = np.random.default_rng(0)
    values = (rng.random((5, 60)) < 0.5).astype(float)
    values[rng.random((5, 60)) < 0.3] = np.nan
    weights = rng.multinomial(60, np.full(60, 1 / 60), size=6).astype(float)
    together = _rasch.fit_rasch(values, weights, tol=1e-10)
    monkeypatch.setattr(_rasch, "_MAX_CELLS", 2 * int(np.count_nonzero(~np.isnan(values))))
    blocks = _rasch.fit_rasch(values, weights, tol=1e-10)  # three blocks of two replicates
    np.testing.assert_allclose(blocks[0], together[0], atol=1e-8)
    np.testing.assert_allclose(blocks[1], together[1], atol=1e-8)
