"""Peak memory of `assay import battles FILE` and `assay rank battles FILE --style-control` on a
battle file of a few hundred MB to a few GB whose battles carry long answers (`answer_a` /
`answer_b`), beside the target (issue 29: <= ~500 MB whatever the file's size).

The file comes from tests/adversarial/test_big_battle_import.py (``big_battles``: markdown
answers of about 4,000 characters, written a block at a time); each command runs as
``python -m assay ...`` in a child process, and its peak resident memory is that child's own
``ru_maxrss`` (``os.wait4``). ``--src OLD/src`` measures another checkout the same way.

    python benchmarks/arena_import_memory.py [--mb 300] [--dir /tmp/x] [--src OLD/src]
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


def _generator():
    path = ROOT / "tests/adversarial/test_big_battle_import.py"
    sys.path.insert(0, str(path.parent))  # it imports its neighbour test_bombs
    spec = importlib.util.spec_from_file_location("big_battle_import", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def peak(args: list[str], src: Path) -> tuple[int, float, float, float]:
    """(exit status, peak RSS in MB, wall seconds, CPU seconds) of ``python -m assay ARGS``."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "assay", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    err = child.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(child.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code:
        print(err.strip().splitlines()[-1] if err.strip() else f"exit {code}")
    cpu = usage.ru_utime + usage.ru_stime
    return code, usage.ru_maxrss / 1024, time.perf_counter() - start, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=300, help="size of the file in MB")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the assay to measure")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="assay-battle-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    file = work / f"battles-{args.mb}mb.jsonl"
    if not file.exists():
        battles = _generator().big_battles(file, args.mb)
    else:
        battles = sum(1 for _ in file.open("rb"))
    print(f"{battles:,} battles with answers, {file.stat().st_size / 1e6:.0f} MB of JSONL")
    print(f"{'command':<42} {'peak RSS MB':>12} {'target MB':>10} {'wall s':>7} {'cpu s':>7}")
    commands = {
        "import battles FILE": ["import", "battles", str(file)],
        "rank battles FILE --style-control": [
            "rank",
            "battles",
            str(file),
            "--style-control",
            "--bootstrap",
            "0",
            "--json",
        ],
    }
    for label, command in commands.items():
        store = work / "store.duckdb"
        for stale in work.glob("store.duckdb*"):
            stale.unlink()
        status, mb, wall, cpu = peak([*command, "--store", str(store)], args.src)
        flag = "ok" if status == 0 and mb <= TARGET_MB else "OVER"
        print(
            f"{label:<42} {mb:>12.0f} {TARGET_MB:>10} {wall:>7.1f} {cpu:>7.1f}  {flag} "
            f"(exit {status})",
            flush=True,
        )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
