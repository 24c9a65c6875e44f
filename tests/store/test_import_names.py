"""Importing with odd names (issue 29): markup, emoji codes, control characters, new lines and
very long names in the files or on ``--model`` import whole and are stored as written; a blank
name is one line and the store is unchanged, never silently another name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import run_main
from lm_eval_files import write_lm_eval_output

from assay.store import Store

DATA = Path(__file__).resolve().parents[1] / "data"
ODD = ["[/bold]x[red]", ":x: [b]y[/i]", "a\nb", "\x1b[31mred\x07", "名前 ü", "m" * 3000]


def _lm_eval(root: Path, name: str | None = None) -> Path:
    model_dir, _ = write_lm_eval_output(root / "out", n_docs=4)
    if name is not None:
        results = next(model_dir.glob("results_*.json"))
        data = json.loads(results.read_text())
        data["model_name"] = name
        results.write_text(json.dumps(data))
    return root / "out"


def _inspect(root: Path, name: str | None = None) -> Path:
    log = json.loads((DATA / "inspect" / "runs" / "json" / "arith_mock.json").read_text())
    if name is not None:
        log["eval"]["model"] = name
    root.mkdir(parents=True, exist_ok=True)
    path = root / "log.json"
    path.write_text(json.dumps(log))
    return path


def _lighteval(root: Path, name: str | None = None) -> Path:
    out = root / "le"
    shutil.copytree(DATA / "lighteval" / "out", out)
    if name is not None:
        for results in (out / "results").rglob("results_*.json"):
            data = json.loads(results.read_text())
            data["config_general"]["model_config"] = {"model_name": name}
            results.write_text(json.dumps(data))
    return out


SOURCES = {"lm-eval": (_lm_eval, 4), "inspect": (_inspect, 12), "lighteval": (_lighteval, 60)}


def _stored(db: Path) -> tuple[list[str], int]:
    store = Store(db)
    models = sorted(store.models()["model"])
    return models, int(store.sql("SELECT count(*) AS n FROM samples")["n"].iloc[0])


@pytest.mark.parametrize("kind", sorted(SOURCES))
@pytest.mark.parametrize("name", ODD, ids=range(len(ODD)))
def test_an_odd_model_name_in_the_file_imports_whole(tmp_path, kind, name):
    make, samples = SOURCES[kind]
    db = tmp_path / "s.duckdb"
    code, out, err = run_main(["import", kind, make(tmp_path, name), "--store", db])
    assert code == 0, err
    models, count = _stored(db)
    assert name in models and count == samples


@pytest.mark.parametrize("kind", sorted(SOURCES))
@pytest.mark.parametrize("name", ODD[:4], ids=range(4))
def test_an_odd_model_option_imports_whole(tmp_path, kind, name):
    make, samples = SOURCES[kind]
    db = tmp_path / "s.duckdb"
    code, out, err = run_main(["import", kind, make(tmp_path), "--model", name, "--store", db])
    assert code == 0, err
    assert _stored(db) == ([name], samples)


@pytest.mark.parametrize("kind", sorted(SOURCES))
@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_a_blank_model_option_is_one_line_and_changes_nothing(tmp_path, kind, blank):
    make, samples = SOURCES[kind]
    db = tmp_path / "s.duckdb"
    code, _, _ = run_main(["import", kind, make(tmp_path), "--store", db])
    assert code == 0
    before = _stored(db)
    code, out, err = run_main(
        ["import", kind, make(tmp_path / "again"), "--model", blank, "--store", db]
    )
    assert code == 1 and err.strip().splitlines() == ["error: --model: empty model name"], err
    assert _stored(db) == before


def test_a_blank_lm_eval_model_name_falls_back_to_the_model_argument(tmp_path):
    db = tmp_path / "s.duckdb"
    code, out, err = run_main(["import", "lm-eval", _lm_eval(tmp_path, "   "), "--store", db])
    assert code == 0, err
    assert _stored(db) == (["toy-model"], 4)  # pretrained=/work/models/toy-model, not ""
