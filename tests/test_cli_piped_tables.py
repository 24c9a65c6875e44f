"""Tables for pipes and scripts: piped output keeps whole rows (never wrapped at 80 columns),
and every command with ``--json`` also writes its tables as csv, tsv or markdown."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import typer
from cli_helpers import run_main
from typer.testing import CliRunner

from assay.cli import app
from assay.store import SampleRecord, open_store

runner = CliRunner()
SRC = str(Path(__file__).resolve().parents[1] / "src")
LONG_A = "org/a-very-long-model-name-small-v1"
LONG_B = "org/a-very-long-model-name-large-v2"


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("piped") / "s.duckdb"
    store = open_store(path)
    rng = np.random.default_rng(7)
    records = [
        SampleRecord(
            run_id=f"{model}-{task}",
            model=model,
            task=task,
            doc_id=f"d{i}",
            metrics={"acc": float(rng.random() < p)},
        )
        for model, p in {LONG_A: 0.5, LONG_B: 0.7, "mid": 0.6}.items()
        for task in ("arithmetic_with_a_long_name", "dates")
        for i in range(80)
    ]
    store.write_samples(records)
    return str(path)


def _piped(*args: str) -> str:
    """``assay ARGS | cat`` with COLUMNS unset: stdout is a pipe, not a terminal."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, "-m", "assay", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _json(store_path, *args):
    result = runner.invoke(app, ["compare", "--store", store_path, "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _line_with(text: str, *parts: str) -> str:
    lines = [line for line in text.splitlines() if all(p in line for p in parts)]
    assert len(lines) == 1, (parts, text)
    return lines[0]


def test_piped_compare_keeps_each_row_on_one_line(store_path):
    text = _piped("compare", "--store", store_path)
    expected = _json(store_path)
    assert max(len(line) for line in text.splitlines()) > 80  # not wrapped at 80 columns
    for s in expected["scores"]:
        _line_with(text, f" {s['model']} ", s["task"], f"{s['ci_low']:.4f}", f"{s['ci_high']:.4f}")
    for p in expected["pairs"]:
        _line_with(
            text,
            f" {p['model_a']} ",
            f" {p['model_b']} ",
            p["task"],
            f"{p['ci_low']:.4f}",
            f"{p['ci_high']:.4f}",
        )
    assert len(expected["pairs"]) == 6


def test_piped_json_stays_json(store_path):
    out = json.loads(_piped("compare", "--store", store_path, "--json"))
    assert {s["model"] for s in out["scores"]} == {LONG_A, LONG_B, "mid"}


def _tables(text: str, delimiter: str) -> dict[str, list[dict[str, str]]]:
    """``# title`` then a csv table, tables separated by blank lines."""
    out = {}
    for block in text.strip().split("\n\n"):
        title, body = block.split("\n", 1)
        assert title.startswith("# ")
        out[title[2:]] = list(csv.DictReader(io.StringIO(body), delimiter=delimiter))
    return out


@pytest.mark.parametrize(("fmt", "delimiter"), [("csv", ","), ("tsv", "\t")])
def test_compare_as_csv_and_tsv_holds_the_json_numbers(store_path, fmt, delimiter):
    result = runner.invoke(app, ["compare", "--store", store_path, "--format", fmt])
    assert result.exit_code == 0, result.output
    tables = _tables(result.output, delimiter)
    expected = _json(store_path)
    scores = tables["scores"]
    assert len(scores) == len(expected["scores"]) == 6
    for row, want in zip(scores, expected["scores"], strict=True):
        assert row["model"] == want["model"] and row["task"] == want["task"]
        assert float(row["ci_low"]) == pytest.approx(want["ci_low"], abs=5e-5)
        assert float(row["ci_high"]) == pytest.approx(want["ci_high"], abs=5e-5)
    pairs = next(rows for title, rows in tables.items() if title.startswith("pairs"))
    assert [float(r["diff"]) for r in pairs] == pytest.approx(
        [p["diff"] for p in expected["pairs"]], abs=5e-5
    )


def test_compare_as_markdown(store_path):
    result = runner.invoke(
        app, ["compare", "--store", store_path, "--format", "markdown", "-t", "dates"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "### scores"
    assert lines[2] == "| model | task | metric | n | mean | stderr | ci_low | ci_high | method |"
    assert lines[3] == "|---|---|---|---|---|---|---|---|---|"
    want = _json(store_path, "-t", "dates")["scores"][0]
    assert lines[4].startswith(f"| {want['model']} | dates | acc | 80 | {want['mean']:.4f} |")


def test_markdown_escapes_a_pipe_in_a_name():
    from assay.cli._common import _as_text

    text = _as_text("markdown", "t", ["model"], [["a|b"]])
    assert "| a\\|b |" in text


def test_a_bad_format_is_a_one_line_error(store_path):
    code, out, err = run_main(["compare", "--store", store_path, "--format", "xml"])
    assert (code, out) == (1, "")
    assert err == "error: --format xml: must be one of table, csv, tsv, markdown\n"


def test_the_format_does_not_leak_into_the_next_command(store_path):
    runner.invoke(app, ["compare", "--store", store_path, "--format", "csv"])
    result = runner.invoke(app, ["store", "info", "--store", store_path])
    assert result.exit_code == 0
    assert not result.output.startswith("# ")


def test_every_command_with_json_has_format():
    root = typer.main.get_command(app)
    stack, seen = [((), root)], 0
    while stack:
        path, command = stack.pop()
        subs = getattr(command, "commands", None)
        if subs:
            stack += [((*path, n), c) for n, c in subs.items()]
            continue
        opts = {o for p in command.params for o in getattr(p, "opts", [])}
        if "--json" in opts:
            assert "--format" in opts, path
            seen += 1
    assert seen > 40
    for analysis in (["compare"], ["rank", "samples"], ["forecast", "fit"], ["judge", "position"]):
        result = runner.invoke(app, [*analysis, "--help"], env={"COLUMNS": "200"})
        assert "table|csv|tsv|markdown" in result.output, analysis
