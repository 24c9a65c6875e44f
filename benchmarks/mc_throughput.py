"""Multiple-choice throughput: lm-eval 0.4 HFLM vs assay's hf backend, and the FLOP limit.

Two task shapes with multi-token (numeric, one token per digit) choices:

- ``long``: five-shot addition, four choices: a long context shared by few choices;
- ``short``: a one-line question with ten choices: little context, many choices.

For each shape, side by side in one run:

1. the whole process: ``lm_eval --model hf`` (same GGUF, batch 32) and ``assay eval`` on the
   same YAML task, each a fresh process (imports, model load, scoring, writing results);
2. scoring alone on one loaded model object (lm-eval's ``simple_evaluate`` on HFLM vs assay's
   ``score_instances``): per-choice log-likelihoods (max |difference|, goal ≤ 1e-4) and
   acc/acc_norm per question (goal: identical);
3. the limit: FLOPs of the unique tokens assay must push through the model (2 × non-embedding
   parameters × packed tokens + attention 4·d·(query, key) pairs per layer + lm_head at the
   scored positions) over the measured fp32 matmul throughput of this torch build at the
   model's shapes and thread count; achieved / limit; and where assay's time goes
   (tokenisation, the transformer, lm_head, the rest: packing, padding, Python).

    python benchmarks/mc_throughput.py [--shape long|short|both] [--n 120] [--threads N]
        [--no-whole]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import _support  # noqa: F401  (tests/support on the path)
import numpy as np
from _machine import load_text, matmul_flops
from _whole_process import whole_process
from lm_eval_tasks import write_lm_eval_task

SHAPES = {"long": (5, [0, 10, -1, 1000]), "short": (0, [0, 1, -1, 10, -10, 100, 2, 9, 11, 99])}


def make_records(n: int, shots: int, offsets: list[int], seed: int = 0) -> list[dict]:
    """Few-shot addition questions; choices are the sum plus each offset (4-5 digits)."""
    rng = np.random.default_rng(seed)
    out = []
    for d in range(n):
        lines = []
        for _ in range(shots):
            a, b = (int(x) for x in rng.integers(1000, 49999, 2))
            lines.append(f"Question: What is {a} plus {b}?\nAnswer: {a + b}\n\n")
        a, b = (int(x) for x in rng.integers(1000, 49999, 2))
        order = rng.permutation(offsets)
        out.append(
            {
                "doc_id": f"q{d}",
                "question": "".join(lines) + f"Question: What is {a} plus {b}?\nAnswer:",
                "choices": [str(a + b + int(k)) for k in order],
                "label": int(np.flatnonzero(order == 0)[0]),
            }
        )
    return out


def unique_flops(model, pairs: list[tuple[list[int], list[int]]]) -> tuple[float, int]:
    """FLOPs of one exact pass over the unique tokens (a context once, then a trie of its
    continuations), and that token count. Per token 2·P (non-embedding weights); per
    attended (query, key) pair 4·d per layer (QKᵀ and AV); lm_head 2·V·d per scored token."""
    config = model.config
    d, layers, vocab = config.hidden_size, config.num_hidden_layers, config.vocab_size
    body = sum(p.numel() for p in model.base_model.layers.parameters())
    by_ctx: dict[tuple[int, ...], set[tuple[int, ...]]] = {}
    scored = 0
    for ctx, cont in pairs:
        by_ctx.setdefault(tuple(ctx), set()).update(
            tuple(cont[:k]) for k in range(1, len(cont) + 1)
        )
        scored += len(cont)
    tokens, attended = 0, 0
    for ctx, nodes in by_ctx.items():
        c = len(ctx)
        tokens += c + len(nodes)
        attended += c * (c + 1) // 2 + sum(c + len(node) for node in nodes)
    flops = 2 * body * tokens + 4 * d * layers * attended + 2 * vocab * d * scored
    return float(flops), tokens


class Stopwatch:
    """Wall time inside a module's forward (pre/post hooks), summed over calls."""

    def __init__(self, module):
        self.seconds, self._start = 0.0, 0.0
        module.register_forward_pre_hook(self._pre)
        module.register_forward_hook(self._post)

    def _pre(self, *_):
        self._start = time.perf_counter()

    def _post(self, *_):
        self.seconds += time.perf_counter() - self._start


def run_shape(backend, shape: str, n: int, batch: int, threads: int, whole: bool, flops_s):
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from assay.runner import score_instances
    from assay.tasks import task_from_records

    shots, offsets = SHAPES[shape]
    records = make_records(n, shots, offsets)
    name = f"mc_{shape}"
    with tempfile.TemporaryDirectory() as tmp:
        write_lm_eval_task(Path(tmp), name, records)
        lm_whole, assay_whole = whole_process(Path(tmp), name, batch, threads) if whole else (0, 0)
        lm = HFLM(pretrained=backend.model, tokenizer=backend.tokenizer, batch_size=batch)
        start = time.perf_counter()
        out = simple_evaluate(
            model=lm,
            tasks=[name],
            task_manager=TaskManager(include_path=tmp),
            log_samples=True,
            verbosity="ERROR",
        )
        lm_seconds = time.perf_counter() - start
    theirs = sorted(out["samples"][name], key=lambda s: s["doc_id"])

    task = task_from_records(
        records, name=name, where="generated", template="{{ question }}", target="label",
        choices="choices",
    )  # fmt: skip
    instances = task.instances()
    backend.batch_size = "auto"
    backend._encode_cache.clear()
    before = dict(backend.counters)
    model_watch = Stopwatch(backend.model.base_model)
    head_watch = Stopwatch(backend.model.get_output_embeddings())
    plain_encode, encode_time = backend.encode_pair, [0.0]

    def timed_encode(*a):
        t0 = time.perf_counter()
        result = plain_encode(*a)
        encode_time[0] += time.perf_counter() - t0
        return result

    backend.encode_pair = timed_encode
    start = time.perf_counter()
    ours = score_instances(backend, instances, task)
    assay_seconds = time.perf_counter() - start
    del backend.encode_pair
    tokens = backend.counters["tokens"] - before["tokens"]
    padded = backend.counters["padded_tokens"] - before["padded_tokens"]

    by_doc = {r.doc_id: r for r in ours}
    their_lp = np.array([[float(x[0][0]) for x in s["resps"]] for s in theirs])
    our_lp = np.array([by_doc[r["doc_id"]].choice_logprobs for r in records])
    same_acc = all(
        by_doc[r["doc_id"]].metrics["acc"] == s["acc"]
        and by_doc[r["doc_id"]].metrics["acc_norm"] == s["acc_norm"]
        for r, s in zip(records, theirs, strict=True)
    )
    pairs = [backend.encode_pair(r["question"], " " + c) for r in records for c in r["choices"]]
    flops, unique = unique_flops(backend.model, pairs)
    limit_seconds = flops / flops_s
    rest = assay_seconds - model_watch.seconds - head_watch.seconds - encode_time[0]
    return {
        "shape": shape,
        "docs": n,
        "shots": shots,
        "choices": len(offsets),
        "lm_eval_whole_s": round(lm_whole, 1),
        "assay_whole_s": round(assay_whole, 1),
        "speedup_whole": round(lm_whole / assay_whole, 2) if whole else None,
        "lm_eval_scoring_s": round(lm_seconds, 2),
        "assay_scoring_s": round(assay_seconds, 2),
        "speedup_scoring": round(lm_seconds / assay_seconds, 2),
        "max_abs_logprob_diff": float(np.abs(their_lp - our_lp).max()),
        "acc_and_acc_norm_identical": same_acc,
        "tokens_lm_eval": sum(len(c) + len(k) - 1 for c, k in pairs),
        "tokens_unique": unique,
        "tokens_assay": tokens,
        "tokens_assay_padded": padded,
        "gflops_unique": round(flops / 1e9, 1),
        "limit_s": round(limit_seconds, 2),
        "fraction_of_limit": round(limit_seconds / assay_seconds, 3),
        "time_tokenize_s": round(encode_time[0], 2),
        "time_transformer_s": round(model_watch.seconds, 2),
        "time_lm_head_s": round(head_watch.seconds, 2),
        "time_rest_s": round(rest, 2),
        "padding_share": round(1 - tokens / padded, 3),
    }


def main() -> None:
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=["long", "short", "both"], default="both")
    parser.add_argument("--n", type=int, default=120)
    parser.add_argument("--batch-size", type=int, default=32, help="lm-eval's batch size")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-whole", action="store_true", help="skip the whole-process runs")
    args = parser.parse_args()

    from assay.models import load_model
    from assay.models._hf_load import choose_threads

    threads = choose_threads(args.threads)
    backend = load_model("smollm2-135m", threads=threads)
    config = backend.model.config
    flops_s = matmul_flops(config.hidden_size, config.intermediate_size)
    print(f"threads {threads}; {load_text()}; matmul {flops_s / 1e9:.1f} GFLOP/s (fp32)")
    shapes = ["long", "short"] if args.shape == "both" else [args.shape]
    for shape in shapes:
        r = run_shape(backend, shape, args.n, args.batch_size, threads, not args.no_whole, flops_s)
        r.update(threads=threads, matmul_gflops=round(flops_s / 1e9, 1))
        print(f"-- {shape}: {r['docs']} docs, {r['shots']} shots, {r['choices']} choices")
        if r["speedup_whole"]:
            print(
                f"whole process : lm-eval {r['lm_eval_whole_s']:6.1f} s  assay "
                f"{r['assay_whole_s']:6.1f} s  -> {r['speedup_whole']:.2f}x (goal 4x)"
            )
        print(
            f"scoring alone : lm-eval {r['lm_eval_scoring_s']:6.1f} s  assay "
            f"{r['assay_scoring_s']:6.1f} s  -> {r['speedup_scoring']:.2f}x"
        )
        print(
            f"agreement     : max |Δ logprob| {r['max_abs_logprob_diff']:.1e} (goal ≤ 1e-4); "
            f"acc/acc_norm identical: {r['acc_and_acc_norm_identical']}"
        )
        print(
            f"tokens        : lm-eval {r['tokens_lm_eval']}, unique {r['tokens_unique']}, assay "
            f"{r['tokens_assay']} ({r['tokens_assay_padded']} with padding)"
        )
        print(
            f"limit         : {r['gflops_unique']} GFLOP / {r['matmul_gflops']} GFLOP/s = "
            f"{r['limit_s']} s; achieved {100 * r['fraction_of_limit']:.0f}% of it (goal 60%)"
        )
        print(
            f"assay's time  : tokenize {r['time_tokenize_s']} s, transformer "
            f"{r['time_transformer_s']} s (padding {100 * r['padding_share']:.0f}% of its "
            f"tokens), lm_head {r['time_lm_head_s']} s, rest {r['time_rest_s']} s"
        )
        print(f"                {load_text()}")
        print(json.dumps(r))


if __name__ == "__main__":
    main()
