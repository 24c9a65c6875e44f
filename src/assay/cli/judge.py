"""`assay judge`: LLM judges for generated answers and the checks of their biases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import pandas as pd
import typer

from assay.core import level_label
from assay.errors import InputError
from assay.rank import (
    ModelJudge,
    ModelRater,
    fit_battles,
    judge_agreement,
    judge_pairs,
    judged_from_battles,
    lc_win_rate,
    mean_ratings,
    position_consistency,
    rate_outputs,
    rating_battles,
    read_battles,
    read_outputs,
    self_preference,
    store_judged,
)
from assay.store import Store, read_table

from ._common import bounded, console, get_store, json_or_table, json_printed, print_table
from ._options import (
    RESAMPLING,
    JsonOption,
    Resampling,
    StoreOption,
    resampling_options,
    with_options,
)
from ._progress import progress_bar

T = TypeVar("T")
_Tick = Callable[[int, int], Any] | None
"""``progress(done, total)``: how far a judging run is (None: no bar)."""

judge_app = typer.Typer(
    help="LLM judges for generated answers: pairwise and pointwise verdicts stored as battles, "
    "position swap, length-controlled win rate, self-preference and agreement with humans.",
    no_args_is_help=True,
)

OutputsArgument = Annotated[
    Path, typer.Argument(help="JSONL/CSV/Parquet with prompt_id, prompt, model, output.")
]
JudgeSpecOption = Annotated[
    str, typer.Option("--judge", help="Judge model spec for assay.models.load_model.")
]
JudgeNameOption = Annotated[
    str, typer.Option("--judge", help="Name of the judge whose stored battles to analyse.")
]
ModeOption = Annotated[
    str,
    typer.Option(help="loglikelihood (compare token probabilities) or generate (read the text)."),
]
HumanOption = Annotated[
    str | None,
    typer.Option(
        "--human",
        help="Judge label of the reference votes (default: battles without a judge, or 'human').",
    ),
]


@dataclass(frozen=True)
class _Judging:
    """What a judging run reads: the answers (and their file's name) and the judge model."""

    source: str
    table: pd.DataFrame
    judge: str
    mode: str


def _judging(
    outputs: OutputsArgument, judge: JudgeSpecOption, mode: ModeOption = "loglikelihood"
) -> _Judging:
    """The option group of the commands that run a judge model (:func:`with_options`)."""
    if mode not in ("loglikelihood", "generate"):
        raise InputError(f"--mode {mode!r}: use loglikelihood or generate")
    return _Judging(outputs.name, read_outputs(outputs), judge, mode)


def _with_model(spec: str, label: str, json_out: bool, run: Callable[[Any, _Tick], T]) -> T:
    """``run(backend, progress)`` with the model of ``spec`` loaded and a progress bar labelled
    ``label`` on stderr (a terminal only; hidden with --json) fed by ``progress(done, total)``
    (None without a bar); the model is closed after."""
    from assay.models import load_model

    backend = load_model(spec)
    try:
        with progress_bar(label, enabled=not json_out) as update:
            return run(backend, update)
    finally:
        backend.close()


@dataclass(frozen=True)
class _Stored:
    """What every judge command shares: the store it writes its verdicts to or reads battles
    from, and the interval options of its analyses."""

    store: Path | None
    rs: Resampling

    def open(self) -> Store:
        return get_store(self.store, must_exist=True)

    def battles(self) -> pd.DataFrame:
        return self.open().battles()

    def judged(self, judge: str) -> pd.DataFrame:
        """The stored battles of ``judge`` as judged pairs."""
        return judged_from_battles(self.battles(), judge)

    def save(self, battles: pd.DataFrame, source: str) -> int:
        """Store ``battles`` (the store is created when missing); how many were stored."""
        return store_judged(get_store(self.store), battles, source=source)


@with_options(rs=resampling_options)
def _stored(rs: Resampling = RESAMPLING, store: StoreOption = None) -> _Stored:
    """The option group of every judge command (:func:`with_options`): the interval options,
    then ``--store``."""
    return _Stored(store, rs)


STORED = _Stored(None, RESAMPLING)


def _ratings_of(judged: pd.DataFrame, rs: Resampling) -> dict[str, Any] | None:
    try:
        return fit_battles(judged, method="bt", **rs.kwargs).to_dict()
    except InputError:  # e.g. models never compared with each other
        return None


def _pct(value: float, ci: tuple[float, float], spec: str = ".1%") -> str:
    """``value [low, high]``, each written with the format ``spec``."""
    low, high = ci
    return f"{value:{spec}} [{low:{spec}}, {high:{spec}}]"


def _show_position(result, title: str) -> None:
    console.print(
        f"{title} ({level_label(result.confidence_level)} intervals): {result.n_pairs} pairs "
        "judged in both orders; the verdicts agree in "
        f"{_pct(result.agreement, result.agreement_ci)}; the answer shown first wins "
        f"{_pct(result.first_rate, result.first_ci)} of decisive verdicts (0.5 = no "
        f"position bias, p = {result.pvalue:.3g}); both verdicts chose the same position in "
        f"{result.same_position:.1%}."
    )


def _lc_title(result) -> str:
    return (
        f"win rate against {result.baseline} (raw and length-controlled, "
        f"{level_label(result.confidence_level)} intervals)"
    )


@judge_app.command("pairwise")
@with_options(job=_judging, stored=_stored)
def pairwise_cmd(
    job: _Judging,
    baseline: Annotated[
        str | None,
        typer.Option(help="Judge every model against this one only (AlpacaEval style)."),
    ] = None,
    max_pairs: Annotated[
        int | None,
        typer.Option(help="At most this many pairs per prompt (seeded).", callback=bounded(1)),
    ] = None,
    swap: Annotated[
        bool, typer.Option("--swap/--no-swap", help="Judge each pair in both answer orders.")
    ] = True,
    stored: _Stored = STORED,
    json_out: JsonOption = False,
) -> None:
    """Judge every pair of answers to each prompt with a model (both orders), store the
    verdicts as battles with judge=<model>, and print the position-swap check, Bradley–Terry
    ratings and, with --baseline, the length-controlled win rates."""
    rs = stored.rs
    judged = _with_model(
        job.judge,
        "judging",
        json_out,
        lambda backend, progress: judge_pairs(
            job.table,
            ModelJudge(backend, mode=job.mode),
            baseline=baseline,
            max_pairs=max_pairs,
            swap=swap,
            seed=rs.seed,
            progress=progress,
        ),
    )
    name = str(judged["judge"].iloc[0])
    n_stored = stored.save(judged, job.source)
    position = position_consistency(judged, **rs.kwargs) if swap else None
    lc = lc_win_rate(judged, baseline, **rs.kwargs) if baseline else None
    ratings = _ratings_of(judged, rs)
    out = {
        "judge": name,
        "pairs": len(judged),
        "stored": n_stored,
        "position": position.to_dict() if position else None,
        "lc_win_rate": lc.to_dict() if lc else None,
        "ratings": ratings,
    }
    if json_printed(json_out, out):
        return
    console.print(f"judge {name}: {len(judged)} pairs judged, {n_stored} battles stored")
    if position is not None:
        _show_position(position, "position swap")
    if lc is not None:
        print_table(lc.table, title=_lc_title(lc))
    if ratings is not None:
        print_table(ratings["ratings"], title="Bradley–Terry ratings from the verdicts", digits=1)


@judge_app.command("pointwise")
@with_options(job=_judging, stored=_stored)
def pointwise_cmd(
    job: _Judging,
    stored: _Stored = STORED,
    json_out: JsonOption = False,
) -> None:
    """Rate every answer from 1 to 9 with a model (G-Eval probability-weighted score), print
    the mean rating per model with intervals over prompts, and store the ratings as battles
    (higher rating wins) with judge=<model>."""
    rated = _with_model(
        job.judge,
        "rating",
        json_out,
        lambda backend, progress: rate_outputs(
            job.table, ModelRater(backend, mode=job.mode), progress=progress
        ),
    )
    rs = stored.rs
    summary = mean_ratings(rated, **rs.kwargs)
    battles = rating_battles(rated)
    n_stored = stored.save(battles, job.source) if len(battles) else 0
    json_or_table(
        json_out,
        {**summary.to_dict(), "stored": n_stored},
        summary.table,
        title=f"mean rating by {summary.judge} (1-9, {level_label(rs.confidence)} intervals)",
        note=f"{n_stored} battles stored (per prompt, the higher rating wins)",
    )


@judge_app.command("position")
@with_options(stored=_stored)
def position_cmd(
    judge: JudgeNameOption,
    stored: _Stored = STORED,
    json_out: JsonOption = False,
) -> None:
    """Position-swap check of a judge's stored battles: how often its two verdicts (one per
    answer order) agree, and how often the answer shown first wins."""
    result = position_consistency(stored.judged(judge), **stored.rs.kwargs)
    if not json_printed(json_out, {"judge": judge, **result.to_dict()}):
        _show_position(result, f"judge {judge}")


_LENGTHS = ("len_a", "len_b")
_WIDE_COUNTS = ("wins_a", "wins_b", "ties", "ties_bothbad")  # a count table's columns


def _lengths(file: Path, df: pd.DataFrame) -> np.ndarray:
    """(rows, 2) answer lengths of the raw file: numbers >= 0, else a one-line error naming
    the line and field."""
    out = np.empty((len(df), 2))
    for i, name in enumerate(_LENGTHS):
        if name not in df.columns:
            raise InputError(f"{file}: missing field {name!r} (answer lengths)")
        col = df[name]
        is_bool = col.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
        values = pd.to_numeric(col.where(~is_bool), errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            numbers = df.attrs.get("rows")
            line = numbers[row] if numbers is not None else row + 1
            value = col.iloc[row]
            got = "is empty" if pd.isna(value) else f"must be a length >= 0, got {value!r:.40}"
            raise InputError(
                f"{file}: {df.attrs.get('unit', 'record')} {line}: field {name!r} {got}"
            )
        out[:, i] = values
    return out


def _read_judged(file: Path) -> pd.DataFrame:
    """Judged pairs with their answers' lengths; a count table's lengths go to each of the
    (row, outcome) battles read_battles makes of a row."""
    battles = read_battles(file)
    df = read_table(file)
    lengths = _lengths(file, df)
    if "count" in battles.columns:  # the rows read_battles kept: one per nonzero count
        wide = [c for c in _WIDE_COUNTS if c in df.columns] or ["count"]
        counts = df[wide].apply(pd.to_numeric, errors="coerce").fillna(0).to_numpy()
        lengths = np.repeat(lengths, (counts > 0).sum(axis=1), axis=0)
    if len(lengths) != len(battles):
        raise InputError(f"{file}: the answer lengths do not line up with the battles read")
    battles["len_a"], battles["len_b"] = lengths[:, 0], lengths[:, 1]
    return battles


@judge_app.command("lc-winrate")
@with_options(stored=_stored)
def lc_winrate_cmd(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Judged pairs (model_a, model_b, winner, len_a, len_b, prompt_id); "
            "omit to use the store's battles of --judge."
        ),
    ] = None,
    baseline: Annotated[str, typer.Option(help="The model every other is compared with.")] = "",
    judge: Annotated[str | None, typer.Option(help="Judge name (store battles).")] = None,
    length_scale: Annotated[
        float | None,
        typer.Option(
            help="s in tanh(Δlength / s) (default: sd of Δ).", callback=bounded(0, low_open=True)
        ),
    ] = None,
    stored: _Stored = STORED,
    json_out: JsonOption = False,
) -> None:
    """Length-controlled win rate against --baseline (AlpacaEval-LC): a logistic GLM of the
    outcome on tanh(length difference / s), read at zero difference."""
    if not baseline:
        raise InputError("--baseline is required: the model every other is compared with")
    if file is not None:
        judged = _read_judged(file)
    elif judge is None:
        raise InputError("pass a FILE of judged pairs or --judge NAME for the store's battles")
    else:
        judged = stored.judged(judge)
    result = lc_win_rate(judged, baseline, length_scale=length_scale, **stored.rs.kwargs)
    json_or_table(
        json_out,
        result,
        result.table,
        title=_lc_title(result),
        note=f"length scale s = {result.length_scale:.1f} characters",
    )


@judge_app.command("agreement")
@with_options(stored=_stored)
def agreement_cmd(
    judge: JudgeNameOption,
    votes: Annotated[
        Path | None,
        typer.Option(help="Human votes (a battle file); default: the store's human battles."),
    ] = None,
    human: HumanOption = None,
    stored: _Stored = STORED,
    json_out: JsonOption = False,
) -> None:
    """Cohen's κ between a judge's stored verdicts and human votes on the same prompt and
    model pair, with a bootstrap interval over prompts."""
    battles = stored.battles()
    if votes is not None:
        extra = read_battles(votes)
        extra["judge"] = extra["judge"].where(extra["judge"].notna(), None)
        battles = pd.concat([battles[battles["judge"] == judge], extra], ignore_index=True)
    result = judge_agreement(battles, judge, human=human, **stored.rs.kwargs)
    if json_printed(json_out, result):
        return
    console.print(
        f"judge {judge} vs {result.info['human']}: κ = {_pct(result.kappa, result.ci, '.3f')} "
        f"({level_label(result.confidence_level)} interval) "
        f"(se {result.se:.3f}) on {result.n} matched votes over "
        f"{result.info['n_prompts']} prompts; raw agreement {result.agreement:.1%}, "
        f"chance {result.expected:.1%}"
    )
    print_table(result.table.reset_index(names="judge \\ human"), title="judge (rows) vs human")


@judge_app.command("self-preference")
@with_options(stored=_stored)
def self_preference_cmd(
    judge: JudgeNameOption,
    family: Annotated[
        str | None, typer.Option(help="The judge's family (default: from the models table).")
    ] = None,
    human: HumanOption = None,
    stored: _Stored = STORED,
    json_out: JsonOption = False,
) -> None:
    """Does the judge favour its own model family? Its own-family win rate against the same
    model pairs' win rate in the human votes."""
    st = stored.open()
    models = st.models()
    families = models.set_index("model")["family"] if len(models) else pd.Series(dtype=object)
    result = self_preference(
        st.battles(),
        judge,
        families,
        family=family,
        human=human,
        **stored.rs.kwargs,
    )
    if json_printed(json_out, result):
        return
    console.print(
        f"judge {judge} (family {result.family}): its family wins "
        f"{_pct(result.own_win_rate, result.own_ci)} of {result.n} battles against other "
        f"families; on the same pairs the reference votes give "
        f"{result.reference_win_rate:.1%}; excess {_pct(result.excess, result.excess_ci, '+.1%')} "
        f"({level_label(result.confidence_level)} intervals)"
    )


def register(app: typer.Typer) -> None:
    """Add this part's commands to the main app."""
    app.add_typer(judge_app, name="judge")
