"""The log importers read a chunk at a time (issue 29): what they store is what reading each
file whole gives (``json.loads`` of the log, every line of a samples file merged per document),
with tiny blocks and chunks so every boundary is crossed; a value over the limit is one line."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import assay.core._json_stream as json_stream
import assay.store._import_runs as import_runs
import assay.store._lm_eval_lines as lm_eval_lines
from assay.core._json_stream import Elements, TopLevel
from assay.errors import InputError
from assay.store import import_inspect, import_lm_eval, open_store, read_inspect

DATA = Path(__file__).resolve().parents[1] / "data" / "inspect"


@pytest.fixture
def tiny(monkeypatch):
    """Blocks of 7 characters, chunks of 3 samples, DuckDB batches of 2 keys."""
    monkeypatch.setattr(json_stream, "_BLOCK", 7)
    monkeypatch.setattr(import_runs, "CHUNK_SAMPLES", 3)
    monkeypatch.setattr(lm_eval_lines, "_BATCH", 2)


def _whole(path: Path) -> dict:
    top = TopLevel(path)
    out = {k: list(v) if isinstance(v, Elements) else v for k, v in top.fields()}
    top.close()
    return out


def _random_json(rng: random.Random, depth: int = 0):
    kind = rng.randrange(7 if depth < 4 else 4)
    if kind == 0:
        return rng.choice([None, True, False, 0, -12, 3.25e-7, 1e300])
    if kind == 1:
        return "".join(
            rng.choice('ab "\\\n\t\u00e9\u4e2d\U0001f600/') for _ in range(rng.randrange(30))
        )
    if kind == 2:
        return rng.randrange(-(10**20), 10**20)
    if kind == 3:
        return rng.random()
    if kind in (4, 5):
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {f"k{i}\u00e9": _random_json(rng, depth + 1) for i in range(rng.randrange(5))}


@pytest.mark.parametrize("seed", range(30))
def test_top_level_fields_equal_json_loads(tmp_path, monkeypatch, seed):
    monkeypatch.setattr(json_stream, "_BLOCK", 1 + seed % 5)
    rng = random.Random(seed)
    doc = {f"f{i}": _random_json(rng) for i in range(rng.randrange(1, 8))}
    doc["samples"] = [_random_json(rng) for _ in range(rng.randrange(6))]
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc, indent=seed % 3 or None, ensure_ascii=bool(seed % 2)), "utf-8")
    assert _whole(path) == json.loads(path.read_text("utf-8"))


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1,\n "samples": [1, 2,,\n 3]}',
        '{"a": 1,\n "samples": [{"x": "unterminated\n',
        '{"a": 1\n "b": 2}',
        '{"a": [1, 2]}\n\nextra',
        '{"a":\n\n tru}',
        "",
    ],
)
def test_bad_json_names_the_line_json_loads_names(tmp_path, monkeypatch, text):
    monkeypatch.setattr(json_stream, "_BLOCK", 3)
    path = tmp_path / "bad.json"
    path.write_text(text, "utf-8")
    with pytest.raises(json.JSONDecodeError) as whole:
        json.loads(text)
    with pytest.raises(InputError, match=rf": line {whole.value.lineno}: not valid JSON"):
        _whole(path)


def test_inspect_json_log_streamed_equals_whole(tmp_path, tiny):
    log = json.loads((DATA / "runs" / "json" / "arith_mock.json").read_text())
    path = tmp_path / "logs" / "arith.json"
    path.parent.mkdir()
    path.write_text(json.dumps(log, indent=2), "utf-8")
    models, runs, samples, errored = read_inspect(path)
    assert len(samples) + errored == len(log["samples"])
    assert [s.doc_id for s in samples] == [
        str(s["id"]) for s in log["samples"] if not s.get("error")
    ]
    # the run id is made of version, eval and plan: read before the samples, or in a first pass
    moved = {k: v for k, v in log.items() if k not in ("plan", "results")}
    moved["plan"], moved["results"] = log["plan"], log["results"]  # after the samples
    late = tmp_path / "late" / "arith.json"
    late.parent.mkdir()
    late.write_text(json.dumps(moved), "utf-8")
    _, runs_late, samples_late, _ = read_inspect(late)
    assert runs_late[0].run_id == runs[0].run_id
    assert runs_late[0].extra["results"] == runs[0].extra["results"]
    assert [s.metrics for s in samples_late] == [s.metrics for s in samples]
    store = open_store(tmp_path / "s.duckdb")
    summary = import_inspect(store, tmp_path / "logs")
    assert summary.samples == sum(bool(s.metrics) for s in samples)


def test_inspect_sample_over_the_limit_is_one_line_and_changes_nothing(tmp_path, monkeypatch):
    store = open_store(tmp_path / "s.duckdb")
    import_inspect(store, DATA / "runs" / "json" / "arith_weak.json")
    before = store.sql("SELECT count(*) AS n FROM sample_metrics")["n"][0]
    log = json.loads((DATA / "runs" / "json" / "arith_mock.json").read_text())
    log["samples"][3]["metadata"] = {"pad": "x" * 5000}
    path = tmp_path / "big.json"
    path.write_text(json.dumps(log), "utf-8")
    monkeypatch.setenv("ASSAY_MAX_JSON_VALUE_CHARS", "4000")
    with pytest.raises(InputError, match="ASSAY_MAX_JSON_VALUE_CHARS") as err:
        import_inspect(store, path)
    assert "\n" not in str(err.value) and "samples[]" in str(err.value)
    assert store.sql("SELECT count(*) AS n FROM sample_metrics")["n"][0] == before
    monkeypatch.setenv("ASSAY_MAX_JSON_VALUE_CHARS", "40000")
    assert import_inspect(store, path).samples > 0


def _lm_eval_folder(root: Path) -> tuple[Path, dict[str, dict[str, float]], dict]:
    """A generate task logged under two filters, filter by filter; doc 1 has no number under
    the first filter (only under the second), doc 3 none at all; doc 2 has a corpus-level
    (list) value under both filters."""
    date = "2026-11-01T10-00-00.000001"
    folder = root / "org__m"
    folder.mkdir(parents=True)
    lines, metrics, filters = [], {}, {}
    for filt in ("strict", "flex"):
        for doc in range(5):
            value: object = float((doc + (filt == "flex")) % 2)
            if doc == 3 or (doc == 1 and filt == "strict"):
                value = None
            if doc == 2:
                value = ["ref", f"pred-{filt}"]
            row = {
                "doc_id": doc,
                "target": str(doc),
                "arguments": {"gen_args_0": {"arg_0": f"prompt {doc}", "arg_1": {}}},
                "resps": [[f"{filt} {doc}"]],
                "filtered_resps": [f"{filt} {doc}"],
                "filter": filt,
                "metrics": ["exact_match", "bleu"],
                "exact_match": value if not isinstance(value, list) else 1.0,
                "bleu": value if isinstance(value, list) else None,
            }
            lines.append(json.dumps(row))
            number = row["exact_match"]
            if isinstance(number, float):
                metrics.setdefault(str(doc), {})[f"exact_match,{filt}"] = number
            if doc == 2:
                filters[filt] = {f"bleu,{filt}": value}
    (folder / f"samples_gen_{date}.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    results = {
        "results": {"gen": {"exact_match,strict": 0.5}},
        "configs": {"gen": {"output_type": "generate_until"}},
        "config": {"model": "hf", "model_args": "pretrained=org/m"},
        "model_name": "org/m",
    }
    (folder / f"results_{date}.json").write_text(json.dumps(results), "utf-8")
    return root, metrics, filters


def test_lm_eval_filters_far_apart_merge_per_document(tmp_path, tiny):
    root, metrics, filters = _lm_eval_folder(tmp_path / "out")
    store = open_store(tmp_path / "s.duckdb")
    summary = import_lm_eval(store, root)
    assert (summary.samples, summary.unscored) == (4, 1)  # doc 3 has no number anywhere
    rows = store.sql("SELECT doc_id, metric, value FROM sample_metrics")
    got = {}
    for row in rows.itertuples():
        got.setdefault(row.doc_id, {})[row.metric] = row.value
    assert got == metrics
    samples = store.samples().set_index("doc_id")
    assert samples.loc["1", "prediction"] == "strict 1"  # the document's first line gives it
    assert samples.loc["1", "prompt"] == "prompt 1"
    extra = samples.loc["2", "extra"]
    extra = json.loads(extra) if isinstance(extra, str) else extra
    assert extra["filters"] == filters  # both filters' corpus inputs, in file order


def test_lm_eval_line_over_the_limit_is_one_line(tmp_path, monkeypatch):
    root, _, _ = _lm_eval_folder(tmp_path / "out")
    file = next(root.rglob("samples_*.jsonl"))
    lines = file.read_text("utf-8").splitlines()
    lines[2] = lines[2][:-1] + ', "pad": "' + "x" * 5000 + '"}'
    file.write_text("\n".join(lines) + "\n", "utf-8")
    store = open_store(tmp_path / "s.duckdb")
    monkeypatch.setenv("ASSAY_MAX_JSON_VALUE_CHARS", "2000")
    with pytest.raises(InputError, match=r"line 3: one JSON value: too large.*JSON_VALUE_CHARS"):
        import_lm_eval(store, root)
    assert store.sql("SELECT count(*) AS n FROM samples")["n"][0] == 0


def test_lm_eval_repeated_line_names_both_lines_across_batches(tmp_path, tiny):
    root, _, _ = _lm_eval_folder(tmp_path / "out")
    file = next(root.rglob("samples_*.jsonl"))
    lines = file.read_text("utf-8").splitlines()
    file.write_text("\n".join([*lines, lines[6]]) + "\n", "utf-8")
    store = open_store(tmp_path / "s.duckdb")
    twice = r"line 11, field 'doc_id': '1' with filter 'flex' appears twice \(also on line 7\)"
    with pytest.raises(InputError, match=twice):
        import_lm_eval(store, root)
