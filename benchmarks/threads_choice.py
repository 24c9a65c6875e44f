"""Torch threads on this machine now: 1, 2, ... threads timed alternately on the same work.

The work is one packed multiple-choice batch (2048 tokens, the ``auto`` forward) and a 16-token
single-stream greedy decode of the bundled model; each thread count runs ``--rounds`` times,
interleaved, so a change of load hits all counts alike. Prints the best time per count, the
load, and what :func:`assay.models._hf_load.choose_threads` picks right now.

    python benchmarks/threads_choice.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch
from _machine import load_text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from assay.models import load_model
    from assay.models._hf_generate import greedy_decode
    from assay.models._hf_load import choose_threads, physical_cores

    backend = load_model("smollm2-135m", threads=1)
    ids = torch.randint(100, 20000, (1, 2048))
    prompt = backend.tokenizer.encode("Once upon a time")
    counts = list(range(1, (os.cpu_count() or 1) + 1))
    best = {n: {"forward_s": float("inf"), "decode_s": float("inf")} for n in counts}
    print(load_text())
    for _ in range(args.rounds):
        for n in counts:
            torch.set_num_threads(n)
            with torch.inference_mode():
                start = time.perf_counter()
                backend.model.base_model(input_ids=ids, use_cache=False)
                forward = time.perf_counter() - start
            start = time.perf_counter()
            greedy_decode(backend.model, [prompt], max_new_tokens=16, pad_id=0, eos_ids=())
            decode = time.perf_counter() - start
            best[n]["forward_s"] = min(best[n]["forward_s"], forward)
            best[n]["decode_s"] = min(best[n]["decode_s"], decode)
    for n in counts:
        print(
            f"{n} thread(s): 2048-token forward {best[n]['forward_s']:.2f} s, "
            f"16-token decode {best[n]['decode_s']:.2f} s"
        )
    torch.set_num_threads(max(counts))
    chosen = choose_threads()
    print(f"{load_text()}; physical cores {physical_cores()}; choose_threads() -> {chosen}")
    print(json.dumps({"load_avg_1m": os.getloadavg()[0], "best": best, "chosen": chosen}))


if __name__ == "__main__":
    main()
