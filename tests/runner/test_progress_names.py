"""The runner's progress bar shows model and task names as text: control characters (ESC, BEL)
print as visible ``\\xNN`` escapes and brackets as written, as everywhere the CLI prints."""

from __future__ import annotations

import contextlib
import io

from fake_backend import FakeBackend

from assay.runner import evaluate
from assay.tasks import task_from_records


def test_control_characters_in_model_and_task_names_show_as_escapes(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the bar on one line
    records = [
        {"doc_id": f"d{k}", "question": f"{k} + 1 =", "answer": str(k + 1)} for k in range(3)
    ]
    task = task_from_records(records, name="t\x1b]0;owned\x07[bold]", where="test")
    fake = FakeBackend(answers={}, skill=0.0, name="m\x1b[31m")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        evaluate(fake, task, store=tmp_path / "s.duckdb", progress=True)
    shown = err.getvalue()
    assert "m\\x1b[31m · t\\x1b]0;owned\\x07[bold]" in shown
    assert "\x1b]" not in shown and "\x07" not in shown and "\x1b[31m" not in shown
    assert "3/3" in shown
