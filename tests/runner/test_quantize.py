"""Weight-only int8 quantization: the arithmetic, what is left in full precision, the names and
parents the store records, and run ids that keep full-precision runs apart."""

from __future__ import annotations

import pytest

from assay.errors import InputError
from assay.models import describe_spec
from assay.models._quantize import quantize_int8, variant_names
from assay.runner._evaluate import run_settings

torch = pytest.importorskip("torch")


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.block = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Linear(16, 8))
        self.head = torch.nn.Linear(8, 5, bias=False)

    def get_output_embeddings(self):
        return self.head

    def forward(self, x):
        return self.head(self.block(x))


def test_int8_weights_round_per_output_channel():
    torch.manual_seed(0)
    model = _Tiny()
    weight = model.block[0].weight.detach().clone()
    bias = model.block[0].bias.detach().clone()
    assert quantize_int8(model) == 2  # the two block layers; the head stays float
    layer = model.block[0]
    assert layer.qweight.dtype == torch.int8 and isinstance(model.head, torch.nn.Linear)
    scale = weight.abs().amax(dim=1) / 127
    assert torch.allclose(layer.scale, scale)
    expected = torch.round(weight / scale[:, None]).clamp(-127, 127)
    assert torch.equal(layer.qweight.float(), expected)
    assert (layer.qweight.float() * scale[:, None] - weight).abs().max() <= scale.max() / 2 + 1e-7
    x = torch.randn(3, 8)
    want = x @ (expected * scale[:, None]).T + bias
    assert torch.allclose(layer(x), want, atol=1e-6)
    # a row's result does not depend on the rest of its batch (no activation quantization);
    # only float rounding of the matrix product differs with the batch's shape
    assert torch.allclose(layer(x[:1]), layer(x)[:1], atol=1e-6)


def test_names_parents_and_run_ids():
    assert variant_names("smollm2-135m", "int8", None, None) == (
        "smollm2-135m-int8",
        "smollm2-135m",
    )
    assert variant_names("m", "int8", "mine", "base") == ("mine", "base")
    assert variant_names("m", None, None, None) == ("m", None)
    name, info = describe_spec("smollm2-135m,quantize=int8")
    assert (name, info.quantization, info.parent) == ("smollm2-135m-int8", "int8", "smollm2-135m")
    full = describe_spec("smollm2-135m")[1]
    assert full.quantization is None and full.parent is None
    settings = run_settings("fp", info, repeats=1, permute_choices=0)
    assert settings["quantization"] == "int8"
    assert "quantization" not in run_settings("fp", full, repeats=1, permute_choices=0)
    assert describe_spec("hf:/x/ckpt2,dtype=float32,parent=ckpt1")[1].parent == "ckpt1"
    with pytest.raises(InputError, match="unknown quantization 'int4'"):
        describe_spec("smollm2-135m,quantize=int4")
