"""`assay report` and `assay rank samples` on a large store (10^7 scored samples by default:
50 models x 200 tasks x 1,000 documents), each a fresh process, beside a raw DuckDB query doing
the per-(model, task) aggregation in the same run, with the targets.

The store is generated in SQL by ``store_scale.generate`` (one 0/1 metric, every model on every
document). Printed per step: wall seconds, CPU seconds (user + system of the process and its
threads: on a shared machine the wall time grows with the load, printed before and after),
peak RSS (VmHWM) and the target. The report's leaderboard must give, per (model, task), the n
and mean the raw SQL aggregate gives (checked and printed). ``--baseline-src DIR`` runs the same
commands with another checkout's ``src`` too (e.g. main's, to print the before figures in the
same run; main's report was not run at 10^7: it took 104 CPU s at 10^6).

Targets: the report on 10^7 samples in under 60 s of wall time on a quiet machine and under
2 GB; rank samples (--method pl, 100 bootstrap rounds) likewise. Measured before this change
(main, 2026-12-06, 2 shared cores at load average 9-25) on 10^6 samples (20 models x 50 tasks
x 1,000 documents), in the same run as the figures after it (`--baseline-src`): `assay report`
1,689 s wall, 103.9 CPU s, 1,195 MB (after: 17.4 CPU s, 549 MB); rank samples --method pl 10.4
CPU s, 977 MB (after: 13.2 CPU s, 565 MB); --method mean 8.3 CPU s, 904 MB (after: 7.0, 563);
the default (auto = irt, 100 rounds) ran 34 min 48 s and 4.7 GB without finishing.

``--features`` adds a small part with every optional panel's input to the big store (two of
its models on a 4-choice task asked twice with recorded positions, choice log-likelihoods,
difficulties and, for one model, latencies; its perturbed copy; fairness probes: 1,280 samples),
so the optional panels have something to show; the leaderboard check then covers the big part.
Measured 2026-12-06 (2 shared cores, load average 4-8), `--features --no-rank`, before = the
optional panels reading every score / sample row into pandas, after = only the rows that carry
their input: 10^6 samples, in one run, before 20.2 CPU s, 1,238 MB; after 11.8 CPU s, 564 MB
(the same JSON report); 10^7 samples, after 61.1 CPU s, 3,231 MB (the store without the part:
48.0 CPU s, 3,208 MB), before a MemoryError at 8 GB of address space (4.6 GB resident) loading
every score row for the variance panel.

DuckDB's memory (2026-12-06, 2 shared cores, load average 1-5, in one run against the commit
before, ``--baseline-src``): unbounded, DuckDB took up to 80% of the machine for a read's hash
tables and the blocks it read, so the report's peak grew with the samples (the side-by-side
view's per-answer window over every sample and its temporary table: 3.2 GB at 10^7; the score
facts 1.3 GB; the fairness panel's filtered read 1.8 GB). The report's own reads (score facts,
side-by-side view, optional panels' rows and sums) now hold at most 256 MiB in DuckDB
(``store._sql_reads.bounded``, spilling to a temporary folder; the per-document matrices and
rank samples' cells are read as before: bounded, they took more CPU for no lower peak), and the
side-by-side view keeps two answers per document (least, greatest) and picks first answers only
for the (model, task)s answered twice. 10^7 samples: 3,195 -> 1,470 MB, 48.2 -> 45.6 CPU s;
``--features`` 3,213 -> 1,513 MB, 58.8 -> 55.5 CPU s (the same JSON and HTML). What is left
is the pairs panel's 245,000 pairs and their findings in the JSON and HTML (models^2 x tasks,
not samples): 50 x 200 x 100 documents (10^6 samples) peaks at 1,454 MB, as before.

    python benchmarks/report_scale.py [--models 50] [--tasks 200] [--docs 1000] [--dir /tmp/x]
        [--baseline-src /path/to/main/src] [--no-rank] [--features]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _support  # noqa: E402, F401
from simulations import optional_feature_records  # noqa: E402
from store_scale import RAW_SQL, generate, raw_query, timed  # noqa: E402

REPORT_SECONDS, REPORT_MB = 60.0, 2048.0
RANK_SECONDS, RANK_MB = 60.0, 2048.0


FEATURE_TASKS = ("feat-mc", "feat-mc+typos", "feat-probe")


def add_features(path: Path, docs: int = 200) -> int:
    """Add the ``--features`` part to the store at ``path`` (once); the samples added."""
    import numpy as np

    from assay.store import open_store

    store = open_store(path)
    if not store.sql("SELECT 1 FROM runs WHERE task = ? LIMIT 1", [FEATURE_TASKS[0]]).empty:
        return 0
    models = (("model-00", 0.5), ("model-01", 0.7))
    records = optional_feature_records(models, docs, docs // 10, np.random.default_rng(0), "feat-")
    for run in sorted({(r.run_id, r.model, r.task) for r in records}):
        store.upsert_run({"run_id": run[0], "model": run[1], "task": run[2], "source": "bench"})
    return store.write_samples(records)


def _line(step: str, seconds: float, cpu: float, peak: float, target: str, note: str = "") -> None:
    print(f"{step:<44} {seconds:8.2f} {cpu:8.2f} {peak:8.0f}  {target:<16} {note}")


def _leaderboard(path: Path) -> dict[tuple[str, str], tuple[int, float]]:
    data = json.loads(path.read_text())
    panel = next(p for p in data["panels"] if p["key"] == "leaderboard")
    rows = panel["data"]["scores"] if "data" in panel else panel["results"]["scores"]
    return {(r["model"], r["task"]): (int(r["n"]), float(r["mean"])) for r in rows}


def _same(got: dict, want: dict) -> str:
    if set(got) != set(want):
        return f"DIFFERENT cells ({len(got)} vs {len(want)})"
    worst = max(abs(got[k][1] - want[k][1]) for k in want)
    n_ok = all(got[k][0] == want[k][0] for k in want)
    ok = n_ok and worst < 1e-12
    return f"{'equal' if ok else 'DIFFERENT'} to SQL ({len(want):,} cells, max |Δmean| {worst:.1e})"


def _shown(path: Path) -> str:
    """The optional panels the report shows (from its JSON)."""
    optional = {"variance", "bias", "robustness", "calibration", "breakdown", "reliability"}
    optional |= {"efficiency", "fairness"}
    panels = json.loads(path.read_text())["panels"]
    shown = [p["key"] for p in panels if p["key"] in optional and p.get("available")]
    return "optional panels shown: " + (",".join(shown) or "none")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--dir", type=Path, help="keep the store here (default: a temp folder)")
    parser.add_argument("--baseline-src", type=Path, help="also run with this checkout's src")
    parser.add_argument("--rank-bootstrap", type=int, default=100)
    parser.add_argument("--no-rank", action="store_true", help="time the report only")
    parser.add_argument(
        "--features", action="store_true", help="add a small part with optional panels' input"
    )
    args = parser.parse_args()

    here = Path(__file__).resolve().parents[1] / "src"
    folder = args.dir or Path(tempfile.mkdtemp(prefix="assay-report-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "scale.duckdb"
    n = args.models * args.tasks * args.docs
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    try:
        if not path.exists():
            start = time.perf_counter()
            generate(path, args.models, args.tasks, args.docs)
            print(f"generated {n:,} samples in {time.perf_counter() - start:.1f} s: {path}")
        if args.features:
            added = add_features(path)
            print(f"optional panels' part: {added:,} samples added" if added else "features kept")
        timed(["store", "query", "SELECT 1", "--store", str(path)], src=here)  # first open: checked
        print(f"{'step':<44} {'wall s':>8} {'CPU s':>8} {'peak MB':>8}  {'target':<16} note")
        whole, query, raw = raw_query(path)
        raw = {k: v for k, v in raw.items() if k[1] not in FEATURE_TASKS}
        note = f"query {query:.2f} s: {RAW_SQL[:48]}..."
        _line("raw DuckDB aggregate (whole process)", whole, float("nan"), float("nan"), "-", note)
        sources = [("after", here)] + ([("before", args.baseline_src)] if args.baseline_src else [])
        for label, src in sources:
            out = folder / f"report-{label}.json"
            html = folder / f"report-{label}.html"
            report = ["report", "--store", str(path), "-o", str(html), "--json"]
            seconds, peak, cpu = timed(report, out, src=src)
            target = f"<= {REPORT_SECONDS:.0f} s, {REPORT_MB / 1024:.0f} GB"
            board = {k: v for k, v in _leaderboard(out).items() if k[1] not in FEATURE_TASKS}
            note = _same(board, raw) + f"; {html.stat().st_size / 1e6:.1f} MB HTML"
            note += "; " + _shown(out)
            _line(f"assay report ({label})", seconds, cpu, peak, target, note)
            for method in () if args.no_rank else ("pl", "mean"):
                rank = ["rank", "samples", "--store", str(path), "--json", "--method", method]
                rank += ["--bootstrap", str(args.rank_bootstrap)]
                seconds, peak, cpu = timed(rank, src=src)
                target = f"<= {RANK_SECONDS:.0f} s, {RANK_MB / 1024:.0f} GB"
                step = f"assay rank samples --method {method} ({label})"
                note = f"{args.rank_bootstrap} bootstrap rounds"
                _line(step, seconds, cpu, peak, target, note)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
