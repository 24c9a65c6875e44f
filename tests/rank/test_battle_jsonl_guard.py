"""`assay rank battles` and `assay import battles` of JSON lines pyarrow's reader cannot take:
a block of lines that are not objects (``null``) and a value nested some 20,000 deep crashed the
process (pyarrow's segmentation fault, exit 139); they end with the careful reader's one line
naming the line, and a failed import leaves the store as it was. Each command runs in a process
of its own (tests/adversarial's ``run_assay``), so a crash fails the test rather than pytest."""

from __future__ import annotations

import json
import textwrap

import duckdb
import pytest
from jsonl_blocks import null_block_file, python_error
from test_bombs import SRC, run_assay


def _battle(i: int, **extra) -> str:
    return json.dumps({"model_a": f"m{i % 2}", "model_b": "n", "winner": "model_a", **extra})


def _votes(store) -> int:
    if not store.exists():
        return 0
    with duckdb.connect(str(store), read_only=True) as con:
        return con.execute("SELECT count(*) FROM battles").fetchone()[0]


@pytest.fixture(params=["rank", "import"])
def command(request, tmp_path):
    """(exit status, output) of `assay rank battles FILE` or `assay import battles FILE` (into
    a store holding one vote, which must stay as it was)."""
    store = tmp_path / "s.duckdb"
    if request.param == "import":
        old = tmp_path / "old.jsonl"
        old.write_text(_battle(0, id="old") + "\n")
        assert run_assay(["import", "battles", str(old), "--store", str(store)], tmp_path)[0] == 0

    def run(path) -> tuple[int, str]:
        if request.param == "rank":
            status, text, _ = run_assay(["rank", "battles", str(path)], tmp_path)
        else:
            status, text, _ = run_assay(
                ["import", "battles", str(path), "--store", str(store)], tmp_path
            )
            assert _votes(store) == 1
        return status, text.strip()

    return run


def test_a_file_of_null_names_the_line(tmp_path, command):
    path = tmp_path / "n.jsonl"
    path.write_text("null\n")
    assert command(path) == (1, f"error: {path}: line 1: not a JSON object (got None)")


def test_a_null_after_a_battle_names_its_line(tmp_path, command):
    """pyarrow read it as a battle without models."""
    path = tmp_path / "a.jsonl"
    path.write_text(_battle(1) + "\n null\n")
    assert command(path) == (1, f"error: {path}: line 2: not a JSON object (got None)")


def test_a_value_nested_20000_deep_is_refused_by_name(tmp_path, command):
    path = tmp_path / "deep.jsonl"
    deep = "[" * 20_000 + "]" * 20_000
    path.write_text(_battle(1) + "\n" + _battle(2, deep=None)[:-5] + deep + "}\n")
    assert command(path) == (1, f"error: {path}: line 2: JSON nested too deeply")


def test_brackets_in_strings_are_no_reason_to_refuse(tmp_path):
    path = tmp_path / "ok.jsonl"
    nested = json.loads("[" * 300 + "]" * 300)
    path.write_text(_battle(1, answer_a="[{" * 30_000) + "\n" + _battle(2, extra=nested) + "\n")
    status, text, _ = run_assay(["rank", "battles", str(path), "--json"], tmp_path)
    assert status == 0, text[-500:]


def test_a_block_of_null_lines_in_the_middle_of_a_file(tmp_path):
    """Blocks of 100 bytes: the first line fills the first, ``null`` lines the second."""
    path = null_block_file(tmp_path / "a.jsonl", _battle(1, pad=""), _battle(2))
    code = textwrap.dedent(
        f"""
        from assay.rank import _battle_files, read_battles
        _battle_files.BLOCK_BYTES = 100
        read_battles({str(path)!r})
        """
    )
    status, last = python_error(code, SRC)
    assert status == 1, last
    assert last.endswith(f"{path}: line 2: not a JSON object (got None)")


@pytest.mark.parametrize("command", ["rank", "import"])
@pytest.mark.parametrize("style", ["null", "[" * 20_000 + "]" * 20_000])
def test_a_style_text_pyarrow_cannot_read_is_named(tmp_path, command, style):
    """style_a / style_b given as JSON text (a CSV cell, a string): pyarrow read them at once
    (a segmentation fault on "null"; a RecursionError's traceback when deep)."""
    path = tmp_path / "styles.jsonl"
    path.write_text(_battle(1, style_a=style, style_b='{"n": 1}') + "\n")
    store = tmp_path / "s.duckdb"
    if command == "rank":
        args = ["rank", "battles", str(path), "--style-control"]
    else:
        args = ["import", "battles", str(path), "--store", str(store)]
    status, text, _ = run_assay(args, tmp_path)
    assert (status, text.strip()) == (
        1,
        "error: battles: row 1: field 'style_a' must be an object of numbers",
    )
    assert _votes(store) == 0
