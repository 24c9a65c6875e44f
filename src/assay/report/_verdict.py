"""The block the report opens with: the verdict (``assay.stats.verdict``) as sentences, its
caveat, the table of differences (regressions first) and, against a chosen baseline, the
questions that flipped with their prompts and both answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from assay import stats
from assay.core import Settings, fixed, to_jsonable

from ._drilldown import _clip
from ._panel import cell, fmt, fmt_p
from ._reads import ReportReads

#: Flipped questions listed per model and task (negative flips first).
MAX_FLIPPED = 40
FLIPS_TITLE = (
    "Flips: questions the baseline alone got right (negative) / the model alone got right "
    "(positive); only for 0/1 scores asked once"
)
_KIND = {"negative": "baseline right, model wrong", "positive": "model right, baseline wrong"}


@dataclass
class VerdictBlock:
    """What the report's first block shows: ``verdict`` (the :class:`assay.stats.Verdict`),
    ``columns``/``rows`` its table as report cells, and ``flipped`` (a baseline view only):
    per model and task, the questions right for one of the two, by doc_id, with the prompt,
    the target and both answers."""

    verdict: stats.Verdict
    columns: list[str]
    rows: list[list[dict[str, Any]]]
    flipped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def baseline(self) -> str | None:
        return self.verdict.baseline

    def to_dict(self) -> dict[str, Any]:
        return {**self.verdict.to_dict(), "flipped": to_jsonable(self.flipped)}


def _cells(v: stats.Verdict) -> tuple[list[str], list[list[dict[str, Any]]]]:
    """The table of every compared (model, task), regressions first; against a chosen
    baseline there is no "vs" column (the caption names it), and no flips column when no
    pair has flip counts (they need 0/1 scores asked once)."""
    vs = v.baseline is None
    difference = "difference (model − vs)" if vs else "difference (model − baseline)"
    columns = ["model", *(["vs"] if vs else []), "task", "metric", difference]
    flips_known = bool(v.table["baseline_only_right"].notna().any())
    columns += [f"{v.level} interval", "p (adjusted)", "verdict"]
    columns += ["flips −/+", "n"] if flips_known else ["n"]
    rows = []
    for r in v.table.itertuples():
        interval = "" if pd.isna(r.ci_low) else f"[{fixed(r.ci_low, 3)}, {fixed(r.ci_high, 3)}]"
        cls = {"better": "better", "worse": "worse"}.get(r.verdict, "ns")
        neg, pos = r.baseline_only_right, r.model_only_right
        flips = "" if pd.isna(neg) else f"{int(neg)} / {int(pos)}"
        rows.append(
            [
                cell(str(r.model), cls="model"),
                *([cell(str(r.baseline), cls="model", title=str(r.change))] if vs else []),
                cell(str(r.task)),
                cell(str(r.metric)),
                cell("" if pd.isna(r.diff) else fixed(r.diff, 3, sign=True), r.diff, "num"),
                cell(interval, cls="num"),
                cell(fmt_p(r.p_adjusted), r.p_adjusted, "num"),
                cell(str(r.verdict), cls=cls),
                *([cell(flips, cls="num", title=FLIPS_TITLE)] if flips_known else []),
                cell(fmt(int(r.n)) if pd.notna(r.n) else "", r.n, "num"),
            ]
        )
    return columns, rows


def _answers(samples: pd.DataFrame, task: str, metric: str) -> pd.DataFrame:
    """Per (model, doc_id) of ``task``: the prompt and target of its first repeat and every
    repeat's answer marked right (✓) or wrong (✗) on ``metric``, joined by " · "."""
    rows = samples[samples["task"] == task].sort_values("repeat", kind="stable")
    col = f"metric.{metric}"
    score = rows[col] if col in rows else pd.Series(float("nan"), index=rows.index)
    mark = score.map(lambda v: "" if pd.isna(v) else (" ✓" if v > 0.5 else " ✗"))
    rows = rows.assign(_answer=_clip(rows["prediction"]) + mark)
    grouped = rows.groupby(["model", "doc_id"], sort=False)
    return grouped.agg(
        prompt=("prompt", "first"), target=("target", "first"), answer=("_answer", " · ".join)
    )


def _flipped(
    v: stats.Verdict, reads: ReportReads, headline: dict[str, str]
) -> list[dict[str, Any]]:
    """Each model's flipped questions against the baseline, per task on its headline metric
    (``assay.stats.flips``: right = score averaged over repeats above 0.5; 0/1 metrics only),
    baseline-right-model-wrong first, at most :data:`MAX_FLIPPED` of each kind per model and
    task, with every repeat's answer of both; ``reads`` read only the pair's scores and the
    listed questions' answers of a large store."""
    if v.baseline is None or reads.facts.n_samples == 0:
        return []
    out = []
    for pair in v.pairs:
        scores = None
        for task in pair.rows["task"]:
            metric = headline.get(str(task))
            if metric is None or not reads.binary(str(task), metric):
                continue
            if scores is None:
                scores = reads.model_scores([pair.baseline, pair.model])
            res = stats.flips(scores, pair.baseline, pair.model, task=str(task), metric=metric)
            flipped = res.flipped.sort_values(["kind", "doc_id"], kind="stable")
            flipped = flipped.groupby("kind", sort=False).head(MAX_FLIPPED)
            if flipped.empty:
                continue
            rows = reads.answers([pair.baseline, pair.model], str(task), list(flipped["doc_id"]))
            answers = _answers(rows, str(task), metric)
            base = answers.reindex(pd.MultiIndex.from_product([[pair.baseline], flipped["doc_id"]]))
            new = answers.reindex(pd.MultiIndex.from_product([[pair.model], flipped["doc_id"]]))
            prompt = base["prompt"].fillna(new["prompt"].set_axis(base.index))
            target = base["target"].fillna(new["target"].set_axis(base.index))
            docs = pd.DataFrame(
                {
                    "doc_id": flipped["doc_id"].astype(str).to_numpy(),
                    "kind": flipped["kind"].map(lambda k: _KIND.get(str(k), str(k))).to_numpy(),
                    "prompt": _clip(prompt).to_numpy(),
                    "target": _clip(target).to_numpy(),
                    "baseline_answer": base["answer"].fillna("").to_numpy(),
                    "model_answer": new["answer"].fillna("").to_numpy(),
                }
            )
            out.append(
                {
                    "model": pair.model,
                    "baseline": pair.baseline,
                    "task": str(task),
                    "metric": metric,
                    "docs": docs.to_dict(orient="records"),
                }
            )
    return out


def verdict_block(
    comparison: stats.Comparison,
    headline: dict[str, str],
    *,
    reads: ReportReads,
    models: pd.DataFrame,
    runs: pd.DataFrame,
    settings: Settings | None = None,
    baseline: str | None = None,
) -> VerdictBlock:
    """The report's verdict on ``comparison`` (the leaderboard's): each one-change pair of
    models (``models``' parents, ``runs``' few-shot settings) or every model against
    ``baseline``, with the flipped questions of a baseline view."""
    del settings  # the level is the comparison's
    v = stats.verdict(comparison, models=models, runs=runs, baseline=baseline)
    columns, rows = _cells(v)
    return VerdictBlock(v, columns, rows, _flipped(v, reads, headline))
