"""Memory and time bombs for assay's inputs (issue 29, round two): each writes one hostile file
and says which command should end on it with one error line.

    python tests/adversarial/bombs.py OUT_DIR    # writes every bomb, prints the commands

Without the limits in assay.core._limits / assay.tasks._sandbox these took 8-13 GB (template
widths), > 90 s (nested loops), 4.3 GB (a 2 MB compressed log) or 7 GB (a 50 MB document).
tests/adversarial/test_bombs.py runs each command in a subprocess and bounds its peak memory.
"""

from __future__ import annotations

import json
import sys
import zipfile
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
