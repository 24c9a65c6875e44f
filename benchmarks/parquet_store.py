"""`assay compare` on a Parquet-folder store (`--store DIR`, what `assay export --format parquet`
writes) beside the same command on the DuckDB file it was exported from, and beside raw DuckDB
aggregates over the file and over the folder, in the same run; checks that the folder gives the
file's n and mean for every (model, task) exactly.

The store is generated in DuckDB SQL as in ``store_scale.py`` (MODELS x TASKS x DOCS samples,
one 0/1 metric), 20 x 50 x 1,000 = 10^6 by default; every timed step is a fresh process
(start-up counted; beside its wall time its CPU seconds, user + system, and peak memory: on a
shared machine the wall time grows with the load average, printed before and after).
Everything lives in a temporary folder deleted at the end.

    python benchmarks/parquet_store.py [--models 20] [--tasks 50] [--docs 1000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_scale import timed  # noqa: E402
from store_scale import RAW_SQL, generate  # noqa: E402

RAW_PARQUET = (
    'SELECT model, task, count("metric.acc") AS n, avg("metric.acc") AS mean '
    "FROM read_parquet(?, hive_partitioning = true) GROUP BY ALL ORDER BY task, model"
)


def raw(sql: str, *params: str, database: str = ":memory:") -> float:
    """Whole-process seconds of a fresh Python running ``sql`` in DuckDB."""
    code = (
        "import sys, duckdb; con = duckdb.connect(sys.argv[1], read_only=sys.argv[1] != "
        "':memory:'); con.execute(sys.argv[2], sys.argv[3:]).fetchall()"
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, database, sql, *params], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each step")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="assay-parquet-bench-"))
    try:
        db, folder = root / "s.duckdb", root / "out"
        n = args.models * args.tasks * args.docs
        start = time.perf_counter()
        generate(db, args.models, args.tasks, args.docs)
        print(f"store: {n:,} scored samples generated in {time.perf_counter() - start:.1f} s")
        export_s, export_cpu, _, _ = timed(
            "module", "assay", "export", str(folder), "--store", str(db)
        )
        files = sum(1 for _ in folder.rglob("*.parquet"))
        print(
            f"assay export --format parquet: {export_s:.1f} s ({export_cpu:.1f} s CPU), "
            f"{files} partition files"
        )
        print(f"load average (1, 5, 15 min) before the compares: {os.getloadavg()}")
        results = {}
        for name, store in (("file", db), ("folder", folder)):
            runs = [
                timed("module", "assay", "compare", "--json", "--store", str(store))
                for _ in range(args.repeats)
            ]
            results[name] = json.loads(runs[-1][3])["scores"]
            shown = ", ".join(f"{w:.1f} s ({c:.1f} s CPU, {m:.0f} MB)" for w, c, m, _ in runs)
            print(f"assay compare --json on the {name:6s}: {shown}")
        glob = str(folder / "model=*" / "task=*" / "*.parquet")
        file_raw = [raw(RAW_SQL, database=str(db)) for _ in range(args.repeats)]
        folder_raw = [raw(RAW_PARQUET, glob) for _ in range(args.repeats)]
        print(
            f"raw DuckDB aggregate, whole process, file:   {', '.join(f'{t:.2f}' for t in file_raw)} s"
        )
        print(
            f"raw DuckDB aggregate, whole process, folder: {', '.join(f'{t:.2f}' for t in folder_raw)} s"
        )
        print(f"load average (1, 5, 15 min) after: {os.getloadavg()}")
        key = lambda r: (r["model"], r["task"], r["metric"])  # noqa: E731
        a = {key(r): (r["n"], r["mean"]) for r in results["file"]}
        b = {key(r): (r["n"], r["mean"]) for r in results["folder"]}
        same = a == b and len(a) == args.models * args.tasks
        print(
            f"target: the folder's {len(b)} (model, task) n and means equal the file's "
            f"exactly: {'yes' if same else 'NO'}"
        )
        if not same:
            raise SystemExit(1)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
