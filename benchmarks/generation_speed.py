"""Greedy generation speed: lm-eval 0.4 HFLM ``generate_until`` vs assay's hf backend.

One generated task mixes short answers (few-shot sums, stop at a blank line) and open answers
(which run to the token budget), like a real suite. Three measurements, side by side:

1. the generation phase alone: both get the same loaded model object (model load excluded on
   both sides) and the same requests; outputs must be identical;
2. the whole process: ``lm_eval --model hf`` and ``assay eval`` on the same YAML task, each a
   fresh process (imports, model load, task build, generation, writing results);
3. tokens/s against the single-stream baseline (assay's decoder, one prompt at a time) and
   against the memory-bandwidth limit of decoding (each step reads every fp32 weight once:
   limit = bandwidth / weight bytes per stream).

    python benchmarks/generation_speed.py [--n 64] [--max-new-tokens 48] [--batch-size 32]
        [--threads N] [--no-whole]
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
import torch
from _machine import load_text, read_bandwidth
from _whole_process import whole_process
from lm_eval_tasks import write_lm_eval_task

STOPS = ["\n\n", "Question:"]
TOPICS = ["the sea", "a city at night", "bread", "winter", "a library", "trains", "the moon"]


def make_records(n: int, seed: int = 0) -> list[dict]:
    """Half two-shot sums (short answers), half open prompts (long answers)."""
    rng = np.random.default_rng(seed)
    out = []
    for d in range(n):
        if d % 2 == 0:
            lines = []
            for _ in range(2):
                a, b = (int(x) for x in rng.integers(10, 999, 2))
                lines.append(f"Question: What is {a} plus {b}?\nAnswer: {a + b}\n\n")
            a, b = (int(x) for x in rng.integers(10, 999, 2))
            question, answer = "".join(lines) + f"Question: What is {a} plus {b}?\nAnswer:", a + b
        else:
            topic = TOPICS[int(rng.integers(len(TOPICS)))]
            question, answer = f"Question: Describe {topic} in a few sentences.\nAnswer:", ""
        out.append({"doc_id": f"g{d}", "question": question, "answer": str(answer)})
    return out


def main() -> None:
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-whole", action="store_true", help="skip the whole-process runs")
    args = parser.parse_args()

    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from assay.models import load_model
    from assay.models._hf_generate import greedy_decode
    from assay.models._hf_load import choose_threads
    from assay.requests import GenerateRequest

    threads = choose_threads(args.threads)
    print(f"threads {threads}; {load_text()}")
    backend = load_model("smollm2-135m")
    backend.batch_size = args.batch_size
    records = make_records(args.n)
    reqs = [GenerateRequest(r["question"], tuple(STOPS), args.max_new_tokens) for r in records]
    kwargs = {"until": STOPS, "max_gen_toks": args.max_new_tokens, "do_sample": False}
    instances = [
        Instance("generate_until", {}, (r["question"], dict(kwargs)), i)
        for i, r in enumerate(records)
    ]

    # -- 1. generation phase alone, same model object -------------------------------------
    lm = HFLM(pretrained=backend.model, tokenizer=backend.tokenizer, batch_size=args.batch_size)
    start = time.perf_counter()
    theirs = lm.generate_until(instances, disable_tqdm=True)
    lm_seconds = time.perf_counter() - start
    start = time.perf_counter()
    ours = backend.generate(reqs)
    assay_seconds = time.perf_counter() - start
    identical = [o.text for o in ours] == list(theirs)
    out_tokens = sum(o.output_tokens for o in ours)

    # -- 3. single stream and the bandwidth limit --------------------------------------------
    single = [backend._prompt_ids(r) for r in reqs[1:5:2] + reqs[0:4:2]]
    start, single_tokens = time.perf_counter(), 0
    for p in single:
        new, _ = greedy_decode(
            backend.model, [p], max_new_tokens=args.max_new_tokens,
            pad_id=backend.pad_id, eos_ids=backend.eos_ids,
        )  # fmt: skip
        single_tokens += len(new[0])
    single_rate = single_tokens / (time.perf_counter() - start)
    weight_bytes = sum(p.numel() * p.element_size() for p in backend.model.parameters())
    bandwidth = read_bandwidth()
    limit_single = bandwidth / weight_bytes
    print(f"after the phase runs: {load_text()}")

    whole = (None, None)
    if not args.no_whole:
        with tempfile.TemporaryDirectory() as tmp:
            write_lm_eval_task(
                Path(tmp), "gen_bench", records, until=STOPS, max_new_tokens=args.max_new_tokens
            )
            whole = whole_process(Path(tmp), "gen_bench", args.batch_size, threads)

    report = {
        "docs": args.n,
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "threads": threads,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "lm_eval_generate_until_s": round(lm_seconds, 2),
        "assay_generate_s": round(assay_seconds, 2),
        "speedup_phase": round(lm_seconds / assay_seconds, 2),
        "outputs_identical": identical,
        "output_tokens": out_tokens,
        "assay_tokens_per_s": round(out_tokens / assay_seconds, 1),
        "lm_eval_tokens_per_s": round(out_tokens / lm_seconds, 1),
        "single_stream_tokens_per_s": round(single_rate, 1),
        "read_bandwidth_gb_s": round(bandwidth / 1e9, 2),
        "weight_mb": round(weight_bytes / 1e6, 1),
        "bandwidth_limit_single_stream_tokens_per_s": round(limit_single, 1),
        "lm_eval_whole_s": whole[0] and round(whole[0], 1),
        "assay_whole_s": whole[1] and round(whole[1], 1),
        "speedup_whole": whole[0] and round(whole[0] / whole[1], 2),
    }
    print(
        f"generation phase : lm-eval {lm_seconds:6.1f} s  assay {assay_seconds:6.1f} s  "
        f"-> {report['speedup_phase']:.2f}x (goal 2x); outputs identical: {identical}"
    )
    print(
        f"tokens/s         : assay {report['assay_tokens_per_s']}  lm-eval "
        f"{report['lm_eval_tokens_per_s']}  single stream {report['single_stream_tokens_per_s']}"
        f"  bandwidth limit per stream {report['bandwidth_limit_single_stream_tokens_per_s']}"
        f" ({report['read_bandwidth_gb_s']} GB/s over {report['weight_mb']} MB of weights)"
    )
    if whole[0]:
        print(
            f"whole process    : lm-eval {whole[0]:6.1f} s  assay {whole[1]:6.1f} s  "
            f"-> {report['speedup_whole']:.2f}x (goal 5x)"
        )
    print(json.dumps(report))


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
