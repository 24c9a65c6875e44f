"""assay's scores of imported inspect_ai logs beside inspect's own reported metrics.

The logs are tests/data/inspect/ (written by inspect_ai: tests/support/make_inspect_logs.py);
inspect's numbers are in expected.json. Target: means equal exactly, stderr equal to 1e-12
(both use the sample SD with n - 1 over samples, epochs averaged first, divided by sqrt(n)).

    python benchmarks/inspect_agreement.py
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from assay.stats import compare
from assay.store import import_inspect, open_store

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "inspect"
NAMES = {"exact": "parts.exact", "chars": "parts.chars"}


def main() -> None:
    expected = json.loads((DATA / "expected.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "s.duckdb")
        import_inspect(store, DATA / "runs" / "json")
        scores = store.scores()
        print(
            f"{'model':15} {'metric':12} {'inspect mean':>14} {'assay mean':>14} "
            f"{'inspect se':>12} {'assay se':>12}  target: mean equal, se within 1e-12"
        )
        worst = 0.0
        for key, by_scorer in sorted(expected.items()):
            model, task = key.split(" ")
            for scorer, values in sorted(by_scorer.items()):
                metric = NAMES.get(scorer, scorer)
                row = compare(scores, metric=metric, models=[model], tasks=[task]).scores.iloc[0]
                mean = values.get("accuracy", values.get("mean"))
                se = values.get("stderr")
                ok = row["mean"] == mean and (se is None or abs(row["stderr"] - se) <= 1e-12)
                worst = max(worst, abs(row["mean"] - mean))
                print(
                    f"{model:15} {metric:12} {mean:14.12f} {row['mean']:14.12f} "
                    f"{se if se is not None else float('nan'):12.10f} {row['stderr']:12.10f}"
                    f"  {'ok' if ok else 'MISMATCH'}"
                )
        print(f"largest mean difference: {worst:g} (target 0)")


if __name__ == "__main__":
    main()
