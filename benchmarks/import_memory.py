"""Peak memory of each importer (`assay import samples`, `lm-eval`, `inspect` on a .json and an
.eval log, `lighteval`) on a file of a few hundred MB to a few GB, beside the target (issue 29:
<= ~500 MB whatever the file's size).

The files come from tests/adversarial/bombs.py (``big_samples``, ``big_lm_eval``,
``big_inspect_log``, ``big_lighteval``: each in its tool's own layout, written a block at a
time); each import runs as ``python -m assay import KIND PATH`` in a child process, and its peak
resident memory is that child's own ``ru_maxrss`` (``os.wait4``). The .eval archive is read with
ASSAY_MAX_DECOMPRESSED_BYTES raised past its size (that limit bounds a zip bomb, not memory).

    python benchmarks/import_memory.py [--mb 2200] [--text 4000] [--only lm-eval] [--dir /tmp/x]
                                       [--src OLD/src]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_MB = 500


def _bombs():
    spec = importlib.util.spec_from_file_location("bombs", ROOT / "tests/adversarial/bombs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


IMPORTERS = ("samples", "lm-eval", "inspect-json", "inspect-eval", "lighteval")


def make_input(kind: str, work: Path, megabytes: int, text: int) -> Path:
    """The input of ``kind`` (about ``megabytes`` MB), written once and reused."""
    bombs = _bombs()
    paths = {
        "samples": work / f"samples-{megabytes}mb-{text}.jsonl",
        "lm-eval": work / f"lm-eval-{megabytes}mb-{text}",
        "inspect-json": work / f"inspect-{megabytes}mb-{text}.json",
        "inspect-eval": work / f"inspect-{megabytes}mb-{text}.eval",
        "lighteval": work / f"lighteval-{megabytes}mb-{text}",
    }
    path = paths[kind]
    if path.exists():
        return path
    if kind == "samples":
        bombs.big_samples(path, megabytes, text)
    elif kind == "lm-eval":
        bombs.big_lm_eval(path, megabytes, text)
    elif kind.startswith("inspect"):
        bombs.big_inspect_log(path, megabytes, text)
    else:
        bombs.big_lighteval(path, megabytes, text)
    return path


def _size(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def peak_import(
    file: Path, store: Path, src: Path = ROOT / "src", kind: str = "samples"
) -> tuple[int, float, float, str]:
    """(exit status, peak RSS in MB, seconds, output) of importing ``file`` into ``store``."""
    env = {**os.environ, "PYTHONPATH": str(src), "ASSAY_MAX_DECOMPRESSED_BYTES": str(2**40)}
    command = kind.split("-")[0] if kind.startswith("inspect") else kind
    args = [sys.executable, "-m", "assay", "import", command, str(file), "--store", str(store)]
    start = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    output = child.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(child.pid, 0)
    return (
        os.waitstatus_to_exitcode(status),
        usage.ru_maxrss / 1024,
        time.perf_counter() - start,
        output,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=2200, help="size of each input in MB")
    parser.add_argument("--text", type=int, default=4000, help="prompt characters per row")
    parser.add_argument("--only", choices=IMPORTERS, action="append", help="(repeatable)")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the assay to measure")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="assay-import-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for kind in args.only or IMPORTERS:
        path = make_input(kind, work, args.mb, args.text)
        store = work / "store.duckdb"
        for stale in work.glob("store.duckdb*"):
            stale.unlink()
        status, peak, seconds, output = peak_import(path, store, args.src, kind)
        last = output.strip().splitlines()[-1] if output.strip() else "(no output)"
        print(f"{kind}: {last}", flush=True)
        rows.append((kind, _size(path), peak, seconds, status))
    print(f"{'importer':<13} {'input MB':>8} {'peak RSS MB':>12} {'target MB':>10} {'seconds':>8}")
    for kind, size, peak, seconds, status in rows:
        flag = "ok" if status == 0 and peak <= TARGET_MB else "OVER"
        print(
            f"{kind:<13} {size:>8.0f} {peak:>12.0f} {TARGET_MB:>10} {seconds:>8.0f}  {flag} "
            f"(exit {status})"
        )


if __name__ == "__main__":
    main()
