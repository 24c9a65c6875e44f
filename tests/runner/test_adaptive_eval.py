"""``assay eval -m MODEL -t TASK --adaptive K`` with deterministic fakes."""

from __future__ import annotations

import json

import pytest
from cli_helpers import run_main
from fake_backend import FakeBackend, answer_key

from assay.runner import QuestionAsker, evaluate
from assay.store import open_store
from assay.tasks import load_task

TASK = "arith_mc"
SKILLS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def fake(name: str, skill: float) -> FakeBackend:
    return FakeBackend(name, answers=answer_key(load_task(TASK).instances()), skill=skill)


@pytest.fixture
def earlier(tmp_path, monkeypatch):
    """A store with nine earlier models on the first 60 questions; ``-m fake:new`` is a fake
    of skill 0.65, ``fake:m3`` one of the stored models."""
    import assay.models
    import assay.runner._asker as asker

    path = tmp_path / "s.duckdb"
    for k, skill in enumerate(SKILLS):
        evaluate(fake(f"m{k}", skill), TASK, store=path, limit=60, progress=False)
    fakes = {"fake:new": fake("new", 0.65), "fake:m3": fake("m3", 0.4)}
    real = asker.evaluate
    monkeypatch.setattr(asker, "evaluate", lambda m, *a, **k: real(fakes.get(m, m), *a, **k))
    monkeypatch.setattr(assay.models, "describe_spec", lambda spec: (spec.split(":")[1], None))
    return path, fakes


def test_adaptive_asks_k_questions_and_predicts(earlier):
    path, fakes = earlier
    argv = ["eval", "-m", "fake:new", "-t", TASK, "--adaptive", "12", "--store", str(path)]
    code, out, err = run_main([*argv, "--json"])
    assert code == 0, err
    data = json.loads(out)
    assert len(data["asked"]) == 12 == len(set(data["asked"])) and data["new_samples"] == 12
    assert data["n_items"] == 60 and data["n_models_fitted"] == 9
    samples = open_store(path).samples(model="new")
    assert sorted(samples["doc_id"]) == sorted(data["asked"])
    # the truth: the fake's mean over the 60 fitted questions
    first = load_task(TASK).instances(limit=60)
    truth = sum(fakes["fake:new"].knows(i.prompt) for i in first) / 60
    assert data["score_low"] <= data["score"] <= data["score_high"]
    assert abs(data["score"] - truth) < 0.15
    # again: the same questions, nothing computed
    code, out, err = run_main([*argv, "--json"])
    again = json.loads(out)
    assert again["asked"] == data["asked"] and again["new_samples"] == 0
    code, out, err = run_main([*argv])
    assert code == 0 and "predicted full score" in out


def test_asker_returns_scores_in_order(earlier):
    path, fakes = earlier
    ask = QuestionAsker(fakes["fake:m3"], TASK, store=path)
    ids = [str(i.doc_id) for i in load_task(TASK).instances(limit=6)]
    docs = [ids[5], ids[1]]  # stored already: nothing to compute
    values = ask(docs)
    stored = open_store(path).scores(model="m3", metric="acc").set_index("doc_id")["value"]
    assert values.tolist() == [stored[ids[5]], stored[ids[1]]] and ask.new_samples == 0
    assert ask.asked == docs


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--adaptive", "100"], "fitted questions"),
        (["--adaptive", "5", "--delta", "0.1"], "--delta"),
        (["--adaptive", "5", "--until-decided", "-m", "fake:m3"], "--adaptive"),
    ],
)
def test_adaptive_errors(earlier, extra, message):
    path, _ = earlier
    code, out, err = run_main(["eval", "-m", "fake:new", "-t", TASK, "--store", str(path), *extra])
    assert code != 0 and message in err and err.count("\n") == 1


def test_adaptive_needs_earlier_models(tmp_path):
    path = tmp_path / "s.duckdb"
    evaluate(fake("m0", 0.5), TASK, store=path, limit=20, progress=False)
    code, out, err = run_main(
        ["eval", "-m", "smollm2-135m", "-t", TASK, "--adaptive", "5", "--store", str(path)]
    )
    assert code != 0 and "at least 5" in err
