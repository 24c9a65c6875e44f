"""A re-run of ``assay eval`` that finds every sample stored says so, and how long it took."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from cli_helpers import run_main
from fake_backend import FakeBackend, answer_key

import assay.runner
from assay.cli._eval_summary import cached_line
from assay.runner import EvalResult
from assay.tasks import load_task


@pytest.fixture
def fake(monkeypatch):
    """``assay eval -m fake`` runs a deterministic fake backend (the CLI takes spec strings)."""
    key = answer_key(i for name in ("arith_mc", "arith_gen") for i in load_task(name).instances())
    backend = FakeBackend(answers=key, skill=0.5)
    real = assay.runner.evaluate

    def evaluate_with_fake(model, *args, **kwargs):
        return real(backend if model == "fake" else model, *args, **kwargs)

    monkeypatch.setattr(assay.runner, "evaluate", evaluate_with_fake)
    monkeypatch.setattr(assay.runner._job, "evaluate", evaluate_with_fake)
    return backend


def test_a_cached_rerun_says_so_and_how_long_it_took(fake, tmp_path):
    argv = ["eval", "-m", "fake", "-t", "arith_mc,arith_gen", "-n", "6", "--no-progress"]
    argv += ["--store", tmp_path / "s.duckdb"]
    code, out, err = run_main(argv)
    assert code == 0, err
    assert "12 new samples" in out and "cached" not in out
    fake.reset()
    code, out, err = run_main(argv)
    assert code == 0, err
    assert fake.total == 0  # not one call
    line = next(x for x in out.splitlines() if x.startswith("nothing to run"))
    assert re.fullmatch(
        r"nothing to run: all 12 samples were already in the store \(cached\), "
        r"no model was called; took \d+\.\d s",
        line,
    )


def test_the_cached_line_only_when_nothing_was_computed():
    done = EvalResult(model="a", table=pd.DataFrame(), cost=None, resumed_samples=30)
    other = EvalResult(model="b", table=pd.DataFrame(), cost=None, resumed_samples=20)
    assert cached_line([done, other], 1.234) == (
        "nothing to run: all 50 samples were already in the store (cached), "
        "no model was called; took 1.2 s"
    )
    other.new_samples = 1
    assert cached_line([done, other], 1.0) is None
