"""Task.instances and Task.score: determinism, few-shot, permutations, chat, metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assay.errors import InputError
from assay.requests import GenerateResult, LoglikelihoodResult, RollingResult
from assay.tasks import Task, load_task, make_docs
from assay.tasks._metrics import multiple_choice_metrics
from assay.tasks._render import render_chat


def capitals_task(**kw) -> Task:
    rows = [
        {
            "doc_id": f"c{i}",
            "question": f"Capital of {c}?",
            "choices": ch,
            "answer": a,
            "difficulty": i % 3,
        }
        for i, (c, ch, a) in enumerate(
            [
                ("France", ["Paris", "Lyon", "Nice"], "Paris"),
                ("Italy", ["Milan", "Rome", "Turin"], "Rome"),
                ("Spain", ["Madrid", "Seville", "Bilbao"], "Madrid"),
                ("Japan", ["Osaka", "Kyoto", "Tokyo"], "Tokyo"),
                ("Peru", ["Cusco", "Lima", "Arequipa"], "Lima"),
                ("Chile", ["Santiago", "Valparaiso", "Arica"], "Santiago"),
            ]
        )
    ]
    options = dict(
        name="capitals",
        request_type="multiple_choice",
        docs=make_docs(rows),
        templates={
            "qa": "Q: {{ question }}\nA:",
            "abc": "Q: {{ question }}\n{{ choice_list }}\nA:",
        },
        template_framing={"abc": "lettered"},
        target="answer",
        choices="choices",
    )
    options.update(kw)
    return Task(**options)


def ll(values, tokens=None):
    tokens = tokens or [1] * len(values)
    return [LoglikelihoodResult(v, False, 5, t) for v, t in zip(values, tokens, strict=True)]


def test_same_seed_same_prompts_other_seed_other_shots():
    task = load_task("arith_mc")
    a = task.instances(limit=20, num_fewshot=3, seed=1, permute_choices=2)
    b = task.instances(limit=20, num_fewshot=3, seed=1, permute_choices=2)
    c = task.instances(limit=20, num_fewshot=3, seed=2, permute_choices=2)
    assert [i.requests for i in a] == [i.requests for i in b]
    assert [i.prompt_hash for i in a] == [i.prompt_hash for i in b]
    assert [i.prompt for i in a] != [i.prompt for i in c]


def test_fewshot_never_contains_the_document():
    task = capitals_task(num_fewshot=5)  # 6 docs: the other five, always
    for seed in range(5):
        for inst in task.instances(seed=seed):
            assert inst.doc_id not in inst.metadata["fewshot_doc_ids"]
            assert len(inst.metadata["fewshot_doc_ids"]) == 5
            own_question = next(d["question"] for d in task.docs if d.doc_id == inst.doc_id)
            assert inst.prompt.count(own_question) == 1 and inst.prompt.endswith(
                f"Q: {own_question}\nA:"
            )
    # a duplicate of the doc under another id is excluded too (same content hash)
    docs = make_docs(
        [{"question": "same", "choices": ["x", "y"], "answer": "x"}] * 3
        + [{"question": "other", "choices": ["x", "y"], "answer": "y"}]
    )
    dup = capitals_task(docs=docs, num_fewshot=1)
    for inst in dup.instances(seed=3):
        if inst.doc_id != "3":
            assert inst.metadata["fewshot_doc_ids"] == ["3"]


def test_fewshot_examples_show_gold_answer_and_too_many_shots_error():
    task = capitals_task(num_fewshot=1)
    inst = task.instances(limit=1, seed=0)[0]
    shot = task.docs[[d.doc_id for d in task.docs].index(inst.metadata["fewshot_doc_ids"][0])]
    assert inst.prompt.startswith(f"Q: {shot['question']}\nA: {shot['answer']}\n\n")
    lettered = task.instances(limit=1, seed=0, template_id="abc")[0]
    letter = "ABC"[shot["choices"].index(shot["answer"])]
    assert f"A: {letter}\n\n" in lettered.prompt
    with pytest.raises(InputError, match="num_fewshot=6 but only 5"):
        task.instances(num_fewshot=6)


def test_permutation_bookkeeping_maps_back_to_the_right_choice():
    task = capitals_task()
    insts = task.instances(permute_choices=3, seed=4)
    assert len(insts) == 6 * 3
    for inst in insts:
        shown = [r.continuation[1:] for r in inst.requests]
        assert shown == [inst.choices[j] for j in inst.choice_order]
        pos = inst.payload.target_position
        assert (
            shown[pos]
            == inst.choices[inst.target_index]
            == task.docs[int(inst.doc_id[1:])]["answer"]
        )
        assert inst.target == shown[pos]
        # a model that always picks the right text is right under every ordering
        lls = [-1.0 if c == shown[pos] else -5.0 for c in shown]
        scored = task.score(inst, ll(lls))
        assert scored.metrics["acc"] == 1.0
        assert (
            inst.choices[inst.choice_order[scored.chosen_position]]
            == inst.choices[inst.target_index]
        )
        assert scored.prediction == shown[pos]
    by_doc = {}
    for inst in insts:
        by_doc.setdefault(inst.doc_id, []).append(inst)
    for group in by_doc.values():
        assert sorted(i.repeat for i in group) == [0, 1, 2]
        # cyclic shifts: the correct choice sits at three different positions
        assert len({i.payload.target_position for i in group}) == 3
    # permute_choices=0 keeps the original order
    assert all(i.choice_order == [0, 1, 2] for i in task.instances())


def test_repeat_numbering_with_repeats_and_orderings():
    task = capitals_task()
    insts = task.instances(limit=1, permute_choices=2, repeats=3)
    assert [(i.metadata["ordering"], i.metadata["sample"], i.repeat) for i in insts] == [
        (o, s, o * 3 + s) for o in range(2) for s in range(3)
    ]


def test_lettered_framing_requests():
    task = capitals_task()
    inst = task.instances(limit=1, template_id="abc")[0]
    assert [r.continuation for r in inst.requests] == [" A", " B", " C"]
    assert "A. Paris\nB. Lyon\nC. Nice" in inst.prompt
    scored = task.score(inst, ll([-1.0, -0.5, -2.0]))
    assert scored.chosen_position == 1 and scored.metrics["acc"] == 0.0
    assert scored.prediction == "Lyon"


def test_mc_metrics_known_answers():
    # hand-computed: lengths 1, 10, 3 chars; ll/len = -1, -0.3, -1 -> acc_norm picks 1
    lls = [-1.0, -3.0, -3.0]
    conts = ["a", "abcdefghij", "abc"]
    m = multiple_choice_metrics(lls, conts, correct=1, token_counts=[1, 2, 3])
    assert m["acc"] == 0.0  # argmax ll is 0
    assert m["acc_norm"] == 1.0
    assert m["acc_bytes"] == 1.0
    assert m["acc_tokens"] == 0.0  # -1, -1.5, -1 -> position 0 (first of the tie)
    z = math.exp(-1) + 2 * math.exp(-3)
    p = [math.exp(-1) / z, math.exp(-3) / z, math.exp(-3) / z]
    assert m["p_correct"] == pytest.approx(p[1], rel=1e-12)
    assert m["logprob_correct"] == -3.0
    assert m["brier"] == pytest.approx(p[0] ** 2 + (p[1] - 1) ** 2 + p[2] ** 2, rel=1e-12)
    # bytes differ from characters for non-ASCII text: "é" is 2 bytes
    m2 = multiple_choice_metrics([-1.5, -2.0], ["é", "ab"], correct=1)
    assert (m2["acc_norm"], m2["acc_bytes"]) == (1.0, 0.0)  # chars -1.5 vs -1; bytes -0.75 vs -1
    assert math.isnan(multiple_choice_metrics([-1.0, -2.0], ["a", "b"], 0)["acc_tokens"])


def test_acc_norm_matches_lm_eval_definition():
    """lm-eval: pred_norm = argmax(lls / len(choice)), the choice text without the delimiter."""
    rng = np.random.default_rng(0)
    task = load_task("sort_mc")
    for inst in task.instances(limit=30, permute_choices=2):
        lls = rng.normal(-8, 3, size=len(inst.requests))
        choices = [inst.choices[j] for j in inst.choice_order]  # lm-eval's doc_to_choice
        expected = float(
            np.argmax(lls / np.array([float(len(c)) for c in choices]))
            == inst.payload.target_position
        )
        assert task.score(inst, ll(list(lls))).metrics["acc_norm"] == expected


def test_generate_requests_filters_and_sampling_seeds():
    task = load_task("arith_gen")
    inst = task.instances(limit=1)[0]
    req = inst.requests[0]
    assert req.stop == ("\n",) and req.max_new_tokens <= 16 and req.temperature == 0
    target = inst.target
    good = task.score(inst, [GenerateResult(f" {target}.\nmore", 9, 3)])
    assert good.metrics == {"exact_match": 1.0, "f1": 1.0} and good.prediction == target
    bad = task.score(inst, [GenerateResult(" I think 3", 9, 3)])
    assert bad.metrics["exact_match"] == 0.0
    import dataclasses

    hot = dataclasses.replace(task, temperature=0.7)
    insts = hot.instances(limit=2, repeats=3, seed=5)
    seeds = [i.requests[0].seed for i in insts]
    assert seeds[:3] == [hot_seed(5, r) for r in range(3)]
    assert len(set(seeds[:3])) == 3 and seeds[:3] == seeds[3:]
    assert hot.instances(limit=2, repeats=3, seed=5)[1].requests == insts[1].requests


def hot_seed(seed, repeat):
    return (seed * 1_000_003 + repeat) % (2**31 - 1)


def test_generate_f1_and_normalize_filter():
    docs = make_docs([{"q": "Who?", "a": "The Queen of Hearts"}])
    task = Task(
        name="who",
        request_type="generate",
        docs=docs,
        templates={"t": "{{ q }}"},
        target="a",
        filters=["first_line", "normalize"],
    )
    inst = task.instances()[0]
    scored = task.score(inst, [GenerateResult("queen of hearts!\nblah", 2, 5)])
    assert scored.metrics["exact_match"] == 1.0
    partial = task.score(inst, [GenerateResult("the queen", 2, 5)])
    # tokens: pred [queen], gold [queen, of, hearts]: P=1, R=1/3 -> F1 = 0.5
    assert partial.metrics["f1"] == pytest.approx(0.5)


def test_rolling_metrics_and_aggregate():
    import pandas as pd

    from assay.tasks import aggregate_rolling

    task = load_task("sequence_rolling")
    insts = task.instances(limit=3)
    scored = [task.score(i, [RollingResult(-10.0 * (k + 1), 7)]) for k, i in enumerate(insts)]
    text = insts[0].requests[0].text
    assert scored[0].metrics["bytes"] == len(text.encode()) and scored[0].metrics["words"] == len(
        text.split()
    )
    df = pd.DataFrame([{"model": "m", "task": "t", **s.metrics} for s in scored])
    out = aggregate_rolling(df).iloc[0]
    lp, b, w = df["logprob"].sum(), df["bytes"].sum(), df["words"].sum()
    assert out["bits_per_byte"] == pytest.approx(-lp / b / math.log(2))
    assert out["byte_perplexity"] == pytest.approx(math.exp(-lp / b))
    assert out["word_perplexity"] == pytest.approx(math.exp(-lp / w))
    assert out["n"] == 3 and out["bits_per_byte_se"] > 0
    tidy = df.melt(id_vars=["model", "task"], var_name="metric", value_name="value")
    tidy["doc_id"] = list(range(3)) * (len(tidy) // 3)
    assert aggregate_rolling(tidy).iloc[0]["bits_per_byte"] == pytest.approx(out["bits_per_byte"])


def test_chat_rendering_for_loglikelihood_and_flag_for_generation():
    task = capitals_task(chat=True)
    inst = task.instances(limit=1)[0]
    assert (
        inst.prompt
        == "<|im_start|>user\nQ: Capital of France?\nA:<|im_end|>\n<|im_start|>assistant\n"
    )
    assert inst.requests[0].continuation == "Paris"  # no delimiter after the assistant header
    assert inst.metadata["chat"] and inst.metadata["user_message"] == "Q: Capital of France?\nA:"
    custom = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}[assistant]"
    task2 = capitals_task(chat=True, chat_template=custom, system_prompt="Be brief.")
    assert (
        task2.instances(limit=1)[0].prompt
        == "[system] Be brief.\n[user] Q: Capital of France?\nA:\n[assistant]"
    )
    assert render_chat("hi") == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    gen = Task(
        name="g",
        request_type="generate",
        docs=make_docs([{"q": "hi", "a": "x"}]),
        templates={"t": "{{ q }}"},
        target="a",
        chat=True,
    )
    req = gen.instances()[0].requests[0]
    assert req.chat is True and req.context == "hi"


def test_template_error_names_doc_id():
    docs = make_docs(
        [
            {"question": "ok", "choices": ["a", "b"], "answer": "a"},
            {"doc_id": "broken-7", "choices": ["a", "b"], "answer": "a"},
        ]
    )
    task = capitals_task(docs=docs, templates={"qa": "{{ question }}"})
    with pytest.raises(InputError, match=r"template 'qa', doc_id 'broken-7'.*question"):
        task.instances()
    bad_target = capitals_task(
        docs=make_docs([{"question": "q", "choices": ["a"], "answer": "z", "doc_id": "d1"}])
    )
    with pytest.raises(InputError, match=r"doc_id 'd1'.*'z' is not one of the choices"):
        bad_target.instances()
    with pytest.raises(InputError, match="unknown template 'nope'"):
        capitals_task().instances(template_id="nope")


def test_fingerprint_tracks_prompt_changes():
    base = capitals_task()
    assert base.fingerprint() == capitals_task().fingerprint()
    assert (
        base.fingerprint()
        != capitals_task(templates={"qa": "Question: {{ question }}"}).fingerprint()
    )
    assert base.fingerprint() != capitals_task(num_fewshot=2).fingerprint()
    assert base.fingerprint() != capitals_task(docs=base.docs[:-1]).fingerprint()
    assert base.fingerprint() == capitals_task(name="renamed").fingerprint()


def test_bad_task_definitions():
    with pytest.raises(InputError, match="request_type 'mc'"):
        capitals_task(request_type="mc")
    with pytest.raises(InputError, match="duplicate doc_id 'x'"):
        capitals_task(
            docs=make_docs([{"doc_id": "x", "question": "a"}, {"doc_id": "x", "question": "b"}])
        )
    with pytest.raises(InputError, match="unknown answer filter 'wat'"):
        Task(name="g", request_type="generate", docs=[], templates={"t": "x"}, filters=["wat"])


def test_lettered_framing_under_permutation():
    task = capitals_task()
    for inst in task.instances(template_id="abc", permute_choices=3, seed=9):
        shown = [inst.choices[j] for j in inst.choice_order]
        pos = inst.payload.target_position
        assert f"{'ABC'[pos]}. {inst.choices[inst.target_index]}" in inst.prompt
        assert "\n".join(f"{a}. {c}" for a, c in zip("ABC", shown, strict=True)) in inst.prompt
        lls = [-0.1 if i == pos else -3.0 for i in range(3)]
        assert task.score(inst, ll(lls)).metrics["acc"] == 1.0


def test_filters():
    from assay.tasks._filters import make_filter

    letter = make_filter(["choice_letter"])
    assert letter(" I pick (B) because") == "B"
    assert [letter(t) for t in (" C. Rome", "The answer is D", "B", "I think A", "none")] == [
        "C",
        "D",
        "B",
        "A",
        "",
    ]
    assert make_filter(["first_number"])("about 1,234.5 apples") == "1234.5"
    assert make_filter(["first_line", "lower"])("\n  Hello World\nsecond") == "hello world"
    assert make_filter(["regex:answer is (\\w+)"])("so the answer is Paris.") == "Paris"
    assert (
        make_filter([{"function": "regex", "regex_pattern": r"#### (\-?[0-9\.\,]+)"}])("x #### 42")
        == "42"
    )
    assert make_filter(["normalize"])("The  Cat, sat!") == "cat sat"
    with pytest.raises(InputError, match="bad regex filter"):
        make_filter(["regex:("])


def test_tempting_distractor_metrics():
    task = load_task("distractor_mc")
    inst = task.instances(limit=1, permute_choices=2)[1]
    doc = next(d for d in task.docs if d.doc_id == inst.doc_id)
    pos = [inst.choices[j] for j in inst.choice_order].index(doc["tempting"])
    lls = [-4.0] * len(inst.requests)
    lls[pos] = -1.0
    m = task.score(inst, ll(lls)).metrics
    expected = math.exp(-1.0) / (math.exp(-1.0) + (len(lls) - 1) * math.exp(-4.0))
    assert m["chose_tempting"] == 1.0 and m["acc"] == 0.0
    assert m["p_tempting"] == pytest.approx(expected)
    assert (
        "chose_tempting"
        not in capitals_task()
        .score(capitals_task().instances(limit=1)[0], ll([-1.0, -2.0, -3.0]))
        .metrics
    )


def test_tempting_in_generation():
    task = load_task("distractor_gen")
    inst = task.instances(limit=1)[0]  # "Redefine + to mean subtraction. What is 5 + 2?"
    doc = next(d for d in task.docs if d.doc_id == inst.doc_id)
    a, b = (int(x) for x in doc["question"].split("What is ")[1].rstrip("?").split(" + "))
    tempted = task.score(inst, [GenerateResult(f" {a + b}", 5, 2)]).metrics
    right = task.score(inst, [GenerateResult(f" {a - b}", 5, 2)]).metrics
    assert (tempted["chose_tempting"], tempted["exact_match"]) == (1.0, 0.0)
    assert (right["chose_tempting"], right["exact_match"]) == (0.0, 1.0)
