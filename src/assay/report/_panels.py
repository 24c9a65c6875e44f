"""Optional panels: variance, position bias, version flips and arena ratings."""

from __future__ import annotations

from typing import Any

import pandas as pd

from assay import rank, stats
from assay.core import Settings
from assay.errors import AssayError

from ._findings import arena_findings, bias_finding, flip_finding, variance_findings
from ._panel import Panel, cell, fmt, fmt_p, new_panel
from ._plots import interval_plot

#: Votes up to which the arena panel searches the fewest votes that change the leader (the
#: search refits the ratings up to ~100 times; `assay rank battles --fragility` has no limit).
MAX_FRAGILITY_VOTES = 200_000

HIDDEN_VARIANCE_COLUMNS = ["task", "metric", "mean", "sd_levels"]
"""Columns of a variance table the per-task panel leaves out (its caption names the task)."""


def _frame_table(panel: Panel, df: pd.DataFrame, caption: str = "", limit: int = 60) -> None:
    """Render any result DataFrame: numbers formatted, at most ``limit`` rows."""
    df = df.head(limit)
    rows = [
        [
            cell(fmt(v), v, "num")
            if isinstance(v, int | float) and not isinstance(v, bool)
            else cell(str(v))
            for v in row
        ]
        for row in df.itertuples(index=False)
    ]
    panel.table([str(c) for c in df.columns], rows, caption=caption)


def variance_panel(
    scores: pd.DataFrame, headline: dict[str, str], settings: Settings | None = None
) -> Panel:
    panel = new_panel("variance", settings)
    keep = scores["metric"].to_numpy() == scores["task"].map(headline).to_numpy()
    s = scores[keep]
    varied = s.groupby(["task", "model"]).agg(
        templates=("template_id", "nunique"),
        repeats=("repeat", "nunique"),
        runs=("run_id", "nunique"),
    )
    varied = varied[varied.max(axis=1) > 1].groupby(level="task").size()
    if varied.empty:
        panel.note = (
            "Every document was answered once with one template. Run with repeats, several "
            "templates or shuffled choice orders (`assay eval --help`) to see the variance panel."
        )
        return panel
    try:
        for task in varied.index:
            result = stats.variance_decomposition(s[s["task"] == task])
            table = result.table
            shown = table.drop(columns=HIDDEN_VARIANCE_COLUMNS, errors="ignore")
            _frame_table(panel, shown, caption=f"{task} — {headline[task]}")
            panel.results[str(task)] = result
            panel.findings += variance_findings(table)
    except AssayError as exc:  # data an optional panel cannot use never breaks the report
        return panel.fail(exc)
    return panel


def position_bias_panel(
    samples: pd.DataFrame, headline: dict[str, str], settings: Settings | None = None
) -> Panel:
    settings = settings or Settings()
    panel = new_panel("bias", settings)
    if (
        samples.empty
        or "chosen_position" not in samples
        or samples["chosen_position"].notna().sum() == 0
    ):
        panel.note = "No multiple-choice samples with recorded positions."
        return panel
    rows = []
    try:
        mc = samples[samples["chosen_position"].notna() & samples["task"].isin(list(headline))]
        for (task, model), group in mc.groupby(["task", "model"], sort=True):
            metric = headline[str(task)]
            if f"metric.{metric}" not in group or group[f"metric.{metric}"].isna().all():
                continue
            r = stats.position_bias(group, metric=metric, confidence=settings.confidence_level)
            shares = " · ".join(f"{100 * v:.0f}%" for v in r.table["share"])
            by_gold = " · ".join(  # accuracy when the right answer sat at each position
                "–" if pd.isna(v) else fmt(v) for v in r.table["accuracy"]
            )
            sig = r.pvalue < settings.alpha
            rows.append(
                [
                    cell(str(task)),
                    cell(str(model), cls="model"),
                    cell(fmt(r.n), r.n, "num"),
                    cell(shares, cls="num"),
                    cell(by_gold, cls="num"),
                    cell(f"{r.chi2:.2f} ({r.df})", r.chi2, "num"),
                    cell(fmt_p(r.pvalue), r.pvalue, "num " + ("worse" if sig else "")),
                    cell(
                        f"{fmt(r.permutation_accuracy)} ± {fmt(r.permutation_stderr)}",
                        r.permutation_accuracy,
                        "num",
                    ),
                ]
            )
            panel.results[f"{model}/{task}"] = r
            panel.findings.append(bias_finding(r, str(model), str(task)))
    except AssayError as exc:
        return panel.fail(exc)
    if rows:
        panel.table(
            [
                "task",
                "model",
                "n",
                "chosen share by position",
                "acc by right-answer position",
                "χ² (df)",
                "p",
                "corrected acc ± SE",
            ],
            rows,
            table_id="position-bias",
        )
    else:
        panel.note = "No multiple-choice samples with a headline metric."
    return panel


def flips_panel(
    scores: pd.DataFrame,
    models: pd.DataFrame,
    headline: dict[str, str],
    settings: Settings | None = None,
) -> Panel:
    """Per model with a parent in the store, per shared task: flips with Wilson intervals at
    the ``settings``' level (``assay.stats.flips``)."""
    settings = settings or Settings()
    level = settings.label
    panel = new_panel("flips", settings)
    present = set(scores["model"].astype(str))
    if models.empty or "parent" not in models:
        pairs = pd.DataFrame(columns=["model", "parent"])
    else:
        pairs = models[models["parent"].notna()][["model", "parent"]]
        pairs = pairs[pairs["model"].isin(present) & pairs["parent"].isin(present)]
    if pairs.empty:
        panel.note = (
            "No model in the store names a parent with scores. Set a `parent` column with "
            "`assay models set-meta FILE` to compare versions."
        )
        return panel
    rows = []
    try:
        for new, old in pairs.itertuples(index=False):
            both = scores[scores["model"].isin([new, old])]
            for task in sorted(set(both.loc[both["model"] == new, "task"])):
                if not (both.loc[both["model"] == old, "task"] == task).any():
                    continue
                result = stats.flips(
                    scores,
                    old,
                    new,
                    task=task,
                    metric=headline[task],
                    confidence=settings.confidence_level,
                )
                r = result.table[result.table["task"] == task].iloc[0]
                panel.findings.append(flip_finding(r, str(old), str(new), str(task), level))
                docs = [str(d) for d in result.flipped_doc_ids]
                rows.append(
                    [
                        cell(f"{old} → {new}", cls="model"),
                        cell(str(task)),
                        cell(fmt(int(r["n"])), int(r["n"]), "num"),
                        cell(f"{fmt(r['old_acc'])} → {fmt(r['new_acc'])}", cls="num"),
                        cell(fmt(int(r["negative_flips"])), int(r["negative_flips"]), "num"),
                        cell(_rate(r, "nfr"), r["nfr"], "num"),
                        cell(_rate(r, "pfr"), r["pfr"], "num"),
                        cell(_rate(r, "nfi"), r["nfi"], "num"),
                        cell(
                            ", ".join(docs[:8])
                            + (f" … (+{len(docs) - 8})" if len(docs) > 8 else "")
                        ),
                    ]
                )
                panel.results[f"{old}->{new}/{task}"] = result
    except AssayError as exc:
        return panel.fail(exc)
    if rows:
        panel.table(
            [
                "old → new",
                "task",
                "n",
                "accuracy",
                "negative flips",
                f"NFR [{level} CI]",
                f"PFR [{level} CI]",
                f"NFI [{level} CI]",
                "negatively flipped documents",
            ],
            rows,
            table_id="flips",
        )
    if not panel.items:
        panel.note = "Parents and children share no task."
    return panel


def _rate(row: Any, name: str) -> str:
    """A rate with its Wilson interval: 0.083 [0.046, 0.147]."""
    return f"{fmt(row[name])} [{fmt(row[name + '_low'])}, {fmt(row[name + '_high'])}]"


METHOD_NAMES = {"bt": "Bradley–Terry", "davidson": "Davidson (ties)", "elo": "Online Elo"}


def arena_panel(
    battles: pd.DataFrame,
    settings: Settings | None = None,
    *,
    method: str = "bt",
    anchor: tuple[str, float] | None = None,
    bootstrap: int | None = None,
) -> Panel:
    """Ratings per connected group of models (``results["groups"]``: a list of
    :class:`assay.rank.Ratings`, largest first; ``results["ratings"]`` the largest) and
    win/tie/loss counts (``results["counts"]``) of the stored battles, at the ``settings``'
    level and seed with ``bootstrap`` rounds (default ``settings.resamples``), as
    ``assay rank battles`` fits them."""
    settings = settings or Settings()
    level, seed = settings.label, settings.seed
    bootstrap = settings.resamples if bootstrap is None else bootstrap
    scale = f"{anchor[0]} pinned at {anchor[1]:g}" if anchor else "each group has mean 1000"
    panel = new_panel(
        "arena",
        settings,
        bootstrap=f"{bootstrap:,}",
        method=METHOD_NAMES.get(method, method),
        scale=scale,
    )
    if battles.empty:
        panel.note = (
            "No battles in the store. Vote in `assay serve` (the Arena page) or import votes "
            "with `assay rank battles FILE`."
        )
        return panel
    try:
        groups = rank.arena_groups(
            battles,
            method=method,
            anchor=anchor,
            bootstrap=bootstrap,
            seed=seed,
            confidence=settings.confidence_level,
        )
    except AssayError as exc:
        groups = []
        panel.note = f"Could not fit ratings: {type(exc).__name__}: {exc}"
    if len(groups) > 1:
        panel.text(
            f"The votes form {len(groups)} groups of models never compared with each other, "
            "directly or through others; each group is rated separately, on its own scale "
            "(ratings of different groups cannot be compared)."
        )
    for number, ratings in enumerate(groups, start=1):
        _ratings_table(panel, ratings, level, number if len(groups) > 1 else 0)
        if ratings.info.get("note"):  # too few votes: which intervals are unbounded, in words
            panel.text(f"{str(ratings.info['note'])[:1].upper()}{str(ratings.info['note'])[1:]}.")
    if groups:
        panel.results["ratings"] = groups[0]
        panel.results["groups"] = groups
        panel.findings = arena_findings(groups, level)
        if method == "bt":
            _fragility_line(panel, battles, groups[0])
    counts = rank.battle_counts(battles)
    rows = [
        [
            cell(str(r.model), cls="model"),
            cell(fmt(int(r.battles)), int(r.battles), "num"),
            cell(fmt(int(r.wins)), int(r.wins), "num"),
            cell(fmt(int(r.ties)), int(r.ties), "num"),
            cell(fmt(int(r.losses)), int(r.losses), "num"),
            cell(fmt(r.win_rate), r.win_rate, "num"),
        ]
        for r in counts.itertuples(index=False)
    ]
    panel.table(
        ["model", "battles", "wins", "ties", "losses", "win rate (ties ½)"],
        rows,
        caption=f"{len(battles):,} votes",
        table_id="arena-counts",
    )
    panel.results["counts"] = counts
    return panel


def _ratings_table(panel: Panel, ratings: rank.Ratings, level: str, number: int) -> None:
    """One group's ratings table (id ``arena-ratings``, then ``arena-ratings-2``, ...) and
    its interval plot."""
    t = ratings.table
    rows = [
        [
            cell(f"{int(r.rank)}" + (f" ({int(r.rank_low)}–{int(r.rank_high)})")),
            cell(str(r.model), cls="model"),
            cell(f"{r.rating:.0f}", r.rating, "num strong"),
            cell(f"{r.ci_low:.0f} – {r.ci_high:.0f}", cls="num"),
            cell(fmt(int(r.n)), int(r.n), "num"),
        ]
        for r in t.itertuples(index=False)
    ]
    votes = int(ratings.info.get("n_battles", 0))
    caption = f"group {number}: " if number else ""
    panel.table(
        ["rank (range)", "model", "rating", f"{level} CI", "battles"],
        rows,
        caption=f"{caption}{len(t)} models, {votes:,} vote{'s' if votes != 1 else ''}",
        table_id="arena-ratings" + (f"-{number}" if number > 1 else ""),
        row_keys=list(t["model"].astype(str)),
    )
    panel.svg(
        interval_plot(
            list(t["model"].astype(str)),
            t["rating"],
            t["ci_low"],
            t["ci_high"],
            xlabel=f"{METHOD_NAMES.get(ratings.method, ratings.method)} rating "
            f"(Elo scale, {level} CI)",
            highlight=[i == 0 for i in range(len(t))],
            title=f"group {number}" if number else None,
        )
    )


def _fragility_line(panel: Panel, battles: pd.DataFrame, ratings: rank.Ratings) -> None:
    """How fragile the leader is (``assay rank battles --fragility``): the fewest votes whose
    removal changes who is ranked first in the largest group, confirmed by refitting."""
    group = set(ratings.models)
    mine = battles[battles["model_a"].astype(str).str.strip().isin(group)]
    if len(group) < 2 or mine.empty:
        return
    if len(mine) > MAX_FRAGILITY_VOTES:  # each refit costs a pass over the votes
        panel.text(
            f"How fragile the leader is was not searched: {len(mine):,} votes is more than the "
            f"report's limit of {MAX_FRAGILITY_VOTES:,}; run `assay rank battles --fragility`."
        )
        return
    ids = mine["battle_id"].to_numpy() if "battle_id" in mine.columns else None
    try:
        result = rank.fragility(mine, top=1, vote_ids=ids)
    except (AssayError, ValueError, ArithmeticError):  # too few votes to search: no line
        return
    panel.results["fragility"] = result
    leader = ", ".join(result.before)
    if result.votes is None:
        panel.text(
            f"No set of votes was found whose removal changes the leader ({leader}) "
            f"among {result.n_votes:,} votes."
        )
        return
    shown = ", ".join(result.vote_ids[:10]) + (" ..." if len(result.vote_ids) > 10 else "")
    panel.text(
        f"The leader ({leader}) changes to {', '.join(result.after)} if these {result.votes} "
        f"of {result.n_votes:,} votes are removed (confirmed by refitting): {shown}."
    )


def arena_sentence(ratings: rank.Ratings | None) -> str:
    """The summary of a store with votes but no scores: the highest-rated model."""
    if ratings is None:
        return "The store holds arena votes but no benchmark scores."
    t = ratings.table
    top = t.loc[t["rating"].idxmax()]
    return (
        f"From {int(t['n'].sum()) // 2:,} arena votes, {top['model']} rates highest: "
        f"{top['rating']:.0f} ({ratings.confidence_level:.0%} CI {top['ci_low']:.0f} to "
        f"{top['ci_high']:.0f})."
    )
