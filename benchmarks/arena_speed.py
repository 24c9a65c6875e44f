"""`assay rank battles FILE` on an arena the size of LMArena's public export (issue 33).

Generates a JSONL file of 1.67 million battles among 130 models in a temporary folder (in
DuckDB SQL; nothing is committed), then runs the whole command in a fresh child process, as a
user would (`python -m assay rank battles FILE --store S --json ...`: read, validate, fit,
intervals, import into the store), and prints its wall time and peak memory (the child's
``ru_maxrss``) beside the targets: <= 10 s and <= 1 GB, with 1,000 bootstrap rounds and with
sandwich intervals. Then the stages on their own (read, fit, import into the store), to show
where the time goes.

    python benchmarks/arena_speed.py [--battles 1670000] [--models 130] [--dir /tmp/x]
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


def generate(path: Path, battles: int, models: int, seed: int = 0) -> None:
    """Battles with LMArena's export fields: model_a/model_b/winner, question_id, tstamp,
    judge; strengths 0..3 logits apart, 15 % ties."""
    import duckdb

    con = duckdb.connect()
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
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(out.returncode)"
)


def run(args: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS bytes of one fresh `python -m assay` child (measured by a
    wrapper process of its own, so each command's peak is its own)."""
    env = dict(os.environ, COLUMNS="200")
    cmd = [sys.executable, "-c", _CHILD, sys.executable, "-m", "assay", *args]
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if out.returncode:
        raise SystemExit(out.stderr[-2000:])
    return seconds, int(out.stdout.strip().splitlines()[-1]) * 1024


_STAGES = """
import resource, sys, time
from assay.rank import fit_battles, read_battles, store_battles
from assay.store import open_store
t = time.perf_counter()
battles = read_battles(sys.argv[1])
marks = [("read + validate", time.perf_counter() - t)]
for label, kw in (("fit + 1,000 bootstrap rounds", {"bootstrap": 1000}),
                  ("fit + sandwich intervals", {"ci": "sandwich"})):
    t = time.perf_counter()
    fit_battles(battles, **kw)
    marks.append((label, time.perf_counter() - t))
t = time.perf_counter()
store_battles(open_store(sys.argv[2]), battles, source="bench")
marks.append(("import into the store (store ids + writes)", time.perf_counter() - t))
for label, sec in marks:
    print(f"{label:<44} {sec:7.1f}")
print(f"peak MB of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.0f}")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--battles", type=int, default=1_670_000)
    ap.add_argument("--models", type=int, default=130)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        file = Path(tmp) / "arena.jsonl"
        generate(file, args.battles, args.models)
        mb = file.stat().st_size / 1e6
        print(f"{args.battles:,} battles, {args.models} models, {mb:.0f} MB of JSONL")
        print(f"{'command':<44} {'wall s':>7} {'target':>7} {'peak MB':>8} {'target':>7}")
        cases = {
            "--bootstrap 1000": ["--bootstrap", "1000"],
            "--ci sandwich": ["--ci", "sandwich"],
        }
        for i, (label, extra) in enumerate(cases.items()):
            store = Path(tmp) / f"store{i}.duckdb"
            cmd = ["rank", "battles", str(file), "--store", str(store), "--json", *extra]
            seconds, peak = run(cmd)
            print(
                f"rank battles FILE {label:<26} {seconds:>7.1f} {TARGET_SECONDS:>7.0f} "
                f"{peak / 1e6:>8.0f} {TARGET_BYTES / 1e6:>7.0f}"
            )
        print("stages, in one process (seconds):")
        stages = subprocess.run(
            [sys.executable, "-c", _STAGES, str(file), str(Path(tmp) / "stages.duckdb")],
            capture_output=True,
            text=True,
        )
        print(stages.stdout.rstrip() or stages.stderr[-2000:])
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
