"""Robustness, blank-ppl and fairness probes on the bundled SmolLM2-135M (real model).

Runs the clean task and its perturbations through ``assay.runner.evaluate`` into a temporary
store, then prints ``assay.stats.robustness`` (paired differences, worst case) beside the
checks that have a known target: the ``labels`` perturbation changes nothing under the cloze
``qa`` template (Δ must be exactly 0), and perturbed runs keep the clean run's id. Then the same
documents scored as blank-ppl (whole-text perplexity) beside multiple choice and chance, and
the fairness probes' per-axis gaps and LLMBI.

    python benchmarks/robustness_real.py [--task arith_mc] [--limit 40]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import pandas as pd

from assay.models import load_model
from assay.runner import evaluate
from assay.stats import fairness, robustness
from assay.store import open_store
from assay.tasks import fairness_probes, load_task, with_perturbations

PERTURB = ["typos", "casing", "whitespace", "contractions", "distractor", "labels"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", default="arith_mc")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--probe-variants", type=int, default=1)
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    t0 = time.time()
    backend = load_model("smollm2-135m")
    print(f"model loaded in {time.time() - t0:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "s.duckdb"
        clean_only = evaluate(backend, args.task, store=Path(tmp) / "c.duckdb",
                              limit=args.limit, progress=False)  # fmt: skip
        t1 = time.time()
        tasks = with_perturbations([args.task], PERTURB, seed=0)
        result = evaluate(backend, tasks, store=store, limit=args.limit, progress=False)
        print(f"{len(tasks)} tasks x {args.limit} docs in {time.time() - t1:.1f} s")
        same_id = result.run_ids[args.task] == clean_only.run_ids[args.task]
        print(f"clean run id unchanged by --perturb: {same_id} (target True)")
        scores = open_store(store).analysis_scores()
        rob = robustness(scores)
        cols = ["perturbation", "n", "clean", "perturbed", "diff", "ci_low", "ci_high", "pvalue"]
        print(rob.table[cols].to_string(index=False))
        labels = rob.table.set_index("perturbation").loc["labels", "diff"]
        print(f"labels under the cloze template: diff = {labels:.4f} (target exactly 0)")
        print(rob.worst.drop(columns=["model"]).to_string(index=False))

        base = load_task(args.task)
        blank = dataclasses.replace(base, name=f"{args.task}_blank", request_type="blank_ppl")
        t2 = time.time()
        res_blank = evaluate(backend, blank, store=store, limit=args.limit, progress=False)
        print(f"blank-ppl in {time.time() - t2:.1f} s")
        table = pd.concat([result.table, res_blank.table])
        keep = table["task"].isin([args.task, blank.name]) & table["metric"].isin(
            ["acc", "acc_norm", "acc_tokens"]
        )
        chance = 1 / len(base.docs[0].fields.get("choices", [0, 0, 0, 0]))
        print(table[keep][["task", "metric", "mean", "stderr", "n"]].to_string(index=False))
        print(f"chance = {chance:.3f}")

        probes = fairness_probes(variants=args.probe_variants, seed=0)
        t3 = time.time()
        evaluate(backend, probes, store=store, progress=False)
        print(f"{len(probes.docs)} fairness probes in {time.time() - t3:.1f} s")
        fair = fairness(open_store(store).analysis_scores(), task="fairness")
        print(fair.axes.drop(columns=["model"]).to_string(index=False))
        print(fair.index.drop(columns=["model"]).to_string(index=False))
    print(f"total {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
