"""The report's style-control panel on the worked example of docs/rank.md (docs/report.md).

Writes the seeded arena of `arena_example.py` (3,000 battles with `style_a` / `style_b`),
imports it into a fresh store (which keeps each battle's style features), builds the report's
`arena_style` panel from the store (Wald intervals: `--bootstrap 0`) and prints its table and
coefficients beside `assay rank battles FILE --style-control --bootstrap 0` on the same file
(target: equal to 1e-6 Elo), and the truth.

    python benchmarks/arena_style_report.py
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from arena_example import LENGTH_EFFECT, MODELS, STRENGTH, simulate

from assay.rank import fit_battles, import_battles
from assay.report import build_report
from assay.store import open_store


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "arena.jsonl"
        df = simulate()
        with path.open("w") as out:
            out.writelines(json.dumps(r) + "\n" for r in df.to_dict(orient="records"))
        store = open_store(Path(tmp) / "s.duckdb")
        import_battles(store, path)
        stored = store.battles()
        print(
            f"stored {len(stored)} battles, {stored['style_a'].notna().sum()} with style features"
        )
        panel = build_report(store, bootstrap=0).panel("arena_style")
        result = panel.results["style"]
        cli = fit_battles(df, style_control=True, bootstrap=0)  # = rank battles --style-control
    t = result.table
    print(t.round(1).to_string(index=False))
    print(result.coefficients.round(3).to_string(index=False))
    gap = np.abs(t.set_index("model")["rating"] - cli.rating).max()
    print(
        f"largest difference to `assay rank battles --style-control`: {gap:.2e} Elo (target ≤ 1e-6)"
    )
    truth = 400 / np.log(10) * (STRENGTH - STRENGTH.mean()) + 1000
    print("truth:", ", ".join(f"{m} {r:.0f}" for m, r in zip(MODELS, truth, strict=True)))
    print(f"truth: tokens {LENGTH_EFFECT}, bold 0")
    print(next(i["text"] for i in panel.items if i["kind"] == "text"))


if __name__ == "__main__":
    main()
