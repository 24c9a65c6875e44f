"""Judge analyses of count tables (a row with ``count`` c is c battles), answer lengths that
are no lengths, and the interval level in the text
output."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from assay.cli.judge import judge_app
from assay.errors import InputError
from assay.rank import import_battles, judge_agreement, lc_win_rate, read_battles
from assay.store import open_store

runner = CliRunner()
MODELS = ("m1", "m2", "m3")


def _judged(seed: int = 3, n_prompts: int = 25) -> pd.DataFrame:
    """Judged pairs against "base" with lengths, counts 1..4, some rows without a prompt."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_prompts):
        for m in MODELS:
            len_m, len_b = int(rng.integers(100, 1500)), int(rng.integers(100, 1500))
            win = rng.choice(["model_a", "model_b", "tie"], p=[0.45, 0.4, 0.15])
            first = rng.random() < 0.5
            rows.append(
                {
                    "model_a": m if first else "base",
                    "model_b": "base" if first else m,
                    "winner": str(win),
                    "len_a": len_m if first else len_b,
                    "len_b": len_b if first else len_m,
                    "prompt_id": None if p % 7 == 0 else f"p{p}",
                    "judge": "J",
                    "count": int(rng.integers(1, 5)),
                }
            )
    return pd.DataFrame(rows)


def _expanded(df: pd.DataFrame) -> pd.DataFrame:
    """Every row written out ``count`` times (next to each other), without the count."""
    df = df.reset_index(drop=True)
    return df.loc[df.index.repeat(df["count"])].drop(columns="count").reset_index(drop=True)


def _write(path, df: pd.DataFrame):
    with open(path, "w") as f:
        for row in df.to_dict(orient="records"):
            f.write(json.dumps({k: v for k, v in row.items() if v is not None}) + "\n")
    return path


def _run(*args: str) -> dict:
    out = runner.invoke(judge_app, [*map(str, args), "--json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def _same(x, y) -> None:
    """Equal JSON results, numbers up to float rounding (sums taken in another order)."""
    if isinstance(x, dict):
        assert x.keys() == y.keys()
        for key in x:
            _same(x[key], y[key])
    elif isinstance(x, list):
        assert len(x) == len(y)
        for a, b in zip(x, y, strict=True):
            _same(a, b)
    elif isinstance(x, float):
        assert x == pytest.approx(y, rel=1e-9, abs=1e-12, nan_ok=True)
    else:
        assert x == y


def test_lc_win_rate_weighs_counts_as_the_expanded_battles(tmp_path):
    judged = _judged()
    counted = lc_win_rate(judged, "base", bootstrap=60, seed=2)
    expanded = lc_win_rate(_expanded(judged), "base", bootstrap=60, seed=2)
    pd.testing.assert_frame_equal(counted.table, expanded.table, check_exact=False, rtol=1e-9)
    assert counted.length_scale == pytest.approx(expanded.length_scale, rel=1e-12)
    assert counted.info == expanded.info  # the prompts, and each battle without one
    assert counted.table["n"].sum() == judged["count"].sum()
    # the CLI reads the count column (it used to drop it: n = rows, not battles)
    cnt = _write(tmp_path / "cnt.jsonl", judged)
    dup = _write(tmp_path / "dup.jsonl", _expanded(judged))
    args = ["--baseline", "base", "--bootstrap", "60", "--seed", "2"]
    _same(_run("lc-winrate", cnt, *args), _run("lc-winrate", dup, *args))


def test_lc_win_rate_of_a_wide_count_table(tmp_path):
    wide = pd.DataFrame(
        {
            "model_a": ["m1", "base", "m2", "m1"],
            "model_b": ["base", "m2", "base", "base"],
            "wins_a": [3, 0, 1, 0],
            "wins_b": [1, 2, 2, 0],
            "ties": [1, 1, 0, 0],
            "len_a": [500, 250, 200, 50],
            "len_b": [300, 100, 300, 900],
            "prompt_id": ["p1", "p2", "p3", "p4"],
        }
    )
    longer = wide.melt(
        id_vars=["model_a", "model_b", "len_a", "len_b", "prompt_id"],
        value_vars=["wins_a", "wins_b", "ties"],
        var_name="winner",
        value_name="count",
        ignore_index=False,
    ).sort_index(kind="stable")
    longer["winner"] = longer["winner"].map(
        {"wins_a": "model_a", "wins_b": "model_b", "ties": "tie"}
    )
    battles = _expanded(longer[longer["count"] > 0])
    ct = _write(tmp_path / "ct.jsonl", wide)
    dup = _write(tmp_path / "dup.jsonl", battles)
    args = ["--baseline", "base", "--bootstrap", "40"]
    result = _run("lc-winrate", ct, *args)  # used to crash: lengths copied by position
    _same(result, _run("lc-winrate", dup, *args))
    assert {r["model"]: r["n"] for r in result["win_rates"]} == {"m1": 5, "m2": 6}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "field 'len_b' must be a length >= 0, got 'abc'"),
        (None, "field 'len_b' is empty"),
        (-5, "field 'len_b' must be a length >= 0, got -5"),
        (True, "field 'len_b' must be a length >= 0, got True"),
    ],
)
def test_lc_win_rate_refuses_lengths_that_are_no_lengths(tmp_path, value, message):
    judged = _judged(n_prompts=3).drop(columns="count")
    rows = judged.to_dict(orient="records")
    rows[4]["len_b"] = value
    path = tmp_path / "j.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = runner.invoke(judge_app, ["lc-winrate", str(path), "--baseline", "base"])
    assert isinstance(out.exception, InputError)  # a one-line error, not a traceback
    assert str(out.exception) == f"{path}: line 5: {message}"


def _agreement_store(tmp_path, judge: pd.DataFrame):
    store = open_store(tmp_path / "s.duckdb")
    import_battles(store, _write(tmp_path / "judge.jsonl", judge))
    return store.path


def test_agreement_counts_the_votes_of_a_count_table(tmp_path):
    rng = np.random.default_rng(5)
    pids = [f"q{i}" for i in range(40)]
    pairs = [("gpt", "llama"), ("llama", "qwen"), ("gpt", "qwen")]
    labels = ["model_a", "model_b", "tie"]
    judge = pd.DataFrame(
        [
            {"model_a": a, "model_b": b, "winner": labels[rng.integers(3)], "prompt_id": p}
            for p in pids
            for a, b in [pairs[rng.integers(3)]]
        ]
    ).assign(judge="J")
    votes = judge.drop(columns="judge").assign(
        winner=[w if rng.random() < 0.6 else labels[rng.integers(3)] for w in judge["winner"]],
        count=rng.integers(1, 5, len(judge)),
    )
    store = _agreement_store(tmp_path, judge)
    cnt = _write(tmp_path / "cnt.jsonl", votes)
    dup = _write(tmp_path / "dup.jsonl", _expanded(votes))
    args = ["agreement", "--judge", "J", "--store", store, "--bootstrap", "50", "--votes"]
    counted, expanded = _run(*args, cnt), _run(*args, dup)
    _same(counted, expanded)
    assert counted["n"] == votes["count"].sum()
    # the store route: the count table imported first gives the same κ
    import_battles(open_store(store), cnt)
    _same(_run("agreement", "--judge", "J", "--store", store, "--bootstrap", "50"), counted)
    # the function weighs a battles frame's count column the same way
    both = pd.concat([judge, read_battles(cnt)], ignore_index=True)
    assert judge_agreement(both, "J", bootstrap=0).kappa == pytest.approx(counted["kappa"])


def test_text_output_states_the_interval_level(tmp_path):
    judged = _judged(n_prompts=10)
    cnt = _write(tmp_path / "cnt.jsonl", judged)
    out = runner.invoke(
        judge_app, ["lc-winrate", str(cnt), "--baseline", "base", "--confidence", "0.8"]
    )
    assert out.exit_code == 0, out.output
    assert "80% intervals" in out.output
    store = _agreement_store(tmp_path, judged.drop(columns="count"))
    votes = _write(tmp_path / "votes.jsonl", judged.drop(columns="judge"))
    out = runner.invoke(
        judge_app,
        ["agreement", "--judge", "J", "--store", str(store), "--votes", str(votes)],
    )
    assert out.exit_code == 0, out.output
    assert "95% interval" in " ".join(out.output.split())


@pytest.mark.parametrize("prompts", ["none", "all"])
def test_lc_win_rate_counts_with_or_without_any_prompt(prompts):
    judged = _judged(n_prompts=12)
    judged["prompt_id"] = None if prompts == "none" else [f"p{i // 3}" for i in range(len(judged))]
    counted = lc_win_rate(judged, "base", bootstrap=40, seed=1)
    expanded = lc_win_rate(_expanded(judged), "base", bootstrap=40, seed=1)
    # a replicate that (nearly) separates stops Newton on a flat likelihood: the same draws
    # summed in another order end a few 1e-6 apart there
    pd.testing.assert_frame_equal(counted.table, expanded.table, check_exact=False, rtol=1e-5)
    assert counted.info == expanded.info
