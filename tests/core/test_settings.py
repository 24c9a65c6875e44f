"""The one home of the confidence level: ``assay.core.Settings`` and the ``confidence=``
keyword every analysis entry point takes beside its old ``alpha=`` / ``level=``."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

from assay import forecast, rank, stats
from assay.core import Settings, accepts_confidence, level_label, resolve_confidence
from assay.errors import InputError


def test_settings_hold_one_level():
    s = Settings(confidence_level=0.99, resamples=200, seed=3)
    assert s.alpha == pytest.approx(0.01) and s.label == "99%"
    assert Settings.from_alpha(0.01, resamples=200, seed=3) == s
    assert Settings() == Settings(0.95, 1000, 0) and Settings().label == "95%"
    assert level_label(0.999) == "99.9%" and level_label(0.9) == "90%"
    assert s.to_dict() == {"confidence_level": 0.99, "resamples": 200, "seed": 3}
    bad_values = [
        {"confidence_level": 1.0},
        {"confidence_level": 0},
        {"resamples": -1},
        {"seed": 1.5},
        {"confidence_level": float("nan")},
    ]
    for bad in bad_values:
        with pytest.raises(InputError):
            Settings(**bad)


def test_resolve_confidence_converts_aliases_and_refuses_two_values():
    assert resolve_confidence() == 0.95
    assert resolve_confidence(default=0.9) == 0.9
    assert resolve_confidence(alpha=("alpha", 0.01)) == pytest.approx(0.99)
    assert resolve_confidence(level=("level", 0.8)) == 0.8
    assert resolve_confidence(0.99, alpha=("alpha", 0.01)) == pytest.approx(0.99)
    with pytest.raises(InputError, match="--confidence 0.9 and --alpha 0.05 disagree"):
        resolve_confidence(0.9, alpha=("alpha", 0.05))
    with pytest.raises(InputError, match="--level 1.5: the confidence level must be in"):
        resolve_confidence(level=("level", 1.5))


def scores(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [
        {"model": m, "task": "t", "doc_id": f"d{i}", "metric": "acc", "value": float(v)}
        for m, p in (("a", 0.7), ("b", 0.5))
        for i, v in enumerate(rng.random(80) < p)
    ]
    return pd.DataFrame(rows)


def test_confidence_keyword_equals_the_old_alpha():
    df = scores()
    old = stats.compare(df, alpha=0.01)
    new = stats.compare(df, confidence=0.99)
    pd.testing.assert_frame_equal(old.scores, new.scores)
    pd.testing.assert_frame_equal(old.pairs, new.pairs)
    wide = new.scores["ci_high"] - new.scores["ci_low"]
    narrow = stats.compare(df).scores
    assert (wide > narrow["ci_high"] - narrow["ci_low"]).all()
    with pytest.raises(InputError, match="disagree"):
        stats.compare(df, alpha=0.05, confidence=0.99)
    assert stats.compare(df, alpha=0.01, confidence=0.99).alpha == pytest.approx(0.01)


def test_confidence_keyword_maps_to_a_level_parameter():
    @accepts_confidence("level")
    def band(x: float, *, level: float = 0.9) -> float:
        return level

    assert band(1.0) == 0.9 and band(1.0, confidence=0.8) == 0.8
    for function in (stats.calibration, rank.judge_agreement, forecast.backtest, forecast.fit_law):
        assert "confidence" in inspect.signature(function).parameters
    with pytest.raises(TypeError):
        accepts_confidence("alpha")(lambda x: x)
