"""compare over a store's evidence aggregated in DuckDB (Evidence.matrices) gives the numbers of
compare over the loaded rows; its means and n equal a SQL aggregate exactly; the vectorised
pairs equal paired_test; the letters equal insert-and-absorb's."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from tests.support.cli_helpers import run_main

from assay.stats import compare, paired_test
from assay.stats._compare import compact_letters
from assay.store import RunInfo, SampleRecord, make_run_id, open_store


def _store(path, *, seed=0, repeats=1, graded=False, clusters=False):
    """4 models × 2 tasks; model m3 misses some documents; t2 has a second metric."""
    rng = np.random.default_rng(seed)
    store = open_store(path)
    records = []
    for m in range(4):
        for t, docs in (("t1", 40), ("t2", 25)):
            run_id = make_run_id(f"m{m}", t, num_fewshot=0, fewshot_seed=0)
            store.upsert_run(RunInfo(run_id=run_id, model=f"m{m}", task=t))
            for d in range(docs):
                if m == 3 and d % 7 == 0:
                    continue
                for r in range(repeats):
                    acc = float(rng.random() < 0.3 + 0.15 * m)
                    metrics = {"acc": acc}
                    if graded and t == "t1":
                        metrics = {"acc": round(float(rng.random()), 3)}
                    if t == "t2":
                        metrics["f1"] = float(rng.random())
                    records.append(
                        SampleRecord(
                            run_id=run_id,
                            model=f"m{m}",
                            task=t,
                            doc_id=f"d{d:03d}",
                            repeat=r,
                            metrics=metrics,
                            cluster_id=f"c{d // 5}" if clusters else None,
                        )
                    )
    store.write_samples(records)
    return store


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for col in a.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if col in ("model", "model_a", "model_b", "task", "metric", "method", "group"):
            assert list(x) == list(y), col
        else:
            np.testing.assert_allclose(
                np.asarray(x, float),
                np.asarray(y, float),
                rtol=1e-12,
                atol=1e-15,
                err_msg=col,
            )


@pytest.mark.parametrize(
    "kind", [{}, {"repeats": 2}, {"graded": True}, {"clusters": True}], ids=str
)
def test_compare_on_evidence_equals_compare_on_rows(tmp_path, kind):
    store = _store(tmp_path / "s.duckdb", **kind)
    ev = store.evidence()
    assert (ev.matrices is None) == bool(kind.get("clusters"))
    fast = compare(ev, overall=True)
    slow = compare(ev.scores, metrics=ev.metrics, overall=True)
    _same(fast.scores, slow.scores)
    _same(fast.pairs, slow.pairs)
    _same(fast.groups, slow.groups)
    f1 = compare(store.evidence(), metric="f1", models=["m3", "m0"])
    _same(f1.pairs, compare(ev.scores, metric="f1", models=["m3", "m0"]).pairs)
    assert list(f1.scores["model"]) == ["m3", "m0"]


def test_means_and_n_equal_sql(tmp_path):
    store = _store(tmp_path / "s.duckdb", seed=3)
    got = compare(store.evidence()).scores.set_index(["model", "task"])
    con = duckdb.connect(str(store.path), read_only=True)
    sql = (
        con.execute(
            "SELECT model, task, count(*) AS n, avg(value) AS mean FROM scores WHERE metric = 'acc' "
            "GROUP BY ALL"
        )
        .df()
        .set_index(["model", "task"])
    )
    con.close()
    assert len(got) == len(sql) == 8
    sql = sql.loc[got.index]
    assert list(got["n"]) == list(sql["n"])
    assert list(got["mean"]) == list(sql["mean"])  # exactly


def test_unknown_names_and_cli(tmp_path):
    store = _store(tmp_path / "s.duckdb")
    with pytest.raises(Exception, match="unknown model 'zz'; available: m0, m1, m2, m3"):
        compare(store.evidence(), models=["zz"])
    with pytest.raises(Exception, match="unknown metric 'bleu'"):
        compare(store.evidence(), metric="bleu")
    code, out, err = run_main(["compare", "--store", store.path, "--json"])
    assert code == 0, err
    fast = json.loads(out)
    rows = compare(store.evidence().scores, metrics=store.evidence().metrics).to_dict()
    assert [r["mean"] for r in fast["scores"]] == [r["mean"] for r in rows["scores"]]
    assert [r["p_value"] for r in fast["pairs"]] == pytest.approx(
        [r["p_value"] for r in rows["pairs"]], rel=1e-12
    )


def test_vectorised_pairs_equal_paired_test(tmp_path):
    store = _store(tmp_path / "s.duckdb", seed=5)
    result = compare(store.evidence(), tasks=["t1"])
    scores = store.scores(task="t1", metric="acc")
    wide = scores.pivot_table(index="doc_id", columns="model", values="value")
    for row in result.details.itertuples():
        both = wide[[row.model_a, row.model_b]].dropna().to_numpy()
        ref = paired_test(both[:, 0], both[:, 1])
        assert row.method == ref.method == "mcnemar"
        assert (row.n, row.a_only_right, row.b_only_right) == (
            ref.n,
            ref.a_only_right,
            ref.b_only_right,
        )
        assert row.p_value == ref.pvalue and row.diff == ref.diff
        assert (row.ci_low, row.ci_high) == (ref.ci_low, ref.ci_high)
        assert row.stderr == pytest.approx(ref.stderr, rel=1e-13)
        assert row.correlation == pytest.approx(ref.correlation, rel=1e-12)


def _insert_absorb(means, significant):
    """The letters by Piepho's insert-and-absorb, as compare computed them before."""
    m = len(means)
    groups = [set(range(m))]
    for i, j in zip(*np.nonzero(np.triu(significant, 1)), strict=True):
        new = []
        for g in groups:
            new.extend([g - {i}, g - {j}] if i in g and j in g else [g])
        groups = [g for g in new if not any(g < h for h in new)]
        groups = [set(t) for t in {tuple(sorted(g)) for g in groups}]
    groups.sort(key=lambda g: (-max(means[k] for k in g), sorted(g)))
    letters = ["" for _ in range(m)]
    for pos, g in enumerate(groups):
        for k in sorted(g):
            letters[k] += chr(ord("a") + pos) if pos < 26 else f"[{pos}]"
    return letters


def test_letters_equal_insert_and_absorb():
    rng = np.random.default_rng(0)
    for trial in range(300):
        m = int(rng.integers(1, 12))
        means = list(np.sort(rng.random(m))[::-1]) if trial % 2 else list(rng.random(m))
        sig = np.triu(rng.random((m, m)) < rng.random(), 1)
        sig = sig | sig.T
        assert compact_letters(means, sig) == _insert_absorb(means, sig)


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE samples SET model = 'm9' WHERE model = 'm0' AND doc_id = 'd001'",
        "UPDATE samples SET task = 't9' WHERE model = 'm1' AND doc_id = 'd002'",
        "INSERT INTO samples (run_id, model, task, doc_id, \"repeat\") VALUES ('x', 'm2', 't1', 'd', 0)",
    ],
    ids=["model", "task", "no run"],
)
def test_a_sample_its_run_does_not_name_is_read_as_rows(tmp_path, change):
    store = _store(tmp_path / "s.duckdb")
    assert store.evidence().matrices is not None
    con = duckdb.connect(str(store.path))
    con.execute(change)
    con.close()
    assert store.evidence().matrices is None
    assert store.evidence(model="m3").matrices is not None  # (its samples all match)
