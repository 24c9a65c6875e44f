"""`assay tasks` and `assay tasks show` on built-in names and files the test writes."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from assay.cli import app

runner = CliRunner()


def test_tasks_lists_builtin_suite_as_json_and_table():
    result = runner.invoke(app, ["tasks", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["arith_mc"]["size"] == 300 and rows["arith_mc"]["difficulty_levels"] == 5
    assert rows["arith_gen"]["type"] == "generate"
    table = runner.invoke(app, ["tasks"])
    assert table.exit_code == 0 and "alice_mc" in table.output and "levels" in table.output


def test_show_builtin_renders_prompts_and_targets():
    result = runner.invoke(app, ["tasks", "show", "arith_mc", "-n", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    first = data["instances"][0]
    assert first["prompt"] == "Question: What is 7 + 9?\nAnswer:" and first["target"] == " 16"
    assert len(data["instances"]) == 2
    text = runner.invoke(app, ["tasks", "show", "arith_mc", "-n", "1", "--template", "lettered"])
    assert text.exit_code == 0 and "A. " in text.output and "* ' " in text.output


def test_show_bigbench_and_lm_eval_files(tmp_path):
    bb = tmp_path / "bb.json"
    bb.write_text(
        json.dumps({"examples": [{"input": "Is ice cold?", "target_scores": {"yes": 1, "no": 0}}]})
    )
    out = json.loads(runner.invoke(app, ["tasks", "show", str(bb), "--json"]).output)
    assert out["instances"][0]["prompt"] == "\nQ: Is ice cold?\n  choice: yes\n  choice: no\nA:"
    assert out["instances"][0]["target"] == " yes"
    (tmp_path / "rows.jsonl").write_text(json.dumps({"text": "Hello", "label": "world"}))
    (tmp_path / "lm.yaml").write_text(
        "task: hello\ndataset_path: json\ndataset_kwargs:\n  data_files: rows.jsonl\n"
        "test_split: train\noutput_type: generate_until\ndoc_to_text: text\ndoc_to_target: label\n"
    )
    result = runner.invoke(app, ["tasks", "show", str(tmp_path / "lm.yaml"), "-n", "1"])
    assert result.exit_code == 0, result.output
    assert "hello" in result.output and "Hello" in result.output and "'world'" in result.output


def test_bad_file_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nrequest_type: generate\ntemplates: '{{ q }}'\ndocs: []\ncolour: red\n")
    proc = subprocess.run(
        [sys.executable, "-c", "from assay.cli import main; main()", "tasks", "show", str(bad)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"error: {bad}: unknown key 'colour'"]
