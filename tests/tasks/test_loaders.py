"""Loaders on files the tests write: JSONL/CSV/Parquet, datasets, BIG-bench, YAML (ours, lm-eval)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from assay.errors import InputError
from assay.requests import LoglikelihoodResult
from assay.tasks import load_task, register_task, save_task

ROWS = [
    {"question": "2 + 2 =", "choices": ["3", "4", "5"], "answer": "4", "difficulty": 1},
    {"question": "3 + 5 =", "choices": ["8", "9", "7"], "answer": "8", "difficulty": 1},
    {"question": "12 + 30 =", "choices": ["40", "42", "44"], "answer": "42", "difficulty": 2},
]


def _check_rows_task(task, name):
    assert task.name == name and task.request_type == "multiple_choice"
    assert [d.doc_id for d in task.docs] == ["0", "1", "2"]
    assert [d.difficulty for d in task.docs] == [1, 1, 2]
    inst = task.instances(limit=3)
    assert [i.doc_id for i in inst] == ["0", "2", "1"]  # difficulty levels interleaved
    assert inst[0].prompt == "Question: 2 + 2 =\nAnswer:"
    assert [r.continuation for r in inst[0].requests] == [" 3", " 4", " 5"]
    assert [i.payload.target_position for i in inst] == [1, 1, 0]


def test_jsonl_csv_parquet(tmp_path):
    jsonl = tmp_path / "sums.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    _check_rows_task(load_task(str(jsonl)), "sums")
    csv = tmp_path / "sums_csv.csv"
    pd.DataFrame([{**r, "choices": json.dumps(r["choices"])} for r in ROWS]).to_csv(
        csv, index=False
    )
    _check_rows_task(load_task(str(csv)), "sums_csv")
    parquet = tmp_path / "sums_pq.parquet"
    pd.DataFrame(ROWS).to_parquet(parquet)
    _check_rows_task(load_task(str(parquet)), "sums_pq")


def test_data_file_column_options(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps({"id": "q1", "prompt_text": "Say hi", "gold": "hi"}) + "\n")
    task = load_task(
        str(path), template="{{ prompt_text }}:", target="gold", id_field="id", stop=("\n",)
    )
    inst = task.instances()[0]
    assert task.request_type == "generate" and inst.doc_id == "q1" and inst.prompt == "Say hi:"
    assert inst.target == "hi" and inst.requests[0].stop == ("\n",)
    with pytest.raises(InputError, match=r"qa.jsonl: target column 'nope' not found"):
        load_task(str(path), template="{{ prompt_text }}", target="nope")


def test_bad_data_files_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "a", "answer": "b"}\n{not json\n')
    with pytest.raises(InputError, match=r"bad.jsonl: line 2: not valid JSON"):
        load_task(str(bad))
    with pytest.raises(InputError, match="unknown task 'no_such_task'"):
        load_task("no_such_task")


def test_hf_save_to_disk_and_json_data_files(tmp_path):
    datasets = pytest.importorskip("datasets")
    folder = tmp_path / "sums_ds"
    datasets.DatasetDict({"test": datasets.Dataset.from_list(ROWS)}).save_to_disk(str(folder))
    _check_rows_task(load_task(f"hf:{folder}", split="test", name="sums"), "sums")
    _check_rows_task(load_task(str(folder), name="sums"), "sums")
    with pytest.raises(InputError, match=r"no split 'train'.*has: test"):
        load_task(f"hf:{folder}", split="train")
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in ROWS))
    task = load_task("hf:json", data_files=str(jsonl), split="train", name="sums", offline=True)
    _check_rows_task(task, "sums")


def test_hf_unknown_dataset_says_what_and_where():
    pytest.importorskip("datasets")
    with pytest.raises(InputError) as err:
        load_task("hf:someone/not_a_real_dataset", split="test", offline=True)
    message = str(err.value)
    assert "someone/not_a_real_dataset" in message and "split 'test'" in message
    assert "local datasets cache" in message and "hub is unreachable" in message
    assert "\n" not in message


def test_bigbench_multiple_choice(tmp_path):
    spec = {
        "name": "bb_sums",
        "description": "toy",
        "keywords": ["arithmetic"],
        "task_prefix": "Add the numbers {carefully}.\n",
        "examples": [
            {"input": "1 + 1", "target_scores": {"1": 0, "2": 1, "3": 0}},
            {"input": "2 + 5", "target_scores": {"7": 1, "8": 0}},
        ],
    }
    path = tmp_path / "task.json"
    path.write_text(json.dumps(spec))
    task = load_task(str(path))
    assert task.name == "bb_sums" and task.request_type == "multiple_choice"
    inst = task.instances()
    assert (
        inst[0].prompt
        == "Add the numbers {carefully}.\n\nQ: 1 + 1\n  choice: 1\n  choice: 2\n  choice: 3\nA:"
    )
    assert [r.continuation for r in inst[0].requests] == [" 1", " 2", " 3"]
    assert inst[0].payload.target_position == 1 and inst[1].payload.target_position == 0
    shot = task.instances(num_fewshot=1)[1].prompt
    assert (
        shot
        == "Add the numbers {carefully}.\n\nQ: 1 + 1\n  choice: 1\n  choice: 2\n  choice: 3\nA: 2\n\nQ: 2 + 5\n  choice: 7\n  choice: 8\nA:"
    )
    scored = task.score(inst[0], [LoglikelihoodResult(v, False, 9, 1) for v in (-3.0, -0.2, -4.0)])
    assert scored.metrics["acc"] == 1.0


def test_bigbench_generative_and_errors(tmp_path):
    path = tmp_path / "gen.json"
    path.write_text(
        json.dumps(
            {
                "examples": [{"input": "Capital of France?", "target": ["Paris", "paris"]}],
                "example_input_prefix": "Question: ",
                "example_output_prefix": "\nAnswer: ",
            }
        )
    )
    task = load_task(str(path))
    inst = task.instances()[0]
    assert task.name == "gen" and inst.prompt == "Question: Capital of France?\nAnswer:"
    assert list(inst.payload.targets) == ["Paris", "paris"] and inst.requests[0].stop == ("\n",)
    from assay.requests import GenerateResult

    assert task.score(inst, [GenerateResult(" paris", 5, 2)]).metrics["exact_match"] == 1.0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"examples": [{"input": "x", "target": "y"}], "task_prefx": "oops"}))
    with pytest.raises(InputError, match=r"bad.json: unknown BIG-bench key 'task_prefx'"):
        load_task(str(bad))
    bad.write_text(json.dumps({"examples": [{"input": "x"}]}))
    with pytest.raises(InputError, match=r"bad.json: examples\[0\] has neither"):
        load_task(str(bad))


def test_lm_eval_yaml_multiple_choice(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "test.jsonl").write_text(
        "\n".join(json.dumps({**r, "label": r["choices"].index(r["answer"])}) for r in ROWS)
    )
    (data / "train.jsonl").write_text(
        json.dumps({"question": "1 + 1 =", "choices": ["2", "3"], "label": 0})
    )
    (tmp_path / "sums.yaml").write_text(
        "task: lm_sums\n"
        "dataset_path: json\n"
        "dataset_kwargs:\n  data_files:\n    test: data/test.jsonl\n    train: data/train.jsonl\n"
        "test_split: test\ntraining_split: train\n"
        "output_type: multiple_choice\n"
        'doc_to_text: "Q: {{question}}\\nA:"\n'
        "doc_to_target: label\n"
        "doc_to_choice: '{{choices}}'\n"
        "num_fewshot: 1\n"
        "metric_list:\n  - metric: acc\n"
        "metadata:\n  version: 2.0\n"
    )
    task = load_task(str(tmp_path / "sums.yaml"), offline=True)
    assert (task.name, task.version, task.num_fewshot) == ("lm_sums", "2.0", 1)
    inst = task.instances()
    assert inst[0].prompt == "Q: 1 + 1 =\nA: 2\n\nQ: 2 + 2 =\nA:"
    assert [r.continuation for r in inst[2].requests] == [" 40", " 42", " 44"]
    assert [i.payload.target_position for i in inst] == [1, 0, 1]
    assert [i.doc_id for i in inst] == ["0", "1", "2"]  # lm-eval's doc ids: row numbers


def test_lm_eval_yaml_generate_and_errors(tmp_path):
    (tmp_path / "d.jsonl").write_text(json.dumps({"q": "5 + 5", "a": 10}))
    body = (
        "task: lm_gen\ndataset_path: json\ndataset_kwargs:\n  data_files: d.jsonl\ntest_split: train\n"
        "output_type: generate_until\ndoc_to_text: '{{q}} ='\ndoc_to_target: '{{a}}'\n"
        'generation_kwargs:\n  until: ["\\n"]\n  max_gen_toks: 8\n'
        "filter_list:\n  - name: get\n    filter:\n      - function: regex\n        regex_pattern: '(\\d+)'\n      - function: take_first\n"
    )
    path = tmp_path / "gen.yaml"
    path.write_text(body)
    task = load_task(str(path), offline=True)
    inst = task.instances()[0]
    assert inst.prompt == "5 + 5 =" and inst.target == "10"
    assert inst.requests[0].stop == ("\n",) and inst.requests[0].max_new_tokens == 8
    from assay.requests import GenerateResult

    assert task.score(inst, [GenerateResult(" it is 10!", 3, 4)]).metrics["exact_match"] == 1.0
    path.write_text(body + "process_results: !function utils.process\n")
    with pytest.raises(
        InputError, match=r"gen.yaml: lm-eval key 'process_results' is not in the supported subset"
    ):
        load_task(str(path))
    path.write_text(body.replace("doc_to_text: '{{q}} ='", "doc_to_text: !function utils.text"))
    with pytest.raises(InputError, match=r"gen.yaml: key 'doc_to_text' uses !function"):
        load_task(str(path))


def test_yaml_round_trip(tmp_path):
    original = load_task("alice_mc")
    path = save_task(original, tmp_path / "alice.yaml")
    again = load_task(str(path))
    assert again.fingerprint() == original.fingerprint()
    a = original.instances(
        limit=12, num_fewshot=2, seed=3, permute_choices=2, template_id="lettered"
    )
    b = again.instances(limit=12, num_fewshot=2, seed=3, permute_choices=2, template_id="lettered")
    assert [(i.doc_id, i.repeat, i.requests, i.difficulty) for i in a] == [
        (i.doc_id, i.repeat, i.requests, i.difficulty) for i in b
    ]
    gen = load_task("arith_gen")
    gen_again = load_task(str(save_task(gen, tmp_path / "gen.yaml")))
    assert gen_again.fingerprint() == gen.fingerprint()
    assert gen_again.instances(limit=5) == gen.instances(limit=5)


def test_our_yaml_with_data_file_and_errors(tmp_path):
    (tmp_path / "rows.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS))
    spec = {
        "name": "mine",
        "request_type": "multiple_choice",
        "templates": {
            "plain": "{{ question }}",
            "abc": {"text": "{{ question }}\n{{ choice_list }}\nAnswer:", "framing": "lettered"},
        },
        "target": "answer",
        "choices": "choices",
        "data": {"path": "rows.jsonl"},
    }
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(spec))
    task = load_task(str(path))
    assert [r.continuation for r in task.instances(limit=1, template_id="abc")[0].requests] == [
        " A",
        " B",
        " C",
    ]
    path.write_text(yaml.safe_dump({**spec, "temprature": 0.5}))
    with pytest.raises(InputError, match=r"mine.yaml: unknown key 'temprature'"):
        load_task(str(path))
    path.write_text(yaml.safe_dump({**spec, "generation": {"max_tokens": 3}}))
    with pytest.raises(InputError, match=r"mine.yaml: unknown generation key 'max_tokens'"):
        load_task(str(path))
    path.write_text(yaml.safe_dump({k: v for k, v in spec.items() if k != "request_type"}))
    with pytest.raises(InputError, match=r"mine.yaml: missing key 'request_type'"):
        load_task(str(path))
    path.write_text("name: [unclosed\n")
    with pytest.raises(InputError, match=r"mine.yaml: not valid YAML, line"):
        load_task(str(path))
    path.write_text(yaml.safe_dump({**spec, "templates": {"plain": "{{ question "}}))
    with pytest.raises(InputError, match=r"template 'plain', doc_id '0': bad Jinja2 template"):
        load_task(str(path)).instances()


def test_register_task_and_options():
    task = load_task("logic_tf")
    import dataclasses

    mine = register_task(dataclasses.replace(task, name="logic_copy"))
    assert load_task("logic_copy") is mine
    from assay.tasks import list_tasks

    row = next(r for r in list_tasks() if r["name"] == "logic_copy")
    assert row["source"] == "registered" and row["size"] == len(task.docs)
    assert load_task("logic_tf", num_fewshot=2).num_fewshot == 2 and task.num_fewshot == 0
    with pytest.raises(InputError, match="unknown option 'fewshot'"):
        load_task("logic_tf", fewshot=2)


def test_csv_blank_and_bad_difficulty(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("question,answer,difficulty\nA?,a,\nB?,b,2\n")
    task = load_task(str(path))
    assert [d.difficulty for d in task.docs] == [None, 2.0] and task.request_type == "generate"
    path.write_text("question,answer,difficulty\nA?,a,hard\n")
    with pytest.raises(InputError, match=r"d.csv: doc_id '0': difficulty 'hard' is not a number"):
        load_task(str(path))


def test_task_errors_name_the_file(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(
        yaml.safe_dump({"name": "t", "request_type": "mc", "templates": "x", "docs": []})
    )
    with pytest.raises(InputError, match=r"t.yaml: task 't': request_type 'mc'"):
        load_task(str(path))
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps({"question": "q", "answer": "a"}))
    with pytest.raises(InputError, match=r"rows.jsonl: .*unexpected keyword argument 'fewshots'"):
        load_task(str(data), fewshots=3)


def test_yaml_fewshot_path_and_bad_values(tmp_path):
    (tmp_path / "rows.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS))
    (tmp_path / "shots.jsonl").write_text(
        json.dumps({"question": "0 + 1 =", "choices": ["1", "2"], "answer": "1"})
    )
    spec = {
        "name": "shot",
        "request_type": "multiple_choice",
        "templates": "{{ question }}",
        "target": "answer",
        "choices": "choices",
        "num_fewshot": 1,
        "data": {"path": "rows.jsonl", "fewshot_path": "shots.jsonl"},
    }
    path = tmp_path / "shot.yaml"
    path.write_text(yaml.safe_dump(spec))
    inst = load_task(str(path)).instances(limit=1)[0]
    assert inst.prompt == "0 + 1 = 1\n\n2 + 2 ="
    assert inst.metadata["fewshot_doc_ids"] == ["fewshot-0"]
    path.write_text(
        yaml.safe_dump({**spec, "data": {"path": "rows.jsonl", "fewshot_split": "train"}})
    )
    with pytest.raises(InputError, match="shot.yaml: data.fewshot_split needs a dataset folder"):
        load_task(str(path))
    path.write_text(yaml.safe_dump({**spec, "num_fewshot": "two"}))
    with pytest.raises(
        InputError, match="shot.yaml: task 'shot': bad value for 'num_fewshot': 'two'"
    ):
        load_task(str(path))
