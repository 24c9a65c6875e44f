"""Battle files: read and validate arena exports and count tables, aggregate to pair counts."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from assay.errors import InputError
from assay.store import WINNERS, battle_ids, battle_writer

from ._battle_files import _COUNT_COLUMNS, EXTRA_FIELDS, frames

__all__ = [
    "MAX_BATTLES",
    "PairCounts",
    "aggregate_battles",
    "battle_blocks",
    "battle_cells",
    "battle_outcomes",
    "battle_weights",
    "battle_ids",
    "import_battles",
    "read_battles",
    "store_battles",
]

_WINNER_ALIASES = {"tie (bothbad)": "tie_bothbad", "tie(bothbad)": "tie_bothbad"}
#: Most battles one file (or one count table) may hold: the store keeps one row per battle.
MAX_BATTLES = 10_000_000
#: Battles per write to the store (bounds the memory used).
_STORE_CHUNK = 200_000


def _where(path: Path, df: pd.DataFrame, bad: np.ndarray, offset: int) -> str:
    """``FILE: line N`` of the first bad row (``record N`` in a JSON array or Parquet file)."""
    row = int(np.flatnonzero(bad)[0])
    unit = "record" if path.suffix.lower() in (".json", ".parquet") else "line"
    return f"{path}: {unit} {int(df.index[row]) + offset}"


def _first(col: pd.Series, bad: np.ndarray) -> str:
    """The first bad value, as the file wrote it (a plain Python repr, cut at 60 chars)."""
    value = col.to_numpy()[bad][0]
    if isinstance(value, np.generic):
        value = value.item()
    return f"{value!r:.60}"


def _counts_of(path: Path, df: pd.DataFrame, offset: int, before: int = 0) -> pd.DataFrame:
    """Count tables (wide wins_a/wins_b/ties or long winner + count) to one row per
    (row, outcome) with a validated int64 ``count``; zero counts are dropped. No row is
    repeated: the counts stay weights."""
    wide = [c for c in _COUNT_COLUMNS if c in df.columns]
    if wide:
        long = df.melt(
            id_vars=[c for c in df.columns if c not in wide],
            value_vars=wide,
            var_name="_col",
            value_name="count",
            ignore_index=False,
        )
        long["winner"] = long.pop("_col").map(_COUNT_COLUMNS)
        # battles in file order: every outcome of a row together
        df = long.iloc[np.argsort(long.index.to_numpy(), kind="stable")]
    col = df["count"]
    is_bool = col.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
    raw = pd.to_numeric(col.where(~is_bool), errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(raw) | (raw < 0) | (raw != np.floor(raw))
    if bad.any():
        where = _where(path, df, bad, offset)
        if col.isna().to_numpy()[bad][0]:
            raise InputError(f"{where}: field 'count' is empty (give every row a count)")
        raise InputError(
            f"{where}: field 'count' must be a whole number >= 0, got {_first(col, bad)}"
        )
    running = before + np.cumsum(np.minimum(raw, MAX_BATTLES + 1))
    over = running > MAX_BATTLES
    if over.any():
        raise InputError(
            f"{_where(path, df, over, offset)}: the counts add up to more than "
            f"{MAX_BATTLES:,} battles (field 'count' is {_first(col, over)}); split the file"
        )
    df = df.assign(count=raw.astype(np.int64))
    return df[df["count"].to_numpy() > 0]


def _names(path: Path, df: pd.DataFrame, name: str, offset: int) -> np.ndarray:
    """A model-name column as stripped strings; anything else (empty, a number) is an error."""
    col = df[name]
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype(object)
    missing = col.isna().to_numpy()
    if missing.any():
        raise InputError(f"{_where(path, df, missing, offset)}: field {name!r} is empty")
    if pd.api.types.infer_dtype(col, skipna=False) != "string":
        bad = (~col.map(lambda v: isinstance(v, str))).to_numpy(dtype=bool)
        if bad.any():
            raise InputError(
                f"{_where(path, df, bad, offset)}: field {name!r} must be text, "
                f"got {_first(col, bad)}"
            )
    text = col.astype(str).str.strip()
    bad = (text == "").to_numpy()
    if bad.any():
        raise InputError(f"{_where(path, df, bad, offset)}: field {name!r} is empty")
    return text.array  # names: never missing; Arrow-backed text stays compact


def read_battles(path: str | Path, *, extras: bool = False, styles: bool = False) -> pd.DataFrame:
    """Read battles from JSONL/JSON/CSV/Parquet and validate them.

    Rows need ``model_a``, ``model_b`` (text; surrounding spaces are removed) and ``winner``
    in {model_a, model_b, tie, tie (bothbad), tie_bothbad}; optional ``judge``, ``prompt_id``
    (or Chatbot Arena's ``question_id``) and ``time`` (or ``tstamp``, Unix seconds). Count
    tables are accepted too: either a ``count`` column beside ``winner``, or columns
    ``wins_a``, ``wins_b``, ``ties`` (, ``ties_bothbad``); counts are whole numbers adding up
    to at most :data:`MAX_BATTLES`.

    Returns columns model_a, model_b, winner, prompt_id, judge, time: one row per battle, or
    for a count table one row per (row, outcome) with an int64 ``count`` column (the rows are
    not repeated; :func:`aggregate_battles` and :func:`store_battles` honour the counts).
    Errors are one line naming the file, the line and the field. ``extras=True`` adds
    ``vote_id`` (the battle's ``id`` field, else its 1-based line or record number) and the
    fields ``style_a``, ``style_b``, ``answer_a``, ``answer_b`` the file has (for style control
    and fragility; the store keeps the style features of the answers, not their text);
    ``styles=True`` adds only those four fields (what an import stores). The whole file in
    one frame: :func:`battle_blocks` reads it a block at a time."""
    return pd.concat(list(battle_blocks(path, extras=extras, styles=styles)), ignore_index=True)


def battle_blocks(
    path: str | Path, *, extras: bool = False, styles: bool = False
) -> Iterator[pd.DataFrame]:
    """The validated battles of :func:`read_battles`, a block of the file at a time (memory
    holds one block, whatever the file's size); the checks that span the file (the counts'
    total, a file without battles) run across the blocks. The first block is read and checked
    before this returns."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    found, offset = frames(path)
    blocks = _checked(path, found, offset, extras, styles)
    first = next(blocks)
    return itertools.chain([first], blocks)


def _checked(path, found, offset, extras, styles) -> Iterator[pd.DataFrame]:
    counted = None
    total = 0
    for df in found:
        if df.empty:
            continue
        has_counts = "count" in df.columns or any(c in df.columns for c in _COUNT_COLUMNS)
        if counted is None:
            counted = has_counts
        elif has_counts != counted:
            raise InputError(
                f"{_where(path, df, np.ones(len(df), dtype=bool), offset)}: field 'count' "
                f"{'is missing here but given' if counted else 'is given here but not'} on "
                "earlier rows (give every row a count, or none)"
            )
        out = _validated(path, df, offset, counted, total, extras, styles)
        if counted:
            total += int(out["count"].sum())
            if out.empty:
                continue
        yield out
    if counted is None:
        raise InputError(f"{path}: no battles")
    if counted and not total:
        raise InputError(f"{path}: no battles (every count is 0)")


def _validated(path, df, offset, counted, before, extras, styles) -> pd.DataFrame:
    """One block of the file checked and normalised (see :func:`read_battles`); ``before``:
    the battles of the count table's earlier blocks."""
    for name in ("model_a", "model_b"):
        if name not in df.columns:
            raise InputError(
                f"{path}: missing field {name!r} (columns: {', '.join(map(str, df.columns))})"
            )
    if counted:
        if "count" in df.columns and "winner" not in df.columns:
            raise InputError(f"{path}: a 'count' column needs a 'winner' column beside it")
        df = _counts_of(path, df, offset, before)
        if df.empty:
            return df.assign(count=np.zeros(0, dtype=np.int64))
    if "winner" not in df.columns:
        raise InputError(f"{path}: missing field 'winner' (or count columns wins_a, wins_b, ties)")
    model_a = _names(path, df, "model_a", offset)
    model_b = _names(path, df, "model_b", offset)
    raw_winner = df["winner"]
    winner = raw_winner.astype(str).str.strip().replace(_WINNER_ALIASES)
    bad = (~winner.isin(WINNERS) | raw_winner.isna()).to_numpy()
    if bad.any():
        what = (
            "is empty" if raw_winner.isna().to_numpy()[bad][0] else f"is {_first(raw_winner, bad)}"
        )
        raise InputError(
            f"{_where(path, df, bad, offset)}: field 'winner' {what}; "
            "use model_a, model_b, tie or tie (bothbad)"
        )
    same = model_a == model_b
    if same.any():
        raise InputError(
            f"{_where(path, df, same, offset)}: model_a and model_b are the same model "
            f"({model_a[same][0]!r})"
        )
    out = pd.DataFrame({"model_a": model_a, "model_b": model_b, "winner": winner.to_numpy()})
    prompt = next((c for c in ("prompt_id", "question_id") if c in df.columns), None)
    out["prompt_id"] = _text_or_none(path, df, prompt, offset) if prompt else None
    out["judge"] = _text_or_none(path, df, "judge", offset) if "judge" in df.columns else None
    out["time"] = _parse_time(path, df, offset)
    if counted:
        out["count"] = df["count"].to_numpy(dtype=np.int64)
    if extras:
        line = (df.index.to_numpy(dtype=np.int64) + offset).astype(str)
        if "id" in df.columns:
            given = df["id"]
            out["vote_id"] = np.where(given.notna(), given.astype(str), line)
        else:
            out["vote_id"] = line
    if extras or styles:
        for name in EXTRA_FIELDS:
            if name in df.columns:
                out[name] = df[name].to_numpy(dtype=object)
    return out


def _text_or_none(path: Path, df: pd.DataFrame, name: str, offset: int) -> np.ndarray:
    """Strings, with None (not pd.NA) where missing: the store hashes rows with astype(str)."""
    col = df[name]
    if col.dtype == object:
        bad = col.map(lambda v: isinstance(v, list | dict | bool)).to_numpy(dtype=bool)
        if bad.any():
            raise InputError(
                f"{_where(path, df, bad, offset)}: field {name!r} must be text, got {_first(col, bad)}"
            )
    if isinstance(col.dtype, pd.StringDtype):  # text already (the fast reader): kept compact
        return col.array
    return col.astype(str).where(col.notna(), None).to_numpy(dtype=object)


def _parse_time(path: Path, df: pd.DataFrame, offset: int) -> pd.Series | None:
    col = next((c for c in ("time", "tstamp", "timestamp") if c in df.columns), None)
    if col is None:
        return None
    raw = df[col]
    numeric = pd.to_numeric(raw, errors="coerce")
    if numeric.notna().all():
        parsed = pd.to_datetime(numeric, unit="s", errors="coerce")
    else:
        parsed = pd.to_datetime(raw, errors="coerce", utc=True).dt.tz_localize(None)
    bad = (parsed.isna() & raw.notna()).to_numpy()
    if bad.any():
        raise InputError(
            f"{_where(path, df, bad, offset)}: field {col!r} is not a time: {_first(raw, bad)}"
        )
    return parsed.to_numpy()


def battle_weights(battles: pd.DataFrame) -> np.ndarray:
    """Battles per row: the ``count`` column of a count table (validated), else ones."""
    if "count" not in battles.columns:
        return np.ones(len(battles), dtype=np.int64)
    raw = pd.to_numeric(battles["count"], errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(raw) | (raw < 0) | (raw != np.floor(raw))
    if bad.any():
        value = battles["count"].to_numpy()[bad][0]
        raise InputError(f"battles: count {value!r} is not a whole number >= 0")
    if raw.sum() > MAX_BATTLES:
        raise InputError(f"battles: the counts add up to more than {MAX_BATTLES:,} battles")
    return raw.astype(np.int64)


def import_battles(store, path: str | Path, *, source: str | None = None, progress=None) -> int:
    """Read a battle file, with its answers' style fields, into ``store`` (idempotent), a
    block at a time in one transaction (:func:`assay.store.battle_writer`): memory holds a
    block, never the file; a bad line anywhere leaves the store as it was. Returns the votes
    written, calling ``progress(votes so far)`` after each block."""
    blocks = battle_blocks(path, styles=True)  # the first block is checked before the store
    with battle_writer(store, source=source or Path(path).name, path=path) as writer:
        for block in blocks:
            writer.add(block)
            if progress is not None:
                progress(writer.written)
    return writer.written


def store_battles(store, battles: pd.DataFrame, *, source: str | None = None, progress=None) -> int:
    """Add validated battles to ``store`` with their content ids (:func:`assay.store.battle_ids`;
    count tables as one row per battle), written in bounded chunks inside one transaction;
    returns rows written, calling ``progress(done, total)`` after each chunk. ``source`` is kept
    with the rows but is not part of the ids."""
    total = int(battle_weights(battles).sum())
    with battle_writer(store, source=source) as writer:
        for start in range(0, len(battles), _STORE_CHUNK):
            writer.add(battles.iloc[start : start + _STORE_CHUNK])
            if progress is not None:
                progress(writer.written, total)
    return writer.written


@dataclass
class PairCounts:
    """Battles aggregated to unique pairs i < j: counts (P, 3) = (wins i, wins j, ties)."""

    models: list[str]
    pair_i: np.ndarray
    pair_j: np.ndarray
    counts: np.ndarray

    def components(self) -> list[list[str]]:
        """Groups of models connected by battles (one group when the ranking is identified)."""
        k = len(self.models)
        graph = sp.coo_matrix((np.ones(len(self.pair_i)), (self.pair_i, self.pair_j)), shape=(k, k))
        n, label = connected_components(graph, directed=False)
        return [list(np.asarray(self.models)[label == c]) for c in range(n)]

    def require_connected(self, what: str = "battles") -> None:
        """Raise when some models were never compared, directly or through others: their
        relative ratings would be arbitrary."""
        groups = self.components()
        if len(groups) > 1:
            shown = "; ".join(", ".join(g[:4]) + (" ..." if len(g) > 4 else "") for g in groups[:3])
            raise InputError(
                f"{what}: the models form {len(groups)} groups never compared with each other "
                f"({shown}); rank each group separately"
            )

    @property
    def n_battles(self) -> int:
        return int(self.counts.sum())

    def per_model(self) -> np.ndarray:
        """Battles each model took part in."""
        k = len(self.models)
        tot = self.counts.sum(axis=1)
        return (np.bincount(self.pair_i, tot, k) + np.bincount(self.pair_j, tot, k)).astype(
            np.int64
        )


def model_codes(battles: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """Indices of model_a and model_b into the sorted, stripped model names."""
    codes, names = [], []
    for name in ("model_a", "model_b"):
        c, u = pd.factorize(battles[name])
        if (c < 0).any():
            raise InputError(f"battles: row {int(np.argmax(c < 0))} has no {name}")
        stripped = pd.Index(u).astype(str).str.strip()
        if (stripped == "").any():
            raise InputError(f"battles: an empty model name in {name}")
        codes.append(c)
        names.append(stripped)
    uniques = names[0].union(names[1]).unique().sort_values()
    a = uniques.get_indexer(names[0])[codes[0]]
    b = uniques.get_indexer(names[1])[codes[1]]
    return a, b, uniques


def battle_outcomes(
    battles: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Per row: model indices a and b into the sorted model names, the outcome (0: a won,
    1: b won, 2: a tie of either kind) and the weight (``count`` or 1); and the names.
    Vectorised (factorize the few uniques); names compared without surrounding spaces."""
    for name in ("model_a", "model_b", "winner"):
        if name not in battles.columns:
            raise InputError(f"battles: missing column {name!r}")
    if battles.empty:
        raise InputError("battles: no battles to rank")
    weights = battle_weights(battles)
    # factorize each column (fast on categoricals too), then map the few uniques
    w_codes, w_uniques = pd.factorize(battles["winner"])
    w_names = pd.Index(w_uniques).astype(str).str.strip()
    w_names = w_names.map(lambda x: _WINNER_ALIASES.get(x, x))  # a handful of uniques
    w_value = pd.Series({"model_a": 0, "model_b": 1, "tie": 2, "tie_bothbad": 2})
    w_outcome = w_value.reindex(w_names).to_numpy()
    if (w_codes < 0).any() or np.isnan(w_outcome.astype(float)).any():
        bad = "missing" if (w_codes < 0).any() else w_names[np.isnan(w_outcome.astype(float))][0]
        raise InputError(f"battles: winner {bad!r} is not one of {', '.join(WINNERS)}")
    outcome = w_outcome.astype(np.int64)[w_codes]
    a, b, uniques = model_codes(battles)
    if len(uniques) < 2:
        raise InputError("battles: need at least two models")
    if (a == b).any():
        raise InputError(f"battles: row {int(np.argmax(a == b))} has model_a == model_b")
    return a, b, outcome, weights, [str(m) for m in uniques]


def battle_cells(a: np.ndarray, b: np.ndarray, outcome: np.ndarray, k: int) -> np.ndarray:
    """Each battle's cell (lo · K + hi) · 3 + outcome of the unordered pair lo < hi, with the
    outcome seen from lo (a win of b is a win of lo when b = lo; ties stay ties)."""
    swap = a > b
    lo, hi = np.where(swap, b, a), np.where(swap, a, b)
    out = np.where(swap & (outcome < 2), 1 - outcome, outcome)
    return (lo * k + hi) * 3 + out


def aggregate_battles(battles: pd.DataFrame) -> PairCounts:
    """Count wins and ties per unordered pair (vectorised: factorize + bincount), weighting
    each row by its ``count`` when there is one. Names are compared without surrounding
    spaces."""
    a, b, outcome, weights, models = battle_outcomes(battles)
    k = len(models)
    cell = battle_cells(a, b, outcome, k)
    counts = np.bincount(cell, weights=weights, minlength=k * k * 3).reshape(k * k, 3)
    pair = np.flatnonzero(counts.sum(axis=1))
    if pair.size == 0:
        raise InputError("battles: no battles to rank (every count is 0)")
    return PairCounts(
        models=models,
        pair_i=pair // k,
        pair_j=pair % k,
        counts=counts[pair].astype(float),
    )
