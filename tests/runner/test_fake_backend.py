"""The shared fake backend itself: pure answers, exact knowledge, counting, crashing, and no
torch or network on import or use."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fake_backend import KNOWN_RATE, UNKNOWN_RATE, FakeBackend, FakeCrash, answer_key, unit

from assay.requests import GenerateRequest, LoglikelihoodRequest, RollingRequest
from assay.runner import score_instances
from assay.tasks import load_task

SUPPORT = Path(__file__).resolve().parents[1] / "support"


def test_answers_are_a_pure_function_of_the_request():
    reqs = [LoglikelihoodRequest("2 + 2 =", f" {k}") for k in range(4)]
    one, two = FakeBackend(), FakeBackend(name="other")
    assert one.loglikelihood(reqs) == two.loglikelihood(list(reversed(reqs)))[::-1]
    (a,) = one.loglikelihood([LoglikelihoodRequest("two words", " three more words")])
    assert (a.context_tokens, a.continuation_tokens) == (2, 3) and not a.is_greedy
    assert a.logprob == pytest.approx(-(1 + unit("ll", "two words", " three more words")) * 16)
    (r,) = one.loglikelihood_rolling([RollingRequest("1, 2, 3")])
    assert r.tokens == 3 and r.logprob == -(1 + unit("rolling", "1, 2, 3")) * 3
    gens = one.generate([GenerateRequest("Q?"), GenerateRequest("Q?")])
    assert gens[0] == gens[1] and gens[0].text.startswith("fake ")
    assert not any(c.isdigit() for c in gens[0].text)  # first_number finds nothing
    assert one.tokens("a b  c") == 3


def test_generation_is_configurable_and_honours_stop_and_length():
    fixed = FakeBackend(generation="42\nand more words")
    (g,) = fixed.generate([GenerateRequest("Q?", stop=("\n",))])
    assert (g.text, g.input_tokens, g.output_tokens) == ("42", 1, 1)
    echo = FakeBackend(generation=lambda r: f"{r.context} one two three")
    (g,) = echo.generate([GenerateRequest("ctx", max_new_tokens=2)])
    assert g.text == "ctx one"


def test_skill_picks_a_fixed_subset_and_knowing_means_right():
    task = load_task("arith_mc")
    instances = task.instances(limit=60)
    key = answer_key(instances)
    assert len(key) == 60
    half = FakeBackend(answers=key, skill=0.5)
    known = [half.knows(i.prompt) for i in instances]
    assert 0 < sum(known) < 60
    assert known == [FakeBackend(answers=key, skill=0.5).knows(i.prompt) for i in instances]
    # more skill knows a superset
    more = FakeBackend(answers=key, skill=0.8)
    assert all(more.knows(i.prompt) for i, k in zip(instances, known, strict=True) if k)
    assert not FakeBackend(answers=key, skill=0.0).knows(instances[0].prompt)
    assert not FakeBackend(skill=1.0).knows(instances[0].prompt)  # not in the key
    with pytest.raises(ValueError, match="skill"):
        FakeBackend(skill=1.5)

    records = score_instances(half, instances, task)
    for rec, inst, k in zip(records, instances, known, strict=True):
        for metric in ("acc", "acc_norm", "acc_bytes", "acc_tokens"):
            assert rec.metrics[metric] == float(k)
        rate = KNOWN_RATE if k else UNKNOWN_RATE
        assert rec.metrics["logprob_correct"] == pytest.approx(-rate * len(inst.target))
        assert (rec.prediction == inst.target) == k


@pytest.mark.parametrize("template", ["qa", "lettered"])
def test_answer_key_follows_permuted_choices(template):
    task = load_task("arith_mc")
    instances = task.instances(limit=10, permute_choices=3, template_id=template)
    assert len(instances) == 30 and any(i.choice_order != [0, 1, 2, 3] for i in instances)
    fake = FakeBackend(answers=answer_key(instances), skill=1.0)
    records = score_instances(fake, instances, task)
    assert [r.metrics["acc"] for r in records] == [1.0] * 30
    assert [r.prediction for r in records] == [i.target for i in instances]


def test_sampled_generations_are_known_per_seed():
    task = load_task("arith_gen")
    greedy = task.instances(limit=40)
    fake = FakeBackend(answers=answer_key(greedy), skill=0.5)
    sampled = [GenerateRequest(i.prompt, temperature=0.7, seed=s) for i in greedy for s in (1, 2)]
    texts = [g.text for g in fake.generate(sampled)]
    right = [t == i.target for t, i in zip(texts, [i for i in greedy for _ in (1, 2)], strict=True)]
    assert right == [fake.knows(r.context, r.seed) for r in sampled]
    assert right[0::2] != right[1::2]  # the two seeds of a document differ somewhere


def test_counts_and_crash_after_n_requests():
    fake = FakeBackend(fail_after=5)
    reqs = [LoglikelihoodRequest("c", f" {k}") for k in range(3)]
    fake.loglikelihood(reqs)
    fake.generate([GenerateRequest("g")])
    assert fake.calls == {"loglikelihood": 1, "generate": 1} and fake.total == 4
    assert fake.seen == [*reqs, GenerateRequest("g")]
    with pytest.raises(FakeCrash, match="after 4 requests"):
        fake.loglikelihood(reqs)  # 4 + 3 > 5: nothing of this call is answered
    assert fake.total == 4 and fake.calls["loglikelihood"] == 2
    fake.loglikelihood_rolling([RollingRequest("x")])  # 5 is still within the budget
    assert fake.answered == {"loglikelihood": 3, "generate": 1, "loglikelihood_rolling": 1}
    fake.reset()
    assert fake.total == 0 and not fake.calls and not fake.seen


def test_evaluate_with_the_fake_needs_no_torch_and_no_network(tmp_path):
    script = textwrap.dedent(
        f"""
        import socket, sys
        sys.path.insert(0, {str(SUPPORT)!r})

        def refuse(*args, **kwargs):
            raise AssertionError("network used")

        socket.socket.connect = socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        from fake_backend import FakeBackend
        from assay.runner import evaluate

        result = evaluate(
            FakeBackend(), ["arith_mc", "arith_gen", "sequence_rolling"],
            store={str(tmp_path / "s.duckdb")!r}, limit=3, progress=False,
        )
        assert result.new_samples == 9, result
        heavy = {{"torch", "transformers", "llama_cpp", "httpx"}} & set(sys.modules)
        assert not heavy, heavy
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "ASSAY_DEBUG"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr


def test_answer_key_merges_tasks_that_agree_and_refuses_conflicts():
    mc, gen = (load_task(n).instances(limit=20) for n in ("arith_mc", "arith_gen"))
    assert {i.prompt for i in mc} == {i.prompt for i in gen}  # the same questions
    key = answer_key([*mc, *gen])
    assert key == answer_key(mc) == answer_key(gen)
    assert key[mc[0].prompt] == mc[0].target == "16"
    clash = [LoglikelihoodRequest(gen[0].prompt, " 3"), LoglikelihoodRequest(gen[0].prompt, " 4")]
    other = dataclasses.replace(mc[0], requests=clash, target_index=1, choice_order=None)
    with pytest.raises(ValueError, match="answers '16' and '4'"):
        answer_key([*gen, other])
    rolling = load_task("sequence_rolling").instances(limit=3)
    assert answer_key(rolling) == {}
