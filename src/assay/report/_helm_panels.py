"""Panels for HELM's other columns: calibration (with a reliability diagram), efficiency (with
the runtime fit), disaggregation by difficulty, and reliability over variants (DIA).

Each builder takes the store's frames and the headline metric per task and returns a
:class:`Panel`; a panel whose data are missing keeps a ``note`` saying how to get them, and
data it cannot use never break the report (``panel.fail``). Intervals and tests are at the
level of the :class:`~assay.core.Settings` passed in (the report's), with its resamples and
seed, as the matching commands (`assay calibration`, `efficiency`, `breakdown`,
`reliability`) compute them at the same ``--confidence``."""

from __future__ import annotations

from dataclasses import replace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from assay import stats  # noqa: E402
from assay.core import MetricMap, Settings, plot_label  # noqa: E402
from assay.errors import AssayError, InputError  # noqa: E402

from ._panel import Finding, Panel, cell, fmt, fmt_p, new_panel, p_text  # noqa: E402
from ._plots import _STYLE, ACCENT, interval_plot, svg_string  # noqa: E402

__all__ = ["breakdown_panel", "calibration_panel", "efficiency_panel", "reliability_panel"]

_COLORS = (ACCENT, "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")


def _num(value: object, digits: int = 3) -> dict:
    return cell(fmt(value, digits), value, "num")


def _ci(est: float, low: float, high: float, digits: int = 3) -> dict:
    text = fmt(est, digits)
    if np.isfinite(low) and np.isfinite(high):
        text += f" [{fmt(low, digits)}, {fmt(high, digits)}]"
    return cell(text, est, "num")


def reliability_diagram(bins: pd.DataFrame, title: str) -> str:
    """Accuracy against mean confidence per bin, one line per model, the diagonal for perfect
    calibration and Wilson bars on each bin's accuracy."""
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(4.6, 4.2))
        ax.plot([0, 1], [0, 1], color="#94a3b8", ls="--", lw=1, label="calibrated")
        for i, (model, g) in enumerate(bins.groupby("model", sort=True)):
            color = _COLORS[i % len(_COLORS)]
            err = np.vstack(
                [(g["accuracy"] - g["acc_low"]).clip(0), (g["acc_high"] - g["accuracy"]).clip(0)]
            )
            ax.errorbar(
                g["confidence"],
                g["accuracy"],
                yerr=np.nan_to_num(err),
                fmt="o-",
                color=color,
                ms=4,
                lw=1.2,
                capsize=2,
                label=plot_label(model),
            )
        ax.set_xlim(0, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("confidence (mean per bin)")
        ax.set_ylabel("accuracy")
        ax.legend(frameon=False, fontsize=8, loc="upper left")
        ax.set_title(plot_label(title), loc="left", fontsize=10)
        return svg_string(fig)


def _ci_or_note(est: float, r: pd.Series, key: str, note: str) -> dict:
    """The estimate with its interval, or with the note why it has none ("too few ...")."""
    if note:
        return cell(f"{fmt(est)} (too few)", est, "num", title=note)
    return _ci(est, r.get(f"{key}_low", np.nan), r.get(f"{key}_high", np.nan))


def calibration_panel(
    samples: pd.DataFrame,
    headline: dict[str, str],
    settings: Settings | None = None,
    *,
    n_bins: int = 15,
) -> Panel:
    """Calibration of every multiple-choice (task, model) whose samples carry choice
    log-likelihoods and the task's ``acc``; one reliability diagram per task. Intervals and
    tests at the ``settings``' level, with its resamples and seed."""
    settings = settings or Settings()
    level = settings.label
    panel = new_panel("calibration", settings, bins=n_bins)
    if samples.empty or "choice_logprobs" not in samples or "metric.acc" not in samples:
        panel.note = "No multiple-choice samples with choice log-likelihoods and acc."
        return panel
    mc = samples[samples["choice_logprobs"].notna() & samples["metric.acc"].notna()]
    mc = mc[mc["task"].isin(list(headline))]
    if mc.empty:
        panel.note = "No multiple-choice samples with choice log-likelihoods and acc."
        return panel
    try:
        res = stats.calibration(
            mc,
            n_bins=n_bins,
            n_resamples=settings.resamples,
            confidence=settings.confidence_level,
            seed=settings.seed,
        )
    except AssayError as exc:
        return panel.fail(exc)
    tab = res.table
    if "interval_note" not in tab:  # no resamples: plain estimates
        tab = tab.assign(interval_note="", ece_debiased=tab["ece"])
    rows = [
        [
            cell(str(r.task)),
            cell(str(r.model), cls="model"),
            _num(r.n),
            _num(r.accuracy),
            _num(r.confidence),
            _ci_or_note(r.ece_debiased, r, "ece", r.interval_note),
            cell(fmt_p(r.get("ece_pvalue")), r.get("ece_pvalue"), "num"),
            _ci_or_note(r.ce2_debiased, r, "ce2_debiased", r.interval_note),
            cell(fmt_p(r.get("ce2_debiased_pvalue")), r.get("ce2_debiased_pvalue"), "num"),
            _num(r.mce),
            _num(r.brier),
            cell(
                f"{fmt(r.reliability)} / {fmt(r.resolution)} / {fmt(r.uncertainty)}",
                r.reliability,
                "num",
            ),
            _ci(r.aurc, r.get("aurc_low", np.nan), r.get("aurc_high", np.nan)),
        ]
        for _, r in tab.iterrows()
    ]
    panel.table(
        [
            "task",
            "model",
            "n",
            "accuracy",
            "confidence",
            f"ECE [{level}]",
            "p (calibrated)",
            f"CE₂ [{level}]",
            "p (CE₂)",
            "MCE",
            "Brier",
            "rel / res / unc",
            f"AURC [{level}]",
        ],
        rows,
        caption="ECE and CE₂ debiased; p tests perfect calibration; lower is better for "
        "ECE, CE₂, MCE, Brier and AURC",
    )
    for _, r in tab.iterrows():
        side = "over" if r.confidence > r.accuracy else "under"
        if r.interval_note:
            interval = " (too few answers for an interval)"
        elif "ece_low" in r:
            interval = f" [{fmt(r['ece_low'])}, {fmt(r['ece_high'])}]"
        else:
            interval = ""
        pvalue = r.get("ece_pvalue", np.nan)
        test = f", calibration test p {p_text(pvalue)}" if np.isfinite(pvalue) else ""
        panel.findings.append(
            Finding(
                f"{r.model} on {r.task}: ECE {fmt(r.ece_debiased)}{interval}{test}, {side}confident "
                f"(mean confidence {fmt(r.confidence)}, accuracy {fmt(r.accuracy)}).",
                0.0,
                "calibration",
                float(pvalue) if np.isfinite(pvalue) else None,
            )
        )
    for task, bins in res.bins.groupby("task", sort=True):
        panel.svg(reliability_diagram(bins, f"{task}: reliability diagram"), caption=str(task))
    panel.results["calibration"] = res
    return panel


def _with_untimed(
    res: stats.EfficiencyResult | None, untimed: pd.DataFrame, confidence: float
) -> stats.EfficiencyResult:
    """``res`` (None: no timed rows) with a row per (model, task) of ``untimed`` as
    ``assay.stats.efficiency`` gives it from untimed samples, in (model, task) order."""
    stub = untimed[["model", "task"]].assign(
        input_tokens=np.nan, output_tokens=np.nan, latency_s=np.nan
    )
    added = stats.efficiency(stub, confidence=confidence)
    table, got = added.table, untimed.sort_values(["model", "task"])
    for column in ("n", *(f"{k}_tokens{t}" for k in ("prompt", "output") for t in ("", "_total"))):
        table[column] = got[column].to_numpy()
    if res is None:
        return replace(added, table=table)
    both = pd.concat([res.table, table], ignore_index=True)
    both = both.sort_values(["model", "task"], kind="stable").reset_index(drop=True)
    return replace(res, table=both)


def efficiency_panel(
    samples: pd.DataFrame,
    headline: dict[str, str],
    settings: Settings | None = None,
    *,
    prices: pd.DataFrame | None = None,
    untimed: pd.DataFrame | None = None,
) -> Panel:
    """Tokens, throughput, latency percentiles (intervals at the ``settings``' level) and
    (with a price table) cost per (task, model), and the fitted runtime model of each model.
    ``untimed``: the (model, task)s left out of ``samples`` (none of their samples timed) as
    aggregates (``ReportReads.untimed``: model, task, n, prompt_tokens, output_tokens,
    prompt_tokens_total, output_tokens_total), shown as their samples would be (no prices)."""
    settings = settings or Settings()
    panel = new_panel("efficiency", settings)
    if samples.empty or "latency_s" not in samples or samples["latency_s"].notna().sum() == 0:
        panel.note = "No timed samples (imported runs carry no latencies; run `assay eval`)."
        return panel
    shown = samples[samples["task"].isin(list(headline))]
    more = untimed is not None and not untimed.empty
    try:
        if more and prices is not None:
            raise InputError("untimed aggregates carry no per-sample costs: pass the samples")
        res = None
        if not (more and shown.empty):
            res = stats.efficiency(shown, prices=prices, confidence=settings.confidence_level)
        if more:
            res = _with_untimed(res, untimed, settings.confidence_level)
    except AssayError as exc:
        return panel.fail(exc)
    columns = [
        "task",
        "model",
        "n",
        "prompt tok.",
        "output tok.",
        "output tok/s",
        f"latency p50 [{settings.label}]",
        "p95",
        "p99",
    ]
    if res.priced:
        columns += ["cost / sample", "cost total"]
    rows = []
    for _, r in res.table.iterrows():
        row = [
            cell(str(r.task)),
            cell(str(r.model), cls="model"),
            _num(r.n),
            _num(r.prompt_tokens, 1),
            _num(r.output_tokens, 1),
            _num(r.tokens_per_s, 1),
            _ci(r.latency_p50, r.latency_p50_low, r.latency_p50_high, 4),
            _num(r.latency_p95, 4),
            _num(r.latency_p99, 4),
        ]
        if res.priced:
            row += [_num(r.cost_per_sample, 6), _num(r.cost_total, 4)]
        rows.append(row)
    panel.table(
        columns,
        rows,
        caption="latency in seconds per sample: its share of its batch's time, by tokens processed",
    )
    if res.fits:
        panel.kv(
            {m: f.describe() for m, f in zip(res.fit_models, res.fits, strict=True)},
            caption="runtime model per model",
        )
    panel.results["efficiency"] = res
    return panel


def breakdown_panel(
    scores: pd.DataFrame, headline: dict[str, str], settings: Settings | None = None
) -> Panel:
    """Headline metric per difficulty level of every task that records difficulty: an
    interval plot per task and the test that the levels differ (at the ``settings``' level,
    as `assay breakdown` with the same ``--confidence`` and ``--seed``)."""
    settings = settings or Settings()
    level, alpha = settings.label, settings.alpha
    panel = new_panel("breakdown", settings)
    if scores.empty or "difficulty" not in scores or scores["difficulty"].notna().sum() == 0:
        panel.note = "No document has a difficulty (the built-in generated tasks record one)."
        return panel
    keep = scores["metric"].to_numpy() == scores["task"].map(headline).to_numpy()
    s = scores[keep & scores["difficulty"].notna().to_numpy()]
    try:
        res = stats.breakdown(
            s, "difficulty", confidence=settings.confidence_level, seed=settings.seed
        )
    except AssayError as exc:
        return panel.fail(exc)
    for task, g in res.groups.groupby("task", sort=False):
        labels = [f"{m} · {grp}" for m, grp in zip(g["model"], g["group"], strict=True)]
        panel.svg(
            interval_plot(
                labels,
                g["mean"],
                g["ci_low"],
                g["ci_high"],
                xlabel=f"{headline.get(str(task), '')} ({level} interval)",
                title=f"{task} by difficulty",
            ),
            caption=str(task),
        )
    rows = [
        [
            cell(str(r.task)),
            cell(str(r.model), cls="model"),
            _num(r.levels),
            cell(str(r.best_group)),
            cell(str(r.worst_group)),
            _ci(r.gap, r.gap_low, r.gap_high),
            cell(
                fmt_p(r.p_adjusted),
                r.p_adjusted,
                "num " + ("worse" if r.p_adjusted < alpha else ""),
            ),
        ]
        for _, r in res.tests.iterrows()
    ]
    if rows:
        panel.table(
            ["task", "model", "levels", "best", "worst", f"gap [{level}]", "p (Holm)"],
            rows,
            caption="is the gap between difficulty levels real?",
        )
    for _, r in res.tests[res.tests["p_adjusted"] < alpha].iterrows():
        best = res.groups[(res.groups["task"] == r.task) & (res.groups["model"] == r.model)]
        means = best.set_index("group")["mean"]
        panel.findings.append(
            Finding.tested(
                f"{r.model} on {r.task}: {fmt(means[r.best_group])} at difficulty "
                f"{r.best_group} against {fmt(means[r.worst_group])} at {r.worst_group} "
                f"(gap {fmt(r.gap)} [{fmt(r.gap_low)}, {fmt(r.gap_high)}], Holm p "
                f"{fmt_p(r.p_adjusted)}).",
                "breakdown",
                r.p_adjusted,
            )
        )
    panel.results["breakdown"] = res
    return panel


def reliability_panel(
    scores: pd.DataFrame,
    headline: dict[str, str],
    metrics: MetricMap | None = None,
    settings: Settings | None = None,
) -> Panel:
    """DIA's all-variants-right share next to the mean, for every (task, model) whose
    documents were asked in two or more variants (intervals at the ``settings``' level)."""
    settings = settings or Settings()
    level, alpha = settings.label, settings.alpha
    panel = new_panel("reliability", settings)
    keep = scores["metric"].to_numpy() == scores["task"].map(headline).to_numpy()
    s = scores[keep]
    variants = s.groupby(["model", "task", "doc_id"]).size() if len(s) else pd.Series(dtype=int)
    if variants.empty or variants.max() < 2:
        panel.note = (
            "Every document was asked once. Run with --repeats, --permute-choices or several "
            "templates to see how often a model is right on every variant."
        )
        return panel
    try:
        res = stats.reliability(s, metrics=metrics, confidence=settings.confidence_level)
    except AssayError as exc:
        return panel.fail(exc)
    rows = [
        [
            cell(str(r.task)),
            cell(str(r.model), cls="model"),
            _num(r.questions),
            _num(r.variants, 1),
            _ci(r["mean"], r.mean_low, r.mean_high),
            _ci(r.all_right, r.all_right_low, r.all_right_high),
            _num(r.near_miss),
            _ci(r.rs_mean, r.rs_low, r.rs_high),
        ]
        for _, r in res.table.iterrows()
    ]
    panel.table(
        [
            "task",
            "model",
            "questions",
            "variants",
            f"mean [{level}]",
            f"all right [{level}]",
            "near miss",
            f"RS / question [{level}]",
        ],
        rows,
        caption=f"a variant is right when its score ≥ {res.threshold:g}",
    )
    panel.svg(
        interval_plot(
            [f"{r.model} · {r.task}" for _, r in res.table.iterrows()],
            res.table["all_right"],
            res.table["all_right_low"],
            res.table["all_right_high"],
            xlabel=f"share of questions right in every variant ({level} interval)",
        ),
        caption="all variants right",
    )
    for _, r in res.table.iterrows():
        panel.findings.append(
            Finding(
                f"{r.model} on {r.task}: right on every variant of {r.all_right:.0%} of "
                f"questions [{r.all_right_low:.0%}, {r.all_right_high:.0%}] against a "
                f"mean of {fmt(r['mean'])}.",
                0.0,
                "reliability",
            )
        )
    for _, r in res.pairs[res.pairs["p_adjusted"] < alpha].iterrows():
        panel.findings.append(
            Finding.tested(
                f"On {r.task}, {r.model_a} is right on every variant of "
                f"{fmt(r['diff'])} more questions than {r.model_b} "
                f"[{fmt(r.ci_low)}, {fmt(r.ci_high)}], Holm p {fmt_p(r.p_adjusted)}.",
                "reliability",
                r.p_adjusted,
            )
        )
    panel.results["reliability"] = res
    return panel
