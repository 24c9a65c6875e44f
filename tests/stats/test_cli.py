"""The stats commands on a store the test writes: JSON shapes, numbers, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from assay import stats
from assay.cli import app
from assay.errors import InputError
from assay.stats import compare, item_report, power_from_scores
from assay.store import ModelInfo, SampleRecord, open_store

runner = CliRunner()


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("stats") / "s.duckdb"
    store = open_store(path)
    rng = np.random.default_rng(50)
    records = []
    for k, (model, p) in enumerate({"small": 0.4, "mid": 0.6, "big": 0.8}.items()):
        for task in ("add", "sub"):
            for i in range(120):
                for r in range(2):
                    order = [int(o) for o in rng.permutation(4)]
                    right = bool(rng.random() < p)
                    chosen = order.index(0) if right else int(rng.integers(4))
                    records.append(
                        SampleRecord(
                            run_id=f"{model}-{task}", model=model, task=task, doc_id=f"d{i:03d}",
                            repeat=r, metrics={"acc": float(order[chosen] == 0)}, target="0",
                            choice_order=order, chosen_position=chosen,
                            choice_logprobs=[-1.0] * 4, template_id="t0",
                        )
                    )  # fmt: skip
        store.upsert_models([ModelInfo(model=model, step=1000 * (k + 1))])
    store.write_samples(records)
    return str(path)


def _json(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_compare_json_matches_api(store_path):
    out = _json(["compare", "--store", store_path, "--json"])
    assert set(out["scores"][0]) == {
        "model",
        "task",
        "metric",
        "n",
        "mean",
        "method",
        "stderr",
        "ci_low",
        "ci_high",
    }
    assert len(out["scores"]) == 6 and len(out["pairs"]) == 6
    api = compare(open_store(store_path).scores())
    first = api.pairs.iloc[0]
    assert out["pairs"][0]["p_adjusted"] == pytest.approx(first["p_adjusted"])
    assert out["pairs"][0]["diff"] == pytest.approx(first["diff"])
    sub = _json(
        ["compare", "--store", store_path, "--models", "small,big", "--task", "add", "--json"]
    )
    assert len(sub["pairs"]) == 1 and sub["pairs"][0]["model_a"] == "small"
    table = runner.invoke(app, ["compare", "--store", store_path, "--task", "add"])
    assert table.exit_code == 0 and "pairs" in table.output and "groups" in table.output


def test_other_commands_json(store_path):
    fl = _json(["flips", "--store", store_path, "--old", "small", "--new", "big", "--json"])
    assert [r["task"] for r in fl["table"]] == ["add", "sub", "(all)"]
    assert fl["confidence_level"] == 0.95  # an outside audit: the JSON carried no level
    fl90 = _json(["flips", "--store", store_path, "--old", "small", "--new", "big", "--json", "--confidence", "0.9"])  # fmt: skip
    assert fl90["confidence_level"] == 0.9
    assert fl90["table"][0]["nfr_low"] > fl["table"][0]["nfr_low"]
    bias = _json(["bias", "--store", store_path, "--model", "mid", "--task", "add", "--json"])
    assert bias["n"] == 240 and len(bias["table"]) == 4 and 0 <= bias["pvalue"] <= 1
    items = _json(["items", "--store", store_path, "--task", "add", "--json"])
    assert len(items["items"]) == 120 and items["metric"] == "acc"
    irt = _json(["items", "--store", store_path, "--task", "add", "--irt", "--anchors", "4", "--json"])  # fmt: skip
    assert len(irt["anchors"]) == 4 and sum(a["weight"] for a in irt["anchors"]) == pytest.approx(1)
    assert {"irt_a", "irt_b"} <= set(irt["items"][0])
    var = _json(["variance", "--store", store_path, "--model", "big", "--json"])
    assert {r["factor"] for r in var["table"]} == {"repeat"}
    mono = _json(["variance", "--store", store_path, "--checkpoints", "small,mid,big", "--task", "add", "--json"])  # fmt: skip
    assert mono["tau"] == 1.0 and [r["step"] for r in mono["table"]] == [1000, 2000, 3000]
    pw = _json(["power", "--delta", "0.05", "--json"])
    assert pw["n"] == 1570  # (1.96 + 0.8416)^2 * 0.5 / 0.05^2 = 1569.78, rounded up
    est = _json(
        ["power", "--store", store_path, "--models", "small,big", "--task", "add", "--json"]
    )
    assert est["n"] == 120 and est["k_a"] == 2 and "estimated_from" in est


def test_unknown_names_are_input_errors(store_path):
    result = runner.invoke(app, ["compare", "--store", store_path, "--models", "small,huge"])
    assert isinstance(result.exception, InputError)
    assert "available: big, mid, small" in str(result.exception)
    proc = subprocess.run(
        [sys.executable, "-m", "assay", "flips", "--store", store_path, "--old", "x", "--new", "big"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "unknown model 'x'" in proc.stderr


def test_the_library_gives_the_numbers_the_cli_printed(store_path):
    """`power --models` and `items --irt --anchors` are stats.power_from_scores and
    stats.item_report: the numbers below are what the commands printed before the move."""
    scores = open_store(store_path).scores()
    pw = power_from_scores(scores, "small", "big", task="add")
    assert pw.n == 120 and (pw.k_a, pw.k_b) == (2, 2) and pw.omega2 == 0.0
    assert pw.delta == pytest.approx(0.11257295591934059)
    assert pw.power == pytest.approx(0.8000009605622266)
    assert pw.variance_per_question == pytest.approx(0.19375)
    assert pw.estimated_from.sigma2_a == pytest.approx(0.25833333333333336)
    assert pw.estimated_from.sigma2_b == pytest.approx(0.12916666666666668)
    assert pw.estimated_from.diff == pytest.approx(-0.32916666666666666)
    sized = power_from_scores(scores, "small", "big", task="add", delta=0.05)
    assert sized.n == 609  # 608.288... questions, rounded up
    cli = ["power", "--store", store_path, "--models", "small,big", "--task", "add", "--json"]
    assert _json(cli) == json.loads(json.dumps(pw.to_dict()))
    assert "estimated_from" not in _json(["power", "--delta", "0.05", "--json"])

    rep = item_report(scores, task="add", irt=True, anchors=4)
    anchors = rep.to_dict()["anchors"]
    assert [a["doc_id"] for a in anchors] == ["d002", "d006", "d012", "d029"]
    assert [a["weight"] for a in anchors] == pytest.approx([0.25, 0.25, 0.25, 0.25])
    first = rep.table.iloc[0]
    assert first["doc_id"] == "d000" and first["discrimination"] == pytest.approx(0.940129359310246)
    assert (first["irt_a"], first["irt_b"]) == pytest.approx(
        (1.0531825254063487, 0.6078460615250696)
    )
    cli = ["items", "--store", store_path, "--task", "add", "--irt", "--anchors", "4", "--json"]
    assert _json(cli) == json.loads(json.dumps(rep.to_dict()))
    sub = item_report(scores, task="sub", models=["small", "mid", "big"], irt=True)
    assert len(sub.flagged) == 35 and sub.anchors is None
    assert sub.flagged.iloc[0]["doc_id"] == "d008"
    assert sub.flagged.iloc[0]["irt_a"] == pytest.approx(1.1912754006685273)
    assert len(sub.to_dict(flagged_only=True)["items"]) == 35


def test_compare_prints_the_verdict_first_without_task(store_path):
    out = runner.invoke(app, ["compare", "--store", store_path])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0] == "Verdict"
    # no recorded parent: every model against the leader (big), on both tasks
    assert lines[1].startswith("mid against big (against the leader): better on 0 tasks, worse on")
    assert any(line.startswith("small against big (against the leader)") for line in lines[1:4])
    assert out.output.index("Caveat:") < out.output.index("scores")
    data = _json(["compare", "--store", store_path, "--json"])
    expected = stats.verdict(compare(open_store(store_path).scores()))
    assert [p["sentence"] for p in data["verdict"]["pairs"]] == expected.sentences
    one = runner.invoke(app, ["compare", "--store", store_path, "--task", "add"])
    assert one.exit_code == 0 and "Verdict" not in one.output
    assert "verdict" not in _json(["compare", "--store", store_path, "--task", "add", "--json"])
