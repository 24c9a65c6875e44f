"""Task files are safe with hostile input: templates render in Jinja2's sandbox, data fields
(BIG-bench, JSONL, CSV, datasets) are text, and every bad file is one InputError naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from cli_helpers import run_main

from assay.errors import InputError
from assay.tasks import load_task, make_docs
from assay.tasks._loaders import _literal
from assay.tasks._render import render
from assay.tasks._task import Task


def _touch(target: Path) -> str:
    return f"{{{{ cycler.__init__.__globals__.os.system('touch {target}') }}}}"


def _escapes(target: Path) -> list[str]:
    """Templates that run a shell command (or reach Python internals) outside a sandbox."""
    return [
        _touch(target),
        f"{{{{ joiner.__init__.__globals__.os.popen('touch {target}').read() }}}}",
        f"{{{{ namespace.__init__.__globals__['os'].system('touch {target}') }}}}",
        f"{{{{ lipsum.__globals__['os'].system('touch {target}') }}}}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ self.__init__.__globals__ }}",
        "{{ question.__class__ }}",
        "{{ ('{0.__class__.__mro__}').format(question) }}",
        "{% set x = choices.append('z') %}{{ x }}",
    ]


def _yaml_task(path: Path, template: str, **extra) -> Path:
    spec = {
        "name": "evil",
        "request_type": "multiple_choice",
        "templates": {"default": template},
        "target": "answer",
        "choices": "choices",
        "docs": [{"question": "2+2?", "choices": ["4", "5"], "answer": "4"}],
        **extra,
    }
    path.write_text(yaml.safe_dump(spec))
    return path


def _one_line_error(excinfo: pytest.ExceptionInfo, path: Path) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and str(path) in message, message
    return message


# ---------------------------------------------------------------- sandbox


@pytest.mark.parametrize("index", range(9))
def test_escape_from_task_yaml_is_one_line_error_and_runs_nothing(tmp_path, index):
    pwned = tmp_path / "PWNED"
    template = _escapes(pwned)[index]
    path = _yaml_task(tmp_path / "evil.yaml", template)
    with pytest.raises(InputError) as excinfo:
        load_task(str(path)).instances()
    message = _one_line_error(excinfo, path)
    assert "sandbox" in message
    assert not pwned.exists()


@pytest.mark.parametrize("key", ["description", "target", "choices", "chat_template"])
def test_escape_from_any_yaml_template_is_blocked(tmp_path, key):
    pwned = tmp_path / "PWNED"
    extra = {key: _touch(pwned)}
    if key == "chat_template":
        extra["chat"] = True
    path = _yaml_task(tmp_path / "evil.yaml", "{{ question }}", **extra)
    with pytest.raises(InputError, match="blocked by the sandbox") as excinfo:
        load_task(str(path)).instances()
    _one_line_error(excinfo, path)
    assert not pwned.exists()


def test_escape_from_yaml_through_the_cli_is_one_line_exit_1(tmp_path):
    pwned = tmp_path / "PWNED"
    path = _yaml_task(tmp_path / "evil.yaml", _touch(pwned))
    code, out, err = run_main(["tasks", "show", str(path)])
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "sandbox" in lines[0], err
    assert "Traceback" not in err and not pwned.exists()


@pytest.mark.parametrize("field", ["doc_to_text", "doc_to_target", "doc_to_choice", "description"])
def test_escape_from_lm_eval_yaml_is_blocked(tmp_path, field):
    pwned = tmp_path / "PWNED"
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"question": "2+2?", "choices": ["4", "5"], "label": 0}) + "\n")
    config = {
        "task": "evil",
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(rows)}},
        "test_split": "test",
        "output_type": "multiple_choice",
        "doc_to_text": "{{ question }}",
        "doc_to_target": "label",
        "doc_to_choice": "{{ choices }}",
        field: _touch(pwned),
    }
    path = tmp_path / "lm.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(InputError, match="blocked by the sandbox") as excinfo:
        load_task(str(path), offline=True).instances()
    _one_line_error(excinfo, path)
    assert not pwned.exists()


def test_sandbox_bounds_huge_products_and_powers(tmp_path):
    for template in ("{{ question * 100000000 }}", "{{ 2 ** 100000000 }}"):
        path = _yaml_task(tmp_path / "big.yaml", template)
        with pytest.raises(InputError, match="too l") as excinfo:
            load_task(str(path)).instances()
        _one_line_error(excinfo, path)
    # ordinary arithmetic and string methods still work
    path = _yaml_task(tmp_path / "ok.yaml", "{{ question.upper() * 2 }} {{ 2 ** 10 }} {{ 7*7 }}")
    assert load_task(str(path)).instances()[0].prompt == "2+2?2+2? 1024 49"


@pytest.mark.parametrize(
    "template",
    [
        "{{ (question * 2000000) | list | map('center', 500) | list | length }}",  # the audit's
        "{{ range(100000) | map('string') | map('center', 200) | unique | list | length }}",
        "{{ ('\N{GRINNING FACE}' * 2000000) | list | length }}",  # one object per character
        "{{ ('\N{GRINNING FACE}' * 2000000) | join(',') | length }}",
        "{{ ('\N{GRINNING FACE} ' * 2000000).split() | length }}",
        "{{ ','.join('\N{GRINNING FACE}' * 2000000) | length }}",
        "{{ ('a ' * 3000000).encode().split() | length }}",
        "{% set s = question * 2000000 %}{{ [s[1:], s[2:]] | length }}",
        "{% set s = question * 2000000 %}{% set t %}{{ s }}{{ s }}{% endset %}{{ t | length }}",
        "{{ range(100000) | batch(1) | map('map', 'center', 120) | map('list') | list | length }}",
        "{% set s = question * 300000 %}{{ [s, s, s, s, s, s, s, s, s] | pprint | length }}",
    ],
)
def test_values_each_under_the_limit_share_one_budget_per_rendering(template):
    """Every value a template builds (a filter's, lazily item by item, a call's, a slice, a
    block's body) is charged to one budget of ASSAY_MAX_TEMPLATE_OUTPUT characters."""
    with pytest.raises(InputError, match="ASSAY_MAX_TEMPLATE_OUTPUT") as excinfo:
        render(template, {"question": "2+2?"}, where="t.yaml")
    message = str(excinfo.value)
    assert "\n" not in message and "too large" in message and message.startswith("t.yaml")


def test_the_budget_is_per_rendering_and_raised_by_its_variable(tmp_path, monkeypatch):
    template = "{% set s = question * 200 %}{{ [s ~ s, s ~ s, s ~ s] | map('length') | sum }}"
    monkeypatch.setenv("ASSAY_MAX_TEMPLATE_OUTPUT", "6000")
    with pytest.raises(InputError, match="too large"):  # 800 + 3 x 1600 + the list's 4800
        render(template, {"question": "2+2?"}, where="t")
    monkeypatch.setenv("ASSAY_MAX_TEMPLATE_OUTPUT", "20000")
    for _ in range(3):  # each rendering starts afresh
        assert render(template, {"question": "2+2?"}, where="t") == "4800"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ [[1, 2], [3]] | sum(start=[]) }}", "[1, 2, 3]"),
        ("{{ [(1,), (2,)] | sum(start=()) }}", "(1, 2)"),
        ("{{ [1, 2, 3] | sum }} {{ [{'n': 2}, {'n': 5}] | sum(attribute='n') }}", "6 7"),
        ("{{ question[::-1] }} {{ question[1:3] }} {{ [1, 2, 3][1:] }}", "?2+2 +2 [2, 3]"),
        ("{{ question.split('+') | map('upper') | select | list | join('|') }}", "2|2?"),
        ("{{ 'a b  c'.split() | reverse | join }} {{ 'x\\ny'.splitlines() }}", "cba ['x', 'y']"),
        ("{% set t %}[{{ question }}]{% endset %}{{ t ~ t }}", "[2+2?][2+2?]"),
        ("{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m(question) ~ m(1) }}", "<2+2?><1>"),
        ("{{ question.encode() | length }} {{ (2 ** 70 * 2 ** 70) > 0 }}", "4 True"),
        ("{{ question | regex_replace('(\\\\d)', '<\\\\1>') }}", "<2>+<2>?"),
        ("{{ 'see www.a.io' | urlize }}", 'see <a href="https://www.a.io" rel="noopener">www.a.io</a>'),
        ("{% for a, b in [(1, 2), (3, 4)] %}{{ a }}{{ b }}{% endfor %}{% set x, y = 1, 2 %}"
         "{{ x }}{{ y }} {{ {'k': [1, (2, 3)]}['k'] }}", "123412 [1, (2, 3)]"),
        ("{% for i in range(2) %}{% for c in question[:2] ~ [i][:1] | join %}{{ c }}{% endfor %}"
         "{% endfor %}", "2+02+1"),
        ("{{ range(3) | map('string') | list }} {{ {'b': 1, 'a': 2} | dictsort }}",
         "['0', '1', '2'] [('a', 2), ('b', 1)]"),
    ],
)  # fmt: skip
def test_ordinary_filters_methods_and_slices_render_as_before(template, expected):
    assert render(template, {"question": "2+2?"}, where="t") == expected


# ---------------------------------------------------------------- data is text


def _bigbench(path: Path, examples: list, **keys) -> Path:
    path.write_text(json.dumps({"examples": examples, **keys}))
    return path


@pytest.mark.parametrize(
    "key", ["task_prefix", "example_input_prefix", "example_output_prefix", "choice_prefix"]
)
def test_bigbench_prefixes_are_text_and_cannot_escape(tmp_path, key):
    pwned = tmp_path / "PWNED"
    hostile = "{% endraw %}" + _touch(pwned) + "{% raw %}{{ 7*7 }}"
    path = _bigbench(
        tmp_path / "bb.json",
        [{"input": "Is ice cold?", "target_scores": {"yes": 1, "no": 0}}],
        **{key: hostile},
    )
    prompt = load_task(str(path)).instances()[0].prompt
    assert hostile.rstrip(" ") in prompt
    assert not pwned.exists()
    code, out, err = run_main(["tasks", "show", str(path), "--json"])
    assert code == 0, err
    assert hostile in json.loads(out)["instances"][0]["prompt"] and not pwned.exists()


def test_bigbench_fields_are_text_not_templates(tmp_path):
    pwned = tmp_path / "PWNED"
    mc = _bigbench(
        tmp_path / "mc.json",
        [{"input": "{{ 7*7 }}", "target_scores": {"{{ 6*7 }}": 1, _touch(pwned): 0}}],
    )
    inst = load_task(str(mc)).instances()[0]
    assert (
        inst.prompt == f"\nQ: {{{{ 7*7 }}}}\n  choice: {{{{ 6*7 }}}}\n  choice: {_touch(pwned)}\nA:"
    )
    assert [r.continuation for r in inst.requests] == [" {{ 6*7 }}", " " + _touch(pwned)]
    gen = _bigbench(tmp_path / "gen.json", [{"input": _touch(pwned), "target": "{{ 1/0 }}"}])
    inst = load_task(str(gen)).instances()[0]
    assert inst.prompt == f"\nQ: {_touch(pwned)}\nA:" and list(inst.payload.targets) == [
        "{{ 1/0 }}"
    ]
    assert not pwned.exists()


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_data_file_fields_are_text_not_templates(tmp_path, suffix):
    pwned = tmp_path / "PWNED"
    rows = [
        {"question": "{{ 7*7 }}", "answer": _touch(pwned)},
        {"question": "{% if %}", "answer": "x"},
    ]
    path = tmp_path / f"rows{suffix}"
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        path.write_text(
            "question,answer\n" + "".join(f'"{r["question"]}","{r["answer"]}"\n' for r in rows)
        )
    task = load_task(str(path), num_fewshot=1)
    by_id = {i.doc_id: i for i in task.instances()}
    assert by_id["0"].prompt.endswith("Question: {{ 7*7 }}\nAnswer:")
    assert list(by_id["0"].payload.targets) == [_touch(pwned)]
    assert "Question: {% if %}\nAnswer: x" in by_id["0"].prompt  # the few-shot example
    assert by_id["1"].prompt.startswith("Question: {{ 7*7 }}\nAnswer: " + _touch(pwned))
    assert not pwned.exists()


@pytest.mark.parametrize(
    "text",
    [
        "{% endraw %}", "{%endraw%}", "{%- endraw -%}", "{%+ endraw +%}", "{%\nendraw\n%}",
        "endraw", "{% raw %}", "{{ 7*7 }}", "{# c #}", "{%", "{%-", "%}", "}}",
        "a {% endraw %}{{ 7*7 }}{% raw %} b", "{% endraw %}{% endraw %}", " \n Q: ",
    ],
)  # fmt: skip
def test_literal_renders_to_exactly_its_text(text):
    assert render(_literal(text), {}, where="t") == text


# ---------------------------------------------------------------- one-line errors


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ nope }}", "'nope' is undefined"),
        ("{{ question.nope }}", "has no attribute 'nope'"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{{ 1 // 0 }}", "ZeroDivisionError"),
        ("{{ '%d' | format('x') }}", "TypeError"),
        ("{{ 5 | join }}", "TypeError"),
        ("{{ question | regex_replace('(', '') }}", "template failed"),
        ("{{ question | nosuchfilter }}", "bad Jinja2 template"),
        ("{{ question ", "bad Jinja2 template"),
    ],
)
def test_template_runtime_errors_are_one_line_naming_the_file(tmp_path, template, expected):
    path = _yaml_task(tmp_path / "bad.yaml", template)
    with pytest.raises(InputError, match=expected) as excinfo:
        load_task(str(path)).instances()
    assert "doc_id '0'" in _one_line_error(excinfo, path)


def test_description_and_chat_template_errors_name_the_file(tmp_path):
    path = _yaml_task(tmp_path / "d.yaml", "{{ question }}", description="{{ 1/0 }}")
    with pytest.raises(InputError, match="description.*ZeroDivisionError") as excinfo:
        load_task(str(path)).instances()
    _one_line_error(excinfo, path)
    path = _yaml_task(
        tmp_path / "c.yaml",
        "{{ question }}",
        chat=True,
        chat_template="{{ raise_exception('no') }}",
    )
    with pytest.raises(InputError, match="chat_template.*no") as excinfo:
        load_task(str(path)).instances()
    _one_line_error(excinfo, path)


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ({"a": "high", "b": 0}, r"target_scores\['a'\] = 'high' is not a number"),
        ({"a": None, "b": 0}, "is not a number"),
        ({"a": True, "b": 0}, "is not a number"),
        ({"a": [1], "b": 0}, "is not a number"),
        ({"a": float("nan"), "b": 0}, "is not finite"),
        ({"a": float("inf"), "b": 0}, "is not finite"),
        ({}, "non-empty object"),
        ([1, 0], "non-empty object"),
    ],
)
def test_bigbench_bad_target_scores(tmp_path, scores, expected):
    path = _bigbench(tmp_path / "bb.json", [{"input": "q", "target_scores": scores}])
    with pytest.raises(InputError, match=expected) as excinfo:
        load_task(str(path))
    assert r"examples[0]" in _one_line_error(excinfo, path)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"examples": []}, "'examples' is empty"),
        ({"examples": [{"input": "q", "target": []}]}, "non-empty list of strings"),
        ({"examples": [{"input": "q", "target": {"a": 1}}]}, "non-empty list of strings"),
        ({"examples": [{"input": ["q"], "target": "a"}]}, "input must be a string"),
        ({"examples": [{"input": "q", "target": "a"}], "task_prefix": 5}, "task_prefix must be"),
        (
            {"examples": [{"input": "q", "target": "a"}], "append_choices_to_input": "yes"},
            "append_choices_to_input",
        ),
    ],
)
def test_bigbench_bad_files(tmp_path, body, expected):
    path = tmp_path / "bb.json"
    path.write_text(json.dumps(body))
    with pytest.raises(InputError, match=expected) as excinfo:
        load_task(str(path))
    _one_line_error(excinfo, path)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.jsonl", "", "no rows"),
        ("blank.jsonl", "\n\n", "no rows"),
        ("empty.json", "[]", "no rows"),
        ("empty.csv", "", "empty"),
        ("header.csv", "question,answer\n", "no rows"),
        ("ragged.csv", "question,answer\nq1,a1\nq2\n", r"ragged.csv: line 3: 1 fields"),
        ("dupcol.csv", "question,question\nq1,a1\n", "appears twice"),
        ("latin1.jsonl", b'{"question": "caf\xe9"}\n', "not valid UTF-8"),
        ("latin1.csv", b"question,answer\ncaf\xe9,x\n", "not valid UTF-8"),
    ],
)
def test_bad_or_empty_data_files(tmp_path, name, content, expected):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(InputError, match=expected) as excinfo:
        load_task(str(path))
    _one_line_error(excinfo, path)


def test_yaml_task_with_no_documents(tmp_path):
    path = _yaml_task(tmp_path / "none.yaml", "{{ question }}")
    spec = yaml.safe_load(path.read_text())
    spec["docs"] = []
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(InputError, match="has no documents") as excinfo:
        load_task(str(path))
    _one_line_error(excinfo, path)
    (tmp_path / "empty.jsonl").write_text("")
    del spec["docs"]
    spec["data"] = {"path": "empty.jsonl"}
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(InputError, match="has no documents") as excinfo:
        load_task(str(path))
    _one_line_error(excinfo, path)
    spec["data"] = {"path": "empty.jsonl"}
    spec["fewshot_docs"] = "not a list"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(InputError, match="fewshot_docs' must be a list") as excinfo:
        load_task(str(path))
    _one_line_error(excinfo, path)


def test_zero_row_dataset(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"question": "q", "answer": "a"}) + "\n")
    one = datasets.load_dataset("json", data_files={"test": str(rows)}, split="test")
    folder = tmp_path / "ds"
    datasets.DatasetDict({"test": one.filter(lambda r: False)}).save_to_disk(str(folder))
    with pytest.raises(InputError, match="no rows") as excinfo:
        load_task(f"hf:{folder}")
    assert str(folder) in str(excinfo.value) and "\n" not in str(excinfo.value)
    broken = tmp_path / "broken"
    datasets.Dataset.from_dict({"question": []}).save_to_disk(str(broken))  # 0 shards
    with pytest.raises(InputError, match="cannot load the folder") as excinfo:
        load_task(f"hf:{broken}")
    assert str(broken) in str(excinfo.value) and "\n" not in str(excinfo.value)
    with pytest.raises(InputError, match="dataset 'json'") as excinfo:
        (tmp_path / "empty.jsonl").write_text("")
        load_task("hf:json", data_files=str(tmp_path / "empty.jsonl"), split="train")
    assert "\n" not in str(excinfo.value)
    path = tmp_path / "lm.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "task": "empty",
                "dataset_path": str(folder),
                "test_split": "test",
                "doc_to_text": "{{ question }}",
                "doc_to_target": "answer",
            }
        )
    )
    with pytest.raises(InputError, match="has no documents") as excinfo:
        load_task(str(path), offline=True)
    _one_line_error(excinfo, path)


# ---------------------------------------------------------------- counts


@pytest.mark.parametrize(
    ("option", "value"),
    [("-n", "-5"), ("--n", "-1"), ("--num-fewshot", "-1"), ("--seed", "-3"),
     ("--permute-choices", "-2")],
)  # fmt: skip
def test_tasks_show_rejects_negative_counts(option, value):
    code, out, err = run_main(["tasks", "show", "arith_mc", option, value])
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    named = "-n" if option == "--n" else option
    assert lines == [f"error: {named} {value}: must be >= 0"], err
    code, out, _ = run_main(["tasks", "show", "arith_mc", "-n", "0", "--json"])
    assert code == 0 and json.loads(out)["instances"] == []


@pytest.mark.parametrize(
    ("option", "value"),
    [("limit", -1), ("num_fewshot", -1), ("seed", -1), ("permute_choices", -1), ("repeats", 0),
     ("limit", 1.5)],
)  # fmt: skip
def test_instances_rejects_bad_counts(option, value):
    task = Task(
        name="t",
        request_type="generate",
        docs=make_docs([{"q": "a", "target": "b"}, {"q": "c", "target": "d"}]),
        templates={"t": "{{ q }}"},
    )
    with pytest.raises(InputError, match=f"{option} must be a whole number"):
        task.instances(**{option: value})


def test_empty_target_list_names_the_file(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"question": "q", "answer": []}) + "\n")
    with pytest.raises(InputError, match="doc_id '0': the target is an empty list") as excinfo:
        load_task(str(path)).instances()
    _one_line_error(excinfo, path)
