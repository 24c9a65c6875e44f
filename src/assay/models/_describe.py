"""``describe_spec``: a spec's model name and :class:`BackendInfo` without loading weights."""

from __future__ import annotations

import sys
from pathlib import Path

from ._base import BackendInfo
from ._quantize import check_quantization, variant_names
from ._spec import HF_OPTIONS, LLAMACPP_OPTIONS, OPENAI_OPTIONS, _known, parse_spec

_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "float16": "float16",
    "fp16": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}


def _device_type(device: object) -> str:
    """The device type of ``device=``, else a guess that imports nothing (torch takes seconds):
    torch's answer when it is loaded already, else whether an NVIDIA device node exists."""
    if device:
        return str(device).split(":")[0]
    torch = sys.modules.get("torch")
    if torch is not None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    return "cuda" if Path("/dev/nvidia0").exists() else "cpu"


def describe_spec(spec: str) -> tuple[str, BackendInfo] | None:
    """``(name, info)`` that :func:`load_model` (``spec``) would give, as far as a run id needs
    them (name, ``kind``, ``dtype``, ``runtime``; ``family`` and ``params`` are left out), or
    None when only loading tells (an hf model without ``dtype=`` that is not a GGUF file). The
    runtime's device is a guess without ``device=`` (not part of a run id: the runner records
    the loaded backend's).
    Raises the :class:`InputError` of a malformed spec, like :func:`load_model`."""
    parsed = parse_spec(spec)
    opts = dict(parsed.options)
    name = opts.get("name")
    if name is not None and not str(name).strip():
        return None  # load_model raises the error
    if parsed.kind == "openai":
        _known({k: v for k, v in opts.items() if k != "batch_size"}, OPENAI_OPTIONS, spec)
        model, at, url = parsed.target.partition("@")
        if not at or not url.startswith(("http://", "https://")):
            return None  # load_model raises the error
        return name or model, BackendInfo(kind="openai", runtime=f"openai:{url.rstrip('/')}")
    if parsed.kind == "llamacpp":
        _known(opts, LLAMACPP_OPTIONS, spec)
        return name or Path(parsed.target).stem, BackendInfo(
            kind="llamacpp", runtime="llamacpp:cpu"
        )
    _known(opts, HF_OPTIONS, spec)
    quantize = check_quantization(opts.get("quantize"))
    if parsed.kind == "alias":
        base, gguf = "smollm2-135m", "model.gguf"
    else:
        gguf = opts.get("gguf_file") or (parsed.target if parsed.target.endswith(".gguf") else None)
        base = Path(gguf).stem if gguf else parsed.target.rstrip("/")
    name, parent = variant_names(base, quantize, name, opts.get("parent"))
    dtype = opts.get("dtype")
    if dtype in (None, "auto"):
        if not gguf:
            return None  # the checkpoint's own dtype
        dtype = "float32"  # transformers dequantizes GGUF weights to float32
    dtype = _DTYPES.get(str(dtype))
    if dtype is None:
        return None  # load_model raises the error
    runtime = f"hf:{_device_type(opts.get('device'))}:{dtype}"
    return name, BackendInfo(
        kind="hf", runtime=runtime, dtype=dtype, quantization=quantize, parent=parent
    )
