"""A store of 10^7 scored samples: `assay compare` (whole process) beside a raw DuckDB query doing
the same per-(model, task) aggregation, in the same run, with the issue's targets; and importing
10^6 rows.

The store is generated in DuckDB SQL (no Python loops, no runner): MODELS x TASKS x DOCS samples
with one 0/1 metric (acc), 50 x 200 x 1,000 = 10^7 by default; model m is right with a
probability of its own. Each timed step is a fresh process (its start-up counted), and its
peak memory is its own. `assay compare --json` must give, per (model, task), the n and mean the
SQL aggregate gives exactly; that is checked and printed. Beside each wall time, the CPU seconds
of the process (user + system, all threads): on a shared machine the wall time grows with the
load (printed before and after), the CPU time much less. compare opens the store once, to read:
a store this large is left to DuckDB's checksum of each block it reads (``assay.store._integrity``).
The store lives in a temporary folder and is deleted at the end (unless --dir is given).

    python benchmarks/store_scale.py [--models 50] [--tasks 200] [--docs 1000] [--dir /tmp/x]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: a fresh interpreter running ``assay ARGS``, its peak RSS (VmHWM, kB: ru_maxrss would carry
#: the parent's over exec) on stderr
_LAUNCH = (
    "import atexit, runpy, sys; "
    "atexit.register(lambda: print('maxrss', [ln.split()[1] for ln in open('/proc/self/status') "
    "if ln.startswith('VmHWM')][0], file=sys.stderr)); "
    "sys.argv = ['assay', *sys.argv[1:]]; runpy.run_module('assay', run_name='__main__')"
)

RAW_SQL = (
    "SELECT r.model, r.task, count(*) AS n, avg(m.value) AS mean FROM sample_metrics m "
    "JOIN runs r USING (run_id) WHERE m.metric = 'acc' AND m.value IS NOT NULL "
    "GROUP BY ALL ORDER BY r.task, r.model"
)


def generate(path: Path, models: int, tasks: int, docs: int) -> None:
    import duckdb

    from assay.store import open_store

    open_store(path)  # the schema
    con = duckdb.connect(str(path))
    con.execute("SET preserve_insertion_order = false")
    name = "'model-' || lpad(m::VARCHAR, 2, '0')"
    task = "'task-' || lpad(t::VARCHAR, 3, '0')"
    con.execute("BEGIN")
    con.execute(f"INSERT INTO models (model) SELECT {name} FROM range({models}) a(m)")
    con.execute(f"""
        INSERT INTO runs (run_id, model, task, source, created_at)
        SELECT {name} || '|' || {task}, {name}, {task}, 'bench', now()::TIMESTAMP
        FROM range({models}) a(m), range({tasks}) b(t)""")
    con.execute(f"""
        INSERT INTO samples (run_id, model, task, doc_id, "repeat")
        SELECT r.run_id, r.model, r.task, 'doc-' || d, 0 FROM runs r, range({docs}) c(d)""")
    right = "0.3 + 0.01 * (hash(r.model) % 50)"  # each model's own accuracy
    con.execute(f"""
        INSERT INTO sample_metrics
        SELECT r.run_id, 'doc-' || d, 0, 'acc',
               CASE WHEN (hash(r.run_id, d) % 1000000)::DOUBLE / 1e6 < {right}
                    THEN 1.0 ELSE 0.0 END
        FROM runs r, range({docs}) c(d)""")
    con.execute("COMMIT")
    con.close()


def _env(src: Path | None = None) -> dict[str, str]:
    """This environment with ``src`` (default: this checkout's src) first on PYTHONPATH."""
    src = src or Path(__file__).resolve().parents[1] / "src"
    path = os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(
    args: list[str], out: Path | None = None, launch: str = _LAUNCH, src: Path | None = None
) -> tuple[float, float, float]:
    """(seconds, peak MB, CPU seconds: user + system of all its threads) of ``python -c LAUNCH
    args`` (stdout to ``out``; ``src``: another checkout's src)."""
    env = _env(src)
    start, cpu = time.perf_counter(), _children_cpu()
    with open(out or os.devnull, "w") as sink:
        done = subprocess.run(
            [sys.executable, "-c", launch, *args],
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
    seconds = time.perf_counter() - start
    cpu = _children_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"assay {' '.join(args)} failed: {done.stderr.strip()[-400:]}")
    peak = [ln for ln in done.stderr.splitlines() if ln.startswith("maxrss")]
    return seconds, int(peak[-1].split()[1]) / 1024 if peak else float("nan"), cpu


def timed_code(code: str, *args: str) -> tuple[float, float, float]:
    """(seconds, peak MB, CPU seconds) of a fresh ``python -c code args``."""
    launch = _LAUNCH.split("sys.argv = ")[0] + f"exec({code!r})"
    return timed(list(args), launch=launch)


def raw_query(path: Path) -> tuple[float, float, dict]:
    """(whole process s, query s, {(model, task): (n, mean)}) of the raw DuckDB aggregate."""
    code = (
        "import sys, time, json; t0 = time.perf_counter(); import duckdb; "
        "con = duckdb.connect(sys.argv[1], read_only=True); t = time.perf_counter(); "
        "rows = con.execute(sys.argv[2]).fetchall(); q = time.perf_counter() - t; "
        "print(json.dumps({'query_s': q, 'rows': rows}))"
    )
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, str(path), RAW_SQL], capture_output=True, text=True, check=True
    )
    whole = time.perf_counter() - start
    got = json.loads(done.stdout)
    return whole, got["query_s"], {(m, t): (n, mean) for m, t, n, mean in got["rows"]}


def row(step, seconds, cpu, peak, raw, target, notes) -> None:
    """One line of the table (numbers formatted, text as it is)."""

    def cell(value, width, digits):
        text = f"{value:.{digits}f}" if isinstance(value, float) else str(value)
        return f"{text:>{width}}"

    print(
        f"{step:<36} {cell(seconds, 8, 2)} {cell(cpu, 6, 2)} {cell(peak, 8, 0)} "
        f"{cell(raw, 13, 2)} {cell(target, 9, 0)}  {notes}"
    )


def phases(path: Path) -> None:
    """Where `assay compare --json` spends its time, in this process, phase by phase (wall and
    CPU seconds): what the CLI does, the output written to /dev/null."""
    import contextlib

    clock = [time.perf_counter(), time.process_time()]

    def lap(label: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        print(f"  {label:<44} {wall - clock[0]:>6.2f} {cpu - clock[1]:>6.2f}")
        clock[:] = [wall, cpu]

    print(f"  {'phase (one process)':<44} {'wall s':>6} {'cpu s':>6}")
    import assay.cli  # noqa: F401

    lap("imports: assay.cli (typer)")
    from assay.cli._common import json_tables, print_json
    from assay.cli._compare_io import import_meanwhile, reading_store
    from assay.cli._verdict import store_verdict
    from assay.cli.stats import _evidence

    lap("imports: the command's part (pandas, DuckDB, rich)")
    import_meanwhile("assay.stats:compare", "assay.stats:verdict", "scipy.special")  # as compare
    store = reading_store(path)
    with store.session():
        lap("opening the store (once, to read)")
        evidence = _evidence(path, st=store)
        lap("the evidence read (runs, metrics in SQL)")
        from assay.stats import compare

        lap("imports: assay.stats.compare (in the background)")
        from assay.store._matrices import MatrixSource

        read = MatrixSource.doc_matrices
        spent = [0.0, 0.0]

        def timed_read(self, *args, **kwargs):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return read(self, *args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - wall
                spent[1] += time.process_time() - cpu

        MatrixSource.doc_matrices = timed_read
        result = compare(evidence)
        MatrixSource.doc_matrices = read
        lap("compare: matrices, scores, pairs, groups")
        label = "  of which: per-document matrices in DuckDB"
        print(f"  {label:<44} {spent[0]:>6.2f} {spent[1]:>6.2f}")
        tables = json_tables(result.to_dict(frames=True))
        found = store_verdict(result, store)
    lap("the verdict (the tables' JSON: DuckDB, background)")
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        print_json({**tables, "family": result.family.to_dict(), "verdict": found.to_dict()})
    lap("the JSON written (the tables' text waited for)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--dir", type=Path, default=None, help="keep the store here")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each step")
    parser.add_argument(
        "--before", type=Path, default=None, help="another checkout: its compare timed alike"
    )
    parser.add_argument("--phases-of", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phases_of is not None:
        phases(args.phases_of)
        return
    work = args.dir or Path(tempfile.mkdtemp(prefix="assay-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    path = work / "scale.duckdb"
    try:
        if not path.exists():
            start = time.perf_counter()
            generate(path, args.models, args.tasks, args.docs)
            samples = args.models * args.tasks * args.docs
            print(
                f"generated {samples:,} scored samples in {time.perf_counter() - start:.0f} s "
                f"({path.stat().st_size / 1e6:.0f} MB)"
            )
        print(f"load average (1, 5, 15 min) before: {os.getloadavg()}")
        row("step", "assay s", "cpu s", "peak MB", "raw DuckDB s", "target s", "notes")
        raw = [raw_query(path) for _ in range(args.repeats)]
        truth = raw[-1][2]
        raw_whole = min(r[0] for r in raw)
        raw_query_s = min(r[1] for r in raw)
        s, mb, cpu = min(timed(["--version"]) for _ in range(args.repeats))
        peer = "peer: python + import duckdb + connect + the query"
        row("start-up: assay --version", s, cpu, mb, raw_whole, "", peer)
        s, mb, cpu = min(timed(["--help"]) for _ in range(args.repeats))
        row("start-up: assay --help", s, cpu, mb, raw_whole, "", "the listing: no part imported")
        out = work / "compare.json"
        runs = [
            timed(["compare", "--store", str(path), "--json"], out) for _ in range(args.repeats)
        ]
        got = json.loads(out.read_text())
        scores = {(r["model"], r["task"]): (r["n"], r["mean"]) for r in got["scores"]}
        exact = "equal" if scores == truth else "DIFFER FROM"
        for k, (s, mb, cpu) in enumerate(runs):
            note = (
                f"{'ok' if s <= 3 else 'OVER'}; {len(scores):,} (model, task) means and n {exact} "
                f"the SQL aggregate exactly; {len(got['pairs']):,} pairs; peer: the aggregate "
                "query alone"
            )
            row(f"compare --json, whole process #{k + 1}", s, cpu, mb, raw_query_s, 3.0, note)
        if args.before is not None:  # interleaved with this checkout's, as alike as can be
            os.environ["ASSAY_CACHE_DIR"] = str(work / "cache")  # (an older check's memory)
            for k in range(args.repeats):
                then = work / "before.json"
                s, mb, cpu = timed(
                    ["compare", "--store", str(path), "--json"], then, src=args.before / "src"
                )
                same = "identical to" if then.read_bytes() == out.read_bytes() else "DIFFERS from"
                note = f"{args.before}: its output {same} this checkout's"
                row(f"compare --json, before #{k + 1}", s, cpu, mb, raw_query_s, 3.0, note)
                s, mb, cpu = timed(["compare", "--store", str(path), "--json"], out)
                row(f"compare --json, this checkout #{k + 1}", s, cpu, mb, raw_query_s, 3.0, "")
        print("where the compare's time goes (a fresh process):")
        sys.stdout.flush()
        subprocess.run(
            [sys.executable, __file__, "--phases-of", str(path)],
            env=_env(),
            check=True,
        )
        code = (
            "import sys; from assay.store import metric_summary, open_store; "
            "print(len(metric_summary(open_store(sys.argv[1], read_only=True))))"
        )
        runs = [timed_code(code, str(path)) for _ in range(args.repeats)]
        s, mb, cpu = min(runs)
        note = "whole process (n, mean, sd, stderr per cell in SQL); peer: the query alone"
        row("leaderboard: store.metric_summary", s, cpu, mb, raw_query_s, "", note)
        export = work / "import.parquet"
        keep = max(1, 1_000_000 // (args.models * args.docs))
        import duckdb

        con = duckdb.connect(str(path), read_only=True)
        con.execute(f"""
            COPY (SELECT 'imported-' || r.model AS model, r.task, m.doc_id, m."repeat",
                         m.value AS "metric.acc"
                  FROM sample_metrics m JOIN runs r USING (run_id)
                  WHERE r.task < 'task-{keep:03d}') TO '{export}' (FORMAT parquet)""")
        rows = con.execute(f"SELECT count(*) FROM '{export}'").fetchall()[0][0]
        con.close()
        runs = []
        for _ in range(args.repeats):
            (work / "import.duckdb").unlink(missing_ok=True)
            runs.append(
                timed(["import", "samples", str(export), "--store", str(work / "import.duckdb")])
            )
        s, mb, cpu = min(runs)
        note = f"{'ok' if s <= 30 else 'OVER'}; {rows:,} rows from Parquet"
        row("import samples, whole process", s, cpu, mb, "", 30.0, note)
        print(f"load average (1, 5, 15 min) after: {os.getloadavg()}")
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
