"""The whole process, lm-eval's and assay's: each a fresh process (imports, model load, task
build, scoring or generation, writing results) on the same local YAML task.

Shared by ``mc_throughput.py`` and ``generation_speed.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def whole_process(folder: Path, name: str, batch: int, threads: int) -> tuple[float, float]:
    """Wall seconds of ``lm_eval`` and of ``assay eval`` on the same task, fresh processes."""
    from assay.models._hf_load import smollm2_path

    gguf = smollm2_path()
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_DATASETS_OFFLINE": "1"}
    bin_dir = Path(sys.executable).parent
    lm_cmd = [
        str(bin_dir / "lm_eval"), "--model", "hf",
        "--model_args", f"pretrained={gguf.parent},gguf_file={gguf.name},dtype=float32",
        "--tasks", name, "--include_path", str(folder), "--batch_size", str(batch),
        "--output_path", str(folder / "lm_out"), "--log_samples",
    ]  # fmt: skip
    assay_cmd = [
        str(bin_dir / "assay"), "eval", "-m", "smollm2-135m", "-t", str(folder / f"{name}.yaml"),
        "--store", str(folder / "assay.duckdb"),
    ]  # fmt: skip
    seconds = []
    for cmd in (lm_cmd, assay_cmd):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        seconds.append(time.perf_counter() - start)
    return seconds[0], seconds[1]
