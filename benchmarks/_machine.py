"""What this machine allows: matmul throughput and memory bandwidth with this torch build.

Shared by ``mc_throughput.py`` and ``generation_speed.py``; measured with the thread count the
benchmark runs with, best of several repeats (a busy machine only ever makes it slower).
"""

from __future__ import annotations

import os
import time

import torch


def load_text() -> str:
    """The 1/5/15-minute load averages and the core count, for the report."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}/{fifteen:.1f} on {os.cpu_count()} cores"


def best_seconds(fn, repeats: int = 5) -> float:
    """Smallest wall time of ``repeats`` calls (after one warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_flops(d_model: int, d_ff: int, rows: int = 2048) -> float:
    """FLOP/s of fp32 matmuls at a transformer layer's shapes (attention projections, MLP):
    ``rows`` tokens × (d, d), (d, ff), (ff, d); 2·m·n·k FLOPs each."""
    x = torch.randn(rows, d_model)
    h = torch.randn(rows, d_ff)
    w_dd, w_df, w_fd = (
        torch.randn(d_model, d_model),
        torch.randn(d_model, d_ff),
        torch.randn(d_ff, d_model),
    )

    def layer():
        with torch.inference_mode():
            x @ w_dd
            x @ w_df
            h @ w_fd

    flops = 2 * rows * (d_model * d_model + 2 * d_model * d_ff)
    return flops / best_seconds(layer)


def read_bandwidth(megabytes: int = 512) -> float:
    """Bytes/s of streaming a large fp32 tensor through the cores (``sum``: read only), the
    traffic a decoding step makes when it reads every weight once."""
    x = torch.ones(megabytes * 2**20 // 4)
    with torch.inference_mode():
        seconds = best_seconds(lambda: x.sum(), repeats=5)
    return x.numel() * 4 / seconds
