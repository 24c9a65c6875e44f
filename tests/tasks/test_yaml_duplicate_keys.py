"""A task file that writes a key twice is one line naming the file, the line and the key
(PyYAML kept the last value silently: ``name: t1`` then ``name: t2`` loaded as ``t2``)."""

from __future__ import annotations

import pytest

from assay.errors import InputError
from assay.tasks import load_task

BODY = (
    "request_type: multiple_choice\n"
    "templates:\n"
    "  plain: '{{ question }}'\n"
    "target: answer\n"
    "choices: choices\n"
    "docs:\n"
    "  - {question: 'Q1', choices: [a, b], answer: 0}\n"
    "  - {question: 'Q2', choices: [a, b], answer: 1}\n"
)


def test_the_task_file_loads_without_a_repeat(tmp_path):
    path = tmp_path / "tk.yaml"
    path.write_text("name: t1\n" + BODY)
    assert load_task(str(path)).name == "t1"


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ("name: t1\nname: t2\n" + BODY, 2, "name"),
        ("name: t1\n" + BODY + "templates:\n  other: '{{ question }}'\n", 10, "templates"),
        ("name: t1\n" + BODY.replace("  plain:", "  plain: x\n  plain:"), 5, "plain"),
        ("name: t1\n" + BODY.replace("answer: 1}", "answer: 1, answer: 0}"), 9, "answer"),
    ],
    ids=["top", "top-later", "nested", "flow"],
)
def test_a_repeated_key_is_one_line(tmp_path, text, line, key):
    path = tmp_path / "tk.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=rf"tk\.yaml: line {line}: key '{key}' appears twice$"):
        load_task(str(path))


def test_lm_eval_task_file_too(tmp_path):
    path = tmp_path / "lm.yaml"
    path.write_text("task: a\ndataset_path: json\ntask: b\ntest_split: test\n")
    with pytest.raises(InputError, match=r"lm\.yaml: line 3: key 'task' appears twice$"):
        load_task(str(path))
