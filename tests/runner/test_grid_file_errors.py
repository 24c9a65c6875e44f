"""A malformed grid file is one line naming it (as a task file is): bytes that are not UTF-8,
YAML nested past any sensible depth, a key written twice (PyYAML kept the last one, so
``models:`` written twice silently ran only the second list)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from assay.errors import InputError
from assay.runner import load_grid


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"models: [x]\ntasks: [\xff]\n",
            r"grid \S*g\.yaml: line 2: not valid UTF-8 \(byte 0xff\)",
        ),
        (
            b"models: [openai:x@http://127.0.0.1:9/v1]\nmodels: [smollm2-135m]\ntasks: [arith_mc]\n",
            r"grid \S*g\.yaml: line 2: key 'models' appears twice",
        ),
        (
            b"models: [smollm2-135m]\ntasks: [arith_mc]\nlimit: 5\n\nlimit: 6\n",
            r"grid \S*g\.yaml: line 5: key 'limit' appears twice",
        ),
        (
            b"models: [x]\ntasks: [arith_mc]\nlimit: " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
            r"grid \S*g\.yaml: (not valid YAML, line \d+|YAML nested too deeply)",
        ),
    ],
    ids=["utf-8", "models-twice", "limit-twice", "deep"],
)
def test_malformed_grid_file_is_one_line(tmp_path, data, message):
    path = tmp_path / "g.yaml"
    path.write_bytes(data)
    with pytest.raises(InputError, match=message):
        load_grid(path)


def test_missing_grid_file_names_it(tmp_path):
    with pytest.raises(InputError, match=r"grid \S*nosuch\.yaml: cannot be read"):
        load_grid(tmp_path / "nosuch.yaml")


@pytest.mark.parametrize("data", [b"models: [x]\ntasks: [\xff]\n", b"tasks: " + b"[" * 100_000])
def test_cli_grid_errors_are_not_crashes(tmp_path, data):
    path, store = tmp_path / "g.yaml", tmp_path / "s.duckdb"
    path.write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-m", "assay", "eval", "--grid", str(path), "--store", str(store)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "crash" not in lines[0]
    assert not store.exists()
