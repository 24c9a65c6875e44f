"""core.attributes: named attributes as a dict, in the order asked, values untouched."""

from dataclasses import dataclass

import numpy as np

from assay.core import attributes


@dataclass
class _Result:
    b: float
    a: np.float64
    c: tuple[float, float]


def test_attributes_keep_order_and_values():
    r = _Result(b=float("nan"), a=np.float64(2.5), c=(1.0, 2.0))
    out = attributes(r, "c", "a", "b")
    assert list(out) == ["c", "a", "b"]
    assert out["c"] == (1.0, 2.0) and isinstance(out["a"], np.float64) and np.isnan(out["b"])
    assert attributes(r) == {}
