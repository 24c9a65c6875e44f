"""The trend test's inputs: anything that is not a finite number is a one-line InputError."""

from __future__ import annotations

import numpy as np
import pytest

from assay.errors import InputError
from assay.forecast import detect_inverse_scaling


def test_trend_rejects_values_that_are_not_numbers():
    x = [1e8, 2e8, 4e8, 8e8]
    with pytest.raises(InputError, match=r"x value 'big' is not a finite number"):
        detect_inverse_scaling([*x[:3], "big"], [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(InputError, match=r"y value nan"):
        detect_inverse_scaling(x, [0.1, np.nan, 0.3, 0.4])
    with pytest.raises(InputError, match=r"se"):
        detect_inverse_scaling(x, [0.1, 0.2, 0.3, 0.4], se=[0.1, 0.0, 0.1, 0.1])
    assert detect_inverse_scaling(x, [0.1, 0.2, 0.3, 0.4]).n == 4
