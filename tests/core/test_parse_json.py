"""core.parse_json / core.json_row: the one place a JSON text becomes a value, so every reader
names a bad file the same way (``FILE: line N: ...``)."""

from __future__ import annotations

import math

import pytest

from assay.core import json_row, parse_json
from assay.errors import InputError
from assay.tasks import load_task

DEEP = "[" * 100_000 + "]" * 100_000


def test_values_and_constants():
    assert parse_json('{"a": [1, 2.5, "x"]}', "f.json") == {"a": [1, 2.5, "x"]}
    assert math.isnan(parse_json('{"a": NaN}', "f.json", constants=float)["a"])
    assert json_row('{"doc_id": 3}', "f.jsonl", 7) == {"doc_id": 3}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('{\n"a": 1,\n}', None, r"^f\.json: line 3: not valid JSON \(Expecting property name"),
        ('{"a": ', 12, r"^f\.json: line 12: not valid JSON \(Expecting value\)$"),
        (DEEP, None, r"^f\.json: JSON nested too deeply$"),
        (DEEP, 4, r"^f\.json: line 4: JSON nested too deeply$"),
    ],
)
def test_errors_name_the_file_and_line(text, line, message):
    with pytest.raises(InputError, match=message):
        parse_json(text, "f.json", line)


def test_a_row_must_be_an_object():
    with pytest.raises(InputError, match=r"^f\.jsonl: line 2: not a JSON object \(got \[1, 2\]\)$"):
        json_row("[1, 2]", "f.jsonl", 2)


def test_a_task_json_file_nested_too_deeply_is_an_input_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text(DEEP, encoding="utf-8")
    with pytest.raises(InputError, match=r"deep\.json: JSON nested too deeply"):
        load_task(str(path))


def test_a_key_written_twice_is_one_line(tmp_path):
    """json kept the last of two equal keys silently: a price table or task file whose
    ``model`` / ``name`` is written twice said nothing (an outside audit)."""
    with pytest.raises(InputError, match=r"^p\.json: key 'model' appears twice in one object$"):
        parse_json('[{"model": "a", "x": {"y": 1}, "model": "b"}]', "p.json")
    with pytest.raises(InputError, match=r"^t\.jsonl: line 4: key 'y' appears twice"):
        parse_json('{"x": {"y": 1, "y": 2}}', "t.jsonl", 4)
    assert parse_json('{"a": {"a": 1}, "b": [{"a": 2}]}', "ok.json") == {
        "a": {"a": 1},
        "b": [{"a": 2}],
    }
    path = tmp_path / "prices.json"
    path.write_text('{"m": {"input_per_1m": 1, "output_per_1m": 2, "input_per_1m": 9}}')
    from assay.stats import read_prices

    with pytest.raises(InputError, match="key 'input_per_1m' appears twice"):
        read_prices(path)
