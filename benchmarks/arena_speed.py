"""`assay rank battles FILE` on an arena the size of LMArena's public export (issue 33).

Generates a JSONL file of 1.67 million battles among 130 models in a temporary folder (in
DuckDB SQL; nothing is committed), then runs the whole command in a fresh child process, as a
user would (`python -m assay rank battles FILE --store S --json ...`: read, validate, fit,
intervals, import into the store: the file is read once, a block at a time), and prints its
wall time and peak memory (the child's ``ru_maxrss``) beside the targets: <= 10 s and
<= 1 GB, with 1,000 bootstrap rounds and with
sandwich intervals, and its CPU seconds (user + system: on a busy machine the wall time
mostly measures the other processes). Then the stages on their own (read, fit, import into the
store), to show where the time goes. The figures before this work are printed for reference.

    python benchmarks/arena_speed.py [--battles 1670000] [--models 130] [--dir /tmp/x]
        [--before SRC]   # also run the commands with an older checkout's src/ (same load)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS, TARGET_BYTES = 10.0, 1 << 30
#: The same commands at commit 9a65bb5 (before the store's writer ran beside the fit and the
#: battles lost their primary-key index), measured by this script on this machine when it was
#: quiet: (wall s, peak MB). (At 461b3e9, before the first speed-up: 92.2 s / 1259 MB and
#: 36.9 s / 1465 MB at load average 5.2.)
BEFORE = {"--bootstrap 1000": (11.3, 979), "--ci sandwich": (6.9, 778)}


def generate(path: Path, battles: int, models: int, seed: int = 0) -> None:
    """Battles with LMArena's export fields: model_a/model_b/winner, question_id, tstamp,
    judge; strengths 0..3 logits apart, 15 % ties."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SELECT setseed({seed / 100})")
    con.execute(f"""
        COPY (
          WITH b AS (
            SELECT i, (random() * {models})::INT % {models} AS a,
                   ((random() * {models - 1})::INT % {models - 1}) + 1 AS off,
                   random() AS u, random() AS t
            FROM range({battles}) r(i)
          ), p AS (
            SELECT i, a, (a + off) % {models} AS bb, u, t FROM b
          )
          SELECT 'model-' || lpad(a::VARCHAR, 3, '0') AS model_a,
                 'model-' || lpad(bb::VARCHAR, 3, '0') AS model_b,
                 CASE WHEN t > 0.85 THEN 'tie'
                      WHEN u < 1 / (1 + exp(-(a - bb) * 3.0 / {models})) THEN 'model_a'
                      ELSE 'model_b' END AS winner,
                 md5(i::VARCHAR) AS question_id,
                 1700000000 + i AS tstamp,
                 'arena_user_' || (i % 9973)::VARCHAR AS judge
          FROM p ORDER BY i
        ) TO '{path}' (FORMAT JSON)""")


_CHILD = (
    "import resource, subprocess, sys; "
    "out = subprocess.run(sys.argv[1:]); "
    "use = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(use.ru_utime + use.ru_stime, use.ru_maxrss); sys.exit(out.returncode)"
)


def run(args: list[str], src: Path | None = None) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak RSS bytes of one fresh `python -m assay` child
    (measured by a wrapper process of its own, so each command's figures are its own)."""
    env = dict(os.environ, COLUMNS="200")
    if src is not None:
        env["PYTHONPATH"] = str(src)
    cmd = [sys.executable, "-c", _CHILD, sys.executable, "-m", "assay", *args]
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if out.returncode:
        raise SystemExit(out.stderr[-2000:])
    cpu, peak = out.stdout.strip().splitlines()[-1].split()
    return seconds, float(cpu), int(peak) * 1024


_STAGES = """
import resource, sys, time
from assay.rank import CompactBattles, battle_blocks, fit_battles, import_battles
from assay.store import open_store
def now():
    return time.perf_counter(), time.process_time()
t = now()
compact = CompactBattles()
for block in battle_blocks(sys.argv[1]):
    compact.add(block)
battles = compact.frame()
marks = [("read + validate (blocks to codes)", now(), t)]
for label, kw in (("fit + 1,000 bootstrap rounds", {"bootstrap": 1000}),
                  ("fit + sandwich intervals", {"ci": "sandwich"})):
    t = now()
    fit_battles(battles, **kw)
    marks.append((label, now(), t))
t = now()
import_battles(open_store(sys.argv[2]), sys.argv[1], source="bench")
marks.append(("import battles FILE (read, ids, writes)", now(), t))
print(f"{'stage':<44} {'wall s':>7} {'cpu s':>7}")
for label, end, start in marks:
    print(f"{label:<44} {end[0] - start[0]:7.1f} {end[1] - start[1]:7.1f}")
print(f"peak MB of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.0f}")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--battles", type=int, default=1_670_000)
    ap.add_argument("--models", type=int, default=130)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--before", type=Path, default=None, help="an older checkout's src/")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        file = Path(tmp) / "arena.jsonl"
        generate(file, args.battles, args.models)
        mb = file.stat().st_size / 1e6
        print(f"{args.battles:,} battles, {args.models} models, {mb:.0f} MB of JSONL")
        print(
            f"{'command':<44} {'wall s':>7} {'cpu s':>7} {'target':>7} {'peak MB':>8} "
            f"{'target':>7} {'before: wall s':>15} {'peak MB':>8}"
        )
        cases = {
            "--bootstrap 1000": ["--bootstrap", "1000"],
            "--ci sandwich": ["--ci", "sandwich"],
        }
        for i, (label, extra) in enumerate(cases.items()):
            store = Path(tmp) / f"store{i}.duckdb"
            cmd = ["rank", "battles", str(file), "--store", str(store), "--json", *extra]
            print(f"load average {os.getloadavg()[0]:.1f} before the command")
            seconds, cpu, peak = run(cmd)
            old_s, old_mb = BEFORE[label]
            if args.before is not None:  # the older code now, under the same load
                store.unlink(missing_ok=True)
                old_s, old_cpu, old_peak = run(cmd, args.before)
                old_mb = old_peak / 1e6
                print(f"  before, this run: cpu {old_cpu:.1f} s")
            print(
                f"rank battles FILE {label:<26} {seconds:>7.1f} {cpu:>7.1f} "
                f"{TARGET_SECONDS:>7.0f} {peak / 1e6:>8.0f} {TARGET_BYTES / 1e6:>7.0f} "
                f"{old_s:>15.1f} {old_mb:>8.0f}"
            )
        print("stages, in one process:")
        stages = subprocess.run(
            [sys.executable, "-c", _STAGES, str(file), str(Path(tmp) / "stages.duckdb")],
            capture_output=True,
            text=True,
        )
        print(stages.stdout.rstrip() or stages.stderr[-2000:])
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end")


if __name__ == "__main__":
    main()
