"""Peak memory of `assay import samples` on a JSON-lines file of a few hundred MB to a few GB,
beside the target (issue 29: <= ~500 MB whatever the file's size).

The file comes from tests/adversarial/bombs.py's ``big_samples`` (written a block at a time);
the import runs as ``python -m assay import samples`` in a child process, and its peak resident
memory is that child's own ``ru_maxrss`` (``os.wait4``).

    python benchmarks/import_memory.py [--mb 2200] [--text 4000] [--dir /tmp/x] [--src OLD/src]
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


def peak_import(file: Path, store: Path, src: Path = ROOT / "src") -> tuple[int, float, float, str]:
    """(exit status, peak RSS in MB, seconds, output) of importing ``file`` into ``store``."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    args = [sys.executable, "-m", "assay", "import", "samples", str(file), "--store", str(store)]
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
    parser.add_argument("--mb", type=int, default=2200, help="size of the file in MB")
    parser.add_argument("--text", type=int, default=4000, help="prompt characters per row")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the assay to measure")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="assay-import-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    file = work / f"samples-{args.mb}mb-{args.text}.jsonl"
    if not file.exists():
        _bombs().big_samples(file, args.mb, args.text)
    store = work / "store.duckdb"
    for stale in work.glob("store.duckdb*"):
        stale.unlink()
    status, peak, seconds, output = peak_import(file, store, args.src)
    print(output.strip().splitlines()[-1] if output.strip() else "(no output)")
    size = file.stat().st_size / 1e6
    flag = "ok" if status == 0 and peak <= TARGET_MB else "OVER"
    print(f"{'file MB':>8} {'peak RSS MB':>12} {'target MB':>10} {'seconds':>8}")
    print(f"{size:>8.0f} {peak:>12.0f} {TARGET_MB:>10} {seconds:>8.0f}  {flag} (exit {status})")


if __name__ == "__main__":
    main()
