"""One confidence level everywhere (issues 28.6 and 37): at ``--alpha 0.01`` (confidence
0.99) every report panel equals the command that computes it at the same level, resamples and
seed, and every intro, table header and JSON field states 99%."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from assay import stats
from assay.cli import app
from assay.core import Settings
from assay.rank import ARENA_BOOTSTRAP, ELO_BOOTSTRAP
from assay.report import build_report
from assay.store import Store, make_run_id

MODELS = {"base": 0.70, "base-int8": 0.62, "small": 0.45}  # accuracy on the clean task
CHOICES = ["A", "B", "C", "D"]
LEVEL, RESAMPLES, SEED = 0.99, 200, 3


def make_store(path, *, n_docs: int = 60, seed: int = 5) -> Store:
    """Three models on a 4-choice task ("arith", difficulty 1-3) and its typo-perturbed copy,
    each question under two choice orderings, with choice log-likelihoods, token counts and
    latencies; base-int8's parent is base; simulated arena votes."""
    rng = np.random.default_rng(seed)
    store = Store(path)
    gold = rng.integers(0, 4, n_docs)
    difficulty = 1 + np.arange(n_docs) % 3
    records = []
    for task, drop in (("arith", 0.0), ("arith+typos", 0.12)):
        for name, acc in MODELS.items():
            run_id = make_run_id(name, task)
            store.upsert_run({"run_id": run_id, "model": name, "task": task})
            p = np.clip(acc - drop + 0.12 * (2 - difficulty), 0.05, 0.95)
            for order in range(2):
                right = rng.random(n_docs) < p
                chosen = np.where(right, gold, (gold + rng.integers(1, 4, n_docs)) % 4)
                for i in range(n_docs):
                    logits = rng.normal(0, 1, 4)
                    logits[chosen[i]] += 2
                    records.append(
                        {
                            "run_id": run_id,
                            "model": name,
                            "task": task,
                            "repeat": order,
                            "doc_id": f"q{i:03d}",
                            "prompt": f"question {i}",
                            "target": CHOICES[gold[i]],
                            "prediction": CHOICES[chosen[i]],
                            "choice_logprobs": list(logits - np.log(np.exp(logits).sum())),
                            "choice_order": [int(c) for c in (np.arange(4) + order) % 4],
                            "chosen_position": int((chosen[i] - order) % 4),
                            "difficulty": float(difficulty[i]),
                            "input_tokens": int(20 + i % 7),
                            "output_tokens": 1,
                            "latency_s": float(0.01 + 0.002 * (i % 5) + 0.001 * rng.random()),
                            "metrics": {"acc": float(right[i])},
                        }
                    )
    store.write_samples(records)
    store.upsert_models(
        [{"model": "base"}, {"model": "base-int8", "parent": "base"}, {"model": "small"}]
    )
    names = list(MODELS)
    a = rng.integers(0, 3, 240)
    b = (a + rng.integers(1, 3, 240)) % 3
    strength = np.array([1.0, 0.6, 0.0])
    win_a = rng.random(240) < 1 / (1 + np.exp(strength[b] - strength[a]))
    store.add_battles(
        pd.DataFrame(
            {
                "model_a": np.array(names)[a],
                "model_b": np.array(names)[b],
                "winner": np.where(win_a, "model_a", "model_b"),
                "prompt_id": [f"p{i}" for i in range(240)],
            }
        )
    )
    return store


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    p = tmp_path_factory.mktemp("confidence") / "assay.duckdb"
    make_store(p)
    return p


@pytest.fixture(scope="module")
def report(path):
    return build_report(path, alpha=0.01, bootstrap=RESAMPLES, seed=SEED, scaling_bootstrap=0)


def cli(path, *args: str):
    result = CliRunner().invoke(app, [*args, "--store", str(path), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def same(panel_table: pd.DataFrame, records: list[dict], keys: list[str], cols: list[str]) -> int:
    """The panel's rows equal the command's on ``cols`` (matched on ``keys``); the row count."""
    ours = panel_table.reset_index(drop=True)
    theirs = pd.DataFrame(records)
    merged = ours[keys + cols].merge(theirs[keys + cols], on=keys, suffixes=("", "_cli"))
    assert len(merged) == len(ours) == len(theirs) > 0
    for c in cols:
        np.testing.assert_allclose(
            merged[c].astype(float), merged[f"{c}_cli"].astype(float), rtol=1e-9, equal_nan=True
        )
    return len(merged)


def test_the_report_carries_one_level(report):
    assert report.settings == Settings(confidence_level=LEVEL, resamples=RESAMPLES, seed=SEED)
    data = report.to_dict()
    assert data["level"] == "99%" and data["confidence_level"] == pytest.approx(LEVEL)
    assert data["settings"]["resamples"] == RESAMPLES and data["settings"]["arena_bootstrap"] == 200
    assert {p["level"] for p in data["panels"]} == {"99%"}
    keys = ["leaderboard", "tasks", "flips", "calibration", "breakdown", "reliability"]
    for key in [*keys, "efficiency", "robustness", "arena", "judges", "fairness"]:
        panel = report.panels[key]
        assert "99%" in panel.intro and "95%" not in panel.intro, key
    for key in ("pairs", "bias"):
        assert "α = 0.01" in report.panels[key].intro
    shown = [
        text
        for p in report.shown_panels
        for item in p.items
        for text in [item.get("caption", ""), *item.get("columns", []), item.get("svg", "")]
    ]
    assert not [t for t in shown if "95%" in t]
    assert any("99%" in t for t in shown)


def test_leaderboard_and_pairs_equal_compare(path, report):
    out = cli(path, "compare", "--alpha", "0.01")
    assert same(report.comparison.scores, out["scores"], ["model", "task"], ["ci_low", "ci_high"])
    pair = ["model_a", "model_b", "task"]
    same(report.comparison.pairs, out["pairs"], pair, ["ci_low", "ci_high", "p_adjusted"])


def test_calibration_equals_the_command(path, report):
    boot = ["--bootstrap", str(RESAMPLES), "--seed", str(SEED)]
    out = cli(path, "calibration", "--confidence", "0.99", *boot)
    table = report.panels["calibration"].results["calibration"].table
    cols = ["ece_low", "ece_high", "aurc_low", "aurc_high", "ece_pvalue"]
    assert same(table, out["table"], ["model", "task"], cols) == 6
    at_95 = pd.DataFrame(cli(path, "calibration", *boot)["table"])
    width_99 = pd.DataFrame(out["table"])["aurc_high"] - pd.DataFrame(out["table"])["aurc_low"]
    assert (width_99 > at_95["aurc_high"] - at_95["aurc_low"]).all()  # the level was used


def test_breakdown_equals_the_command(path, report):
    out = cli(path, "breakdown", "--alpha", "0.01", "--seed", str(SEED))
    res = report.panels["breakdown"].results["breakdown"]
    assert same(res.groups, out["groups"], ["model", "task", "group"], ["ci_low", "ci_high"]) == 18
    same(res.tests, out["tests"], ["model", "task"], ["gap_low", "gap_high", "p_adjusted"])


def test_reliability_efficiency_robustness_flips_equal_their_commands(path, report):
    res = report.panels["reliability"].results["reliability"]
    out = cli(path, "reliability", "--alpha", "0.01")
    same(res.table, out["table"], ["model", "task"], ["mean_low", "all_right_low", "rs_high"])
    same(res.pairs, out["pairs"], ["model_a", "model_b", "task"], ["ci_low", "ci_high"])
    res = report.panels["efficiency"].results["efficiency"]
    out = cli(path, "efficiency", "--alpha", "0.01")
    same(res.table, out["table"], ["model", "task"], ["latency_p50_low", "latency_p50_high"])
    res = report.panels["robustness"].results["robustness"]
    out = cli(path, "robustness", "--alpha", "0.01")
    same(res.table, out["table"], ["model", "task", "perturbation"], ["ci_low", "ci_high"])
    flips = report.panels["flips"].results
    for task in ("arith", "arith+typos"):
        args = ["--old", "base", "--new", "base-int8", "-t", task, "--confidence", "0.99"]
        out = cli(path, "flips", *args)
        cols = ["nfr_low", "nfr_high", "pfr_low", "nfi_high"]
        same(flips[f"base->base-int8/{task}"].table, out["table"], ["task"], cols)


def test_bias_equals_the_library_at_the_level(path, report):
    samples = Store(path).samples(task="arith")
    for model in MODELS:
        ours = report.panels["bias"].results[f"{model}/arith"]
        theirs = stats.position_bias(samples[samples["model"] == model], alpha=0.01)
        pd.testing.assert_frame_equal(ours.table, theirs.table)


def test_arena_equals_rank_battles_at_the_level_and_rounds(path, report):
    out = cli(
        path,
        "rank",
        "battles",
        "--alpha",
        "0.01",
        "--bootstrap",
        str(RESAMPLES),
        "--seed",
        str(SEED),
    )
    ratings = report.panels["arena"].results["ratings"]
    assert ratings.confidence_level == pytest.approx(LEVEL) == out["confidence_level"]
    assert same(ratings.table, out["ratings"], ["model"], ["rating", "ci_low", "ci_high"]) == 3


def test_the_default_report_uses_rank_battles_rounds(path):
    for method, rounds in (("bt", ARENA_BOOTSTRAP), ("elo", ELO_BOOTSTRAP)):
        data = build_report(path, method=method, scaling_bootstrap=0, max_docs=0)
        arena = data.panels["arena"].results["ratings"]
        assert arena.bootstrap.shape[0] == rounds == data.to_dict()["settings"]["arena_bootstrap"]
        assert data.settings.confidence_level == 0.95 and data.level == "95%"


def test_report_cli_json_states_the_level_and_refuses_two(path, tmp_path):
    html = tmp_path / "r.html"
    opts = ["--bootstrap", "20", "--scaling-bootstrap", "0", "--max-docs", "0"]
    out = cli(path, "report", "-o", str(html), "--confidence", "0.99", *opts)
    assert out["confidence_level"] == pytest.approx(0.99) and out["level"] == "99%"
    assert "99%" in html.read_text(encoding="utf-8")
    both = ["--confidence", "0.99", "--alpha", "0.05", "-o", str(tmp_path / "no.html")]
    result = CliRunner().invoke(app, ["report", "--store", str(path), *both])
    assert result.exit_code == 1 and not (tmp_path / "no.html").exists()
    assert "--confidence 0.99 and --alpha 0.05 disagree" in str(result.exception)
