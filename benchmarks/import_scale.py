"""`assay import samples` of 10^6 rows (JSON lines and Parquet), whole process, beside raw DuckDB
inserting the same file into the same tables in the same run, with the issue's target (30 s).

The file is generated in DuckDB SQL: MODELS x TASKS x DOCS rows (20 x 50 x 1,000 = 10^6 by
default) of model, task, doc_id, repeat, target, prediction and two metrics (metric.acc 0/1,
metric.f1 in [0, 1)), once as JSON lines, once as one Parquet file and once as a folder of
Parquet files, one per (model, task) (as `assay export` writes them). Each timed step is a fresh
process: `python -m assay import samples FILE --store NEW` (start-up included), and the peer,
`python` + `import duckdb` + one transaction of `INSERT INTO samples SELECT ... FROM
read_json(FILE)` and `INSERT INTO sample_metrics` (the two metric columns unpivoted) into an
empty store of the same schema (its primary keys included). Beside each wall time: the CPU
seconds of the process (user + system, all threads) and its peak resident memory (VmHWM); on a
shared machine the wall time grows with the load (printed before and after), the CPU time much
less. Both stores must hold the same samples and metric values (counted and summed: printed).

    python benchmarks/import_scale.py [--models 20] [--tasks 50] [--docs 1000] [--dir /tmp/x]
                                      [--format jsonl] [--src OTHER_CHECKOUT/src]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 30.0

#: runs ``python -m MODULE ARGS`` (or ``-c CODE``), then prints its peak RSS (VmHWM, kB) on
#: stderr: ru_maxrss of a child counts its parent's memory from before the exec
_PEAK = (
    "import atexit, runpy, sys\n"
    "def _peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM'):\n"
    "            print('peak-kB', line.split()[1], file=sys.stderr)\n"
    "atexit.register(_peak)\n"
    "mode, target, *rest = sys.argv[1:]\n"
    "sys.argv = [target, *rest]\n"
    "runpy.run_module(target, run_name='__main__') if mode == 'module' else exec(target)\n"
)

_ROWS = """SELECT 'model-' || lpad((i // ({tasks} * {docs}))::VARCHAR, 2, '0') AS model,
       'task-' || lpad(((i // {docs}) % {tasks})::VARCHAR, 3, '0') AS task,
       'doc-' || (i % {docs}) AS doc_id, 0 AS "repeat", 'A' AS target,
       CASE WHEN hash(i) % 3 = 0 THEN 'B' ELSE 'A' END AS prediction,
       CASE WHEN hash(i) % 3 = 0 THEN 0.0 ELSE 1.0 END::DOUBLE AS "metric.acc",
       ((hash(i) % 1000) / 1000.0)::DOUBLE AS "metric.f1"
FROM range({rows}) r(i)"""

_PEER = """
import sys, duckdb
store, reader = sys.argv[1:3]
con = duckdb.connect(store)
con.execute("BEGIN")
con.execute(f'''INSERT INTO samples (run_id, model, task, doc_id, "repeat", target, prediction,
    created_at) SELECT model || '|' || task, model, task, doc_id, "repeat", target, prediction,
    now()::TIMESTAMP FROM {reader}''')
con.execute(f'''INSERT INTO sample_metrics SELECT model || '|' || task, doc_id, "repeat",
    substr(name, 8), value FROM (UNPIVOT (SELECT * FROM {reader})
    ON "metric.acc", "metric.f1" INTO NAME name VALUE value)''')
con.execute('''INSERT INTO runs (run_id, model, task, source, created_at) SELECT DISTINCT
    run_id, model, task, 'peer', now()::TIMESTAMP FROM samples''')
con.execute("COMMIT")
"""

_SUMMARY = (
    "SELECT (SELECT count(*) FROM samples), (SELECT count(*) FROM sample_metrics), "
    "(SELECT round(sum(value), 3) FROM sample_metrics), (SELECT count(*) FROM runs)"
)


def generate(work: Path, models: int, tasks: int, docs: int) -> dict[str, Path]:
    import duckdb

    query = _ROWS.format(tasks=tasks, docs=docs, rows=models * tasks * docs)
    paths = {
        "jsonl": work / "rows.jsonl",
        "parquet": work / "rows.parquet",
        "folder": work / "parts",
    }
    con = duckdb.connect()
    con.execute(f"COPY ({query}) TO '{paths['jsonl']}' (FORMAT json)")
    con.execute(f"COPY ({query}) TO '{paths['parquet']}' (FORMAT parquet)")
    con.execute(  # as `assay export` lays it out: one file per (model, task)
        f"COPY ({query}) TO '{paths['folder']}' (FORMAT parquet, PARTITION_BY (model, task), "
        "WRITE_PARTITION_COLUMNS true)"
    )
    con.close()
    return paths


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(mode: str, target: str, *args: str, src: Path = ROOT / "src") -> tuple:
    """(wall s, CPU s, peak MB, stdout) of a fresh ``python`` running ``target`` (with the
    assay of ``src``)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")])),
    }
    start, cpu = time.perf_counter(), _cpu()
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, mode, target, *args], capture_output=True, text=True, env=env
    )
    wall, cpu = time.perf_counter() - start, _cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"{target} {' '.join(args)} failed: {done.stderr.strip()[-600:]}")
    peak = [line.split()[1] for line in done.stderr.splitlines() if line.startswith("peak-kB")]
    return wall, cpu, int(peak[-1]) / 1024 if peak else float("nan"), done.stdout


def empty_store(path: Path) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from assay.store import open_store

    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    open_store(path)


def summary(path: Path) -> tuple:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(_SUMMARY).fetchall()[0]
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--dir", type=Path, default=None, help="keep the files here")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the assay to measure")
    parser.add_argument("--format", choices=["jsonl", "parquet", "folder"], action="append")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="assay-import-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        rows = args.models * args.tasks * args.docs
        paths = generate(work, args.models, args.tasks, args.docs)
        sizes = ", ".join(
            f"{k} {p.stat().st_size / 1e6:.0f} MB" for k, p in paths.items() if p.is_file()
        )
        sizes += f", folder {sum(1 for _ in paths['folder'].rglob('*.parquet'))} Parquet files"
        print(
            f"{rows:,} rows, 2 metrics each ({sizes}); load average (1, 5, 15 min) before: "
            f"{os.getloadavg()}"
        )
        print(f"{'step':<34} {'wall s':>7} {'CPU s':>6} {'peak MB':>8} {'target s':>9}  notes")
        for kind, path in paths.items():
            if args.format and kind not in args.format:
                continue
            store = work / f"assay-{kind}.duckdb"
            for stale in work.glob(store.name + "*"):
                stale.unlink()
            wall, cpu, peak, _ = timed(
                "module",
                "assay",
                "import",
                "samples",
                str(path),
                "--store",
                str(store),
                src=args.src,
            )
            got = summary(store)
            peer_store = work / f"peer-{kind}.duckdb"
            empty_store(peer_store)
            reader = {
                "jsonl": f"read_json('{path}')",
                "parquet": f"read_parquet('{path}')",
                "folder": f"read_parquet('{path}/*/*/*.parquet')",
            }[kind]
            p_wall, p_cpu, p_peak, _ = timed("code", _PEER, str(peer_store), reader)
            want = summary(peer_store)
            same = "the same" if got[:3] == want[:3] else f"NOT the same ({want[:3]})"
            note = (
                f"{'ok' if wall <= TARGET_S else 'OVER'}; {got[0]:,} samples, {got[1]:,} "
                f"metric values (sum {got[2]}), {got[3]:,} runs: {same} as the peer's"
            )
            print(
                f"{'import samples ' + kind + ', whole process':<34} {wall:>7.2f} {cpu:>6.2f} "
                f"{peak:>8.0f} {TARGET_S:>9.0f}  {note}"
            )
            print(
                f"{'peer: raw DuckDB INSERT ' + kind:<34} {p_wall:>7.2f} {p_cpu:>6.2f} "
                f"{p_peak:>8.0f} {'':>9}  python + duckdb + one INSERT ... SELECT per table"
            )
            sys.stdout.flush()
        print(f"load average (1, 5, 15 min) after: {os.getloadavg()}")
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
