"""Weight-only int8 quantization of a transformers model (W8A32, per output channel).

Each ``nn.Linear`` inside the transformer blocks is replaced by :class:`Int8Linear`: its weight
is rounded to int8 with one symmetric scale per output row,

    scale_i = max_j |W_ij| / 127,    Q_ij = clamp(round(W_ij / scale_i), -127, 127),

and the layer computes ``x @ (Q * scale)ᵀ + b`` (the weight is dequantized per forward pass, so
every row of a batch sees the same weight: results do not depend on how a run is batched, as
they would with dynamic activation quantization). The embeddings and the output head stay in
full precision (SmolLM2 ties them), as in LLM.int8 and most weight-only schemes. This measures
what int8 weights cost in accuracy — the question a quantized deployment asks — not its speed.
"""

from __future__ import annotations

from typing import Any

from assay.errors import InputError

QUANTIZATIONS = ("int8",)
"""The ``quantize=`` values a model spec accepts."""


def check_quantization(value: Any) -> str | None:
    """``value`` as a quantization name (None for none); raises InputError for unknown ones."""
    if value in (None, "", "none"):
        return None
    if str(value) not in QUANTIZATIONS:
        raise InputError(
            f"unknown quantization {value!r} (use quantize={' or quantize='.join(QUANTIZATIONS)})"
        )
    return str(value)


def variant_names(base: str, quantize: str | None, name: Any, parent: Any) -> tuple[str, Any]:
    """(name, parent) of a model loaded as ``base`` with ``quantize=``: a quantized model is
    ``BASE-int8`` by default, with ``BASE`` as its parent, unless the spec names them."""
    if not quantize:
        return str(name or base), parent
    return str(name or f"{base}-{quantize}"), parent or base


def _int8_linear_class():
    import torch
    from torch import nn

    class Int8Linear(nn.Module):
        """A linear layer holding int8 weights and one float scale per output channel."""

        def __init__(self, linear: nn.Linear):
            super().__init__()
            weight = linear.weight.detach().float()
            scale = weight.abs().amax(dim=1).clamp(min=torch.finfo(torch.float32).tiny) / 127.0
            quantized = torch.round(weight / scale[:, None]).clamp(-127, 127).to(torch.int8)
            self.in_features, self.out_features = linear.in_features, linear.out_features
            self.register_buffer("qweight", quantized)
            self.register_buffer("scale", scale.to(linear.weight.dtype))
            bias = linear.bias.detach() if linear.bias is not None else None
            self.register_buffer("bias", bias)

        def forward(self, x):
            weight = self.qweight.to(x.dtype) * self.scale.to(x.dtype)[:, None]
            return nn.functional.linear(x, weight, self.bias)

        def extra_repr(self) -> str:
            return f"in_features={self.in_features}, out_features={self.out_features}, int8"

    return Int8Linear


def quantize_int8(model: Any) -> int:
    """Replace every ``nn.Linear`` of ``model`` except its output head (``get_output_embeddings``)
    by an :class:`Int8Linear`, in place; returns the number of layers replaced."""
    from torch import nn

    int8_linear = _int8_linear_class()
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    targets = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and module is not head
    ]
    for name, module in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, int8_linear(module))
    if not targets:
        raise InputError("quantize=int8: the model has no linear layers to quantize")
    return len(targets)


def quantized_params(model: Any) -> float:
    """Parameters of a model with :class:`Int8Linear` layers (int8 weights counted as one each)."""
    total = sum(p.numel() for p in model.parameters())
    total += sum(b.numel() for n, b in model.named_buffers() if n.endswith("qweight"))
    return float(total)
