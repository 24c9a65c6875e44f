"""The built-in suite: every answer re-derived here by an independent computation."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import pytest

from assay.tasks import BUILTIN_SUITE, list_tasks, load_task

MC_TASKS = [
    "arith_mc",
    "alice_mc",
    "count_letters_mc",
    "sort_mc",
    "dates_mc",
    "logic_tf",
    "distractor_mc",
]


def answers(name):
    task = load_task(name)
    for doc in task.docs:
        yield doc, doc["choices"][doc["target"]]


def test_arithmetic_answers():
    for doc, answer in answers("arith_mc"):
        a, op, b = re.fullmatch(r"What is (\d+) ([+-]) (\d+)\?", doc["question"]).groups()
        expected = int(a) + int(b) if op == "+" else int(a) - int(b)
        assert int(answer) == expected
        assert len(a) == int(doc.difficulty) or doc.difficulty == 1


def _sibling_answer(question: str) -> int:
    m = re.match(r"(\w+) has (\d+) brothers and (\d+) sisters\.", question)
    name, brothers, sisters = m.group(1), int(m.group(2)), int(m.group(3))
    girls_names = {
        "Alice",
        "Carol",
        "Emma",
        "Grace",
        "Irene",
        "Kate",
        "Mia",
        "Olga",
        "Rosa",
        "Tara",
    }
    me = ("me", "girl" if name in girls_names else "boy")
    family = (
        [me]
        + [(f"b{i}", "boy") for i in range(brothers)]
        + [(f"s{i}", "girl") for i in range(sisters)]
    )
    asked = re.search(r"How many (brothers|sisters) does", question).group(1)
    gender = "boy" if asked == "brothers" else "girl"
    sib = re.search(r"'s (brother|sister) have\?", question)
    if sib is None:
        person = me
    else:
        want = "boy" if sib.group(1) == "brother" else "girl"
        person = next(p for p in family if p[1] == want and p is not me)
    return sum(1 for p in family if p is not person and p[1] == gender)


def test_alice_answers_by_enumerating_the_family():
    levels = Counter()
    for doc, answer in answers("alice_mc"):
        assert int(answer) == _sibling_answer(doc["question"]), doc.doc_id
        levels[doc.difficulty] += 1
    assert set(levels) == {1.0, 2.0, 3.0, 4.0}


def test_alice_gen_targets_match_mc():
    mc = {d.doc_id: d["choices"][d["target"]] for d in load_task("alice_mc").docs}
    gen = load_task("alice_gen")
    assert all(mc[d.doc_id] == d["answer"] for d in gen.docs)


def test_count_letters_answers():
    for doc, answer in answers("count_letters_mc"):
        letter, word = re.search(
            r'letter "(.)" appear in the word "(\w+)"', doc["question"]
        ).groups()
        assert int(answer) == sum(ch == letter for ch in word)


def test_sort_answers():
    for doc, answer in answers("sort_mc"):
        values = [int(v) for v in re.findall(r"\d+", doc["question"])]
        assert [int(v) for v in answer.split(", ")] == sorted(values)
        assert doc.difficulty == len(values) - 2


def test_dates_answers():
    monday = dt.date(2024, 1, 1)  # a Monday
    names = [(monday + dt.timedelta(days=i)).strftime("%A") for i in range(7)]
    for doc, answer in answers("dates_mc"):
        q = doc["question"]
        if q.startswith("Today is"):
            start, n = re.search(r"Today is (\w+)\. .* in (\d+) days", q).groups()
            day = monday + dt.timedelta(days=names.index(start) + int(n))
            assert answer == day.strftime("%A")
        else:
            n, start = re.search(r"What date is (\d+) days after ([\d-]+)\?", q).groups()
            day = dt.date.fromordinal(dt.date.fromisoformat(start).toordinal() + int(n))
            assert answer == day.isoformat()


def test_logic_answers_by_graph_reachability():
    for doc, answer in answers("logic_tf"):
        q = doc["question"]
        edges = re.findall(r"(\w+) is \w+ than (\w+)\.", q.split(" True or false: ")[0])
        x, y = re.search(r"True or false: (\w+) is \w+ than (\w+)\.", q).groups()
        reach, frontier = set(), {x}
        while frontier:
            frontier = {b for a, b in edges if a in frontier} - reach
            reach |= frontier
        assert answer == ("True" if y in reach else "False"), doc.doc_id
        assert len(edges) == doc.difficulty
    truths = [doc["answer"] == "True" for doc in load_task("logic_tf").ordered_docs(40)]
    assert sum(truths) == 20  # balanced, also within the default limit


def test_redefine_answers_and_tempting():
    for doc, answer in answers("distractor_mc"):
        q = doc["question"]
        if m := re.search(r"What is (\d+) \+ (\d+)\?", q):
            a, b = map(int, m.groups())
            assert (int(answer), int(doc["tempting"])) == (a - b, a + b)
        elif m := re.search(r"What is (\d+) × (\d+)\?", q):
            a, b = map(int, m.groups())
            assert (int(answer), int(doc["tempting"])) == (a + b, a * b)
        else:
            new = re.search(r"as (\d+)\.", q).group(1)
            assert answer == new[0] and answer != doc["tempting"]
        assert doc["tempting"] in doc["choices"]


@pytest.mark.parametrize("name", MC_TASKS)
def test_mc_tasks_shape(name):
    task = load_task(name)
    assert 100 <= len(task.docs) <= 500
    assert len(task.difficulty_levels) >= 3
    for doc in task.docs:
        assert len(set(doc["choices"])) == len(doc["choices"]) == (2 if name == "logic_tf" else 4)
    # short contexts keep the default suite fast
    inst = task.instances(limit=40)
    assert max(len(i.prompt) for i in inst) < 400


def test_limit_spreads_difficulty_levels():
    task = load_task("arith_mc")
    first = task.ordered_docs(10)
    assert [d.difficulty for d in first] == [1, 2, 3, 4, 5, 1, 2, 3, 4, 5]
    assert {d.doc_id for d in task.ordered_docs()} == {d.doc_id for d in task.docs}


def test_suite_is_small_and_listed():
    names = {r["name"]: r for r in list_tasks()}
    assert set(BUILTIN_SUITE) <= set(names)
    generative = [n for n in BUILTIN_SUITE if names[n]["type"] == "generate"]
    assert 1 <= len(generative) <= 2
    for name in generative:
        assert load_task(name).max_new_tokens <= 16


def test_generated_docs_are_deterministic():
    from assay.tasks import _generators as gen

    assert gen.arithmetic(5) == gen.arithmetic(5)
    assert gen.arithmetic(5) != gen.arithmetic(6)


def test_rolling_builtin():
    task = load_task("sequence_rolling")
    inst = task.instances(limit=4)
    assert [i.requests[0].text for i in inst] == [task.ordered_docs(4)[j]["text"] for j in range(4)]
    assert inst[0].requests[0].text.startswith(str(task.ordered_docs(1)[0]["values"][0]))
