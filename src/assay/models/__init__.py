"""Model backends behind one interface: transformers (``hf``), OpenAI-compatible servers
(``openai``) and llama-cpp-python (``llamacpp``); ``load_model(spec)`` builds one from a spec."""

from ._base import BackendInfo, ModelBackend
from ._describe import describe_spec
from ._spec import REMOTE_CODE_FLAG, ModelSpec, check_remote_code, load_model, parse_spec

__all__ = [
    "BackendInfo",
    "HFBackend",
    "LlamaCppBackend",
    "ModelBackend",
    "ModelSpec",
    "OpenAIBackend",
    "REMOTE_CODE_FLAG",
    "check_remote_code",
    "describe_spec",
    "load_model",
    "parse_spec",
]


def __getattr__(name: str):
    """Backends import lazily (torch, httpx and llama_cpp are heavy or optional)."""
    if name == "HFBackend":
        from ._hf import HFBackend

        return HFBackend
    if name == "OpenAIBackend":
        from ._openai import OpenAIBackend

        return OpenAIBackend
    if name == "LlamaCppBackend":
        from ._llamacpp import LlamaCppBackend

        return LlamaCppBackend
    raise AttributeError(name)
