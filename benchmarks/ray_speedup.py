"""Wall time of one evaluation single-process vs on Ray with 1 and 2 workers (bundled model).

Run: ``python benchmarks/ray_speedup.py [--limit 40]``. Each run scores the same instances
into a fresh store; the Ray runs include creating the actors and loading the model in each
(the local Ray instance is started once, before timing, and its start-up time printed apart).
Also checks that the Ray stores hold exactly the single-process records, and prints the cost
of the batch-independent padding (widths rounded up to ``ROW_ALIGN`` = 16 rows) against
unaligned widths. On this 2-core machine shared with other jobs the speed-up is bounded by
the cores left free: the point is correctness and the path to a cluster.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import ray

import assay.models._hf_pack as pack
from assay.runner import evaluate, get_backend, ray_session
from assay.tasks import load_task

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from _machine import load_text  # noqa: E402
from stored_records import stored_records  # noqa: E402

TASKS = ["arith_mc", "logic_tf"]


def timed(store: Path, **kw) -> float:
    start = time.perf_counter()
    evaluate("smollm2-135m", TASKS, store=store, progress=False, **kw)
    return time.perf_counter() - start


def alignment_seconds(limit: int, repeats: int = 3) -> tuple[float, float]:
    """Best-of-``repeats`` backend seconds for the runs' log-likelihood requests with widths
    aligned to 16 rows vs unaligned (alternating, same process, same loaded model)."""
    backend = get_backend("smollm2-135m", batch_size="auto")
    requests = [r for t in TASKS for i in load_task(t).instances(limit=limit) for r in i.requests]
    best = {16: float("inf"), 1: float("inf")}
    for _ in range(repeats):
        for align in best:
            pack.ROW_ALIGN = align
            start = time.perf_counter()
            backend.loglikelihood(requests)
            best[align] = min(best[align], time.perf_counter() - start)
    pack.ROW_ALIGN = 16
    return best[16], best[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=40, help="documents per task")
    args = parser.parse_args()
    kw = {"limit": args.limit}
    print(f"ray {ray.__version__}; {load_text()}; tasks {', '.join(TASKS)} x {args.limit} docs")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        evaluate("smollm2-135m", TASKS, store=folder / "warm", limit=2, progress=False)
        single = timed(folder / "single0", **kw)
        aligned, unaligned = alignment_seconds(args.limit)
        start = time.perf_counter()
        with ray_session():
            startup = time.perf_counter() - start
            one = timed(folder / "ray1", executor="ray", workers=1, **kw)
            two = timed(folder / "ray2", executor="ray", workers=2, **kw)
        same = [
            stored_records(folder / name).equals(stored_records(folder / "single0"))
            for name in ("ray1", "ray2")
        ]
    n = 2 * args.limit
    print(f"{'run':<34}{'seconds':>9}{'docs/s':>9}{'vs single':>11}")
    rows = [
        ("single process (model loaded)", single),
        ("ray, 1 worker (+ actor load)", one),
        ("ray, 2 workers (+ actor loads)", two),
    ]
    for label, seconds in rows:
        print(f"{label:<34}{seconds:>9.1f}{n / seconds:>9.2f}{single / seconds:>10.2f}x")
    print(f"local Ray start-up (not in the rows above): {startup:.1f} s")
    print(f"Ray records identical to single process: 1 worker {same[0]}, 2 workers {same[1]}")
    print(
        f"batch-independent 16-row alignment: {aligned:.1f} s vs {unaligned:.1f} s unaligned "
        f"(backend only, best of 3): {aligned / unaligned - 1:+.0%}"
    )


if __name__ == "__main__":
    main()
