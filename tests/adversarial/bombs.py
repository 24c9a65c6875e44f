"""Memory and time bombs for assay's inputs (issue 29, round two): each writes one hostile file
and says which command should end on it with one error line.

    python tests/adversarial/bombs.py OUT_DIR    # writes every bomb, prints the commands

Without the limits in assay.core._limits / assay.tasks._sandbox these took 8-13 GB (template
widths), > 90 s (nested loops), 4.3 GB (a 2 MB compressed log) or 7 GB (a 50 MB document).
tests/adversarial/test_bombs.py runs each command in a subprocess and bounds its peak memory.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import yaml

TEMPLATE_BOMBS = {
    "indent": "{{ question | indent(10**10) }}",
    "center": "{{ question | center(10**10) }}",
    "format_filter": "{{ '%*s' | format(10**10, question) }}",
    "format_width": "{{ '%9999999999s' | format(question) }}",
    "percent": "{{ '%9999999999s' % question }}",
    "str_format": "{{ '{:>9999999999}'.format(question) }}",
    "ljust": "{{ question.ljust(10**10) }}",
    "rjust": "{{ question.rjust(10**10) }}",
    "repeat": "{{ question * 10**10 }}",
    "replace": "{{ (question * 10**6).replace('2', question * 10**4) }}",
    "join": "{{ range(100000) | join(question * 10**5) }}",
    "concat": "{% set a = question * 3000000 %}{{ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a }}",
    "macro_doubling": "{% macro f(s, n) %}{{ f(s ~ s, n - 1) if n else s | length }}{% endmacro %}"
    "{{ f(question, 60) }}",
    "nested_range": "{% for i in range(100000) %}{% for j in range(100000) %}{% for k in "
    "range(100000) %}{% endfor %}{% endfor %}{% endfor %}",
    "output": "{% for i in range(100000) %}{% for j in range(100000) %}{{ question }}{% endfor %}"
    "{% endfor %}",
    # values each under the limit, built by a chain or held together (the budget per rendering)
    "list_map": "{{ (question * 2000000) | list | map('center', 500) | list | length }}",
    "lazy_map": "{{ range(100000) | map('string') | map('center', 50000) | select | list "
    "| length }}",
    "set_block": "{% set x %}{% for i in range(300) %}{{ question * 2400000 }}{% endfor %}"
    "{% endset %}{{ x | length }}",
    "macro_body": "{% macro m() %}{% for i in range(300) %}{{ question * 2400000 }}{% endfor %}"
    "{% endmacro %}{{ m() | length }}",
    "list_literal": "{{ [" + ", ".join(["question * 2400000"] * 120) + "] | length }}",
    "slices": "{% set s = question * 2400000 %}{{ ["
    + ", ".join(f"s[{i}:]" for i in range(120))
    + "] | length }}",
    "pprint_shared": "{% set a = question * 2000000 %}{% set b = [a, a, a, a, a, a, a, a] %}"
    "{% set c = [b, b, b, b, b, b, b, b, b, b] %}{{ c | pprint | length }}",
    "int_product": "{% set a = 2 ** 19999999 %}{% set b = a * a %}{% set c = b * b %}"
    "{% set d = c * c %}{% set e = d * d %}{% set f = e * e %}{% set g = f * f %}"
    "{% set h = g * g %}{% set i = h * h %}{{ i > 0 }}",
    "regex_replace": "{{ (question * 2000000) | regex_replace('', question * 1000) | length }}",
    "urlize_target": "{{ ('http://a.io ' * 500000) | urlize(target=question * 10000) | length }}",
    "bytes_repeat": "{{ (question.encode() * 10**10) | length }}",
    "bytes_center": "{{ question.encode().center(10**10) | length }}",
    "bytes_percent": "{{ ('%*s'.encode() % (10**10, question.encode())) | length }}",
    "to_bytes": "{{ (1).to_bytes(10**10, 'big') | length }}",
}
"""Template source -> one ``{{ }}`` each that asks for gigabytes or 10^15 loop iterations."""


def template_task(path: Path, template: str) -> Path:
    """A one-document multiple-choice task file whose prompt template is ``template``."""
    spec = {
        "name": "bomb",
        "request_type": "multiple_choice",
        "templates": {"default": template},
        "target": "answer",
        "choices": "choices",
        "docs": [{"question": "2+2?", "choices": ["4", "5"], "answer": "4"}],
    }
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def zip_bomb(path: Path, expanded: int = 1_500_000_000) -> Path:
    """An inspect ``.eval`` log whose one sample member is a JSON string of ``expanded`` spaces
    (about 1.5 MB compressed), written in streamed chunks."""
    header = {"version": 2, "status": "success", "eval": {"task": "t", "model": "m"}}
    chunk = b" " * 2**24
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("header.json", json.dumps(header))
        with zf.open("samples/1_epoch_1.json", "w", force_zip64=True) as member:
            member.write(b'{"id": 1, "epoch": 1, "pad": "')
            for _ in range(expanded // len(chunk)):
                member.write(chunk)
            member.write(b'"}')
    return path


def lying_zip_bomb(path: Path, method: str = "zstd", expanded: int = 1_500_000_000) -> Path:
    """An inspect ``.eval`` log whose one sample member expands to ``expanded`` bytes while its
    zip headers state 100 (compressed with zstd, inspect's newer method 93, or deflate): a
    reader that trusts the headers' size reads it all."""
    header = {"version": 2, "status": "success", "eval": {"task": "t", "model": "m"}}
    head, tail = b'{"id": 1, "epoch": 1, "pad": "', b'"}'
    chunk = b" " * 2**24
    name = "samples/1_epoch_1.json"
    if method == "zstd":
        import io

        import zstandard

        raw = io.BytesIO()
        with zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=False) as out:
            out.write(head)
            for _ in range(expanded // len(chunk)):
                out.write(chunk)
            out.write(tail)
        data, stored = raw.getvalue(), zipfile.ZIP_STORED
    else:
        import zlib

        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        parts = [packer.compress(head)]
        parts += [packer.compress(chunk) for _ in range(expanded // len(chunk))]
        data, stored = b"".join([*parts, packer.compress(tail), packer.flush()]), None
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("header.json", json.dumps(header))
        zf.writestr(name, data, compress_type=zipfile.ZIP_STORED)
        local = zf.getinfo(name).header_offset
    blob = bytearray(path.read_bytes())
    method_id = 93 if stored is not None else zipfile.ZIP_DEFLATED
    central = blob.rindex(b"PK\x01\x02")  # the sample's entry: the last one written
    for at, (method_at, size_at) in ((local, (8, 22)), (central, (10, 24))):
        blob[at + method_at : at + method_at + 2] = method_id.to_bytes(2, "little")
        blob[at + size_at : at + size_at + 4] = (100).to_bytes(4, "little")
    path.write_bytes(bytes(blob))
    return path


def big_document(path: Path, chars: int = 50_000_000) -> Path:
    """A JSON-lines task whose one document has a question of ``chars`` characters."""
    row = {"question": "Q" * chars, "choices": ["a", "b"], "answer": "a"}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    return path


def big_samples(path: Path, megabytes: int = 400, text_chars: int = 4000) -> Path:
    """A JSON-lines samples file of about ``megabytes`` MB for ``assay import samples``,
    written a block at a time (never whole in memory): rows of two models x two tasks with a
    distinct ``text_chars``-character prompt each. Before imports streamed, reading one took
    about 3.4 times the file's size in memory."""
    filler = "".join(chr(97 + (i * 7) % 26) for i in range(text_chars))
    rows, written = 0, 0
    with path.open("w", encoding="utf-8") as handle:
        while written < megabytes * 10**6:
            block = []
            for i in range(rows, rows + 1000):
                row = {
                    "model": f"m{i % 2}",
                    "task": f"t{i // 2 % 2}",
                    "doc_id": f"doc-{i // 4}",
                    "prompt": f"{i} {filler}",
                    "prediction": str(i % 3),
                    "metric.acc": float(i % 3 == 0),
                }
                block.append(json.dumps(row) + "\n")
            rows += 1000
            text = "".join(block)
            handle.write(text)
            written += len(text)
    return path


def _texts(chars: int, seed: int = 0) -> Iterator[str]:
    """Distinct texts of ``chars`` random letters and spaces (they compress about 1.6:1, as
    prose does), slices of one pool at moving offsets."""
    rng = random.Random(seed)
    pool = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz     ") for _ in range(2**20 + chars))
    i = 0
    while True:
        start = (i * 7919) % 2**20
        yield f"{i} " + pool[start : start + chars]
        i += 1


LM_EVAL_DATE = "2026-11-01T10-00-00.000001"
LM_EVAL_FILTERS = ("strict-match", "flexible-extract")


def lm_eval_metric(doc: int, filt: str) -> float:
    """The ``exact_match`` value :func:`big_lm_eval` logs for a document under a filter."""
    return float(doc % 3 == 0) if filt == LM_EVAL_FILTERS[0] else float(doc % 2 == 0)


def big_lm_eval(root: Path, megabytes: int = 300, text_chars: int = 4000) -> int:
    """An lm-eval 0.4 output folder (``root/org__model/results_<date>.json`` and
    ``samples_gsm_big_<date>.jsonl``) whose samples file is about ``megabytes`` MB: a
    generate_until task logged under two filters, every document under the first filter and
    then every document under the second (as lm-eval writes them), each with a distinct
    ``text_chars``-character prompt. Written a block at a time; returns the number of documents."""
    folder = root / "org__model"
    folder.mkdir(parents=True, exist_ok=True)
    line_bytes = 2 * text_chars + 700
    docs = max(1, megabytes * 10**6 // (line_bytes * len(LM_EVAL_FILTERS)))
    with (folder / f"samples_gsm_big_{LM_EVAL_DATE}.jsonl").open("w", encoding="utf-8") as out:
        for filt in LM_EVAL_FILTERS:
            texts = _texts(text_chars)
            block = []
            for doc in range(docs):
                prompt = next(texts)
                answer = str(doc % 97)
                row = {
                    "doc_id": doc,
                    "doc": {"question": prompt[:200], "answer": answer},
                    "target": answer,
                    "arguments": {"gen_args_0": {"arg_0": prompt, "arg_1": {"until": ["\n"]}}},
                    "resps": [[f"The answer is {doc % 89}. " + prompt[-text_chars // 2 :]]],
                    "filtered_resps": [str(doc % 89)],
                    "filter": filt,
                    "metrics": ["exact_match"],
                    "doc_hash": hashlib.sha256(prompt[:200].encode()).hexdigest(),
                    "prompt_hash": hashlib.sha256(prompt.encode()).hexdigest(),
                    "target_hash": hashlib.sha256(answer.encode()).hexdigest(),
                    "exact_match": lm_eval_metric(doc, filt),
                }
                block.append(json.dumps(row) + "\n")
                if len(block) == 1000:
                    out.write("".join(block))
                    block = []
            out.write("".join(block))
    results = {
        "results": {"gsm_big": {"alias": "gsm_big", "exact_match,strict-match": 0.33}},
        "configs": {"gsm_big": {"task": "gsm_big", "output_type": "generate_until"}},
        "versions": {"gsm_big": 3.0},
        "n-shot": {"gsm_big": 5},
        "config": {"model": "hf", "model_args": "pretrained=org/model"},
        "model_name": "org/model",
    }
    (folder / f"results_{LM_EVAL_DATE}.json").write_text(json.dumps(results, indent=2))
    return docs


def _inspect_header(samples: int) -> dict:
    return {
        "version": 2,
        "status": "success",
        "eval": {
            "eval_id": "big-eval-id",
            "run_id": "big-run",
            "created": "2026-11-01T10:00:00+00:00",
            "task": "big_task",
            "task_version": 0,
            "model": "openai/big-model",
            "dataset": {"name": "big", "samples": samples},
            "config": {"epochs": 1},
        },
        "plan": {"name": "plan", "steps": [{"solver": "generate", "params": {}}], "config": {}},
        "results": {
            "total_samples": samples,
            "completed_samples": samples,
            "scores": [
                {"name": "match", "metrics": {"accuracy": {"name": "accuracy", "value": 0.5}}}
            ],
        },
        "stats": {
            "started_at": "2026-11-01T10:00:00+00:00",
            "completed_at": "2026-11-01T11:00:00+00:00",
        },
    }


def inspect_value(i: int) -> str:
    """The ``match`` score of sample ``i`` in :func:`big_inspect_log` (C: 1, I: 0)."""
    return "C" if i % 2 == 0 else "I"


def _inspect_sample(i: int, text: str) -> dict:
    answer = str(i % 89)
    return {
        "id": i + 1,
        "epoch": 1,
        "input": text,
        "target": answer,
        "messages": [
            {"role": "user", "content": text, "source": "input"},
            {"role": "assistant", "content": f"ANSWER: {answer}", "source": "generate"},
        ],
        "output": {
            "model": "big-model",
            "choices": [
                {
                    "message": {"role": "assistant", "content": f"ANSWER: {answer}"},
                    "stop_reason": "stop",
                }
            ],
            "completion": f"ANSWER: {answer}",
            "usage": {"input_tokens": len(text) // 4, "output_tokens": 3, "total_tokens": 0},
        },
        "scores": {"match": {"value": inspect_value(i), "answer": answer, "explanation": "x"}},
        "metadata": {},
        "store": {},
        "events": [{"event": "model", "input": [{"role": "user", "content": text}]}],
        "model_usage": {"big-model": {"input_tokens": len(text) // 4, "output_tokens": 3}},
        "total_time": 1.5,
        "working_time": 1.25,
    }


def big_inspect_log(path: Path, megabytes: int = 300, text_chars: int = 4000) -> int:
    """An inspect_ai log of about ``megabytes`` MB (uncompressed), each sample carrying a
    distinct ``text_chars``-character input three times (input, messages, events): a ``.json``
    log (indented like inspect's, samples then reductions) or an ``.eval`` archive (a deflated
    member per sample), by ``path``'s suffix. Written a sample at a time; returns the number of
    samples."""
    count = max(1, megabytes * 10**6 // (3 * text_chars + 1400))
    texts = _texts(text_chars, seed=1)
    header = _inspect_header(count)
    reductions = [
        {
            "scorer": "match",
            "samples": [
                {"value": float(inspect_value(i) == "C"), "sample_id": i + 1} for i in range(count)
            ],
        }
    ]
    if path.suffix == ".eval":
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            zf.writestr("_journal/start.json", json.dumps({"version": 2, "eval": header["eval"]}))
            for i in range(count):
                sample = _inspect_sample(i, next(texts))
                zf.writestr(f"samples/{i + 1}_epoch_1.json", json.dumps(sample))
            zf.writestr("reductions.json", json.dumps(reductions))
            zf.writestr("header.json", json.dumps(header, indent=2))
        return count
    with path.open("w", encoding="utf-8") as out:
        head = json.dumps(header, indent=2)
        out.write(head[: head.rindex("}")].rstrip() + ',\n  "samples": [\n')
        for i in range(count):
            text = json.dumps(_inspect_sample(i, next(texts)), indent=2)
            out.write(("" if i == 0 else ",\n") + "    " + text.replace("\n", "\n    "))
        out.write('\n  ],\n  "reductions": ' + json.dumps(reductions) + "\n}\n")
    return count


LIGHTEVAL_DATE = "2026-12-02T02-07-20.154254"


def lighteval_metric(i: int) -> int:
    """The ``acc`` of row ``i`` in :func:`big_lighteval`."""
    return int(i % 4 == 0)


def big_lighteval(root: Path, megabytes: int = 300, text_chars: int = 4000) -> int:
    """lighteval 0.13 output under ``root`` (``details/org/model/<date>/details_big_mc|0_<date>
    .parquet`` and ``results/org/model/results_<date>.json``) whose details hold about
    ``megabytes`` MB of text: a multiple-choice task, each row with a distinct
    ``text_chars``-character query. Written 1,000 rows (one row group, as lighteval's datasets
    writer does) at a time; returns the number of rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    details = root / "details" / "org" / "model" / LIGHTEVAL_DATE
    details.mkdir(parents=True, exist_ok=True)
    results = root / "results" / "org" / "model"
    results.mkdir(parents=True, exist_ok=True)
    count = max(1, megabytes * 10**6 // (text_chars + 300))
    texts = _texts(text_chars, seed=2)
    file = details / f"details_big_mc|0_{LIGHTEVAL_DATE}.parquet"
    writer = None
    for start in range(0, count, 1000):
        rows = []
        for i in range(start, min(start + 1000, count)):
            rows.append(
                {
                    "doc": {
                        "query": next(texts),
                        "choices": [" a", " b", " c", " d"],
                        "gold_index": i % 4,
                        "id": str(i),
                        "task_name": "big_mc|0",
                    },
                    "metric": {"acc": lighteval_metric(i)},
                    "model_response": {
                        "input": None,
                        "text": [],
                        "logprobs": [-1.0 - ((i + k) % 4) for k in range(4)],
                        "input_tokens": [],
                        "output_tokens": [],
                        "truncated_tokens_count": 0,
                    },
                }
            )
        table = pa.Table.from_pylist(rows)
        if writer is None:
            writer = pq.ParquetWriter(file, table.schema)
        writer.write_table(table)
    writer.close()
    general = {"model_config": {"model_name": "org/model"}, "model_name": "org/model"}
    (results / f"results_{LIGHTEVAL_DATE}.json").write_text(
        json.dumps({"config_general": general, "results": {"big_mc|0": {"acc": 0.25}}})
    )
    return count


def bombs(out: Path) -> dict[str, list[str]]:
    """Write every bomb under ``out``; name -> the ``assay`` arguments that must refuse it."""
    out.mkdir(parents=True, exist_ok=True)
    commands = {
        f"template_{name}": ["tasks", "show", str(template_task(out / f"{name}.yaml", source))]
        for name, source in TEMPLATE_BOMBS.items()
    }
    commands["zip_bomb"] = [
        "import", "inspect", str(zip_bomb(out / "bomb.eval")),
        "--store", str(out / "store.db"),
    ]  # fmt: skip
    commands["big_document"] = ["tasks", "show", str(big_document(out / "big.jsonl"))]
    return commands


if __name__ == "__main__":
    for name, args in bombs(Path(sys.argv[1])).items():
        print(f"{name}: assay {' '.join(args)}")
