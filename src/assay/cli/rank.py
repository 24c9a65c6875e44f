"""`assay rank`, `assay arena` and `assay import battles`: leaderboards with intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer

from assay.errors import InputError
from assay.rank import (
    ARENA_BOOTSTRAP,
    ELO_BOOTSTRAP,
    Fragility,
    Ratings,
    battle_blocks,
    fit_battles,
    fragility,
    rank_sample_groups,
    read_outputs,
    run_tournament,
    store_battles,
    subsample_curve,
)

from ._battle_files import _importing, _rank_file, _stored_battles
from ._common import bounded, console, get_store, print_json, print_table
from ._options import (
    BootstrapOption,
    JsonOption,
    MetricOption,
    SeedOption,
    StoreOption,
    confidence_option,
    split_list,
    with_options,
)
from ._progress import progress_bar

rank_app = typer.Typer(
    help="Leaderboards with confidence intervals and honest ranks.", no_args_is_help=True
)
arena_app = typer.Typer(help="Judge tournaments between models' outputs.", no_args_is_help=True)

METHODS = ("bt", "davidson", "elo")


def _parse_anchor(text: str | None) -> tuple[str, float] | None:
    if not text:
        return None
    model, sep, value = text.rpartition("=")
    try:
        rating = float(value)
    except ValueError:
        return _bad_anchor(text)
    if not sep or not model.strip() or not np.isfinite(rating):
        return _bad_anchor(text)
    return model.strip(), rating


def _bad_anchor(text: str) -> None:
    raise InputError(f"--anchor {text!r}: use MODEL=RATING, e.g. --anchor gpt-4=1000")


def _show(ratings: Ratings, json_out: bool, title: str) -> None:
    if json_out:
        print_json(ratings.to_dict())
        return
    digits = 1 if ratings.scale == "elo" else 3
    level = f"{ratings.confidence_level:.0%}"
    print_table(ratings.table, title=f"{title} ({level} intervals)", digits=digits)
    rounds = ratings.bootstrap.shape[0]
    extra = ", ".join(
        f"{k}={v}" for k, v in ratings.info.items() if isinstance(v, int | float | str)
    )
    console.print(
        f"method {ratings.method}, scale {ratings.scale}, "
        f"{rounds} bootstrap rounds; {extra}. rank = 1 + models surely better; "
        "rank_low..rank_high = ranks the intervals allow."
    )


def _fragility_top(ctx: typer.Context, file: Path | None, on: bool) -> tuple[Path | None, int]:
    """``--fragility [K]``: K is the word after the flag (click has no optional values, so it
    arrives as an extra argument, or as FILE when the flag came first)."""
    extra = list(ctx.args)
    if not extra:
        return file, 1
    word = extra[0]
    if on and len(extra) == 1 and word.isdigit():
        return file, int(word)
    if on and len(extra) == 1 and file is not None and str(file).isdigit():
        return Path(word), int(str(file))
    if on:
        raise InputError(f"unexpected argument {word!r} (--fragility takes one whole number)")
    raise InputError(f"unexpected extra argument {word!r} (rank battles takes one FILE)")


def _show_style(ratings: Ratings) -> None:
    info = ratings.info
    coef, ci = info["style_coefficients"], info["style_intervals"]
    level = f"{ratings.confidence_level:.0%}"
    print_table(
        pd.DataFrame(
            {
                "feature": list(coef),
                "coefficient": list(coef.values()),
                "ci_low": [ci[f][0] for f in coef],
                "ci_high": [ci[f][1] for f in coef],
            }
        ),
        title=f"style coefficients (logit per SD of the normalised difference; {level} intervals)",
        digits=3,
    )
    raw = info["raw_ratings"]
    table = ratings.table[["model", "rating", "rank"]].rename(
        columns={"rating": "controlled", "rank": "controlled_rank"}
    )
    table.insert(1, "raw", [raw[m]["rating"] for m in table["model"]])
    table.insert(2, "raw_rank", [raw[m]["rank"] for m in table["model"]])
    print_table(table, title="raw and style-controlled ratings side by side", digits=1)


def _show_fragility(result: Fragility) -> None:
    who = "the leader" if result.top == 1 else f"the top {result.top}"
    if result.votes is None:
        console.print(
            f"fragility: no set of votes found whose removal changes {who} "
            f"({', '.join(result.before)})",
            highlight=False,
        )
        return
    shown = ", ".join(result.vote_ids[:20]) + (" ..." if len(result.vote_ids) > 20 else "")
    console.print(
        f"fragility: {who} ({', '.join(result.before)}) changes to {', '.join(result.after)} "
        f"if these {result.votes} of {result.n_votes:,} votes are removed (confirmed by "
        f"refitting): {shown}",
        highlight=False,
    )


@rank_app.command(
    "battles", context_settings={"allow_extra_args": True, "ignore_unknown_options": False}
)
@with_options(confidence=confidence_option)
def battles_cmd(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Battles (JSONL/JSON/CSV/Parquet; model_a, model_b, winner) or a count table; "
            "imported into the store. Omit to rank the store's battles."
        ),
    ] = None,
    method: Annotated[str, typer.Option(help="bt, davidson or elo (online, K=4).")] = "bt",
    bootstrap: BootstrapOption = None,  # type: ignore[assignment]  # 1,000 (elo: 100)
    anchor: Annotated[
        str | None, typer.Option(help="MODEL=RATING to pin one model (default: mean 1000).")
    ] = None,
    k: Annotated[
        float,
        typer.Option(
            "--k", help="K factor of online Elo (method elo).", callback=bounded(0, low_open=True)
        ),
    ] = 4.0,
    ci: Annotated[
        str | None,
        typer.Option(
            "--ci",
            help="Intervals: bootstrap (percentile; the default) or sandwich (robust "
            "covariance of the estimate, no resampling).",
        ),
    ] = None,
    style_control: Annotated[
        bool,
        typer.Option(
            "--style-control",
            help="Bradley–Terry with style covariates (length, headers, lists, bold) from "
            "style_a/style_b or answer_a/answer_b, as LMArena does.",
        ),
    ] = False,
    fragility_on: Annotated[
        bool,
        typer.Option(
            "--fragility",
            help="Also find the fewest votes whose removal changes who is ranked first "
            "(--fragility K: the top K), confirmed by refitting.",
        ),
    ] = False,
    seed: SeedOption = 0,
    confidence: float = 0.95,
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Rate models from pairwise battles: Bradley–Terry (Elo scale) with bootstrap intervals.

    A FILE is read, validated and fitted first; its battles go into the store only when all
    of that succeeded (a bad file leaves the store untouched). Intervals: 1,000 bootstrap
    rounds by default (elo: 100); with --bootstrap 0 the bt intervals are Wald intervals;
    --ci sandwich gives robust (sandwich) intervals without resampling."""
    file, top = _fragility_top(ctx, file, fragility_on)
    if method not in METHODS:
        raise InputError(f"--method {method!r}: use one of {', '.join(METHODS)}")
    if fragility_on and method != "bt":
        raise InputError(f"--fragility: method {method!r} is not supported; use bt")
    anchor_pair = _parse_anchor(anchor)
    if bootstrap is None:
        bootstrap = ELO_BOOTSTRAP if method == "elo" else ARENA_BOOTSTRAP

    def rank(battles: pd.DataFrame) -> tuple[Ratings, Fragility | None]:
        rounds = 0 if ci == "sandwich" else bootstrap
        with console.status(f"fitting {method} with {rounds} bootstrap rounds"):
            ratings = fit_battles(
                battles,
                method=method,
                anchor=anchor_pair,
                bootstrap=bootstrap,
                seed=seed,
                k=k,
                confidence=confidence,
                ci=ci,
                style_control=style_control,
            )
        if not fragility_on:
            return ratings, None
        ids = next((battles[c] for c in ("vote_id", "battle_id") if c in battles.columns), None)
        with console.status("finding the fewest votes that change the top"):
            fragile = fragility(
                battles,
                top=top,
                vote_ids=None if ids is None else ids.to_numpy(),
                style_control=style_control,
            )
        return ratings, fragile

    if file is not None:
        blocks = battle_blocks(file, extras=style_control or fragility_on, styles=True)
        ratings, fragile = _rank_file(blocks, file, store, rank, style_control, fragility_on)
    else:
        ratings, fragile = rank(_stored_battles(store, style_control, json_out))
    if json_out:
        print_json({**ratings.to_dict(), **({"fragility": fragile.to_dict()} if fragile else {})})
        return
    _show(ratings, False, f"ratings from {ratings.info.get('n_battles')} battles")
    if style_control:
        _show_style(ratings)
    if fragile is not None:
        _show_fragility(fragile)


@rank_app.command("samples")
@with_options(confidence=confidence_option)
def samples_cmd(
    method: Annotated[
        str,
        typer.Option(
            help="auto (default: irt or pl by the data's design; the JSON's chosen_by says "
            "which and why), pl (Plackett–Luce), irt (Rasch: abilities and item difficulties "
            "jointly; best on sparse 0-1 scores when each model saw a random share of each "
            "task), winrate (HELM mean win rate) or mean."
        ),
    ] = "auto",
    metric: MetricOption = None,
    bootstrap: BootstrapOption = 100,
    seed: SeedOption = 0,
    confidence: float = 0.95,
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Rank models from per-sample results, each model on its own subset (ONEBench / HELM);
    bootstrap rounds resample the samples (--bootstrap 0: no intervals) at --confidence."""
    st = get_store(store, must_exist=True)
    ev = st.evidence()
    with console.status(f"ranking by {method} with {bootstrap} bootstrap rounds"):
        groups, alone = rank_sample_groups(
            ev,
            method=method,
            metric=metric,
            metrics=ev.metrics,
            bootstrap=bootstrap,
            seed=seed,
            confidence=confidence,
        )
    if not groups:
        raise InputError("scores: no two models share a sample; nothing to rank")
    if json_out:
        # the largest group's ratings at the top level, as with one group; every group beside
        print_json(
            {**groups[0].to_dict(), "groups": [g.to_dict() for g in groups], "unranked": alone}
        )
        return
    if len(groups) > 1 or alone:
        console.print(
            f"The models form {len(groups)} group(s) that share no samples with each other: "
            "each group is ranked separately, on its own scale."
            + (
                f" Not ranked (no shared sample with any model): {', '.join(alone)}."
                if alone
                else ""
            ),
            highlight=False,
        )
    for k, ratings in enumerate(groups, start=1):
        label = f"group {k}: " if len(groups) > 1 else ""
        _show(ratings, False, f"{label}ratings from {ratings.info['n_samples']} samples")


@rank_app.command("stability")
def stability_cmd(
    source: Annotated[str, typer.Option(help="battles or samples (from the store).")] = "battles",
    method: Annotated[str | None, typer.Option(help="Ranking method (default bt / pl).")] = None,
    fractions: Annotated[
        str, typer.Option(help="Comma-separated fractions of the data to keep.")
    ] = "0.5,0.25,0.1,0.05",
    repeats: Annotated[
        int, typer.Option(help="Subsamples per fraction.", callback=bounded(1, 10_000))
    ] = 5,
    seed: SeedOption = 0,
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Kendall τ against the full-data ranking as more and more of the data is dropped."""
    if source not in ("battles", "samples"):
        raise InputError(f"--source {source!r}: use battles or samples")
    try:
        fracs = [float(f) for f in split_list(fractions) or []]
    except ValueError:
        raise InputError(f"--fractions {fractions!r}: use numbers like 0.5,0.1") from None
    if not fracs or not all(0 < f <= 1 for f in fracs):
        raise InputError(f"--fractions {fractions!r}: each must be in (0, 1], e.g. 0.5,0.1")
    s = get_store(store, must_exist=True)
    ev = s.evidence() if source == "samples" else None
    data = s.battles() if ev is None else ev.scores
    if data.empty:
        raise InputError(f"the store has no {source}")
    with console.status("ranking subsamples"):
        curve = subsample_curve(
            data,
            fractions=fracs,
            repeats=repeats,
            method=method,
            seed=seed,
            metrics=None if ev is None else ev.metrics,
        )
    if json_out:
        print_json({"curve": curve.to_dict(orient="records")})
    else:
        print_table(curve, title=f"Kendall τ vs the full {source} ranking", digits=3)


@arena_app.command("tournament")
def tournament_cmd(
    outputs: Annotated[
        Path, typer.Argument(help="JSONL/CSV/Parquet with prompt_id, prompt, model, output.")
    ],
    judge: Annotated[str, typer.Option(help="Judge model spec for assay.models.load_model.")],
    mode: Annotated[
        str, typer.Option(help="loglikelihood (compare p(A) and p(B)) or generate.")
    ] = "loglikelihood",
    bootstrap: BootstrapOption = 100,
    seed: SeedOption = 0,
    store: Annotated[
        Path | None,
        typer.Option("--store", help="Also save the judged matches as battles in this store."),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Varco Arena: one seeded single-elimination bracket per prompt, each match judged twice
    with positions swapped, all matches pooled into Bradley–Terry."""
    from assay.models import load_model
    from assay.rank import ModelJudge

    if mode not in ("loglikelihood", "generate"):
        raise InputError(f"--mode {mode!r}: use loglikelihood or generate")
    table = read_outputs(outputs)
    backend = load_model(judge)
    try:
        with progress_bar("judging matches", enabled=not json_out) as update:
            result = run_tournament(
                table,
                ModelJudge(backend, mode=mode),
                seed=seed,
                bootstrap=bootstrap,
                progress=update,
            )
    finally:
        backend.close()
    if store is not None:
        battles = result.battles[["prompt_id", "model_a", "model_b", "winner", "judge"]]
        store_battles(get_store(store), battles, source=f"tournament:{outputs.name}")
    if json_out:
        print_json(result.to_dict())
        return
    _show(result.ratings, False, f"tournament over {result.n_prompts} prompts")
    console.print(
        f"judge calls: {result.judge_calls} (a position-swapped round robin needs "
        f"{result.round_robin_calls}; saved {result.savings:.0%}); the judge's verdict followed "
        f"the answer position in {result.info['position_flips']:.0%} of {len(result.battles)} matches"
    )


def import_battles_cmd(
    file: Annotated[
        Path, typer.Argument(help="Battles (JSONL/JSON/CSV/Parquet) or a count table.")
    ],
    source: Annotated[str | None, typer.Option(help="Label stored with each battle.")] = None,
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Import pairwise battles (Chatbot Arena export or counts) into the store; idempotent.
    The file is read a block at a time in one transaction: a bad line anywhere leaves the
    store as it was."""
    blocks = battle_blocks(file, styles=True)  # the first block is checked before the store
    with (
        progress_bar(f"importing {file.name}", enabled=not json_out, counts=False) as update,
        _importing(store, file) as writer,
    ):
        st_count = writer.con.execute("SELECT count(*) FROM battles").fetchall()[0][0]
        for block in blocks:
            writer.add(block)
            if update is not None:
                update(writer.written)
        count = writer.finish()
        after = writer.con.execute("SELECT count(*) FROM battles").fetchall()[0][0]
    new = after - st_count
    if json_out:
        print_json({"battles": count, "new": new, "present": count - new, "source": str(file)})
    else:
        console.print(
            f"imported {count} battles from {file}: {new} new battles "
            f"({count - new} already in the store)",
            highlight=False,
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    """Add this part's commands to the main app."""
    from .store import import_app

    if not any(c.name == "battles" for c in import_app.registered_commands):
        import_app.command("battles")(import_battles_cmd)
    app.add_typer(rank_app, name="rank")
    app.add_typer(arena_app, name="arena")
