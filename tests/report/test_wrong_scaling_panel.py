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


def _sized_store(tmp_path, n_models: int, correct=None, n_docs: int = 60):
    """Models 10^7, 10^7.5, ... ; model i answers its first ``correct[i]`` documents (default
    8 + 5i of 60: accuracy exactly linear in log size)."""
    correct = correct or [8 + 5 * i for i in range(n_models)]
    store = open_store(tmp_path / f"s{n_models}-{correct[-1]}.duckdb")
    sizes = [10 ** (7 + 0.5 * i) for i in range(n_models)]
    store.upsert_models(
        [{"model": f"m{i}", "params": p, "family": "f"} for i, p in enumerate(sizes)]
    )
    store.write_samples(
        [
            SampleRecord(
                run_id=make_run_id(f"m{i}", "t"),
                model=f"m{i}",
                task="t",
                doc_id=f"d{j}",
                repeat=0,
                metrics={"acc": float(j < correct[i])},
            )
            for i in range(n_models)
            for j in range(n_docs)
        ]
    )
    return store


def _captions(panel) -> str:
    return " ".join(str(item.get("caption") or "") for item in panel.items)


def test_scaling_caption_names_only_what_the_plot_draws(tmp_path):
    # 5 sized models: a law (3 parameters + 2) and its forecast, but too few to hold any out
    # for a backtest (its fit on 4 would be refused)
    few = _sized_store(tmp_path, 5)
    caption = _captions(scaling_panel(few, few.models(), {"t": "acc"}, bootstrap=5))
    assert "acc against" in caption and "dashed line is the forecast" in caption
    assert "diamond" not in caption.lower()
    # 6 sized models whose error rate is a power law in size (1 - 0.9·(x/1e7)^-0.3, 200 docs):
    # a law, a forecast beyond the largest, and a backtest holding out the largest
    many = _sized_store(tmp_path, 6, [20, 73, 110, 136, 155, 168], n_docs=200)
    panel = scaling_panel(many, many.models(), {"t": "acc"}, bootstrap=5)
    caption = _captions(panel)
    if panel.results["t"].backtest is not None:
        assert "Red diamonds" in caption
    assert "dashed line is the forecast" in caption


def test_scaling_forecast_lies_inside_its_band(tmp_path):
    """The smoothed band is smoothed around the forecast: at the far end of the grid the point
    forecast used to fall outside it (0.506 with a band 0.492 to 0.503)."""
    for n in (5, 6):  # a power law needs 3 parameters + 2 models
        store = _sized_store(tmp_path, n)
        result = scaling_panel(store, store.models(), {"t": "acc"}, bootstrap=5).results["t"]
        assert result.low <= result.prediction <= result.high, (n, result)


def test_scaling_panel_says_no_skill_instead_of_drawing_a_curve(tmp_path):
    """Accuracy exactly linear in log size: held out, the largest model is predicted better by
    the naive line in log size than by the power law, so the panel says so and draws no
    forecast curve (nor a dashed line in the caption), and the finding says no forecast."""
    store = _sized_store(tmp_path, 6)
    panel = scaling_panel(store, store.models(), {"t": "acc"}, bootstrap=5)
    result = panel.results["t"]
    assert result.backtest is not None and result.skill is False
    kv = next(item for item in panel.items if item.get("caption") == "t: fit and backtest")
    text = str(kv)
    assert "not drawn: no skill" in text and "log-linear" in text
    assert "naive baselines (backtest MAE)" in text
    assert "dashed line" not in _captions(panel)
    assert result.sentence("t").startswith("No scaling forecast for t")
    assert result.to_dict()["forecast"]["skill"].startswith("none")
    skilled = _sized_store(tmp_path, 6, [20, 73, 110, 136, 155, 168], n_docs=200)
    assert (
        scaling_panel(skilled, skilled.models(), {"t": "acc"}, bootstrap=5).results["t"].skill
        is None
    )
