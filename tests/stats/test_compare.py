"""``compare``: the tables' columns and numbers, repeats, clusters, groups and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from assay.errors import InputError
from assay.stats import compare, mean_ci, paired_test
from assay.stats._compare import compact_letters
from assay.stats._paired import holm

SCORE_COLUMNS = ["model", "task", "metric", "n", "mean", "stderr", "ci_low", "ci_high",
                 "method"]  # fmt: skip
PAIR_COLUMNS = ["model_a", "model_b", "task", "metric", "n", "diff", "stderr", "ci_low",
                "ci_high", "p_value", "p_adjusted", "method"]  # fmt: skip


def test_tables_match_the_estimators(make_scores):
    scores = make_scores({"a": 0.8, "b": 0.75, "c": 0.5}, tasks=("t1", "t2"), n=150)
    res = compare(scores)
    assert list(res.scores.columns) == SCORE_COLUMNS
    assert list(res.pairs.columns) == PAIR_COLUMNS
    assert len(res.scores) == 6 and len(res.pairs) == 6
    t1 = scores[scores["task"] == "t1"]
    a = t1[t1["model"] == "a"].sort_values("doc_id")["value"].to_numpy()
    c = t1[t1["model"] == "c"].sort_values("doc_id")["value"].to_numpy()
    row = res.scores[(res.scores["model"] == "a") & (res.scores["task"] == "t1")].iloc[0]
    est = mean_ci(a)
    assert (row["n"], row["mean"], row["stderr"]) == (
        150,
        pytest.approx(est.mean),
        pytest.approx(est.stderr),
    )
    pair = res.pairs[(res.pairs["model_a"] == "a") & (res.pairs["model_b"] == "c") & (res.pairs["task"] == "t1")].iloc[0]  # fmt: skip
    ref = paired_test(a, c)
    assert pair["diff"] == pytest.approx(ref.diff) and pair["p_value"] == pytest.approx(ref.pvalue)
    assert pair["ci_low"] == pytest.approx(ref.ci_low)
    np.testing.assert_allclose(res.pairs["p_adjusted"], holm(res.pairs["p_value"]))
    out = res.to_dict()
    assert set(out) == {"scores", "pairs", "groups"}
    assert set(out["pairs"][0]) == set(PAIR_COLUMNS)
    assert res.details.loc[0, "method"] == "mcnemar"


def test_groups_separate_clear_gaps(make_scores):
    scores = make_scores({"best": 0.85, "bad": 0.4}, n=400, seed=1)
    close = scores[scores["model"] == "best"].assign(model="close")
    close.loc[close.index[:3], "value"] = 1 - close["value"].iloc[:3]  # three flipped answers
    scores = pd.concat([scores, close], ignore_index=True)
    groups = compare(scores).groups.set_index("model")
    assert groups.loc["best", "group"] == groups.loc["close", "group"] == "a"
    assert groups.loc["bad", "group"] == "b"
    assert groups["tied_with_best"].to_dict() == {"best": True, "close": True, "bad": False}


def test_compact_letters_by_hand():
    sig = np.zeros((3, 3), dtype=bool)
    sig[0, 2] = sig[2, 0] = True  # only the extremes differ
    assert compact_letters([0.9, 0.8, 0.5], sig) == ["a", "ab", "b"]
    sig_all = ~np.eye(3, dtype=bool)
    assert compact_letters([0.2, 0.9, 0.5], sig_all) == ["c", "a", "b"]


def test_repeats_and_partial_overlap(make_scores):
    scores = make_scores({"a": 0.7, "b": 0.6}, n=100, repeats=3, seed=2)
    scores = scores[~((scores["model"] == "b") & (scores["doc_id"] >= "d0090"))]
    res = compare(scores)
    a = scores[scores["model"] == "a"].groupby("doc_id")["value"].mean()
    b = scores[scores["model"] == "b"].groupby("doc_id")["value"].mean()
    row = res.scores.set_index("model").loc["a"]
    assert row["n"] == 100 and row["mean"] == pytest.approx(a.mean())
    assert res.scores.set_index("model").loc["b", "n"] == 90
    pair = res.pairs.iloc[0]
    assert pair["n"] == 90
    assert pair["diff"] == pytest.approx((a.loc[b.index] - b).mean())
    assert res.details.loc[0, "method"] == "t"


def test_clustered_scores(make_scores):
    scores = make_scores({"a": 0.7, "b": 0.5}, n=120, cluster_size=6, seed=3)
    res = compare(scores)
    a = scores[scores["model"] == "a"]
    est = mean_ci(a["value"].to_numpy(), clusters=a["cluster_id"].to_numpy())
    assert res.scores.set_index("model").loc["a", "stderr"] == pytest.approx(est.stderr)
    assert res.details.loc[0, "method"] == "t"  # McNemar assumes independent questions
    assert res.details.loc[0, "df"] == 19


def test_primary_metric_choice_and_errors(make_scores):
    scores = make_scores({"a": 0.7, "b": 0.5}, n=50)
    extra = scores.assign(metric="acc_norm", value=1 - scores["value"])
    res = compare(pd.concat([extra, scores]))
    assert set(res.scores["metric"]) == {"acc"}
    em = compare(scores.assign(metric="exact_match"))
    assert set(em.scores["metric"]) == {"exact_match"}
    norm = compare(pd.concat([extra, scores]), metric="acc_norm")
    assert norm.scores.set_index("model").loc["a", "mean"] == pytest.approx(
        1 - res.scores.set_index("model").loc["a", "mean"]
    )
    with pytest.raises(InputError, match="unknown model 'zz'; available: a, b"):
        compare(scores, models=["a", "zz"])
    with pytest.raises(InputError, match="unknown task"):
        compare(scores, tasks=["nope"])
    with pytest.raises(InputError, match="unknown metric"):
        compare(scores, metric="bleu")


def test_overall_rows(make_scores):
    scores = make_scores({"a": 0.7, "b": 0.5}, tasks=("t1", "t2"), n=80)
    res = compare(scores, overall=True, correction="bh")
    overall = res.scores[res.scores["task"] == "(all)"].set_index("model")
    per = res.scores[res.scores["task"] != "(all)"]
    a = per[per["model"] == "a"]
    assert overall.loc["a", "mean"] == pytest.approx(a["mean"].mean())
    assert overall.loc["a", "stderr"] == pytest.approx(np.sqrt(np.sum(a["stderr"] ** 2)) / 2)
    assert res.correction == "bh"


@pytest.mark.parametrize("alpha", [0.01, 0.1, 0.32])
def test_overall_rows_follow_alpha(make_scores, alpha):
    """The "(all)" rows used a 95% interval whatever alpha said. Two tasks of 80 questions:
    Wilson's interval for the mean on 2² / (2 / 80) = 160 trials, at the call's alpha."""
    scores = make_scores({"a": 0.7, "b": 0.5}, tasks=("t1", "t2"), n=80)
    row = compare(scores, overall=True, alpha=alpha).scores.set_index("task").loc["(all)"].iloc[0]
    z = sps.norm.ppf(1 - alpha / 2)
    p, n = row["mean"], 160
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((centre - half, centre + half))
    assert row["method"] == "wilson-macro"


def test_method_is_reported_per_row(make_scores):
    plain = compare(make_scores({"a": 0.7, "b": 0.5}, n=100))
    assert set(plain.scores["method"]) == {"wilson"}
    assert set(plain.pairs["method"]) == {"mcnemar"}
    assert plain.to_dict()["scores"][0]["method"] == "wilson"
    est = mean_ci(np.r_[np.ones(70), np.zeros(30)])
    row = plain.scores.iloc[0]
    assert (est.method, est.df) == ("wilson", np.inf)
    clustered = compare(make_scores({"a": 0.7, "b": 0.5}, n=120, cluster_size=6, seed=3))
    assert set(clustered.scores["method"]) == {"wilson-betabinomial"}  # issue 32
    assert set(clustered.pairs["method"]) == {"t"}
    repeats = compare(make_scores({"a": 0.7, "b": 0.5}, n=100, repeats=3))
    assert set(repeats.scores["method"]) == {"clt"}
    assert 0 <= row["ci_low"] < row["mean"] < row["ci_high"] <= 1


def test_pair_interval_and_test_agree(make_scores):
    """CI excludes 0 exactly when p < alpha, for every test and alpha."""
    for seed in range(12):
        scores = make_scores({"a": 0.62, "b": 0.55, "c": 0.6}, n=150, seed=seed)
        for test in ("auto", "t", "mcnemar-exact", "permutation"):
            for alpha in (0.05, 0.2):
                pairs = compare(scores, test=test, alpha=alpha, correction="none").pairs
                excludes = (pairs["ci_low"] > 0) | (pairs["ci_high"] < 0)
                assert (excludes == (pairs["p_value"] < alpha)).all(), (seed, test, alpha)


def test_permutation_option_agrees_with_t(make_scores):
    scores = make_scores({"a": 0.62, "b": 0.55}, n=600, seed=5)
    t = compare(scores, test="t").details.iloc[0]
    perm = compare(scores, test="permutation").details.iloc[0]
    assert perm["method"] == "permutation"
    assert perm["p_value"] == pytest.approx(t["p_value"], abs=0.01)
    assert perm["diff"] == pytest.approx(t["diff"])


def test_rare_successes_get_a_wilson_interval_inside_0_1():
    from assay.stats import compare, wilson_ci

    values = np.zeros(50)
    values[:1] = 1.0
    scores = pd.DataFrame(
        {"model": "m", "task": "t", "metric": "acc", "doc_id": [str(i) for i in range(50)],
         "repeat": 0, "run_id": "r", "template_id": None, "cluster_id": None,
         "difficulty": None, "value": values}
    )  # fmt: skip
    row = compare(scores).scores.iloc[0]
    assert row["mean"] == 0.02
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(wilson_ci(1, 50))
    assert row["ci_low"] > 0.0


def test_lower_is_better_metrics_give_the_best_model_letter_a():
    """On a perplexity-like metric the model with the lowest mean is the best ("a")."""
    rng = np.random.default_rng(0)
    n = 200
    rows = [
        pd.DataFrame(
            {
                "model": m,
                "task": "corpus",
                "doc_id": [f"d{i}" for i in range(n)],
                "metric": "bits_per_byte",
                "value": rng.normal(mu, 0.1, n),
            }
        )  # fmt: skip
        for m, mu in (("good", 1.0), ("bad", 2.0))
    ]
    groups = compare(pd.concat(rows, ignore_index=True)).groups.set_index("model")
    assert groups.loc["good", "group"] == "a" and groups.loc["good", "tied_with_best"]
    assert groups.loc["bad", "group"] == "b" and not groups.loc["bad", "tied_with_best"]


def test_perplexity_intervals_are_formed_on_the_log_scale():
    """A skewed perplexity with few documents: the symmetric interval would go below 0; the
    log-scale one is mean·exp(±q·SE/mean), positive, with the same quantile."""
    rng = np.random.default_rng(3)
    values = np.exp(rng.normal(4.0, 1.5, 20))
    scores = pd.DataFrame(
        {"model": "m", "task": "corpus", "doc_id": [f"d{i}" for i in range(20)],
         "metric": "word_perplexity", "value": values}
    )  # fmt: skip
    row = compare(scores).scores.iloc[0]
    est = mean_ci(values)
    assert est.ci_low < 0  # what the symmetric interval would claim
    q = (est.ci_high - est.mean) / est.stderr
    spread = np.exp(q * est.stderr / est.mean)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((est.mean / spread, est.mean * spread))
    assert row["ci_low"] > 0 and row["method"] == f"{est.method}+log"
    same = compare(scores.assign(metric="bits_per_byte")).scores.iloc[0]
    assert (same["ci_low"], same["ci_high"]) == pytest.approx((est.ci_low, est.ci_high))


def test_intervals_stay_inside_the_metrics_bounds():
    # token F1 lives in [0, 1]: a t-interval of 6 documents mostly at 0 would start below 0
    values = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.3])
    rows = [
        {"model": m, "task": "t", "doc_id": str(d), "metric": "f1", "value": v * k, "repeat": 0}
        for m, k in (("a", 1.0), ("b", 2.0))
        for d, v in enumerate(values)
    ]
    scores = compare(pd.DataFrame(rows)).scores.set_index("model")
    raw = mean_ci(values, method="t")
    assert raw.ci_low < 0  # what the t-interval alone gives
    assert scores.loc["a", "ci_low"] == 0.0
    assert scores.loc["a", "ci_high"] == pytest.approx(raw.ci_high)
    assert scores.loc["b", "ci_low"] == 0.0 and scores.loc["b", "ci_high"] <= 1.0


def test_overall_rows_do_not_average_rankings_with_accuracy(make_scores):
    # one QA task scored by acc, one retrieval task by NDCG@10 and one by MRR: three kinds
    acc = make_scores({"a": 0.7, "b": 0.5}, tasks=("qa",), n=60)
    ndcg = make_scores({"a": 0.4, "b": 0.3}, tasks=("search",), n=60).assign(metric="ndcg@10")
    mrr = make_scores({"a": 0.4, "b": 0.3}, tasks=("faq",), n=60).assign(metric="mrr")
    res = compare(pd.concat([acc, ndcg, mrr]), overall=True)
    overall = res.scores[res.scores["task"] == "(all)"]
    assert sorted(overall[overall["model"] == "a"]["metric"]) == ["acc", "mrr", "ndcg@10"]
