"""Issue 33: the store keeps each battle's style features, and the report shows raw and
style-controlled ranks side by side (equal to `assay rank battles --style-control`)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from typer.testing import CliRunner

from assay import rank
from assay.cli import app
from assay.core import text_style
from assay.report import build_report, render_report
from assay.report._style_panel import style_panel
from assay.store import open_store

NAMES = ["alpha", "beta", "gamma", '<img src=x onerror="alert(1)">&co']
THETA = np.array([0.5, 0.2, 0.0, -0.3])


def _answers(n: int = 500, seed: int = 0) -> pd.DataFrame:
    """Votes whose winner follows strength and answer length (β = 1 on the raw difference):
    answer text with words, list items, a header and bold spans."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, n)
    b = (a + rng.integers(1, 4, n)) % 4
    la, lb = rng.integers(3, 80, n), rng.integers(3, 80, n)
    lists, bold = rng.integers(0, 3, n), rng.integers(0, 2, n)

    def text(words, items, strong, header):
        head = "## Answer\n" if header else ""
        return head + " ".join(["w"] * words) + "\n- x" * items + " **b**" * strong

    answer_a = [text(*v) for v in zip(la, lists, bold, a % 2, strict=True)]
    answer_b = [text(int(w), 0, 0, 0) for w in lb]
    p = expit(THETA[a] - THETA[b] + (la - lb) / (la + lb + 1))
    winner = np.where(rng.random(n) < p, "model_a", "model_b")
    winner = np.where(rng.random(n) < 0.05, "tie", winner)
    names = np.asarray(NAMES, dtype=object)
    return pd.DataFrame(
        {
            "model_a": names[a],
            "model_b": names[b],
            "winner": winner,
            "answer_a": answer_a,
            "answer_b": answer_b,
        }
    )


@pytest.fixture()
def arena_file(tmp_path):
    path = tmp_path / "arena.jsonl"
    _answers().to_json(path, orient="records", lines=True)
    return path


def _stored_sides(battles: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    side = [pd.DataFrame([json.loads(v) for v in battles[c]]) for c in ("style_a", "style_b")]
    return side[0], side[1]


def test_import_stores_the_features_text_style_counts(arena_file, tmp_path):
    store = tmp_path / "s.duckdb"
    out = CliRunner().invoke(app, ["import", "battles", str(arena_file), "--store", str(store)])
    assert out.exit_code == 0, out.output
    stored = open_store(store).battles()
    assert "answer_a" not in stored.columns  # the features are kept, never the text
    source = _answers()
    key = ["model_a", "model_b", "winner"]
    # rows in file order: each stored vote's id is its content id, so match on the ids
    ids = rank.battle_ids(source[key])
    stored = stored.set_index("battle_id").loc[list(ids)].reset_index()
    side_a, side_b = _stored_sides(stored)
    pd.testing.assert_frame_equal(side_a, text_style(source["answer_a"]))
    pd.testing.assert_frame_equal(side_b, text_style(source["answer_b"]))
    assert side_a["list_count"].sum() > 0 and side_a["bold_count"].sum() > 0
    assert side_a["header_count"].sum() == source["answer_a"].str.startswith("##").sum() > 0


def test_add_battles_keeps_given_features_and_votes_without_any(tmp_path):
    st = open_store(tmp_path / "s.duckdb")
    st.add_battles(
        [
            {
                "model_a": "x",
                "model_b": "y",
                "winner": "model_a",
                "style_a": {"tokens": 12, "header_count": {"h1": 1, "h2": 2}},
                "style_b": {"tokens": 3.5, "header_count": {"h1": 0}},
            },
            {"model_a": "y", "model_b": "x", "winner": "tie"},
        ]
    )
    st.add_vote({"model_a": "x", "model_b": "y", "winner": "model_b", "answer_a": "a b **c**"})
    rows = st.battles().set_index("winner")
    assert json.loads(rows.at["model_a", "style_a"]) == {"tokens": 12.0, "header_count": 3.0}
    assert json.loads(rows.at["model_a", "style_b"]) == {"tokens": 3.5, "header_count": 0.0}
    assert pd.isna(rows.at["tie", "style_a"]) and pd.isna(rows.at["tie", "style_b"])
    voted = json.loads(rows.at["model_b", "style_a"])
    assert voted == {"length": 3.0, "header_count": 0.0, "list_count": 0.0, "bold_count": 1.0}
    assert json.loads(rows.at["model_b", "style_b"])["length"] == 0.0  # no answer b: 0 words


def _cli(args):
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


@pytest.mark.parametrize("bootstrap", [0, 40])
def test_report_equals_rank_battles_style_control(arena_file, tmp_path, bootstrap):
    store = tmp_path / "s.duckdb"
    cli = _cli(
        [
            "rank",
            "battles",
            str(arena_file),
            "--style-control",
            "--bootstrap",
            str(bootstrap),
            "--store",
            str(store),
            "--json",
        ]
    )
    data = build_report(store, bootstrap=bootstrap)
    panel = data.panel("arena_style")
    assert panel.available and panel.note is None
    result = panel.results["style"]
    ours = result.table.set_index("model")
    theirs = pd.DataFrame(cli["ratings"]).set_index("model")
    assert set(ours.index) == set(NAMES)
    for name in NAMES:
        assert ours.at[name, "rating"] == pytest.approx(theirs.at[name, "rating"], abs=1e-6)
        raw = cli["raw_ratings"][name]
        assert ours.at[name, "raw_rating"] == pytest.approx(raw["rating"], abs=1e-6)
        if bootstrap == 0:  # Wald intervals do not depend on the order of the votes
            assert ours.at[name, "ci_low"] == pytest.approx(theirs.at[name, "ci_low"], abs=1e-6)
            assert ours.at[name, "rank"] == theirs.at[name, "rank"]
            assert ours.at[name, "raw_rank"] == raw["rank"]
    coef = result.coefficients.set_index("feature")
    for name, value in cli["style_coefficients"].items():
        assert coef.at[name, "coefficient"] == pytest.approx(value, abs=1e-7)
        if bootstrap == 0:
            lo, hi = cli["style_intervals"][name]
            assert (coef.at[name, "ci_low"], coef.at[name, "ci_high"]) == pytest.approx((lo, hi))
    assert coef.at["length", "ci_low"] > 0  # voters here favour longer answers
    assert result.n_battles == result.n_total == 500
    np.testing.assert_array_equal(ours["rank_change"], ours["raw_rank"] - ours["rank"])


def test_the_panel_escapes_model_names_and_says_what_to_conclude(arena_file, tmp_path):
    store = tmp_path / "s.duckdb"
    _cli(["import", "battles", str(arena_file), "--store", str(store), "--json"])
    html = render_report(build_report(store, bootstrap=0))
    block = html.split('<section class="panel" id="arena_style">', 1)[1].split("</section>")[0]
    assert "<img" not in block and "&lt;img src=x onerror=" in block and "&amp;co" in block
    assert "<strong>What to conclude:</strong>" in block
    for header in ("raw rank", "controlled rank", "rank change", "style coefficients"):
        assert header in block
    assert "The largest style effect is length" in block


def test_without_style_features_the_panel_says_so():
    plain = pd.DataFrame(
        [("a", "b", "model_a")] * 5 + [("b", "c", "model_a")] * 5 + [("c", "a", "tie")] * 3,
        columns=["model_a", "model_b", "winner"],
    )
    panel = style_panel(plain, bootstrap=0)
    assert not panel.available and "carry no style information" in panel.note
    stored_like = plain.assign(style_a=None, style_b=None)
    assert "carry no style information" in style_panel(stored_like, bootstrap=0).note
    assert "No battles" in style_panel(plain.iloc[:0], bootstrap=0).note


def test_only_the_styled_votes_are_fitted_and_the_panel_counts_them():
    df = _answers(n=400, seed=3)
    bare = df.drop(columns=["answer_a", "answer_b"]).iloc[:100]
    mixed = pd.concat([df.assign(answer_a=df["answer_a"]), bare], ignore_index=True)
    result = rank.style_comparison(mixed, bootstrap=0)
    assert (result.n_battles, result.n_styled, result.n_total) == (400, 400, 500)
    alone = rank.fit_battles(df, style_control=True, bootstrap=0)
    np.testing.assert_allclose(
        result.table.set_index("model")["rating"].reindex(NAMES),
        alone.rating.reindex(NAMES),
        atol=1e-9,
    )
    caption = style_panel(mixed, bootstrap=0).items[0]["caption"]
    assert caption == "4 models, 400 of 500 votes (400 carry style features)"


def test_rank_battles_style_control_reads_the_stored_features(arena_file, tmp_path):
    store = tmp_path / "s.duckdb"
    args = ["--style-control", "--bootstrap", "0", "--store", str(store), "--json"]
    from_file = _cli(["rank", "battles", str(arena_file), *args])
    open_store(store).add_battles([{"model_a": "alpha", "model_b": "beta", "winner": "tie"}])
    from_store = _cli(["rank", "battles", *args])  # the 500 styled votes, not the bare one
    assert from_store["n_battles"] == 500
    assert from_store["style_coefficients"] == pytest.approx(from_file["style_coefficients"])
    for ours, theirs in zip(from_store["ratings"], from_file["ratings"], strict=True):
        assert ours["model"] == theirs["model"]
        assert ours["rating"] == pytest.approx(theirs["rating"], abs=1e-6)
    bare = tmp_path / "bare.duckdb"
    open_store(bare).add_battles([{"model_a": "a", "model_b": "b", "winner": "tie"}])
    out = CliRunner().invoke(app, ["rank", "battles", "--style-control", "--store", str(bare)])
    assert out.exit_code != 0 and "carry no style information" in str(out.exception)


def test_a_large_arena_gets_sandwich_intervals_not_slow_refits(monkeypatch):
    import assay.report._style_panel as module

    df = _answers(n=300, seed=5)
    monkeypatch.setattr(module, "RESAMPLED_VOTES", 300 * 999)
    panel = style_panel(df, bootstrap=1000)
    assert "sandwich (robust) intervals: 1,000 bootstrap refits of 300 votes" in panel.intro
    result = panel.results["style"]
    assert result.controlled.info["ci_method"] == "sandwich"
    sandwich = rank.fit_battles(df, style_control=True, ci="sandwich")
    np.testing.assert_allclose(
        result.table.set_index("model")["ci_low"].reindex(NAMES),
        sandwich.table.set_index("model")["ci_low"].reindex(NAMES),
    )
    assert style_panel(df, bootstrap=999).results["style"].controlled.info["ci_method"] == (
        "bootstrap"
    )


def test_too_few_votes_show_unbounded_intervals_in_words():
    df = pd.DataFrame(
        {
            "model_a": ["a", "b"],
            "model_b": ["b", "c"],
            "winner": ["model_a", "model_a"],
            "answer_a": ["x y", "x"],
            "answer_b": ["z", "z z z"],
        }
    )
    panel = style_panel(df, bootstrap=0)
    cells = [c["text"] for c in panel.items[0]["rows"][0]]
    assert cells[2].endswith("(unbounded)") and cells[4].endswith("(unbounded)")
    texts = [i["text"] for i in panel.items if i["kind"] == "text"]
    assert texts[0].startswith("Too few votes to rate a, b, c")
