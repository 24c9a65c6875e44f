"""The report's optional panels on a large store read only the rows that carry their input: a
store of a plain part (no optional panel's input) and a small part with every panel's input
gives the panels the small part alone gives, reading none of the plain part's rows, and the
same report as every row loaded into pandas."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from simulations import optional_feature_records

from assay.report import build_report
from assay.report._reads import ReportReads
from assay.store import SampleRecord, open_store

from .test_sql_reads import _both, _same

#: The panels of the small part's inputs (efficiency also lists the plain part's untimed runs).
FEATURE_PANELS = ("variance", "bias", "robustness", "calibration", "breakdown", "reliability")
FEATURE_PANELS += ("fairness",)
PLAIN_TASKS = ("plain-a", "plain-b")


def _feature_records(rng) -> list[SampleRecord]:
    """Two models with every optional panel's input (:func:`optional_feature_records`)."""
    return optional_feature_records((("m1", 0.5), ("m2", 0.7)), docs=40, probes=12, rng=rng)


def _plain_records(rng) -> list[SampleRecord]:
    out = []
    for m in ("m1", "m2", "m3"):
        for task in PLAIN_TASKS:
            for d in range(300):
                out.append(
                    SampleRecord(
                        run_id=f"{m}|{task}",
                        model=m,
                        task=task,
                        doc_id=f"{task}-{d:03d}",
                        input_tokens=d % 7 if d % 5 else None,
                        output_tokens=2,
                        metrics={"acc": float(rng.random() < 0.5)},
                    )
                )
    return out


def _write(path, records):
    store = open_store(path)
    for run in sorted({(r.run_id, r.model, r.task) for r in records}):
        store.upsert_run(dict(zip(("run_id", "model", "task"), run, strict=True)))
    store.write_samples(records)
    return store


def _reads_seen(monkeypatch) -> list[pd.DataFrame]:
    """Every frame the optional panels get; loading every row fails."""
    seen = []
    for name in ("scores_for", "samples_for"):
        original = getattr(ReportReads, name)

        def record(self, *args, _original=original, **kwargs):
            seen.append(_original(self, *args, **kwargs))
            return seen[-1]

        monkeypatch.setattr(ReportReads, name, record)

    def every_row(self):
        raise AssertionError("every row loaded")

    for name in ("scores", "samples"):
        monkeypatch.setattr(ReportReads, name, property(every_row))
    return seen


def test_a_large_plain_part_changes_no_feature_panel(tmp_path, monkeypatch):
    small = _feature_records(np.random.default_rng(3))
    _write(tmp_path / "small.duckdb", small)
    _write(tmp_path / "both.duckdb", small + _plain_records(np.random.default_rng(4)))
    options = {"max_docs": 5, "scaling_bootstrap": 0, "bootstrap": 30}
    with monkeypatch.context() as m:
        seen = _reads_seen(m)
        alone = build_report(tmp_path / "small.duckdb", **options)
        n_alone = len(seen)
        both = build_report(tmp_path / "both.duckdb", **options)
    assert len(seen) == 2 * n_alone
    for frame in seen[n_alone:]:  # the rows read: the small part's only
        assert not frame.empty and not frame["task"].isin(PLAIN_TASKS).any()
    for key in FEATURE_PANELS:
        got, want = both.panels[key].to_dict(), alone.panels[key].to_dict()
        assert got.get("note") is None and not got.get("error"), (key, got.get("note"))
        assert json.dumps(got, sort_keys=True, default=str) == json.dumps(
            want, sort_keys=True, default=str
        ), key
    table = both.panels["efficiency"].results["efficiency"].table
    plain = table[table["task"].isin(PLAIN_TASKS)]
    assert len(plain) == 6 and (plain["n"] == 300).all() and (plain["n_timed"] == 0).all()
    assert set(table.loc[table["n_timed"] > 0, "model"]) == {"m1"}
    sql, rows = _both(tmp_path / "both.duckdb", monkeypatch, **options)
    _same(sql, rows)
