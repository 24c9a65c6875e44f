"""``read_yaml``: the one YAML file reader (task and grid files), strict and one line per problem."""

from __future__ import annotations

import pytest

from assay.core import YamlLoader, read_yaml
from assay.errors import InputError


def test_reads_yaml_with_merge_keys_that_may_be_overridden(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  x: 3\n")
    assert read_yaml(path) == {"base": {"x": 1, "y": 2}, "other": {"x": 3, "y": 2}}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"a: 1\nb: 2\na: 3\n", r"a\.yaml: line 3: key 'a' appears twice$"),
        (b"a: 1\n1: x\n1.0: y\n", r"a\.yaml: line 3: key 1\.0 appears twice$"),  # equal keys
        (b"a:\n  b: {c: 1, c: 2}\n", r"a\.yaml: line 2: key 'c' appears twice$"),
        (b"a: [1\n", r"a\.yaml: not valid YAML, line 2 \("),
        (b"a: 1\nb: \xc3\x28\n", r"a\.yaml: line 2: not valid UTF-8 \(byte 0xc3\)$"),
        (b"a: " + b"[" * 50_000 + b"]" * 50_000, r"a\.yaml: (not valid YAML|YAML nested)"),
        (b"? [[1]]\n: x\n", r"a\.yaml: not valid YAML, line 1 \(found unhashable key\)"),
    ],
    ids=["twice", "equal", "nested", "syntax", "utf-8", "deep", "unhashable"],
)
def test_every_problem_is_one_line_naming_the_file(tmp_path, data, message):
    path = tmp_path / "a.yaml"
    path.write_bytes(data)
    with pytest.raises(InputError, match=message):
        read_yaml(path)


def test_a_subclass_adds_tags_and_keeps_the_check(tmp_path):
    class Tagged(YamlLoader):
        pass

    Tagged.add_constructor("!up", lambda loader, node: loader.construct_scalar(node).upper())
    path = tmp_path / "a.yaml"
    path.write_text("a: !up x\n")
    assert read_yaml(path, loader=Tagged) == {"a": "X"}
    path.write_text("a: !up x\na: y\n")
    with pytest.raises(InputError, match="line 2: key 'a' appears twice"):
        read_yaml(path, loader=Tagged)
