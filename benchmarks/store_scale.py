"""The store at 10^7 sample-metric rows: compare, leaderboard, report, import and peak memory,
each beside a plain-pandas peer, with the issue's targets.

The store is generated in DuckDB SQL (no Python loops): MODELS x TASKS x DOCS samples with 5
metrics each (20 x 10 x 10^4 x 5 = 10^7 rows by default); model m answers doc d right with
probability rising in m. Every step runs in a fresh child process, so its peak memory
(``resource.getrusage``'s ``ru_maxrss``) is its own.

    python benchmarks/store_scale.py [--docs 10000] [--models 20] [--tasks 10] [--dir /tmp/x]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import time
from pathlib import Path

METRICS = ("acc", "acc_norm", "brier", "logprob", "f1")


def generate(path: Path, models: int, tasks: int, docs: int) -> None:
    import duckdb

    from assay.store import open_store

    open_store(path)  # the schema
    con = duckdb.connect(str(path))
    con.execute(f"""
        CREATE TEMP TABLE grid AS
        SELECT 'model-' || lpad(m::VARCHAR, 2, '0') AS model, m,
               'task-' || lpad(t::VARCHAR, 2, '0') AS task, t, d
        FROM range({models}) a(m), range({tasks}) b(t), range({docs}) c(d)""")
    con.execute("BEGIN")
    con.execute("""
        INSERT INTO models (model) SELECT DISTINCT model FROM grid;
        INSERT INTO runs (run_id, model, task, source, created_at)
        SELECT DISTINCT model || '|' || task, model, task, 'bench', now()::TIMESTAMP FROM grid;
        INSERT INTO samples (run_id, model, task, doc_id, "repeat", created_at)
        SELECT model || '|' || task, model, task, 'doc-' || d, 0, now()::TIMESTAMP FROM grid;""")
    p_right = "(0.3 + 0.02 * m)"  # model m is right with this probability
    u = "((hash(m, t, d) % 1000000)::DOUBLE / 1e6)"
    values = {
        "acc": f"CASE WHEN {u} < {p_right} THEN 1.0 ELSE 0.0 END",
        "acc_norm": f"CASE WHEN (hash(d, m, t) % 1000000) / 1e6 < {p_right} THEN 1.0 ELSE 0.0 END",
        "brier": f"{u} * 0.5",
        "logprob": f"-{u} * 4",
        "f1": "(hash(t, d, m) % 1000) / 1000.0",
    }
    for metric in METRICS:
        con.execute(f"""
            INSERT INTO sample_metrics
            SELECT model || '|' || task, 'doc-' || d, 0, '{metric}', {values[metric]} FROM grid""")
    con.execute("COMMIT")
    con.close()


def _timed(queue, fn, *args) -> None:
    start = time.perf_counter()
    note = fn(*args)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((seconds, peak, note))


def run(fn, *args) -> tuple[float, float, str]:
    """(seconds, peak MB, note) of ``fn(*args)`` in a fresh process (imports done first)."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_timed, args=(queue, fn, *args))
    proc.start()
    result = queue.get()
    proc.join()
    return result


# -- the steps: assay, then the plain-pandas peer ------------------------------------------
def assay_compare(path: Path) -> str:
    from assay.stats import compare
    from assay.store import open_store

    scores = open_store(path, read_only=True).analysis_scores()
    result = compare(scores, tasks=["task-00"])
    return f"{len(scores):,} rows read, {len(result.pairs)} pairs"


def pandas_compare(path: Path) -> str:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    df = con.execute(
        "SELECT s.model, s.task, s.doc_id, m.metric, m.value FROM samples s "
        'JOIN sample_metrics m USING (run_id, doc_id, "repeat")'
    ).df()
    acc = df[df["metric"] == "acc"]
    table = acc.groupby(["task", "model"])["value"].agg(["mean", "sem", "count"])
    return f"{len(df):,} rows read, {len(table)} cells"


def assay_leaderboard(path: Path) -> str:
    from assay.store import metric_summary, open_store

    table = metric_summary(open_store(path, read_only=True))
    return f"{len(table)} cells"


def assay_compare_task(path: Path) -> str:
    from assay.stats import compare
    from assay.store import open_store

    scores = open_store(path, read_only=True).analysis_scores(task="task-00", metric="acc")
    result = compare(scores)
    return f"{len(scores):,} rows read, {len(result.pairs)} pairs"


def view_leaderboard(path: Path) -> str:
    from assay.store import open_store

    table = open_store(path, read_only=True).sql(
        "SELECT model, task, metric, count(*) AS n, avg(value) AS mean, "
        "stddev_samp(value) / sqrt(count(*)) AS stderr FROM scores "
        "GROUP BY ALL ORDER BY task, metric, mean DESC"
    )
    return f"{len(table)} cells"


def pandas_leaderboard(path: Path) -> str:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    df = con.execute(
        "SELECT s.model, s.task, m.metric, m.value FROM samples s "
        'JOIN sample_metrics m USING (run_id, doc_id, "repeat")'
    ).df()
    table = df.groupby(["model", "task", "metric"])["value"].agg(["count", "mean", "sem"])
    return f"{len(table)} cells"


def assay_report(path: Path, out: Path) -> str:
    from assay.report import write_report

    written, _ = write_report(str(path), out / "report.html")
    return f"{written.stat().st_size / 1e6:.1f} MB html"


def export_for_import(path: Path, out: Path, docs: int) -> None:
    """10^6 samples (with 5 metrics) as one Parquet file, in the layout `assay export` writes."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    pivot = ", ".join(
        f"max(value) FILTER (WHERE metric = '{m}') AS \"metric.{m}\"" for m in METRICS
    )
    con.execute(f"""
        COPY (SELECT 'imported-' || s.model AS model, s.task, s.doc_id, s."repeat", {pivot}
              FROM samples s JOIN sample_metrics m USING (run_id, doc_id, "repeat")
              WHERE s.model < 'model-{max(1, 1_000_000 // (10 * docs)):02d}'
              GROUP BY ALL) TO '{out / "import.parquet"}' (FORMAT parquet)""")


def assay_import(out: Path) -> str:
    from assay.store import import_samples, open_store

    store = open_store(out / "import.duckdb")
    summary = import_samples(store, out / "import.parquet")
    return f"{summary['samples']:,} samples"


def pandas_import(out: Path) -> str:
    import pandas as pd

    df = pd.read_parquet(out / "import.parquet")
    long = df.melt(id_vars=["model", "task", "doc_id", "repeat"], var_name="metric")
    long.to_parquet(out / "peer.parquet")
    return f"{len(df):,} samples"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--skip-report", action="store_true")
    parser.add_argument("--steps", default=None, help="comma-separated step numbers (from 1)")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="assay-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    path = work / "scale.duckdb"
    rows = args.models * args.tasks * args.docs * len(METRICS)
    if not path.exists():
        start = time.perf_counter()
        generate(path, args.models, args.tasks, args.docs)
        print(f"generated {rows:,} sample-metric rows in {time.perf_counter() - start:.0f} s "
              f"({path.stat().st_size / 1e6:.0f} MB at {path})")  # fmt: skip
    import assay.report  # noqa: F401  (imports before forking: children time the work only)
    import assay.stats  # noqa: F401

    export_for_import(path, work, args.docs)
    steps = [
        ("compare: whole store read", 1.0, (assay_compare, path), (pandas_compare, path)),
        ("compare: task+metric read", 1.0, (assay_compare_task, path), (pandas_compare, path)),
        ("leaderboard: metric_summary", 1.0, (assay_leaderboard, path), (pandas_leaderboard, path)),
        ("leaderboard: scores view", 1.0, (view_leaderboard, path), None),
        ("import 10^6 samples", 30.0, (assay_import, work), (pandas_import, work)),
    ]
    if not args.skip_report:
        steps.append(("report", 30.0, (assay_report, path, work), None))
    print(f"{'step':<28} {'assay s':>8} {'peak MB':>8} {'pandas s':>9} {'peak MB':>8} "
          f"{'target s':>9}  notes")  # fmt: skip
    chosen = None if args.steps is None else {int(k) for k in args.steps.split(",")}
    for number, (name, target, ours, peer) in enumerate(steps, 1):
        if chosen is not None and number not in chosen:
            continue
        (import_path := work / "import.duckdb").unlink(missing_ok=True)
        del import_path
        s, mb, note = run(*ours)
        ps, pmb, pnote = run(*peer) if peer else (float("nan"), float("nan"), "")
        flag = "ok" if s <= target else "OVER"
        print(f"{name:<28} {s:>8.2f} {mb:>8.0f} {ps:>9.2f} {pmb:>8.0f} {target:>9.0f}  "
              f"{flag}; {note} | peer: {pnote}")  # fmt: skip


if __name__ == "__main__":
    main()
