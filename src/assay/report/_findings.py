"""The findings: one sentence per result (pairwise differences, flips, variance, position
bias, chance, arena), each with its numbers and interval, ranked by surprise.

Surprise is −log10 of the finding's p-value: the paired test's Holm-adjusted p for a
difference, McNemar's exact test (negative against positive flips) for flips, the F-test of
"levels do not matter" for variance, the χ² test against uniform for position bias, the
exact binomial test (:func:`assay.stats.chance_test`) for a score against guessing. What is expected scores 0 (a model clearly
above chance); a score that guessing cannot be ruled out for scores 1.3 (as p = 0.05).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import stats as sps

from assay import rank, stats

from ._panel import Finding, fmt, p_text

#: Surprise of "not distinguishable from guessing": worth reading, as a borderline result is.
AT_CHANCE_SURPRISE = -np.log10(0.05)


def ranked(findings: Iterable[Finding]) -> list[Finding]:
    """Most surprising first (stable: ties keep the panels' order)."""
    items = list(findings)
    order = np.argsort([-f.surprise for f in items], kind="stable")
    return [items[i] for i in order]


def pair_findings(comp: stats.Comparison, headline: dict[str, str], level: str) -> list[Finding]:
    """Every paired difference on a task's headline metric, the better model named first, with
    its p-value adjusted over ``comp.family`` (stated in the sentence)."""
    if comp.pairs.empty:
        return []
    p = comp.pairs[comp.pairs["metric"].to_numpy() == comp.pairs["task"].map(headline).to_numpy()]
    lower = p["metric"].map(lambda m: comp.metric(m).lower_is_better).astype(bool)
    sign = np.where(lower, -1.0, 1.0)
    flip = sign * p["diff"].to_numpy() < 0  # orient: the better model first
    best = np.where(flip, p["model_b"], p["model_a"])
    other = np.where(flip, p["model_a"], p["model_b"])
    diff = np.where(flip, -p["diff"], p["diff"])
    low = np.where(flip, -p["ci_high"], p["ci_low"])
    high = np.where(flip, -p["ci_low"], p["ci_high"])
    p_adj = p["p_adjusted"].to_numpy(dtype=float)
    family = comp.family  # what p_adjusted is adjusted over, as `assay compare` says
    out = []
    for i, (task, metric, n) in enumerate(zip(p["task"], p["metric"], p["n"], strict=True)):
        word = "lower" if comp.metric(metric).lower_is_better else "higher"
        if not np.isfinite(diff[i]):  # (fewer than 2 shared documents: no difference computed)
            text = (
                f"On {task} ({metric}), {p['model_a'].iloc[i]} and {p['model_b'].iloc[i]} share "
                f"{int(n)} document{'' if int(n) == 1 else 's'}: too little data to compare them."
            )
            out.append(Finding(text, 0.0, "pair", None))
            continue
        if not np.isfinite(p_adj[i]) or not np.isfinite(low[i]):
            text = (
                f"On {task} ({metric}), {best[i]} scores {fmt(abs(diff[i]))} {word} than "
                f"{other[i]}; with n = {int(n)} shared documents there is too little data to "
                "test the difference."
            )
            out.append(Finding(text, 0.0, "pair", None))
            continue
        significant = p_adj[i] < comp.alpha
        verdict = (
            "a real difference" if significant else "not significant: the data cannot separate them"
        )
        text = (
            f"On {task} ({metric}), {best[i]} scores {fmt(abs(diff[i]))} {word} than "
            f"{other[i]} ({level} CI of the difference {fmt(low[i])} to {fmt(high[i])}, "
            f"n = {int(n)} paired documents, {family.adjusted} p {p_text(p_adj[i])} "
            f"{family.over}): {verdict} "
            f"at α = {comp.alpha:g}."
        )
        out.append(Finding.tested(text, "pair", p_adj[i]))
    return out


def chance_findings(
    comp: stats.Comparison, headline: dict[str, str], chance: dict[str, float], level: str
) -> list[Finding]:
    """Each model's headline score against the task's chance level
    (:func:`assay.stats.chance_tests`: the exact two-sided binomial test for a 0/1 score — on
    the design-effect n with clusters — else a z-test; the sentence names the test)."""
    if comp.scores.empty or not chance:
        return []
    tests = stats.chance_tests(comp, {t: c for t, c in chance.items() if t in headline}, headline)
    out = []
    for r in tests.itertuples(index=False):
        gap = r.mean - r.chance
        head = (
            f"{r.model} on {r.task} scores {fmt(r.mean)} {r.metric} ({level} CI "
            f"{fmt(r.ci_low)} to {fmt(r.ci_high)}, n = {int(r.n)}) against chance "
            f"{fmt(r.chance)}"
        )
        if not np.isfinite(r.p_value):
            text = f"{head}: {fmt(abs(gap))} {'above' if gap >= 0 else 'below'}; {r.test}."
            out.append(Finding(text, 0.0, "chance", None))
            continue
        p = float(r.p_value)
        head += f" ({r.test} p {p_text(p)})"
        if p >= comp.alpha:
            out.append(
                Finding(
                    head + ": not distinguishable from guessing.", AT_CHANCE_SURPRISE, "chance", p
                )
            )
        elif gap > 0:
            out.append(Finding(head + ": better than guessing.", 0.0, "chance", p))
        else:
            out.append(
                Finding.tested(head + ": worse than guessing, drawn to wrong answers.", "chance", p)
            )
    return out


def flip_finding(row: pd.Series, old: str, new: str, task: str, level: str) -> Finding:
    """How many answers flipped from ``old`` to ``new`` (one row of ``FlipResult.table``);
    p: McNemar's exact test of negative against positive flips."""
    n, neg = int(row["n"]), int(row["negative_flips"])
    pos = int(row["positive_flips"])
    p = float(sps.binomtest(neg, neg + pos, 0.5).pvalue) if neg + pos else 1.0
    text = (
        f"From {old} to {new} on {task}, {neg} of {n} answers flipped from right to wrong "
        f"(NFR {fmt(row['nfr'])}, {level} CI {fmt(row['nfr_low'])} to {fmt(row['nfr_high'])}) "
        f"and {pos} from wrong to right (PFR {fmt(row['pfr'])}); accuracy "
        f"{fmt(row['old_acc'])} → {fmt(row['new_acc'])} (McNemar exact p {p_text(p)})."
    )
    return Finding.tested(text, "flips", p)


#: The variance factors in words (``repeat`` numbers sampling repeats and choice orderings).
FACTOR_WORDS = {"repeat": "repeat / choice-ordering", "template_id": "template", "run_id": "run"}


def variance_findings(table: pd.DataFrame, alpha: float = 0.05) -> list[Finding]:
    """Per (model, task, factor): how far the factor's levels move the score, decided by the
    F test (``VarianceResult.table``). The ratio to one score's sampling variance is stated
    with its value when levels do not matter, var_noise / sampling_var (the F statistic is
    var_levels / var_noise): below 1 whenever questions differ in difficulty, so a ratio
    under 1 is no evidence that the levels matter less than the noise."""
    out = []
    for r in table.itertuples(index=False):
        p = float(r.p_value) if pd.notna(r.p_value) else None
        words = FACTOR_WORDS.get(r.factor, r.factor)
        if p is None:
            verdict = "no F test"
        elif p < alpha:
            verdict = f"more than the question-by-{words} noise explains (F-test p {p_text(p)})"
        else:
            verdict = f"no more than that noise explains (F-test p {p_text(p)})"
        null = r.var_noise / r.sampling_var if r.sampling_var > 0 else float("nan")
        text = (
            f"On {r.task}, {r.model}'s score moves by SD {fmt(r.sd_levels)} across "
            f"{int(r.levels)} {words} levels: {verdict}; the level scores' variance is "
            f"{fmt(r.ratio, 2)}× one score's sampling variance (≈ {fmt(null, 2)}× expected "
            "if the levels did not matter)."
        )
        out.append(Finding.tested(text, "variance", p))
    return out


def bias_finding(result: stats.PositionBias, model: str, task: str) -> Finding:
    shares = ", ".join(f"{100 * v:.0f}%" for v in result.table["share"])
    text = (
        f"{model} on {task} picks the shown positions {shares} (uniform: "
        f"{100 / len(result.table):.0f}% each; χ²({result.df}) = {result.chi2:.2f}, "
        f"p {p_text(result.pvalue)}); averaged over each question's orderings its accuracy "
        f"is {fmt(result.permutation_accuracy)} ± {fmt(result.permutation_stderr)} (SE)."
    )
    return Finding.tested(text, "bias", result.pvalue)


def arena_findings(groups: list[rank.Ratings], level: str) -> list[Finding]:
    """Per rated group: the top model against the runner-up (p from the bootstrap: twice the
    share of replicates that reverse the order, at least 1/rounds; Wald z without them)."""
    out = []
    if len(groups) > 1:
        sizes = ", ".join(str(len(g.models)) for g in groups)
        out.append(
            Finding(
                f"The arena votes form {len(groups)} groups of models never compared with "
                f"each other ({sizes} models); each group is rated on its own scale.",
                0.0,
                "arena",
            )
        )
    for g in groups:
        t = g.table
        votes = int(g.info.get("n_battles", t["n"].sum() // 2))
        top, second = t.iloc[0], t.iloc[1]
        models = g.models
        boot = g.bootstrap
        bounds = [top["ci_low"], top["ci_high"], second["ci_low"], second["ci_high"]]
        if g.info.get("note") and not np.isfinite(bounds).all():  # too few votes: no order
            text = f"In the arena ({votes:,} votes), {g.info['note']}."
            out.append(Finding(text[:1].upper() + text[1:], 0.0, "arena"))
            continue
        if boot.shape[0] >= 2:
            reversed_share = np.mean(
                boot[:, models.index(second["model"])] >= boot[:, models.index(top["model"])]
            )
            p = float(min(1.0, max(2 * reversed_share, 1 / boot.shape[0])))
            test = f"bootstrap p {p_text(p)}"
        else:
            se = np.hypot(top["ci_high"] - top["ci_low"], second["ci_high"] - second["ci_low"])
            gap = top["rating"] - second["rating"]
            # no p-value from a zero SE: the order is then untested
            p = float(2 * sps.norm.sf(abs(gap) / (se / (2 * 1.96)))) if se > 0 else None
            test = f"Wald z p {p_text(p)}" if p is not None else "no test: intervals of width 0"
        text = (
            f"In the arena ({votes:,} votes), {top['model']} rates highest: "
            f"{top['rating']:.0f} ({level} CI {top['ci_low']:.0f} to {top['ci_high']:.0f}), "
            f"{top['rating'] - second['rating']:.0f} points above {second['model']} "
            f"({test})."
        )
        out.append(Finding.tested(text, "arena", p))
    return out
