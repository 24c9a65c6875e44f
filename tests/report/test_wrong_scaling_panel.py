"""The report's scaling panel on checkpoints all of one size: it says so and fits nothing."""

from __future__ import annotations

from assay.report._scaling import scaling_panel
from assay.store import SampleRecord, make_run_id, open_store


def test_report_scaling_panel_says_so_and_fits_nothing(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    models = [{"model": f"ckpt{i}", "params": 1e8, "family": "f"} for i in range(5)]
    store.upsert_models(models)
    store.write_samples(
        [
            SampleRecord(
                run_id=make_run_id(f"ckpt{i}", "t"),
                model=f"ckpt{i}",
                task="t",
                doc_id=f"d{j}",
                repeat=0,
                metrics={"acc": float(j < 3 + i)},
            )
            for i in range(5)
            for j in range(10)
        ]
    )
    panel = scaling_panel(store, store.models(), {"t": "acc"}, bootstrap=5)
    assert "t" not in panel.results  # no law, no forecast
    assert not panel.items  # nothing drawn: the panel goes to the "what else" box, saying why
    assert "no spread in params" in panel.note and "5 models have params = 1" in panel.note
