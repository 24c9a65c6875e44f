"""A failed import into a store that does not exist yet leaves no store behind (an audit found
an empty store file after `import samples missing.jsonl`); an existing store is kept as it was."""

from __future__ import annotations

import pytest
from cli_helpers import run_main

from assay.store import open_store


@pytest.mark.parametrize(
    "argv",
    [
        ["import", "samples", "missing.jsonl"],
        ["import", "lm-eval", "."],
        ["import", "inspect", "missing.eval"],
        ["models", "set-meta", "missing.csv"],
    ],
)
def test_a_failed_import_creates_no_store(tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main([*argv, "--store", tmp_path / "new.duckdb"])
    assert code == 1 and err.startswith("error:")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_failed_import_keeps_an_existing_empty_store(tmp_path):
    path = tmp_path / "kept.duckdb"
    open_store(path)  # created before the command: not the command's to remove
    before = path.read_bytes()
    code, _, _ = run_main(["import", "samples", tmp_path / "missing.jsonl", "--store", path])
    assert code == 1 and path.exists() and path.read_bytes() == before
