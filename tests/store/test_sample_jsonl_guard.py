"""`assay import samples` of JSON lines pyarrow's reader cannot take: a block of lines that are
not objects (``null``) and a value nested some 20,000 deep crashed the process (pyarrow's
segmentation fault, exit 139); they end with the strict reader's one line, the store as it was.
A line longer than ``ASSAY_MAX_JSON_VALUE_CHARS`` is refused before it is read whole (it grew
the process past 800 MB). Each import runs in a process of its own (tests/adversarial's
``run_assay``), so a crash fails the test rather than pytest."""

from __future__ import annotations

import json
import textwrap

import duckdb
from jsonl_blocks import null_block_file, python_error
from test_bombs import SRC, run_assay

from assay.core import arrow_may_read


def _row(i: int, **extra) -> str:
    return json.dumps({"model": "m", "task": "t", "doc_id": f"d{i}", "metric.acc": 1, **extra})


def _samples(store) -> list[str]:
    if not store.exists():
        return []
    with duckdb.connect(str(store), read_only=True) as con:
        return [r[0] for r in con.execute("SELECT doc_id FROM samples ORDER BY 1").fetchall()]


def _import(path, tmp_path, **env: str) -> tuple[int, str, int, list[str]]:
    """(exit status, output, peak kB, doc ids in the store) of importing ``path`` into a store
    holding one sample ('old')."""
    store = tmp_path / "s.duckdb"
    if not store.exists():
        old = tmp_path / "old.jsonl"
        old.write_text(_row(0, doc_id="old") + "\n")
        assert run_assay(["import", "samples", str(old), "--store", str(store)], tmp_path)[0] == 0
    status, text, peak = run_assay(
        ["import", "samples", str(path), "--store", str(store)], tmp_path, **env
    )
    return status, text, peak, _samples(store)


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_a_file_of_null_names_the_line(tmp_path):
    path = tmp_path / "n.jsonl"
    path.write_text("null\n")
    status, text, _, kept = _import(path, tmp_path)
    assert (status, kept) == (1, ["old"]), text[-500:]
    assert text.strip() == f"error: {path}: line 1: not a JSON object (got None)"


def test_a_folder_whose_second_file_is_null_names_it(tmp_path):
    folder = tmp_path / "fold"
    folder.mkdir()
    (folder / "a.jsonl").write_text(_row(1) + "\n")
    (folder / "b.jsonl").write_text("\n null\n")
    status, text, _, kept = _import(folder, tmp_path)
    assert (status, kept) == (1, ["old"]), text[-500:]
    assert text.strip() == f"error: {folder / 'b.jsonl'}: line 2: not a JSON object (got None)"


def test_a_null_after_an_object_is_not_read_as_a_row(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(_row(1) + "\n[]\n")
    status, text, _, kept = _import(path, tmp_path)
    assert (status, kept) == (1, ["old"]), text[-500:]
    assert text.strip() == f"error: {path}: line 2: not a JSON object (got [])"


def test_a_block_of_null_lines_in_the_middle_of_a_file(tmp_path):
    """Blocks of 100 bytes: the first line fills the first, ``null`` lines the second."""
    path = null_block_file(tmp_path / "a.jsonl", _row(1, pad=""), _row(2))
    code = textwrap.dedent(
        f"""
        import functools
        from assay.store import _files, import_samples, open_store
        from assay.store._sample_read import arrow_chunks
        _files.arrow_chunks = functools.partial(arrow_chunks, rows=2, size=100)
        import_samples(open_store({str(tmp_path / "s.duckdb")!r}), {str(path)!r})
        """
    )
    status, last = python_error(code, SRC)
    assert status == 1, last
    assert last.endswith(f"{path}: line 2: not a JSON object (got None)")
    assert _samples(tmp_path / "s.duckdb") == []


def test_a_value_nested_20000_deep_is_refused_by_name(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_text(_row(1) + "\n" + _row(2, deep=None)[:-5] + _deep(20_000) + "}\n")
    status, text, _, kept = _import(path, tmp_path)
    assert (status, kept) == (1, ["old"]), text[-500:]
    assert text.strip() == f"error: {path}: line 2: JSON nested too deeply"


def test_brackets_in_strings_and_moderate_nesting_import(tmp_path):
    """Many brackets, inside strings or nested as deep as Python's json reads, are no reason
    to refuse a line."""
    path = tmp_path / "ok.jsonl"
    rows = [_row(1, prediction="[{" * 30_000), _row(2, extra=json.loads(_deep(300)))]
    path.write_text("\n".join(rows) + "\n")
    status, text, _, kept = _import(path, tmp_path)
    assert (status, kept) == (0, ["d1", "d2", "old"]), text[-500:]


def test_arrow_may_read():
    assert arrow_may_read(b'\xef\xbb\xbf{"a": 1}\n\n  {"b": [[1]]}\r\n\t\n{}')
    assert arrow_may_read(b'{"s": "' + b"[" * 5000 + b'"}\n')
    assert arrow_may_read(b"")
    for bad in (b"null\n", b'{"a": 1}\n  null\n', b"{}\n[]", b"{}\n" + b"[" * 20_000):
        assert not arrow_may_read(bad)
    assert not arrow_may_read(b'{"d": ' + _deep(990).encode() + b"}\n")


def test_a_line_past_the_value_limit_is_refused_before_it_is_read_whole(tmp_path):
    """A 120 MB sample with the limit at 4 MB: refused, naming the line and the limit, in a
    process that stays far below the ~700 MB reading the line whole took."""
    path = tmp_path / "big.jsonl"
    with path.open("w") as out:
        out.write(_row(1) + "\n")
        out.write(_row(2, prediction="")[:-2] + "x" * 120_000_000 + '"}\n')
    status, text, peak_kb, kept = _import(path, tmp_path, ASSAY_MAX_JSON_VALUE_CHARS="4000000")
    assert (status, kept) == (1, ["old"]), text[-500:]
    assert text.strip().startswith(f"error: {path}: line 2: one JSON value: too large")
    assert "ASSAY_MAX_JSON_VALUE_CHARS" in text
    assert peak_kb < 400_000, f"peak {peak_kb / 1e3:.0f} MB"
