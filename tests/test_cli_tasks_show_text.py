"""`assay tasks show` prints a task's name, prompts and targets as written: ``:x:`` stays
``:x:`` (no emoji) and ``[bold]`` stays ``[bold]`` (no markup), on a pipe and on a terminal."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import run_main

SRC = str(Path(__file__).resolve().parents[1] / "src")
PROMPT = "say :x: or :smile: [bold]no[/bold]"
EMOJI = ("❌", "😄", "👍")


def _task(tmp_path: Path) -> Path:
    task = tmp_path / "emo.json"
    task.write_text(
        json.dumps({"name": "ask:x:", "examples": [{"input": PROMPT, "target": ":+1:"}]})
    )
    return task


def test_tasks_show_keeps_emoji_codes_and_brackets_on_a_pipe(tmp_path):
    code, out, err = run_main(["tasks", "show", str(_task(tmp_path)), "-n", "1"])
    assert code == 0, err
    assert "ask:x:" in out and PROMPT in out and "':+1:'" in out
    assert not any(e in out for e in EMOJI)


@pytest.mark.skipif(shutil.which("script") is None, reason="needs script(1) for a terminal")
def test_tasks_show_keeps_emoji_codes_and_brackets_on_a_terminal(tmp_path):
    command = shlex.join([sys.executable, "-m", "assay", "tasks", "show", str(_task(tmp_path))])
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "120", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    done = subprocess.run(
        ["script", "-qec", command, "/dev/null"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "\x1b[1m" in out  # a terminal: the name is bold
    assert "ask:x:" in out and PROMPT in out and "':+1:'" in out
    assert not any(e in out for e in EMOJI)
