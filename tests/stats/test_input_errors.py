"""Bad arguments to the stats API are InputError (one line in the CLI), raised before any work."""

from __future__ import annotations

import numpy as np
import pytest

from assay.errors import InputError
from assay.stats import bootstrap_ci, compare, flips, paired_test, power_analysis


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"delta": 0.02, "omega2": -1.0}, r"omega2 -1.0: a variance must be >= 0"),
        ({"delta": 0.02, "sigma2_a": -0.1}, r"sigma2_a -0.1"),
        ({"delta": 0.02, "target_power": 1.5}, r"power 1.5: must be between 0 and 1"),
        ({"delta": 0.02, "alpha": 0.0}, r"alpha 0.0"),
        ({"delta": float("nan")}, r"delta nan: must be a finite number"),
        ({"n": float("inf")}, r"n inf: must be a finite number"),
        ({"n": 1}, r"n must be at least 2"),
    ],
)
def test_power_analysis_rejects_impossible_designs(kwargs, message):
    with pytest.raises(InputError, match=message):
        power_analysis(**kwargs)


def test_compare_checks_its_options_first(make_scores):
    scores = make_scores({"a": 0.6, "b": 0.7})
    for kwargs, message in [
        ({"correction": "bonferoni"}, r"correction 'bonferoni': use holm, bh or none"),
        (
            {"test": "magic"},
            r"test 'magic': use one of auto, t, mcnemar, mcnemar-clustered, mcnemar-exact, "
            r"permutation",
        ),
        ({"alpha": 2.0}, r"alpha 2.0: must be in \(0, 1\)"),
    ]:
        with pytest.raises(InputError, match=message):
            compare(scores, **kwargs)
    assert len(compare(scores, correction="BH").pairs) == 1


def test_value_errors_of_the_api_are_input_errors(make_scores):
    x = np.array([1.0, 0.0, 1.0, 1.0])
    with pytest.raises(InputError, match="method must be one of"):
        paired_test(x, x, method="z")
    with pytest.raises(InputError, match="at least 2 shared questions"):
        paired_test(x[:1], x[:1])
    with pytest.raises(InputError, match="n_resamples 0: must be at least 2"):
        bootstrap_ci(x, n_resamples=0)
    with pytest.raises(InputError, match="bootstrap needs at least 2 values"):
        bootstrap_ci(x[:1])
    with pytest.raises(InputError, match="the same model"):
        flips(make_scores({"a": 0.6, "b": 0.7}), "a", "a")
