"""Integer options past what the store or numpy hold are one-line InputErrors raised before any
model or store work (a seed of 2**63 used to load and run the model, then fail to write its
BIGINT ``fewshot_seed`` with a misleading 'transaction is aborted')."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fake_backend import FakeBackend, answer_key

import assay.runner._score as score
from assay.errors import InputError
from assay.runner import (
    Grid,
    LmEvalOptions,
    QuestionAsker,
    RunSpec,
    Variant,
    evaluate,
    evaluate_until_decided,
    grid_from_dict,
    run_grid,
    run_variants,
)
from assay.stats import sequential_test
from assay.tasks import load_task

SPEC = "openai:m@http://127.0.0.1:9/v1"
BIG_SEED = 2**63
SEED_ERROR = r"seed must be an integer in \[0, 9223372036854775807\], got 9223372036854775808"
FEWSHOT_ERROR = r"num_fewshot must be an integer in \[0, 2147483647\], got 2147483648"


@pytest.fixture
def loads(monkeypatch) -> list[str]:
    """The model specs loaded (a fake answers): empty when nothing ran."""
    calls: list[str] = []
    key = answer_key(i for t in ("arith_mc", "sequence_rolling") for i in load_task(t).instances())

    def fake_load(spec, **options):
        calls.append(spec)
        return FakeBackend(spec.split("@")[0].split(":")[-1], answers=key, skill=0.5)

    monkeypatch.setattr(score, "load_model", fake_load)
    return calls


def test_the_spec_bounds_seed_few_shot_and_batch_size():
    with pytest.raises(InputError, match=SEED_ERROR):
        RunSpec(model="x", tasks="arith_mc", seed=BIG_SEED).checked()
    assert RunSpec(model="x", tasks="arith_mc", seed=BIG_SEED - 1).checked().seed == BIG_SEED - 1
    with pytest.raises(InputError, match=FEWSHOT_ERROR):
        RunSpec(model="x", tasks="arith_mc", num_fewshot=2**31).checked()
    for size in (2**31, str(2**31)):
        with pytest.raises(InputError, match=r"batch_size .* in \[1, 2147483647\]"):
            RunSpec(model="x", tasks="arith_mc", batch_size=size).checked()
    assert RunSpec(model="x", tasks="x", batch_size=2**31 - 1).checked().batch_size == 2**31 - 1


@pytest.mark.parametrize(
    ("task", "options", "message"),
    [
        ("arith_mc", {"seed": BIG_SEED}, SEED_ERROR),
        ("arith_mc", {"seed": 10**23}, "seed must be an integer in"),
        # no few-shot examples in a rolling task: the value reached the INTEGER column
        ("sequence_rolling", {"num_fewshot": 2**31}, FEWSHOT_ERROR),
    ],
)
def test_evaluate_refuses_before_any_model_work(loads, tmp_path, task, options, message):
    store = tmp_path / "s.duckdb"
    with pytest.raises(InputError, match=message):
        evaluate(SPEC, task, store=store, limit=2, progress=False, **options)
    assert loads == [] and not store.exists()
    evaluate(SPEC, task, store=store, limit=2, progress=False, seed=BIG_SEED - 1)  # the largest
    assert loads == [SPEC]


def test_grid_seeds_and_few_shot_are_bounded(loads, tmp_path):
    for key, values, message in (
        ("seeds", [0, 99999999999999999999999], "seed must be an integer in"),
        ("num_fewshot", [0, 2**31], FEWSHOT_ERROR),
    ):
        with pytest.raises(InputError, match=message):
            grid_from_dict({"models": [SPEC], "tasks": ["arith_mc"], key: values})
    store = tmp_path / "s.duckdb"
    with pytest.raises(InputError, match=SEED_ERROR):
        run_grid(Grid(models=(SPEC,), tasks=("arith_mc",), seeds=(0, BIG_SEED)), store=store)
    assert loads == [] and not store.exists()


def test_variants_are_all_checked_before_the_first_runs(loads, tmp_path):
    other = SPEC.replace(":m@", ":n@")
    variants = [Variant(SPEC, 0), Variant(other, 2**31)]
    store = tmp_path / "s.duckdb"
    with pytest.raises(InputError, match=FEWSHOT_ERROR):
        run_variants(variants, RunSpec(tasks=("arith_mc",), limit=2), store=store, progress=False)
    assert loads == [] and not store.exists()


def test_until_decided_and_adaptive_refuse_a_huge_seed(loads, tmp_path):
    store = tmp_path / "s.duckdb"
    other = SPEC.replace(":m@", ":n@")
    with pytest.raises(InputError, match=SEED_ERROR):
        evaluate_until_decided(
            SPEC, other, "arith_mc", store=store, seed=BIG_SEED, decide=sequential_test
        )
    with pytest.raises(InputError, match=SEED_ERROR):
        QuestionAsker(SPEC, "arith_mc", store=store, seed=BIG_SEED)
    assert loads == [] and not store.exists()


def test_lm_eval_seed_fits_numpy():
    """lm-eval seeds numpy's legacy generator (below 2**32) with 1234 + seed."""
    with pytest.raises(InputError, match=r"seed must be an integer in \[0, 4294966061\]"):
        LmEvalOptions(seed=2**32 - 1234)
    assert LmEvalOptions(seed=2**32 - 1235).seed == 2**32 - 1235
    with pytest.raises(InputError, match=FEWSHOT_ERROR):
        LmEvalOptions(num_fewshot=2**31)


def test_cli_seed_past_bigint_is_one_line(tmp_path):
    store = tmp_path / "x.duckdb"
    args = ["eval", "-m", SPEC, "-t", "arith_mc", "-n", "2", "--seed", str(BIG_SEED)]
    result = subprocess.run(
        [sys.executable, "-m", "assay", *args, "--store", str(store)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"error: {SEED_ERROR.replace(chr(92), '')}"]
    assert not store.exists()
