"""Model specs: the strings ``assay eval --model`` accepts, and :func:`load_model`.

Syntax::

    smollm2-135m                          alias: the bundled SmolLM2-135M-Instruct (Q4_1 GGUF)
    hf:PATH_OR_HUB_ID[,key=value...]      transformers; keys: gguf_file, dtype, device,
                                          batch_size, max_length, name, trust_remote_code,
                                          threads, quantize (int8: weight-only, named NAME-int8
                                          with the full-precision model as its parent)
    hf:/path/to/model.gguf                a GGUF file directly
    openai:MODEL@URL[,key=value...]       OpenAI-compatible server (URL ends in /v1); keys:
                                          concurrency, timeout, max_retries, backoff,
                                          backoff_cap, chat, name, api_key_env, prefix
                                          (BOS text a perplexity text is conditioned on),
                                          rpm, tpm (requests / tokens per minute budgets)
    llamacpp:PATH.gguf[,key=value...]     llama-cpp-python (optional extra); keys: n_ctx, name

Every kind also takes ``parent=MODEL``: the model this one derives from (a previous checkpoint,
the unquantized original), recorded in the store so ``assay flips`` and the report compare them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from assay.errors import InputError

from ._base import ModelBackend

ALIASES = {"smollm2-135m": "smollm2-135m", "smollm2": "smollm2-135m"}
KINDS = ("hf", "openai", "llamacpp")
_HINT = "use smollm2-135m, hf:PATH_OR_ID, openai:MODEL@URL or llamacpp:PATH"


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec: backend kind, target (path, id or model@url) and options."""

    kind: str
    target: str
    options: dict[str, Any] = field(default_factory=dict)


TEXT_KEYS = frozenset(
    {"name", "family", "api_key_env", "gguf_file", "dtype", "prefix", "quantize", "parent"}
)
"""Options kept as written (``name=1e3`` is the name "1e3", not the number 1000.0)."""


def _value(text: str) -> Any:
    low = text.lower()
    if low in ("true", "yes"):
        return True
    if low in ("false", "no"):
        return False
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_spec(spec: str) -> ModelSpec:
    """Split ``kind:target,key=value,...`` (see the module docstring); raises InputError."""
    spec = spec.strip()
    if not spec:
        raise InputError(f"empty model spec ({_HINT})")
    kind, sep, rest = spec.partition(":")
    if spec.split(",")[0].lower() in ALIASES:
        kind, rest = "alias", spec
    elif not sep or kind not in KINDS:
        if Path(spec).exists():
            kind, rest = "hf", spec
        else:
            raise InputError(f"unknown model {spec!r}: {_HINT}")
    target, *pairs = rest.split(",")
    options: dict[str, Any] = {}
    for pair in pairs:
        key, eq, val = pair.partition("=")
        if not eq or not key.strip():
            raise InputError(f"bad option {pair!r} in model spec {spec!r} (expected key=value)")
        key = key.strip()
        options[key] = val.strip() if key in TEXT_KEYS else _value(val.strip())
    if not target:
        raise InputError(f"model spec {spec!r} names no model ({_HINT})")
    if kind == "alias":
        target = ALIASES[target.lower()]
    return ModelSpec(kind, target, options)


REMOTE_CODE_FLAG = "--trust-remote-code"


def check_remote_code(spec: str | ModelBackend, allowed: bool) -> None:
    """Refuse a spec that sets ``trust_remote_code`` (transformers then runs Python code shipped
    with the model) unless the user allowed it where they typed the command: ``allowed`` is
    ``assay eval --trust-remote-code`` (``trust_remote_code=True`` in Python). A grid file or
    a copied spec alone never runs a model's code."""
    if allowed or isinstance(spec, ModelBackend):
        return
    try:
        options = parse_spec(spec).options
    except InputError:
        return  # a malformed spec: loading it raises its own error
    if options.get("trust_remote_code"):
        raise InputError(
            f"model spec {spec!r} sets trust_remote_code, which runs Python code that comes with "
            f"the model: refused unless you pass {REMOTE_CODE_FLAG} (Python: "
            "trust_remote_code=True)"
        )


def load_model(spec: str | ModelBackend, **options: Any) -> ModelBackend:
    """A :class:`ModelBackend` for ``spec`` (a backend passes through). Keyword options
    override the spec's ``key=value`` options. Unknown models raise :class:`InputError`."""
    if isinstance(spec, ModelBackend):
        return spec
    parsed = parse_spec(spec)
    opts = {**parsed.options, **{k: v for k, v in options.items() if v is not None}}
    parent = opts.pop("parent", None)
    backend = _load(parsed, spec, opts)
    if parent:
        backend.info = replace(backend.info, parent=str(parent))
    return backend


def _load(parsed: ModelSpec, spec: str, opts: dict[str, Any]) -> ModelBackend:
    if parsed.kind == "alias":
        from ._hf import HFBackend
        from ._hf_load import smollm2_path

        path = smollm2_path()
        opts.setdefault("family", "smollm2")
        return HFBackend(
            str(path.parent),
            gguf_file=path.name,
            spec=spec,
            default_name="smollm2-135m",
            **_known(opts, HF_OPTIONS, spec),
        )
    if parsed.kind == "hf":
        from ._hf import HFBackend

        target = parsed.target
        if target.endswith(".gguf") and "gguf_file" not in opts:
            if not Path(target).is_file():
                raise InputError(f"GGUF file not found: {target}")
            target, opts["gguf_file"] = str(Path(target).parent), Path(target).name
        return HFBackend(target, spec=spec, **_known(opts, HF_OPTIONS, spec))
    if parsed.kind == "openai":
        from ._openai import OpenAIBackend

        opts.pop("batch_size", None)  # parallelism is ``concurrency`` for HTTP backends
        model, at, url = parsed.target.partition("@")
        if not at or not url.startswith(("http://", "https://")):
            raise InputError(
                f"openai spec {spec!r} must look like openai:MODEL@http://host:port/v1"
            )
        return OpenAIBackend(model, url, spec=spec, **_known(opts, OPENAI_OPTIONS, spec))
    from ._llamacpp import LlamaCppBackend

    return LlamaCppBackend(parsed.target, spec=spec, **_known(opts, LLAMACPP_OPTIONS, spec))


HF_OPTIONS = (
    "gguf_file",
    "dtype",
    "device",
    "batch_size",
    "max_length",
    "name",
    "family",
    "trust_remote_code",
    "threads",
    "quantize",
    "parent",
)
OPENAI_OPTIONS = (
    "prefix",
    "concurrency",
    "timeout",
    "max_retries",
    "chat",
    "name",
    "api_key_env",
    "tokens_per_char",
    "backoff",
    "backoff_cap",
    "parent",
    "rpm",
    "tpm",
)
LLAMACPP_OPTIONS = ("n_ctx", "name", "n_threads", "batch_size", "parent")


def _known(opts: dict[str, Any], allowed: tuple[str, ...], spec: str) -> dict[str, Any]:
    unknown = sorted(set(opts) - set(allowed))
    if unknown:
        raise InputError(
            f"unknown option(s) {', '.join(unknown)} in model spec {spec!r} "
            f"(allowed: {', '.join(allowed)})"
        )
    return opts
