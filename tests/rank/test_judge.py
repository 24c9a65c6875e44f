"""LLM judges: pairwise and pointwise judging, position swap, length control, κ against
human votes, self-preference and the round trip through the store, with deterministic stubs
whose biases are known."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from typer.testing import CliRunner

from assay.cli.judge import judge_app
from assay.errors import InputError
from assay.rank import (
    ModelRater,
    cohen_kappa,
    fit_battles,
    judge_agreement,
    judge_pairs,
    judged_from_battles,
    lc_win_rate,
    mean_ratings,
    position_consistency,
    rate_outputs,
    rating_battles,
    self_preference,
    store_judged,
)
from assay.requests import LoglikelihoodResult
from assay.store import open_store


class PositionJudge:
    """Says "A" with probability p whatever the answers: pure position bias."""

    name = "position-judge"

    def __init__(self, p: float, seed: int = 101):
        self.p, self.rng = p, np.random.default_rng(seed)

    def compare_many(self, items):
        return np.where(self.rng.random(len(items)) < self.p, "A", "B").tolist()

    def compare(self, prompt, a, b):
        return self.compare_many([(prompt, a, b)])[0]


class LengthJudge:
    """P("A") = σ(γ·tanh((len a − len b) / s) + bonus·(a good − b good)): prefers length, and
    answers starting with "g" by ``bonus`` logits (a real quality difference)."""

    name = "length-judge"

    def __init__(self, gamma=2.0, scale=60.0, bonus=0.0, seed=202):
        self.gamma, self.scale, self.bonus = gamma, scale, bonus
        self.rng = np.random.default_rng(seed)

    def compare_many(self, items):
        la = np.array([len(a) for _, a, _ in items], dtype=float)
        lb = np.array([len(b) for _, _, b in items], dtype=float)
        good = np.array([[a[0] == "g", b[0] == "g"] for _, a, b in items], dtype=float)
        logit = self.gamma * np.tanh((la - lb) / self.scale) + self.bonus * (
            good[:, 0] - good[:, 1]
        )
        return np.where(self.rng.random(len(items)) < expit(logit), "A", "B").tolist()


class LongerJudge:
    """The longer answer wins, equal lengths tie: consistent in both orders."""

    name = "longer"

    def compare(self, prompt, a, b):
        return "tie" if len(a) == len(b) else ("A" if len(a) > len(b) else "B")


def make_outputs(means: dict[str, float], n_prompts=300, sd=60.0, seed=0) -> pd.DataFrame:
    """Answers whose text is the model's first letter repeated ~N(mean, sd) times."""
    rng = np.random.default_rng(seed)
    lengths = np.maximum(5, rng.normal(list(means.values()), sd, size=(n_prompts, len(means))))
    rows = [
        {"prompt_id": f"p{p}", "prompt": f"question {p}", "model": m, "output": m[0] * int(n)}
        for p in range(n_prompts)
        for m, n in zip(means, lengths[p], strict=True)
    ]
    return pd.DataFrame(rows)


def test_position_bias_is_recovered_by_the_swap():
    judged = judge_pairs(make_outputs({"x": 100, "y": 100, "z": 100}), PositionJudge(0.75))
    assert len(judged) == 900  # 3 pairs × 300 prompts
    r = position_consistency(judged, bootstrap=200, seed=1)
    # each call picks A with p = 0.75: first-position share p, agreement 2p(1 − p) = 0.375
    assert r.first_ci[0] < 0.75 < r.first_ci[1]
    assert r.first_rate == pytest.approx(0.75, abs=0.03)
    assert r.agreement_ci[0] < 0.375 < r.agreement_ci[1]
    assert r.pvalue < 1e-20
    assert r.same_position == pytest.approx(1 - r.agreement)  # no ties
    # every pair with two A's is a tie; a winner needs both verdicts
    both_a = (judged["verdict_ab"] == "A") & (judged["verdict_ba"] == "A")
    assert (judged.loc[both_a, "winner"] == "tie").all()
    fair = position_consistency(judge_pairs(make_outputs({"x": 100, "y": 100}), LongerJudge()))
    assert fair.first_rate == pytest.approx(0.5) and fair.agreement == 1.0


def test_length_controlled_win_rate_returns_to_half_for_equal_quality():
    outputs = make_outputs({"long": 300, "short": 150, "base": 200}, n_prompts=600)
    judged = judge_pairs(outputs, LengthJudge(), baseline="base", seed=3)
    assert set(judged["model_a"]) | set(judged["model_b"]) == {"long", "short", "base"}
    r = lc_win_rate(judged, "base", bootstrap=200, seed=0).table.set_index("model")
    assert r.loc["long", "win_rate"] > 0.7 and r.loc["short", "win_rate"] < 0.4
    for m in ("long", "short"):
        assert r.loc[m, "lc_low"] < 0.5 < r.loc[m, "lc_high"]
        assert r.loc[m, "lc_win_rate"] == pytest.approx(0.5, abs=0.07)  # sd ≈ 0.03 here
        assert r.loc[m, "length_coef"] > 1
    # a real quality gap survives: at equal length the good model wins σ(1) = 0.731
    outputs = make_outputs({"good": 200, "base": 200})
    judged = judge_pairs(outputs, LengthJudge(bonus=1.0), baseline="base", seed=4)
    good = lc_win_rate(judged, "base", bootstrap=200).table.set_index("model").loc["good"]
    assert good["lc_low"] < expit(1.0) < good["lc_high"]


def test_cohen_kappa_on_hand_computed_tables():
    # 2×2: p_o = 35/50 = 0.7, p_e = (25·30 + 25·20)/50² = 0.5, κ = 0.4
    first = ["a"] * 25 + ["b"] * 25
    second = ["a"] * 20 + ["b"] * 5 + ["a"] * 10 + ["b"] * 15
    k = cohen_kappa(first, second)
    assert (k.kappa, k.agreement, k.expected, k.n) == (pytest.approx(0.4), 0.7, 0.5, 50)
    assert k.table.loc["a", "b"] == 5 and k.table.loc["b", "a"] == 10
    # the FCE (1969) standard error equals the delta method on the multinomial cells
    p = np.array([20, 5, 10, 15]) / 50

    def kappa(q):
        t = q.reshape(2, 2)
        pe = t.sum(1) @ t.sum(0)
        return (np.trace(t) - pe) / (1 - pe)

    grad = np.array([(kappa(p + h) - kappa(p - h)) / 2e-6 for h in np.eye(4) * 1e-6])
    assert k.se == pytest.approx(np.sqrt(grad @ (np.diag(p) - np.outer(p, p)) @ grad / 50))
    assert k.ci == pytest.approx((0.4 - 1.959964 * k.se, 0.4 + 1.959964 * k.se), rel=1e-5)
    at90 = cohen_kappa(first, second, confidence=0.9)  # (was a TypeError: an audit)
    assert at90.ci == pytest.approx((0.4 - 1.644854 * k.se, 0.4 + 1.644854 * k.se), rel=1e-5)
    # 3×3 [[10,2,3],[1,8,1],[2,2,11]]: p_o = 29/40, p_e = (15·13+10·12+15·15)/1600 = 0.3375
    t = np.array([[10, 2, 3], [1, 8, 1], [2, 2, 11]])
    rows, cols = np.nonzero(np.ones_like(t))
    labels = np.array(["A", "B", "tie"])
    first, second = np.repeat(labels[rows], t.ravel()), np.repeat(labels[cols], t.ravel())
    k3 = cohen_kappa(first, second, bootstrap=300, seed=2)
    assert k3.kappa == pytest.approx((29 / 40 - 0.3375) / (1 - 0.3375))
    assert k3.ci[0] < k3.kappa < k3.ci[1]
    perfect = cohen_kappa(["a", "b", "a"], ["a", "b", "a"])
    assert perfect.kappa == 1.0


def _votes(labels_judge, labels_human, flip_judge=False):
    """Battles of the judge and of humans on the same prompts for the pair (m1, m2)."""
    to_winner = {"first": "model_a", "second": "model_b", "tie": "tie"}
    judge = pd.DataFrame(
        {
            "prompt_id": [f"p{i}" for i in range(len(labels_judge))],
            "model_a": "m2" if flip_judge else "m1",
            "model_b": "m1" if flip_judge else "m2",
            "winner": [to_winner[x] for x in labels_judge],
            "judge": "j",
        }
    )
    if flip_judge:  # the same verdicts with the sides swapped
        judge["winner"] = judge["winner"].replace({"model_a": "model_b", "model_b": "model_a"})
    human = pd.DataFrame(
        {
            "prompt_id": [f"p{i}" for i in range(len(labels_human))],
            "model_a": "m1",
            "model_b": "m2",
            "winner": [to_winner[x] for x in labels_human],
            "judge": None,
        }
    )
    return pd.concat([judge, human], ignore_index=True)


def test_judge_agreement_with_human_votes_matches_the_hand_computed_kappa():
    judge = ["first"] * 25 + ["second"] * 25
    human = ["first"] * 20 + ["second"] * 5 + ["first"] * 10 + ["second"] * 15
    for flip in (False, True):  # orientation of the pair does not matter
        k = judge_agreement(_votes(judge, human, flip), "j", bootstrap=200, seed=0)
        assert k.kappa == pytest.approx(0.4) and k.n == 50
        assert k.ci[0] < 0.4 < k.ci[1]
        assert k.info["n_prompts"] == 50
    with pytest.raises(InputError, match="no battles judged by 'nobody'"):
        judge_agreement(_votes(judge, human), "nobody")
    only_judge = _votes(judge, human).query("judge == 'j'")
    with pytest.raises(InputError, match="no votes by humans"):
        judge_agreement(only_judge, "j")


def test_self_preference_recovers_the_judge_bonus():
    rng = np.random.default_rng(5)
    families = {"mine-1": "mine", "mine-2": "mine", "other-1": "other", "other-2": "other"}
    pairs = [(a, b) for a in ("mine-1", "mine-2") for b in ("other-1", "other-2")]
    rows = []
    for p in range(800):
        a, b = pairs[p % len(pairs)]
        human = "model_a" if rng.random() < 0.5 else "model_b"  # humans: a coin
        judged = "model_a" if rng.random() < 0.7 else "model_b"  # judge: 0.7 for its family
        rows += [
            {"prompt_id": f"p{p}", "model_a": a, "model_b": b, "winner": human, "judge": None},
            {"prompt_id": f"p{p}", "model_a": b, "model_b": a, "judge": "mine-1",
             "winner": {"model_a": "model_b", "model_b": "model_a"}[judged]},
        ]  # fmt: skip
    r = self_preference(pd.DataFrame(rows), "mine-1", families, bootstrap=300, seed=0)
    assert r.family == "mine" and r.n == 800
    assert r.own_ci[0] < 0.7 < r.own_ci[1]
    assert r.reference_win_rate == pytest.approx(0.5, abs=0.05)
    assert r.excess_ci[0] < 0.2 < r.excess_ci[1] and r.excess_ci[0] > 0.1
    with pytest.raises(InputError, match="has no family"):
        self_preference(pd.DataFrame(rows), "mine-1", {})


class BadJudge:
    name = "bad"

    def compare(self, prompt, a, b):
        return "C" if "9" in prompt else "A"


def test_bad_judge_output_is_one_line_and_nothing_is_stored(tmp_path):
    outputs = make_outputs({"x": 50, "y": 60}, n_prompts=12)
    with pytest.raises(InputError, match=r"judge returned 'C'; a judge must return 'A', 'B'"):
        judge_pairs(outputs, BadJudge())
    path = tmp_path / "s.duckdb"
    runner = CliRunner()
    result = runner.invoke(judge_app, ["position", "--judge", "bad", "--store", str(path)])
    assert result.exit_code != 0 and not path.exists()

    class BadRater:
        name = "bad-rater"

        def rate(self, prompt, answer):
            return "great" if "7" in prompt else 5

    with pytest.raises(InputError, match=r"rater returned 'great'; a rater must return a number"):
        rate_outputs(outputs, BadRater())


def test_verdicts_round_trip_through_the_store_and_fit(tmp_path):
    outputs = make_outputs({"a": 50, "b": 100, "c": 150, "d": 200}, n_prompts=40, sd=20, seed=1)
    judged = judge_pairs(outputs, LongerJudge(), seed=2)
    store = open_store(tmp_path / "s.duckdb")
    assert store_judged(store, judged, source="test") == len(judged) == 240
    assert store_judged(store, judged, source="test") == 240  # same ids: replaced, not added
    stored = store.battles()
    assert len(stored) == 240 and set(stored["judge"]) == {"longer"}
    back = judged_from_battles(stored, "longer")
    assert (back["verdict_ab"].notna()).all() and back["len_a"].dtype.kind in "if"
    merged = back.merge(judged, on=["prompt_id", "model_a", "model_b"], suffixes=("", "_0"))
    assert (merged["winner"] == merged["winner_0"]).all()
    assert (merged["len_a"] == merged["len_a_0"]).all()
    assert position_consistency(back).agreement == 1.0
    ratings = fit_battles(stored[stored["judge"] == "longer"], bootstrap=0)
    assert list(ratings.table["model"]) == ["d", "c", "b", "a"]
    # the CLI reads the same battles: position and lc-winrate with --json
    runner = CliRunner()
    out = runner.invoke(
        judge_app, ["position", "--judge", "longer", "--store", str(store.path), "--json"]
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["agreement"] == 1.0
    out = runner.invoke(
        judge_app,
        [
            "lc-winrate",
            "--judge",
            "longer",
            "--baseline",
            "a",
            "--store",
            str(store.path),
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    rates = {r["model"]: r["win_rate"] for r in json.loads(out.output)["win_rates"]}
    wide = outputs.assign(n=outputs["output"].str.len()).pivot(index="prompt_id", columns="model")
    longer = wide["n"].gt(wide["n"]["a"], axis=0) + 0.5 * wide["n"].eq(wide["n"]["a"], axis=0)
    assert rates == pytest.approx(longer[["b", "c", "d"]].mean().to_dict())
    assert rates["d"] == 1.0 and rates["b"] < 1.0


class DigitBackend:
    """Log-likelihood of " k" is −|k − 6|·ln 2 for every context: the weighted score is known."""

    name = "digit-backend"

    def loglikelihood(self, requests):
        return [
            LoglikelihoodResult(-abs(int(r.continuation) - 6) * np.log(2), False, 10, 1)
            for r in requests
        ]


def test_pointwise_ratings_their_means_and_battles():
    outputs = make_outputs({"a": 50, "b": 100}, n_prompts=30, sd=10, seed=3)
    w = 2.0 ** -np.abs(np.arange(1, 10) - 6)
    expected = float(w @ np.arange(1, 10) / w.sum())
    rated = rate_outputs(outputs.head(4), ModelRater(DigitBackend()))
    assert rated["rating"].to_numpy() == pytest.approx([expected] * 4)

    class LengthRater:
        name = "length-rater"

        def rate(self, prompt, answer):
            return min(9.0, len(answer) / 20)

    rated = rate_outputs(outputs, LengthRater())
    summary = mean_ratings(rated, bootstrap=200, seed=0).table.set_index("model")
    lengths = outputs.assign(n=outputs["output"].str.len()).groupby("model")["n"].mean()
    assert summary.loc["b", "mean"] == pytest.approx(min(9, lengths["b"] / 20), rel=0.05)
    assert summary.loc["a", "ci_low"] < summary.loc["a", "mean"] < summary.loc["a", "ci_high"]
    battles = rating_battles(rated)
    assert len(battles) == 30 and (battles["winner"] == "model_b").all()


@pytest.mark.real_model
def test_the_bundled_model_rates_and_judges():
    from assay.models import load_model
    from assay.rank import ModelJudge

    backend = load_model("smollm2-135m")
    try:
        rating = ModelRater(backend).rate("What is 2 + 2?", "4")
        verdict = ModelJudge(backend).compare("What is 2 + 2?", "4", "seven")
    finally:
        backend.close()
    assert 1.0 <= rating <= 9.0 and verdict in ("A", "B", "tie")


class LengthBackend:
    """A stand-in judge backend: log p(" A") − log p(" B") is the answers' length difference;
    ratings favour " 9" for long answers."""

    name = "stand-in"

    def loglikelihood(self, requests):
        out = []
        for r in requests:
            if r.continuation in (" A", " B"):
                a = r.context.split("Answer A: ")[1].split("\n\nAnswer B: ")[0]
                b = r.context.split("\n\nAnswer B: ")[1].split("\n\nWhich")[0]
                sign = 1 if r.continuation == " A" else -1
                out.append(LoglikelihoodResult(sign * (len(a) - len(b)) / 10, False, 10, 1))
            else:
                answer = r.context.split("Answer: ")[1].split("\n\nRating")[0]
                k = int(r.continuation)
                out.append(LoglikelihoodResult(-abs(k - min(9, len(answer) / 20)), False, 10, 1))
        return out

    def close(self):
        pass


def test_cli_pairwise_pointwise_and_agreement(tmp_path, monkeypatch):
    import assay.models

    monkeypatch.setattr(assay.models, "load_model", lambda spec: LengthBackend())
    outputs = make_outputs({"a": 50, "b": 100, "c": 150}, n_prompts=20, sd=5, seed=4)
    path = tmp_path / "outputs.jsonl"
    outputs.to_json(path, orient="records", lines=True)
    store = tmp_path / "s.duckdb"
    runner = CliRunner()
    args = ["--judge", "stand-in", "--store", str(store), "--bootstrap", "50", "--json"]
    out = runner.invoke(judge_app, ["pairwise", str(path), "--baseline", "a", *args])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["pairs"] == data["stored"] == 40  # b and c against a, 20 prompts
    assert data["position"]["agreement"] == 1.0 and data["position"]["first_rate"] == 0.5
    rates = {r["model"]: r["win_rate"] for r in data["lc_win_rate"]["win_rates"]}
    assert rates == {"b": 1.0, "c": 1.0}
    out = runner.invoke(judge_app, ["pointwise", str(path), *args])
    assert out.exit_code == 0, out.output
    means = {r["model"]: r["mean"] for r in json.loads(out.output)["ratings"]}
    assert means["a"] < means["b"] < means["c"]
    stored = open_store(store).battles()
    assert len(stored) == 40 + 60 and set(stored["judge"]) == {"stand-in"}
    # humans agree on 30 of the 40 pairs; the judge always names the longer answer, so its
    # labels never vary: p_o = p_e = 0.75 and κ = 0
    pairwise = stored[stored["extra"].str.contains('"pairwise"')]
    votes = pairwise[["prompt_id", "model_a", "model_b", "winner"]].reset_index(drop=True)
    flip = {"model_a": "model_b", "model_b": "model_a"}
    votes.loc[:9, "winner"] = votes.loc[:9, "winner"].map(flip)
    votes_path = tmp_path / "votes.jsonl"
    votes.to_json(votes_path, orient="records", lines=True)
    out = runner.invoke(judge_app, ["agreement", "--votes", str(votes_path), *args])
    assert out.exit_code == 0, out.output
    k = json.loads(out.output)
    # each vote meets the judge's pairwise and pointwise verdict on its pair: 2 × 40
    assert (k["n"], k["agreement"], k["expected"]) == (80, 0.75, 0.75)
    assert k["kappa"] == pytest.approx(0.0, abs=1e-12)


def test_judge_panel_shows_each_check_when_its_data_exist(tmp_path):
    from assay.core import Settings
    from assay.report._judge_panels import judge_panel

    outputs = make_outputs({"mine-1": 100, "other-1": 100, "other-2": 120}, n_prompts=60)
    judged = judge_pairs(outputs, PositionJudge(0.8), seed=1)
    store = open_store(tmp_path / "s.duckdb")
    store_judged(store, judged.assign(judge="mine-1"), source="t")
    human = judged[["prompt_id", "model_a", "model_b"]].assign(winner="model_a")
    store.add_battles(human)
    store.upsert_models(
        [{"model": m, "family": m.split("-")[0]} for m in ("mine-1", "other-1", "other-2")]
    )
    panel = judge_panel(store.battles(), store.models(), Settings(resamples=50, seed=0))
    assert panel.available and panel.items[0]["row_keys"] == ["mine-1"]
    row = panel.items[0]["rows"][0]
    position = position_consistency(judged_from_battles(store.battles(), "mine-1"), bootstrap=50)
    assert row[2]["value"] == pytest.approx(position.agreement)
    assert row[3]["value"] == pytest.approx(position.first_rate)
    kappa = judge_agreement(store.battles(), "mine-1", bootstrap=50)
    assert row[5]["value"] == pytest.approx(kappa.kappa) and row[6]["value"] == len(judged)
    assert row[7]["value"] is not None  # the family is known: self-preference shown
    data = json.loads(json.dumps(panel.to_dict()))
    assert set(data["data"]) == {"mine-1: position", "mine-1: agreement", "mine-1: self_preference"}
    empty = judge_panel(store.battles().query("judge != 'mine-1'"), store.models())
    assert not empty.available and "assay judge pairwise" in empty.note
