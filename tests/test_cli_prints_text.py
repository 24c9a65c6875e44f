"""Every user string the CLI prints is text: a model, task, file name or prompt holding Rich
markup (``[/bold]``) or an emoji code (``:x:``) prints as written, and no command crashes on it
after (or before) it wrote to the store."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import run_main

from assay.store import RunInfo, SampleRecord, Store

INSPECT = Path(__file__).resolve().parent / "data" / "inspect" / "runs" / "json" / "arith_mock.json"
ODD = "[/bold]x[red]"
EMOJI = ":x: [b]y[/i]"


def _flat(text: str) -> str:
    # tables fold long cells onto more lines: compare without line breaks and cell borders
    return "".join(text.split()).replace("│", "")


def test_import_with_a_markup_model_name_completes(tmp_path):
    db = tmp_path / "s.duckdb"
    code, out, err = run_main(["import", "inspect", INSPECT, "--model", ODD, "--store", db])
    assert code == 0, err
    assert f"imported 12 samples in 1 runs ({ODD} × arith)" in out
    store = Store(db)
    assert store.models()["model"].tolist() == [ODD]
    assert len(store.samples()) == 12
    assert int(store.sql("SELECT count(*) AS n FROM sample_metrics")["n"].iloc[0]) == 60


def _odd_store(path: Path) -> Path:
    store = Store(path)
    records = []
    for model, p in ((ODD, 0.8), (EMOJI, 0.4), ("plain", 0.6)):
        run_id = f"run-{model}"
        store.upsert_run(RunInfo(run_id=run_id, model=model, task="t[/]", source="assay"))
        records += [
            SampleRecord(
                run_id=run_id,
                model=model,
                task="t[/]",
                doc_id=f"d{i}",
                metrics={"acc": float((i * 7919 % 10) / 10 < p)},
            )
            for i in range(20)
        ]
    store.write_samples(records)
    store.upsert_models([{"model": m} for m in (ODD, EMOJI, "plain")])
    return path


def test_tables_and_lines_print_markup_names_as_written(tmp_path):
    db = _odd_store(tmp_path / "s.duckdb")
    code, out, err = run_main(["compare", "--store", db, "--metric", "acc"])
    assert code == 0, err
    assert ODD in out and EMOJI in out and "t[/]" in out and "❌" not in out
    code, out, err = run_main(["rank", "samples", "--store", db, "--metric", "acc"])
    assert code == 0, err
    assert _flat(ODD) in _flat(out) and _flat(EMOJI) in _flat(out) and "❌" not in out
    code, out, err = run_main(["models", "list", "--store", db])
    assert code == 0, err
    assert _flat(ODD) in _flat(out) and _flat(EMOJI) in _flat(out)


def test_store_info_with_a_markup_path(tmp_path):
    folder = tmp_path / "x[red]runs[b]"
    folder.mkdir()
    db = _odd_store(folder / "s.duckdb")
    code, out, err = run_main(["store", "info", "--store", db])
    assert code == 0, err
    assert "x[red]runs[b]" in _flat(out)


def test_errors_print_user_text_as_written(tmp_path):
    code, out, err = run_main(["import", "inspect", tmp_path / ":x:[/red]nope.eval"])
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert ":x:[/red]nope.eval" in err and "\\[" not in err and "❌" not in err


def test_tasks_show_prints_prompts_and_targets_as_written(tmp_path):
    task = tmp_path / "bb.json"  # a BIG-bench generation task
    task.write_text(
        json.dumps({"examples": [{"input": "say :x: or [bold]no[/bold]", "target": ":+1: [/i]"}]})
    )
    code, out, err = run_main(["tasks", "show", str(task), "-n", "1"])
    assert code == 0, err
    assert "say :x: or [bold]no[/bold]" in out and "':+1: [/i]'" in out
    assert "❌" not in out and "👍" not in out


def test_control_characters_print_as_visible_escapes(tmp_path):
    # a model name holding ESC sequences (recolour, set the terminal's title) and a bell
    evil = "m\x1b[31mred\x1b]0;pwned\x07"
    store = Store(tmp_path / "s.duckdb")
    records = []
    for model in (evil, "plain"):
        store.upsert_run(RunInfo(run_id=f"r-{model}", model=model, task="t", source="assay"))
        records += [
            SampleRecord(
                run_id=f"r-{model}",
                model=model,
                task="t",
                doc_id=f"d{i}",
                metrics={"acc": float(i % 3 == 0)},
            )
            for i in range(12)
        ]
    store.write_samples(records)
    base = ["compare", "--store", store.path]
    for argv in (base, [*base, "--format", "tsv"], [*base, "-m", evil, "-m", "x"]):
        code, out, err = run_main(argv)
        assert "\x1b" not in out + err and "\x07" not in out + err, argv
    code, out, err = run_main(["compare", "--store", store.path])
    assert code == 0 and "m\\x1b[31mred\\x1b]0;pwned\\x07" in _flat(out)
