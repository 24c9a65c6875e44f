"""A law fitted to models of one size: no spread in x is said (InputError) and nothing is
fitted, in the library and in the report's scaling panel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay.errors import InputError
from assay.forecast import fit_downstream, fit_law


def test_one_size_is_not_fitted():
    data = pd.DataFrame({"params": [1e8] * 5, "loss": [3.1, 3.0, 2.9, 3.05, 2.95]})
    with pytest.raises(InputError, match=r"all 5 rows have params = 1e\+08") as info:
        fit_law(data, "power", x="params", y="loss")
    assert "\n" not in str(info.value)
    frame = data.assign(flops=6e8 * 2e9, score=0.5)
    with pytest.raises(InputError, match="no spread in flops"):
        fit_downstream(frame, x="flops", bootstrap=0)


def test_fewer_distinct_sizes_than_parameters_is_not_fitted():
    data = pd.DataFrame({"params": [1e8, 1e8, 1e8, 1e9, 1e9], "loss": [3.0, 3.1, 2.9, 2.5, 2.6]})
    with pytest.raises(InputError, match="3 parameters need at least 5 distinct params.*got 2"):
        fit_law(data, "power", x="params", y="loss")
    n = np.geomspace(1e7, 1e9, 3).repeat(3)
    chin = pd.DataFrame({"params": n, "tokens": 20 * n, "loss": 2 + 100 / n**0.3})
    with pytest.raises(InputError, match="5 parameters need at least 7 distinct.*got 3"):
        fit_law(chin, "chinchilla")


def test_spread_still_fits():
    n = np.geomspace(1e7, 1e9, 6)
    fit = fit_law(pd.DataFrame({"params": n, "loss": 2 + 50 / n**0.3}), "power", x="params")
    assert fit.params["alpha"] == pytest.approx(0.3, rel=0.05)
