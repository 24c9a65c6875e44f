"""Label-free metrics of the bundled model's variants beside their accuracy.

    python benchmarks/label_free_ranking.py [--limit 20] [--store PATH]

Runs four variants of the bundled SmolLM2-135M (the default job's three — float32, int8 and
three-shot — and a one-shot one) on five built-in multiple-choice tasks (``--limit`` documents
each, one ordering), adds the label-free metrics to the store (``assay store label-free``) and
prints, per variant and task, accuracy beside Matrix Nuclear-Norm (L1,2 and exact) and Matrix
Entropy; the ranking of the variants by each (macro mean over tasks); and Spearman's ρ between
each label-free metric and accuracy over the (variant, task) cells and within tasks. A few
minutes on 2 cores with the default limit (about ten on a busy machine; the model cache warm).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from assay.runner import DEFAULT_VARIANTS, Variant, evaluate_variants
from assay.store import add_label_free_metrics, open_store

TASKS = ["arith_mc", "alice_mc", "sort_mc", "dates_mc", "logic_tf"]
VARIANTS = (
    *DEFAULT_VARIANTS,
    Variant("smollm2-135m,name=smollm2-135m-1shot", 1, "full precision, one-shot prompts"),
)
LABEL_FREE = ["matrix_nuclear_norm", "matrix_nuclear_norm_exact", "matrix_entropy"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--store", type=Path, default=None)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="assay-label-free-")
    path = args.store or Path(folder) / "s.duckdb"
    store = open_store(path)
    evaluate_variants(VARIANTS, TASKS, store=store, limit=args.limit, progress=False)
    add_label_free_metrics(store)
    scores = store.scores(metric=["acc", *LABEL_FREE])
    # per (model, task): the mean of each metric (the label-free ones: the run's value)
    cells = scores.pivot_table(index=["model", "task"], columns="metric", values="value")
    pd.set_option("display.width", 140)
    print(f"store {path}; {args.limit} documents per task, one ordering")
    print(cells.round(3).to_string())
    overall = cells.groupby(level="model").mean()
    print("\nmacro mean over tasks, ranked by accuracy:")
    print(overall.sort_values("acc", ascending=False).round(3).to_string())
    for name in LABEL_FREE:
        order = overall[name].sort_values(ascending=False).index.tolist()
        print(f"ranking by {name}: {' > '.join(order)}")
    print(f"ranking by acc: {' > '.join(overall['acc'].sort_values(ascending=False).index)}")
    print("\nSpearman rho with accuracy:")
    for name in LABEL_FREE:
        every = sps.spearmanr(cells[name], cells["acc"]).statistic
        within = [
            sps.spearmanr(sub[name], sub["acc"]).statistic for _, sub in cells.groupby(level="task")
        ]
        across = sps.spearmanr(overall[name], overall["acc"]).statistic
        print(
            f"{name:26s} over {len(cells)} (variant, task) cells {every:+.2f}; "
            f"within tasks (mean of {len(within)}) {np.nanmean(within):+.2f}; "
            f"over the {len(overall)} variants' macro means {across:+.2f}"
        )


if __name__ == "__main__":
    main()
