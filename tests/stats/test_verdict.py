"""``stats.verdict``: which pairs differ by one change, and better / worse / no detectable
difference per task from compare's adjusted p-values, on data with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay import stats
from assay.errors import InputError


def _scores(answers: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    """Long scores rows: ``answers[model][task]`` is the 0/1 vector over documents."""
    frames = [
        pd.DataFrame(
            {
                "model": model,
                "task": task,
                "doc_id": [f"{task}-{i}" for i in range(len(v))],
                "repeat": 0,
                "metric": "acc",
                "value": v.astype(float),
            }
        )
        for model, tasks in answers.items()
        for task, v in tasks.items()
    ]
    return pd.concat(frames, ignore_index=True)


N = 80
OLD = {
    "up": np.r_[np.ones(40), np.zeros(40)],
    "down": np.ones(N),
    "flat": np.r_[np.ones(40), np.zeros(40)],
}
NEW = {
    "up": np.ones(N),  # +0.5: the 40 wrong answers all turn right
    "down": np.r_[np.ones(50), np.zeros(30)],  # −0.375
    "flat": np.r_[np.ones(38), np.zeros(2), np.ones(2), np.zeros(38)],  # 2 flips each way: 0
}
MODELS = pd.DataFrame(
    {
        "model": ["base", "base-int8", "other"],
        "parent": [None, "base", None],
        "spec": ["hf:org/base", "hf:org/base,quantize=int8", "hf:org/other"],
    }
)


def comp_scores() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    other = {t: (rng.random(N) < 0.5).astype(float) for t in OLD}
    return _scores({"base": OLD, "base-int8": NEW, "other": other})


@pytest.fixture(scope="module")
def comp():
    return stats.compare(comp_scores())


def test_parent_pair_counts_tasks_by_adjusted_p(comp):
    v = stats.verdict(comp, models=MODELS)
    assert [(p.model, p.baseline, p.change) for p in v.pairs] == [
        ("base-int8", "base", "int8 quantisation")
    ]
    rows = v.pairs[0].rows.set_index("task")
    assert rows.loc["up", "diff"] == pytest.approx(0.5)
    assert rows.loc["down", "diff"] == pytest.approx(-0.375)
    assert rows.loc["flat", "diff"] == pytest.approx(0.0)
    pairs = comp.pairs[(comp.pairs["model_a"] == "base") & (comp.pairs["model_b"] == "base-int8")]
    p = dict(zip(pairs["task"], pairs["p_adjusted"], strict=True))
    assert rows.loc["flat", "p_adjusted"] == pytest.approx(p["flat"]) and p["flat"] > 0.05
    assert p["up"] < 0.05 and p["down"] < 0.05
    assert v.pairs[0].counts == {"better": 1, "worse": 1, "no detectable difference": 1}
    # regressions first: the most negative difference on top
    assert list(v.table["task"]) == ["down", "flat", "up"]
    s = v.sentences[0]
    assert s.startswith("base-int8 against base (int8 quantisation): better on 1 task (up +0.500")
    assert "worse on 1 task (down -0.375" in s and "no detectable difference on 1 (flat" in s
    assert "No detectable difference is not the same as no difference" in v.caveat


def test_baseline_puts_every_model_against_it(comp):
    v = stats.verdict(comp, models=MODELS, baseline="base")
    assert {p.model for p in v.pairs} == {"base-int8", "other"}
    assert list(v.table["improvement"]) == sorted(v.table["improvement"])
    down = v.table[(v.table["model"] == "base-int8") & (v.table["task"] == "down")].iloc[0]
    assert (down["verdict"], down["diff"]) == ("worse", pytest.approx(-0.375))
    with pytest.raises(InputError, match="unknown baseline 'nope'"):
        stats.verdict(comp, baseline="nope")


def test_without_relations_every_model_meets_the_leader():
    up = stats.compare(comp_scores(), tasks=["up"])  # base-int8 leads: all 80 right
    v = stats.verdict(up)  # no metadata: the leader (best mean rank) is the reference
    assert {p.baseline for p in v.pairs} == {"base-int8"}
    assert {p.model for p in v.pairs} == {"base", "other"}
    single = stats.compare(_scores({"base": OLD}))
    assert (
        stats.verdict(single).pairs == [] and "Only base has scores" in stats.verdict(single).note
    )


def test_one_change_pairs_reads_parents_specs_and_few_shot():
    models = pd.DataFrame(
        {
            "model": ["m", "m-int8", "m-3shot", "ft"],
            "parent": [None, "m", None, "m"],
            "spec": [
                "smollm2-135m",
                "smollm2-135m,quantize=int8",
                "smollm2-135m,name=m-3shot",
                "hf:org/ft",
            ],
        }
    )
    runs = pd.DataFrame(
        {
            "model": ["m", "m-int8", "m-3shot", "ft"],
            "num_fewshot": [None, None, 3, 0],
            "settings": [None, '{"quantization": "int8"}', None, None],
        }
    )
    pairs = stats.one_change_pairs(["m", "m-int8", "m-3shot", "ft"], models, runs)
    assert pairs == [
        ("m-int8", "m", "int8 quantisation"),
        ("ft", "m", "child of its parent"),
        ("m-3shot", "m", "3-shot against 0-shot prompts"),
    ]
    # the quantisation is read from the run settings when the spec does not say
    models.loc[1, "spec"] = None
    assert stats.one_change_pairs(["m", "m-int8"], models, runs) == [
        ("m-int8", "m", "int8 quantisation")
    ]
