"""The CLI's error handling: crashes are one line plus a trace file, user text is never markup,
and bad option values are one line (exit 1) before any work."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from cli_helpers import run_main

import assay.cli.rank as cli_rank
from assay.errors import InputError

TRACE = re.compile(r"full trace written to (\S+\.log)")


@pytest.fixture
def battles_file(tmp_path) -> Path:
    path = tmp_path / "b.jsonl"
    rows = [
        {"model_a": "[bold]a[/]", "model_b": "[/]", "winner": "model_a"},
        {"model_a": "[bold]a[/]", "model_b": "[/]", "winner": "tie"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def crash_dir(tmp_path, monkeypatch) -> Path:
    """Trace files go to this test's folder instead of the system temp dir."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _boom(*args, **kwargs):
    raise RuntimeError("boom with [bold]markup[/] and\na second line")


def test_a_crash_is_one_line_and_a_trace_file(battles_file, crash_dir, monkeypatch, tmp_path):
    monkeypatch.setattr(cli_rank, "battle_blocks", _boom)
    store = tmp_path / "s.duckdb"
    code, out, err = run_main(["rank", "battles", str(battles_file), "--store", str(store)])
    assert code == 1
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and out == ""
    assert err.startswith("error: RuntimeError: boom with [bold]markup[/] and a second line (")
    match = TRACE.search(err)
    assert match, err
    trace = Path(match.group(1))
    assert trace.parent == crash_dir and trace.name.startswith("assay-crash-")
    assert trace.stat().st_mode & 0o077 == 0  # private: the command line may hold a token
    text = trace.read_text()
    assert "Traceback (most recent call last)" in text
    assert "in _boom" in text and "RuntimeError: boom with [bold]markup[/]" in text
    assert not store.exists()


def test_an_unwritable_trace_is_still_one_line(battles_file, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no" / "such" / "dir"))
    monkeypatch.setattr(cli_rank, "battle_blocks", _boom)
    code, _, err = run_main(["rank", "battles", str(battles_file)])
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "the trace could not be written" in err


@pytest.mark.parametrize("how", ["option", "env"])
def test_debug_lets_the_traceback_through(battles_file, crash_dir, monkeypatch, how):
    monkeypatch.setattr(cli_rank, "battle_blocks", _boom)
    args = ["rank", "battles", str(battles_file)]
    with pytest.raises(RuntimeError, match="boom"):
        if how == "option":
            run_main(["--debug", *args])
        else:
            run_main(args, env={"ASSAY_DEBUG": "1"})
    assert list(crash_dir.iterdir()) == []


def test_debug_prints_the_traceback_in_a_real_process(battles_file, tmp_path):
    script = (
        "import sys, assay.cli.rank as r\n"
        "def boom(*a, **k):\n"
        "    raise RuntimeError('kaboom')\n"
        "r.battle_blocks = boom\n"
        "from assay.cli import main\n"
        "sys.argv = ['assay', *sys.argv[1:]]\n"
        "main()\n"
    )
    args = [sys.executable, "-c", script, "rank", "battles", str(battles_file)]
    crash_dir = tmp_path / "tmp"
    crash_dir.mkdir()
    env = {**os.environ, "TMPDIR": str(crash_dir)}
    env.pop("ASSAY_DEBUG", None)
    run = dict(capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    quiet = subprocess.run(args, **run)
    assert quiet.returncode == 1
    assert quiet.stderr.strip().count("\n") == 0 and "Traceback" not in quiet.stderr
    assert "error: RuntimeError: kaboom (full trace written to" in quiet.stderr
    (trace,) = crash_dir.iterdir()
    assert "RuntimeError: kaboom" in trace.read_text()
    loud = subprocess.run([*args[:3], "--debug", *args[3:]], **run)
    assert loud.returncode == 1
    assert (
        "Traceback (most recent call last)" in loud.stderr and "RuntimeError: kaboom" in loud.stderr
    )


def test_ctrl_c_is_one_line_and_exit_130(battles_file, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_rank, "battle_blocks", interrupt)
    code, _, err = run_main(["rank", "battles", str(battles_file)])
    assert code == 130
    assert err.strip() == "error: interrupted"


def test_user_errors_print_markup_literally(battles_file, monkeypatch):
    def bad(*args, **kwargs):
        raise InputError("model [red]x[/] and [/bold] are\nunknown")

    monkeypatch.setattr(cli_rank, "battle_blocks", bad)
    code, _, err = run_main(["rank", "battles", str(battles_file)])
    assert code == 1
    assert err.strip() == "error: model [red]x[/] and [/bold] are unknown"


def test_usage_errors_keep_exit_code_2():
    code, _, err = run_main(["rank", "battles", "--no-such-option"])
    assert code == 2
    assert "No such option" in err
    assert run_main(["--help"])[0] == 0


def test_table_cells_are_text_not_markup(battles_file, tmp_path):
    store = tmp_path / "s.duckdb"
    code, out, err = run_main(["rank", "battles", str(battles_file), "--store", str(store)])
    assert code == 0, err
    assert "[bold]a[/]" in out
    assert re.search(r"│ \[/\]\s+│", out), out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "--alpha", "2"], "--alpha 2.0: must be in (0, 1)"),
        (["compare", "--confidence", "1"], "--confidence 1.0: must be in (0, 1)"),
        (["compare", "--confidence", "0.9", "--alpha", "0.05"], "--alpha 0.05 disagree"),
        (["report", "--alpha", "0.01", "--level", "0.95"], "--alpha 0.01 and --level 0.95"),
        (["power", "--n", "-5"], "--n -5.0: must be >= 2"),
        (["power", "--delta", "0.02", "--power", "1.5"], "--power 1.5: must be in (0, 1)"),
        (["power", "--delta", "0.02", "--omega2", "-1"], "--omega2 -1.0: must be >= 0"),
        (["power", "--delta", "nan"], "--delta nan: must be a finite number"),
        (["power", "--n", "100", "--k-a", "0"], "--k-a 0: must be >= 1"),
        (["items", "--anchors", "-3"], "--anchors -3: must be >= 1"),
        (["items", "--seed", "-1"], "--seed -1: must be >= 0"),
        (["rank", "samples", "--bootstrap", "-1"], "--bootstrap -1: must be in [0, 100000]"),
        (["rank", "stability", "--repeats", "0"], "--repeats 0: must be in [1, 10000]"),
        (["rank", "stability", "--fractions", "0.5,2"], "--fractions '0.5,2': each must be in"),
        (["forecast", "fit", "{runs}", "--bootstrap", "-1"], "--bootstrap -1: must be in"),
        (["forecast", "fit", "{runs}", "--seed", "-2"], "--seed -2: must be >= 0"),
        (["forecast", "backtest", "{runs}", "--level", "1.5"], "--level 1.5: must be in (0, 1)"),
        (["forecast", "trend", "{runs}", "--alpha", "0"], "--alpha 0.0: must be in (0, 1)"),
        (["forecast", "predict", "{runs}", "--at-flops", "inf"], "--at-flops 'inf': must be"),
        (["forecast", "downstream", "{runs}", "--at", "lots"], "--at 'lots': not a number"),
        (["forecast", "fit", "{runs}", "--plot", "{tmp}/no/dir/x.png"], "does not exist"),
        (["forecast", "fit", "{runs}", "--plot", "{tmp}/folder.png"], "is a folder"),
        (
            ["forecast", "downstream", "{runs}", "--at", "-1"],
            "--at '-1': must be a finite number > 0",
        ),
        (
            ["forecast", "downstream", "{runs}", "--floor", "1"],
            "--floor 1 must be below --ceiling 1",
        ),
        (["forecast", "fit", "{runs}", "--plot", "{tmp}/x.txt"], "must end in .png, .svg or .pdf"),
    ],
)
def test_bad_option_values_are_one_line(tmp_path, args, message):
    runs = tmp_path / "runs.csv"
    runs.write_text("params,tokens,loss\n1e8,2e9,3.0\n2e8,4e9,2.8\n")
    (tmp_path / "folder.png").mkdir()
    argv = [a.replace("{runs}", str(runs)).replace("{tmp}", str(tmp_path)) for a in args]
    store = tmp_path / "s.duckdb"
    code, out, err = run_main([*argv, "--store", str(store)])
    assert code == 1, (code, out, err)
    assert len(err.strip().splitlines()) == 1, err
    assert message in err, err
    assert not store.exists()  # rejected while parsing: nothing was opened or created
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.png", "runs.csv"]
