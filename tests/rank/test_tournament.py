"""Varco Arena tournaments: bracket bookkeeping with deterministic judges."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from assay.errors import InputError
from assay.rank import Judge, ModelJudge, read_outputs, run_tournament
from assay.requests import GenerateResult, LoglikelihoodResult


class LongerAnswerJudge:
    """Prefers the longer answer; logs every call."""

    name = "longer"

    def __init__(self):
        self.calls: list[tuple[str, str, str]] = []

    def compare(self, prompt, answer_a, answer_b):
        self.calls.append((prompt, answer_a, answer_b))
        if len(answer_a) == len(answer_b):
            return "tie"
        return "A" if len(answer_a) > len(answer_b) else "B"


class FirstPositionJudge:
    """Always says A: pure position bias, so swapped verdicts always disagree."""

    def compare(self, prompt, answer_a, answer_b):
        return "A"


def make_outputs(n_models=7, n_prompts=10, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_prompts):
        present = np.flatnonzero(rng.random(n_models) < 0.75)
        if len(present) < 2:
            present = np.array([0, n_models - 1])
        for m in present:  # model m's answer has m + 1 words: longer is better
            rows.append(
                {
                    "prompt_id": f"p{p}",
                    "prompt": f"question {p}",
                    "model": f"m{m}",
                    "output": " ".join(["word"] * (m + 1)) + f" [{p}]",
                }
            )
    return pd.DataFrame(rows)


def test_every_match_is_judged_twice_with_positions_swapped():
    outputs = make_outputs()
    judge = LongerAnswerJudge()
    result = run_tournament(outputs, judge, seed=3, bootstrap=20)
    per_prompt = outputs.groupby("prompt_id").size()
    assert result.judge_calls == len(judge.calls) == int(2 * (per_prompt - 1).sum())
    assert result.round_robin_calls == int((per_prompt * (per_prompt - 1)).sum())
    assert result.savings == pytest.approx(1 - result.judge_calls / result.round_robin_calls)
    # each call (prompt, x, y) has its mirror (prompt, y, x)
    calls = pd.Series(judge.calls).value_counts()
    for (prompt, a, b), times in calls.items():
        assert calls.get((prompt, b, a)) == times
    battles = result.battles
    assert (battles.groupby("prompt_id").size() == (per_prompt - 1)).all()  # n − 1 matches
    assert (battles["verdict_ab"] != battles["verdict_ba"]).all()  # a consistent judge
    assert result.info["position_flips"] == 0.0
    assert set(battles["winner"]) <= {"model_a", "model_b"}
    # the bracket winner of each prompt is its longest answer: it wins all its matches
    for pid, group in battles.groupby("prompt_id"):
        best = outputs[outputs["prompt_id"] == pid]["model"].map(lambda m: int(m[1:])).max()
        wins = group.apply(
            lambda r: r["model_a"] if r["winner"] == "model_a" else r["model_b"], axis=1
        )
        played = pd.concat([group["model_a"], group["model_b"]])
        assert (played == f"m{best}").sum() == (wins == f"m{best}").sum()
        assert group["round"].nunique() == int(np.ceil(np.log2(per_prompt[pid])))  # rounds played
    assert result.ratings.table["model"].iloc[0] == "m6"


def test_position_bias_disagreement_counts_as_a_tie():
    result = run_tournament(make_outputs(), FirstPositionJudge(), seed=1, bootstrap=0)
    assert (result.battles["winner"] == "tie").all()
    assert result.info["position_flips"] == 1.0
    assert isinstance(FirstPositionJudge(), Judge)


def test_bracket_is_seeded_and_byes_only_in_the_first_round():
    outputs = pd.DataFrame(
        {
            "prompt_id": "p",
            "prompt": "q",
            "model": [f"m{i}" for i in range(5)],
            "output": ["x" * (i + 1) for i in range(5)],
        }
    )
    a = run_tournament(outputs, LongerAnswerJudge(), seed=9, bootstrap=0).battles
    b = run_tournament(outputs, LongerAnswerJudge(), seed=9, bootstrap=0).battles
    pd.testing.assert_frame_equal(a, b)
    n = len(outputs)
    size = 1 << int(np.ceil(np.log2(n)))
    byes = size - n
    # 5 players in a bracket of 8: 3 byes, so round 1 has one match, then 2, then the final
    assert byes == 3
    assert a.groupby("round").size().to_dict() == {1: 1, 2: 2, 3: 1}


class LengthBackend:
    """A stand-in backend: prefers the answer with more words, in both modes."""

    name = "length-judge"

    def __init__(self):
        self.batches = []

    def _answers(self, context):
        a = re.search(r"Answer A: (.*?)\n\nAnswer B:", context, re.S).group(1)
        b = re.search(r"Answer B: (.*?)\n\nWhich", context, re.S).group(1)
        return len(a.split()), len(b.split())

    def loglikelihood(self, requests):
        self.batches.append(len(requests))
        out = []
        for r in requests:
            a, b = self._answers(r.context)
            lp = -1.0 if (r.continuation == " A") == (a > b) else -3.0
            out.append(LoglikelihoodResult(lp, True, 10, 1))
        return out

    def generate(self, requests):
        return [
            GenerateResult(
                " A, clearly" if self._answers(r.context)[0] > self._answers(r.context)[1] else "B",
                5,
                2,
            )
            for r in requests
        ]


@pytest.mark.parametrize("mode", ["loglikelihood", "generate"])
def test_model_judge_batches_one_call_per_round(mode):
    backend = LengthBackend()
    judge = ModelJudge(backend, mode=mode)
    assert judge.compare("q", "one two three", "one") == "A"
    assert judge.compare("q", "one", "one two three") == "B"
    result = run_tournament(make_outputs(), judge, seed=2, bootstrap=0)
    assert result.ratings.table["model"].iloc[0] == "m6"
    assert result.info["judge"] == "length-judge"
    if mode == "loglikelihood":
        rounds = result.info["rounds"]
        assert len(backend.batches) == 2 + rounds  # two single compares, then one per round
        assert sum(backend.batches[2:]) == 2 * result.judge_calls  # " A" and " B" per call


def test_outputs_file_and_errors(tmp_path):
    path = tmp_path / "out.jsonl"
    rows = make_outputs(n_prompts=2).to_dict(orient="records")
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert len(read_outputs(path)) == len(rows)
    dup = pd.DataFrame(rows + rows[:1])
    with pytest.raises(InputError, match="two outputs for prompt"):
        run_tournament(dup, LongerAnswerJudge())
    with pytest.raises(InputError, match="missing field 'output'"):
        run_tournament(pd.DataFrame(rows).drop(columns="output"), LongerAnswerJudge())

    class Rude:
        def compare(self, prompt, a, b):
            return "both are bad"

    with pytest.raises(InputError, match="judge returned 'both are bad'"):
        run_tournament(pd.DataFrame(rows), Rude())


def test_cli_tournament_rejects_an_unknown_judge(tmp_path):
    from typer.testing import CliRunner

    from assay.cli import app

    path = tmp_path / "out.jsonl"
    rows = make_outputs(n_prompts=2).to_dict(orient="records")
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = CliRunner().invoke(app, ["arena", "tournament", str(path), "--judge", "no-such-judge"])
    assert res.exit_code != 0
    assert isinstance(res.exception, InputError)
    assert "unknown model 'no-such-judge'" in str(res.exception)
