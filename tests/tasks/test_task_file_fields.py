"""Task files are checked by pydantic models (tasks/_taskfile.py): one line naming the file,
the task and the field; the inputs accepted are those of the hand-written checks before."""

from __future__ import annotations

import pytest
import yaml

from assay.errors import InputError
from assay.tasks import load_task

GOOD = {
    "name": "t",
    "request_type": "multiple_choice",
    "templates": "{{ q }}",
    "choices": "{{ options }}",
    "target": "{{ answer }}",
    "docs": [{"q": "1+1?", "options": ["1", "2"], "answer": 1}],
}


def _load(tmp_path, spec):
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(spec))
    return load_task(str(path))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"docs": {"q": 1}}, "t.yaml: task 't': field 'docs' must be a list of mappings"),
        ({"docs": [1, 2]}, "t.yaml: task 't': field 'docs' must be a list of mappings"),
        ({"generation": [1]}, "t.yaml: task 't': field 'generation' must be a mapping"),
        ({"data": "rows.jsonl"}, "t.yaml: task 't': field 'data' must be a mapping"),
        ({"templates": {"a": 3}}, "t.yaml: task 't': field 'templates.a' must be a string or a"),
        ({"templates": {"a": {"txt": "x"}}}, "t.yaml: unknown templates.a key 'txt'"),
        ({"templates": {"a": {"framing": "cloze"}}}, "t.yaml: templates.a needs key 'text'"),
        ({"data": {"path": "x.jsonl", "colour": 1}}, "t.yaml: unknown data key 'colour'"),
        ({"nme": "t"}, "t.yaml: unknown key 'nme'"),
        ({"templates": ""}, "t.yaml: missing key 'templates'"),
        ({"fewshot_docs": None}, "t.yaml: task 't': field 'fewshot_docs' must be a list"),
        ({"docs": None}, "t.yaml: task 't': field 'docs' must be a list of mappings"),
        ({"chat": "yes"}, "t.yaml: task 't': bad value for 'chat': 'yes'"),
    ],
)
def test_bad_fields_are_one_line(tmp_path, change, message):
    with pytest.raises(InputError) as excinfo:
        _load(tmp_path, {**GOOD, **change})
    text = str(excinfo.value)
    assert text.startswith(str(tmp_path / message.split(":")[0]))
    assert message.split(":", 1)[1] in text and "\n" not in text


def test_accepted_shapes(tmp_path):
    task = _load(tmp_path, {**GOOD, "templates": {1: {"text": "{{ q }}", "framing": "lettered"}}})
    assert task.templates == {"1": "{{ q }}"} and task.framing_of("1") == "lettered"
    task = _load(tmp_path, {**GOOD, "templates": None, "template": "Q: {{ q }}"})
    assert task.templates == {"default": "Q: {{ q }}"}
    task = _load(tmp_path, {**GOOD, "generation": {}, "version": 2})
    assert task.version == "2" and task.stop == ("\n\n",)
    gen = {**GOOD, "request_type": "generate", "generation": {"stop": "\n", "max_new_tokens": 4}}
    del gen["choices"]
    task = _load(tmp_path, gen)
    assert (task.stop, task.max_new_tokens) == (("\n",), 4)
