"""Write a small lm-evaluation-harness 0.4 output folder, in lm-eval's own file format."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_lm_eval_output(
    root: Path, *, n_docs: int = 30, seed: int = 0, date: str = "2026-11-01T10-00-00.000001"
):
    """A model folder with results_<date>.json and samples_<task>_<date>.jsonl.

    Returns the per-doc truth: {doc_id: (logprobs, acc, acc_norm, target)} computed the way
    lm-eval computes them (acc_norm divides by the choice's length in characters).
    """
    rng = np.random.default_rng(seed)
    model_dir = root / "__work__models__toy-model"
    model_dir.mkdir(parents=True, exist_ok=True)
    truth = {}
    lines = []
    for doc_id in range(n_docs):
        a, b = int(rng.integers(10, 99)), int(rng.integers(10, 99))
        choices = [str(a + b + d) for d in (0, 1, -1, 10)]
        order = rng.permutation(4)
        choices = [choices[i] for i in order]
        gold = int(np.flatnonzero(order == 0)[0])
        context = f"Question: What is {a} plus {b}?\nAnswer:"
        logprobs = (-rng.gamma(2.0, 2.0, size=4)).round(6).tolist()
        acc = float(int(np.argmax(logprobs)) == gold)
        norm = [lp / len(c) for lp, c in zip(logprobs, choices, strict=True)]
        acc_norm = float(int(np.argmax(norm)) == gold)
        doc = {"question": f"What is {a} plus {b}?", "choices": choices, "answer": gold}
        sample = {
            "doc_id": doc_id,
            "doc": doc,
            "target": str(gold),
            "arguments": {
                f"gen_args_{i}": {"arg_0": context, "arg_1": f" {c}"} for i, c in enumerate(choices)
            },
            "resps": [[[str(lp), "False"]] for lp in logprobs],
            "filtered_resps": [[str(lp), "False"] for lp in logprobs],
            "filter": "none",
            "metrics": ["acc", "acc_norm"],
            "doc_hash": _hash(json.dumps(doc, indent=2, ensure_ascii=False)),
            "prompt_hash": _hash(context),
            "target_hash": _hash(str(gold)),
            "acc": acc,
            "acc_norm": acc_norm,
        }
        lines.append(json.dumps(sample, ensure_ascii=False))
        truth[str(doc_id)] = (
            logprobs,
            acc,
            acc_norm,
            str(gold),
            sample["doc_hash"],
            sample["prompt_hash"],
        )
    (model_dir / f"samples_toy_add_{date}.jsonl").write_text(
        "\n".join(lines) + "\n", encoding="utf-8"
    )
    accs = np.array([t[1] for t in truth.values()])
    results = {
        "results": {
            "toy_add": {
                "alias": "toy_add",
                "acc,none": float(accs.mean()),
                "acc_stderr,none": float(accs.std(ddof=1) / np.sqrt(len(accs))),
            }
        },
        "group_subtasks": {"toy_add": []},
        "configs": {
            "toy_add": {"task": "toy_add", "output_type": "multiple_choice", "num_fewshot": 0}
        },
        "versions": {"toy_add": 1.0},
        "n-shot": {"toy_add": 0},
        "higher_is_better": {"toy_add": {"acc": True, "acc_norm": True}},
        "n-samples": {"toy_add": {"original": n_docs, "effective": n_docs}},
        "config": {
            "model": "hf",
            "model_args": "pretrained=/work/models/toy-model,dtype=float32",
            "batch_size": "32",
        },
        "model_name": "/work/models/toy-model",
        "model_name_sanitized": "__work__models__toy-model",
        "date": 1790000000.0,
    }
    (model_dir / f"results_{date}.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return model_dir, truth
