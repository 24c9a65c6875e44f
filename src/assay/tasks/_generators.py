"""Generators of the built-in suite: every answer is computed by code from a seed.

Each generator returns plain records with ``doc_id``, ``difficulty``, ``question``, ``choices``
(multiple-choice variants), ``target`` (index into ``choices``) and ``answer`` (the answer text,
for generative variants), plus the raw parameters so tests can recompute the answer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_NAME_TEXT = """
Alice Bob Carol David Emma Frank Grace Henry Irene Jack
Kate Liam Mia Noah Olga Paul Rosa Sam Tara Victor
"""
NAMES = tuple(_NAME_TEXT.split())  # alternating female, male
_WORD_TEXT = """
apple banana cherry strawberry raspberry blueberry orange lemon melon peach pear plum grape
mango papaya coconut tomato potato carrot pepper onion garlic lettuce cabbage broccoli spinach
pumpkin zucchini cucumber avocado kiwi apricot balloon bookkeeper committee mississippi
tennessee assessment successful happiness necessary address letter bottle coffee puzzle pizza
jazz giraffe hippopotamus elephant kangaroo koala bandana cinnamon parallel millennium
accommodate embarrass occurrence possession aggressive professor tomorrow referee mammal llama
alligator armadillo computer keyboard monitor internet programming algorithm variable function
sentence paragraph chapter library dictionary grammar vocabulary alphabet mountain river valley
ocean island desert forest meadow volcano glacier umbrella window kitchen bedroom bathroom
garden balcony ceiling hallway staircase
"""
WORDS = tuple(dict.fromkeys(_WORD_TEXT.split()))  # unique, order kept
COMPARATIVES = ("taller", "older", "faster", "heavier", "richer", "stronger")
CONSTANTS = (("pi", "3.14159"), ("e", "2.71828"), ("the golden ratio", "1.61803"))


def _rng(seed: int, family: str) -> np.random.Generator:
    return np.random.default_rng([seed, sum(map(ord, family)) * 7919 + len(family)])


def _mc(
    answer: Any, distractors: list[Any], rng: np.random.Generator, n: int = 4
) -> tuple[list[str], int]:
    """Choices: the answer plus the first distinct distractors, in a seeded order."""
    options = [str(answer)]
    for d in distractors:
        if str(d) not in options:
            options.append(str(d))
        if len(options) == n:
            break
    order = rng.permutation(len(options))
    choices = [options[i] for i in order]
    return choices, choices.index(str(answer))


def _record(
    doc_id: str,
    difficulty: float,
    question: str,
    answer: Any,
    choices: list[str],
    target: int,
    /,
    **fields: Any,
) -> dict[str, Any]:
    """One generated document: its id, difficulty and question, the generator's own ``fields``,
    then the answer (as text), the choices and the target index."""
    return {
        "doc_id": doc_id,
        "difficulty": float(difficulty),
        "question": question,
        **fields,
        "answer": str(answer),
        "choices": choices,
        "target": target,
    }


def _multiple_choice(
    doc_id: str,
    difficulty: float,
    question: str,
    answer: Any,
    distractors: list[Any],
    rng: np.random.Generator,
    /,
    **fields: Any,
) -> dict[str, Any]:
    """:func:`_record` with the choices of :func:`_mc` (the answer and distractors, seeded)."""
    choices, target = _mc(answer, distractors, rng)
    return _record(doc_id, difficulty, question, answer, choices, target, **fields)


def arithmetic(seed: int = 0, per_level: int = 60) -> list[dict[str, Any]]:
    """a + b or a − b with 1–5 digit operands (difficulty = digits); distractors are off by
    one, off by ten and the result of forgetting a carry/borrow."""
    rng = _rng(seed, "arithmetic")
    records = []
    for digits in range(1, 6):
        low, high = (0 if digits == 1 else 10 ** (digits - 1)), 10**digits
        for i in range(per_level):
            a, b = (int(x) for x in rng.integers(low, high, size=2))
            op = "+" if i % 2 == 0 else "-"
            if op == "-" and a < b:
                a, b = b, a
            answer = a + b if op == "+" else a - b
            no_carry = int(
                "".join(
                    str((int(x) + int(y)) % 10 if op == "+" else abs(int(x) - int(y)))
                    for x, y in zip(str(a).zfill(digits), str(b).zfill(digits), strict=True)
                )
            )
            distractors = [no_carry, answer + 1, answer - 1, answer + 10, answer - 10, answer + 2]
            distractors = [d for d in distractors if d >= 0]
            expression = f"{a} {op} {b}"
            records.append(
                _multiple_choice(
                    f"arith-{digits}-{i:03d}",
                    digits,
                    f"What is {expression}?",
                    answer,
                    distractors,
                    rng,
                    expression=expression,
                    a=a,
                    b=b,
                    op=op,
                )
            )
    return records


def siblings(seed: int = 0, per_level: int = 60) -> list[dict[str, Any]]:
    """ "Alice in Wonderland" relation questions (Nezhurina et al. 2024).

    A protagonist has B brothers and S sisters; the family has B + [male] boys and
    S + [female] girls. Asked how many brothers/sisters one of the protagonist's siblings has,
    the answer is boys − [sibling is a boy] (or girls − [sibling is a girl]). Difficulty 1 asks
    about the protagonist, 2 about a sibling when the protagonist does not count, 3 when the
    protagonist counts (the AIW trap), 4 adds an irrelevant sentence about cousins.
    """
    rng = _rng(seed, "siblings")
    records = []
    for level in range(1, 5):
        i = 0
        while i < per_level:
            name = NAMES[int(rng.integers(len(NAMES)))]
            male = NAMES.index(name) % 2 == 1
            brothers, sisters = (int(x) for x in rng.integers(2, 7, size=2))
            boys, girls = brothers + male, sisters + (not male)
            sibling = "brother" if rng.random() < 0.5 else "sister"
            asked = "brothers" if rng.random() < 0.5 else "sisters"
            pronoun = "his" if male else "her"
            if level == 1:
                answer = brothers if asked == "brothers" else sisters
                question_tail = f"How many {asked} does {name} have?"
            else:
                answer = (
                    (boys - (sibling == "brother"))
                    if asked == "brothers"
                    else (girls - (sibling == "sister"))
                )
                protagonist_counts = (asked == "brothers") == male
                if (level == 2) == protagonist_counts:
                    continue  # this combination belongs to the other level
                question_tail = f"How many {asked} does {name}'s {sibling} have?"
            given = brothers if asked == "brothers" else sisters
            extra = ""
            if level == 4:
                cousins = int(rng.integers(2, 9))
                extra = f" {pronoun.capitalize()} mother has {cousins} nephews and nieces."
            question = (
                f"{name} has {brothers} brothers and {sisters} sisters.{extra} {question_tail}"
            )
            distractors = [given, answer + 1, answer - 1, given + 1, answer + 2, brothers + sisters]
            records.append(
                _multiple_choice(
                    f"alice-{level}-{i:03d}",
                    level,
                    question,
                    answer,
                    [d for d in distractors if d >= 0],
                    rng,
                    name=name,
                    male=male,
                    brothers=brothers,
                    sisters=sisters,
                    sibling=sibling if level > 1 else None,
                    asked=asked,
                )
            )
            i += 1
    return records


def count_letters(seed: int = 0, per_level: int = 60) -> list[dict[str, Any]]:
    """How many times a letter occurs in a word; difficulty by word length (≤5, 6–7, 8–9, ≥10)."""
    rng = _rng(seed, "count_letters")
    bins = {1: (1, 5), 2: (6, 7), 3: (8, 9), 4: (10, 99)}
    records = []
    for level, (lo, hi) in bins.items():
        pool = [w for w in WORDS if lo <= len(w) <= hi]
        for i in range(per_level):
            word = pool[int(rng.integers(len(pool)))]
            letters = sorted(set(word))
            # prefer letters that occur (more often for longer words), sometimes absent ones
            letter = (
                letters[int(rng.integers(len(letters)))]
                if rng.random() < 0.85
                else "abcdefghijklmnopqrstuvwxyz"[int(rng.integers(26))]
            )
            answer = word.count(letter)
            start = max(0, answer - int(rng.integers(0, 4)))
            question = f'How many times does the letter "{letter}" appear in the word "{word}"?'
            records.append(
                _multiple_choice(
                    f"letters-{level}-{i:03d}",
                    level,
                    question,
                    answer,
                    list(range(start, start + 5)),
                    rng,
                    word=word,
                    letter=letter,
                )
            )
    return records


def sorting(seed: int = 0, per_level: int = 50) -> list[dict[str, Any]]:
    """Sort 3–7 distinct numbers ascending (difficulty = 1 + count − 3); distractors: sorted with
    one adjacent pair swapped, descending, as given, and rotated by one."""
    rng = _rng(seed, "sorting")
    records = []
    for count in range(3, 8):
        for i in range(per_level):
            values = [int(v) for v in rng.choice(np.arange(1, 100), size=count, replace=False)]
            ordered = sorted(values)
            k = int(rng.integers(count - 1))
            swapped = ordered[:k] + [ordered[k + 1], ordered[k]] + ordered[k + 2 :]
            fmt = ", ".join
            answer = fmt(map(str, ordered))
            rotated = ordered[1:] + ordered[:1]
            distractors = [fmt(map(str, d)) for d in (swapped, ordered[::-1], values, rotated)]
            question = f"Sort these numbers from smallest to largest: {fmt(map(str, values))}."
            records.append(
                _multiple_choice(
                    f"sort-{count}-{i:03d}",
                    count - 2,
                    question,
                    answer,
                    distractors,
                    rng,
                    values=values,
                )
            )
    return records


def dates(seed: int = 0, per_level: int = 50) -> list[dict[str, Any]]:
    """Calendar arithmetic. Levels 1–3: the weekday n days after a weekday (n in 1–6, 7–30,
    31–365); levels 4–5: the date n days after a date (n in 1–40, 41–400), using ``datetime``."""
    rng = _rng(seed, "dates")
    records = []
    ranges = {1: (1, 7), 2: (7, 31), 3: (31, 366), 4: (1, 41), 5: (41, 401)}
    for level, (lo, hi) in ranges.items():
        for i in range(per_level):
            n = int(rng.integers(lo, hi))
            if level <= 3:
                start = int(rng.integers(7))
                answer = WEEKDAYS[(start + n) % 7]
                distractors = [WEEKDAYS[(start + n + d) % 7] for d in (1, -1, 2, -2)] + [
                    WEEKDAYS[start]
                ]
                question = (
                    f"Today is {WEEKDAYS[start]}. What day of the week will it be in {n} days?"
                )
                params: dict[str, Any] = {"start_weekday": WEEKDAYS[start]}
            else:
                first = dt.date(2000, 1, 1) + dt.timedelta(days=int(rng.integers(0, 9000)))
                result = first + dt.timedelta(days=n)
                answer = result.isoformat()
                distractors = [
                    (result + dt.timedelta(days=d)).isoformat() for d in (1, -1, 30, -30, 2)
                ]
                question = f"What date is {n} days after {first.isoformat()}?"
                params = {"start_date": first.isoformat()}
            records.append(
                _multiple_choice(
                    f"dates-{level}-{i:03d}",
                    level,
                    question,
                    answer,
                    distractors,
                    rng,
                    days=n,
                    **params,
                )
            )
    return records


def transitive_logic(seed: int = 0, per_level: int = 60) -> list[dict[str, Any]]:
    """True/false questions over a chain of comparisons ("A is taller than B. B is taller than
    C.") with 1–4 premises in shuffled order (difficulty = premises); the claim compares two
    people of the chain, true when the first ranks above the second."""
    rng = _rng(seed, "transitive_logic")
    records = []
    for premises in range(1, 5):
        for i in range(per_level):
            people = [NAMES[j] for j in rng.choice(len(NAMES), size=premises + 1, replace=False)]
            adjective = COMPARATIVES[int(rng.integers(len(COMPARATIVES)))]
            facts = [f"{people[j]} is {adjective} than {people[j + 1]}." for j in range(premises)]
            facts = [facts[j] for j in rng.permutation(premises)]
            x, y = sorted(int(v) for v in rng.choice(premises + 1, size=2, replace=False))
            if i % 2:  # half the claims are false: ask the pair the other way round
                x, y = y, x
            truth = x < y  # earlier in the chain ranks higher
            claim = f"{people[x]} is {adjective} than {people[y]}."
            records.append(
                _record(
                    f"logic-{premises}-{i:03d}",
                    premises,
                    " ".join(facts) + f" True or false: {claim}",
                    "True" if truth else "False",
                    ["True", "False"],
                    0 if truth else 1,
                    premises=facts,
                    claim=claim,
                    adjective=adjective,
                )
            )
    return records


def redefine(seed: int = 0, per_level: int = 60) -> list[dict[str, Any]]:
    """Distractor task after "redefine-math" from Inverse Scaling (McKenzie et al. 2023): a
    symbol or constant is redefined and the tempting answer is the usual meaning, which
    stronger models know better. Level 1: "+" means "−" (one digit), 2: the same with two
    digits, 3: "×" means "+", 4: a constant redefined, asking its first digit. Each record keeps
    ``tempting`` (the usual-meaning answer) so its pull can be measured."""
    rng = _rng(seed, "redefine")
    records = []
    for level in range(1, 5):
        for i in range(per_level):
            if level in (1, 2, 3):
                digits = 2 if level == 2 else 1
                a, b = (int(x) for x in rng.integers(10 ** (digits - 1) + 1, 10**digits, size=2))
                a, b = max(a, b), min(a, b)
                if level == 3:
                    question = f"Redefine × to mean addition. What is {a} × {b}?"
                    answer, tempting = a + b, a * b
                else:
                    question = f"Redefine + to mean subtraction. What is {a} + {b}?"
                    answer, tempting = a - b, a + b
                distractors = [tempting, answer + 1, abs(answer - 1), tempting + 1, answer + 2]
            else:
                name, value = CONSTANTS[int(rng.integers(len(CONSTANTS)))]
                new = int(rng.integers(100, 1000))
                while str(new)[0] == value[0]:
                    new = int(rng.integers(100, 1000))
                question = f"Redefine {name} as {new}. What is the first digit of {name}?"
                answer, tempting = int(str(new)[0]), int(value[0])
                distractors = [tempting] + [int(d) for d in rng.permutation(10) if d]
            choices, target = _mc(answer, distractors, rng)
            records.append(
                {
                    "doc_id": f"redefine-{level}-{i:03d}",
                    "difficulty": float(level),
                    "question": question,
                    "answer": str(answer),
                    "tempting": str(tempting),
                    "choices": choices,
                    "target": target,
                }
            )
    return records


def sequences(seed: int = 0, per_level: int = 40) -> list[dict[str, Any]]:
    """Number sequences to score as text (perplexity): arithmetic progressions with step 1
    (level 1), a random step (2), geometric ×2/×3 (3) and Fibonacci-like sums (4)."""
    rng = _rng(seed, "sequences")
    records = []
    for level in range(1, 5):
        for i in range(per_level):
            start = int(rng.integers(1, 20))
            values = [start, start + int(rng.integers(1, 10))] if level == 4 else [start]
            step = 1 if level == 1 else int(rng.integers(2, 12))
            ratio = int(rng.integers(2, 4))
            while len(values) < 10:
                last = values[-1]
                if level == 4:
                    values.append(values[-1] + values[-2])
                elif level == 3:
                    values.append(last * ratio)
                else:
                    values.append(last + step)
            records.append(
                {
                    "doc_id": f"seq-{level}-{i:03d}",
                    "difficulty": float(level),
                    "text": ", ".join(map(str, values)),
                    "values": values,
                }
            )
    return records
