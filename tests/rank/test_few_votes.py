"""Too little data gives wide intervals or says so (issue 28.5), and the arena's default
bootstrap (issue 28.9): 1,000 rounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest, norm

from assay.rank import (
    ARENA_BOOTSTRAP,
    ELO_PER_LOGIT,
    fit_battles,
    lc_win_rate,
    position_consistency,
)


def votes(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["model_a", "model_b", "winner"])


@pytest.mark.parametrize("bootstrap", [ARENA_BOOTSTRAP, 0])
def test_one_vote_has_unbounded_intervals_and_says_too_few(bootstrap):
    r = fit_battles(votes(("a", "b", "model_a")), bootstrap=bootstrap)
    assert np.isneginf(r.table["ci_low"]).all() and np.isposinf(r.table["ci_high"]).all()
    assert r.info["unidentified"] == ["a", "b"]
    assert "too few votes" in r.info["note"]
    assert r.to_dict()["ratings"][0]["ci_high"] == np.inf  # JSON writers turn it into null


def test_one_tie_gets_the_wald_interval_not_zero_width():
    # one tie: d = θa − θb has information n·p(1 − p) = 1/4, θa = d / 2 has variance 1
    r = fit_battles(votes(("a", "b", "tie")))
    half = norm.ppf(0.975) * ELO_PER_LOGIT * 1.0
    for _, row in r.table.iterrows():
        assert row["ci_low"] == pytest.approx(1000 - half, abs=0.05)
        assert row["ci_high"] == pytest.approx(1000 + half, abs=0.05)
    assert "note" not in r.info


def test_a_newcomer_that_never_lost_is_unbounded_the_rest_keep_their_intervals():
    core = [("a", "b", "model_a")] * 30 + [("a", "b", "model_b")] * 20
    r = fit_battles(votes(*core, ("c", "a", "model_a")), bootstrap=200)
    table = r.table.set_index("model")
    assert np.isinf(table.loc["c", ["ci_low", "ci_high"]]).all()
    assert np.isfinite(table.loc[["a", "b"], ["ci_low", "ci_high"]].to_numpy()).all()
    assert r.info["unidentified"] == ["c"]
    # an anchor keeps its zero-width interval
    anchored = fit_battles(votes(*core), anchor=("a", 1200.0), bootstrap=50).table
    assert (anchored.set_index("model").loc["a", ["ci_low", "ci_high"]] == 1200.0).all()


def test_the_default_is_1000_rounds_and_says_which_interval():
    battles = votes(*([("a", "b", "model_a")] * 12 + [("b", "a", "model_a")] * 8))
    r = fit_battles(battles)
    assert r.bootstrap.shape == (1000, 2)
    assert r.to_dict()["bootstrap_rounds"] == 1000
    assert r.info["interval"] == "bootstrap percentile"
    assert fit_battles(battles, method="elo").bootstrap.shape[0] == 100
    assert fit_battles(battles, bootstrap=0).info["interval"] == "Wald (inverse Hessian)"


def _both_orders(ab: list[str], ba: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"prompt_id": [f"p{i}" for i in range(len(ab))], "verdict_ab": ab, "verdict_ba": ba}
    )


def test_a_judge_whose_verdicts_all_agree_gets_the_exact_interval_and_test():
    # five pairs, the second answer picked every time: 0 of 10 decisive verdicts chose first
    r = position_consistency(_both_orders(["B"] * 5, ["B"] * 5), bootstrap=200)
    exact = binomtest(0, 10, 0.5)
    assert r.first_rate == 0.0
    assert r.first_ci == pytest.approx(tuple(exact.proportion_ci(0.95, method="exact")))
    assert r.first_ci[1] > 0.25
    assert r.pvalue == pytest.approx(exact.pvalue)  # 0.00195, not 0
    # and agreement 0 of 5
    assert r.agreement_ci == pytest.approx(
        tuple(binomtest(0, 5, 0.5).proportion_ci(0.95, method="exact"))
    )


def test_win_rate_from_three_wins_is_not_one_to_one():
    judged = pd.DataFrame(
        {
            "prompt_id": ["p1", "p2", "p3"],
            "model_a": ["m", "base", "m"],
            "model_b": ["base", "m", "base"],
            "winner": ["model_a", "model_b", "model_a"],
            "len_a": [100, 120, 90],
            "len_b": [110, 80, 95],
        }
    )
    row = lc_win_rate(judged, "base", bootstrap=200).table.iloc[0]
    low, high = binomtest(3, 3).proportion_ci(0.95, method="exact")
    assert (row["win_low"], row["win_high"]) == pytest.approx((low, high))
    assert row["lc_low"] <= low + 1e-9 and row["lc_high"] == 1.0
