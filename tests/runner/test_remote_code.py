"""``trust_remote_code`` runs Python code that comes with a model: a grid file or a model spec
alone never turns it on; only ``assay eval --trust-remote-code`` (``trust_remote_code=True``)
allows a spec that asks for it."""

from __future__ import annotations

import pytest
from cli_helpers import run_main

from assay.errors import InputError
from assay.runner import evaluate, grid_from_dict, run_grid

SPEC = "hf:/nonexistent/model-dir,trust_remote_code=true"


def test_grid_asking_for_remote_code_is_refused_before_anything_runs(tmp_path):
    grid = grid_from_dict({"models": ["smollm2-135m", SPEC], "tasks": ["arith_mc"], "limit": 1})
    store = tmp_path / "s.duckdb"
    with pytest.raises(InputError, match="--trust-remote-code") as err:
        run_grid(grid, store=store, progress=False)
    assert "\n" not in str(err.value) and SPEC in str(err.value)
    assert not store.exists()  # the first (allowed) cell did not run either


def test_spec_asking_for_remote_code_is_refused_without_the_flag(tmp_path):
    with pytest.raises(InputError, match="--trust-remote-code"):
        evaluate(SPEC, ["arith_mc"], store=tmp_path / "s.duckdb", progress=False)
    grid = tmp_path / "grid.yaml"
    grid.write_text(f"models: ['{SPEC}']\ntasks: [arith_mc]\nlimit: 1\n")
    store = ["--store", str(tmp_path / "s.duckdb")]
    for args in (["-m", SPEC, "-t", "arith_mc", "-n", "1"], ["--grid", str(grid)]):
        code, out, err = run_main(["eval", *args, *store, "--no-progress"])
        assert code == 1 and len(err.strip().splitlines()) == 1, err
        assert "sets trust_remote_code" in err and "--trust-remote-code" in err


def test_with_the_flag_the_spec_goes_on_to_load_its_model(tmp_path):
    """Allowed, the same spec passes the check and fails only where its (missing) model loads."""
    grid = tmp_path / "grid.yaml"
    grid.write_text(f"models: ['{SPEC}']\ntasks: [arith_mc]\nlimit: 1\n")
    store = ["--store", str(tmp_path / "s.duckdb"), "--no-progress", "--trust-remote-code"]
    for args in (["-m", SPEC, "-t", "arith_mc", "-n", "1"], ["--grid", str(grid)]):
        code, out, err = run_main(["eval", *args, *store])
        assert "trust_remote_code" not in err, err
        assert "/nonexistent/model-dir" in err  # the backend looked for the model


@pytest.mark.real_model
def test_with_the_flag_a_remote_code_spec_runs(tmp_path):
    code, out, err = run_main(
        ["eval", "-m", "smollm2-135m,trust_remote_code=true", "-t", "arith_mc", "-n", "2",
         "--store", str(tmp_path / "s.duckdb"), "--no-progress", "--trust-remote-code", "--json"]
    )  # fmt: skip
    assert code == 0, err
    assert '"new_samples": 2' in out
