"""Report build time against issue 18's goal (<= 5 s on the default job's store).

Times ``assay.report.build_report`` + ``render_report`` (warm: the second of two builds, so
imports and the metric registry are not counted; the first is printed too) on a store of the
default job's shape — a model and its int8 quantization (parent recorded), two 4-choice tasks,
each question under two choice orderings — or on the store given with ``--store``. Prints
each phase beside the target and what the report shows (findings, panels with content, the
"what else" box).

    python benchmarks/report_speed.py [--store assay.duckdb] [--docs 300]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

TARGET = 5.0  # seconds, issue 18


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="an existing store (default: synthetic)")
    parser.add_argument("--docs", type=int, default=300, help="documents per synthetic task")
    args = parser.parse_args()

    from assay.report import build_report, render_report

    with tempfile.TemporaryDirectory() as folder:
        path = args.store
        if path is None:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "report"))
            from conftest import make_variant_store  # the browser tests' default-job store

            path = Path(folder) / "assay.duckdb"
            make_variant_store(path, n_docs=args.docs)
        times = []
        for _ in range(2):
            start = time.perf_counter()
            data = build_report(path)
            built = time.perf_counter()
            html = render_report(data)
            times.append((built - start, time.perf_counter() - built))
    (cold_build, cold_render), (build, render) = times
    print(
        f"store: {args.store or f'synthetic default job ({args.docs} docs x 2 tasks x 2 orderings x 2 models)'}"
    )
    print(f"cold build {cold_build:6.2f} s   render {cold_render:5.2f} s")
    print(
        f"warm build {build:6.2f} s   render {render:5.2f} s   total {build + render:5.2f} s   "
        f"target <= {TARGET:.1f} s: {'ok' if build + render <= TARGET else 'SLOWER'}"
    )
    print(
        f"{len(data.findings)} findings, {len(data.shown_panels)} panels with content, "
        f"{len(data.empty_panels)} in the 'what else' box, {len(html) / 1e6:.2f} MB of HTML"
    )


if __name__ == "__main__":
    main()
