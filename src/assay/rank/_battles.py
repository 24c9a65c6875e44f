"""Battle files: read and validate arena exports and count tables, aggregate to pair counts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from assay.errors import InputError

__all__ = [
    "PairCounts",
    "aggregate_battles",
    "battle_ids",
    "import_battles",
    "read_battles",
    "store_battles",
]

WINNERS = ("model_a", "model_b", "tie", "tie_bothbad")
_WINNER_ALIASES = {"tie (bothbad)": "tie_bothbad", "tie(bothbad)": "tie_bothbad"}
# wide count tables: column -> winner
_COUNT_COLUMNS = {
    "wins_a": "model_a",
    "wins_b": "model_b",
    "ties": "tie",
    "ties_bothbad": "tie_bothbad",
}
BATTLE_FIELDS = ["model_a", "model_b", "winner", "prompt_id", "judge", "time"]


def _load(path: Path) -> tuple[pd.DataFrame, int]:
    """The file as a DataFrame, and the offset from row index to the file's line number."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".ndjson"):
            return pd.read_json(path, lines=True, dtype=False), 1
        if suffix == ".json":
            data = json.loads(path.read_text())
            if isinstance(data, dict):  # {"battles": [...]}
                data = next((v for v in data.values() if isinstance(v, list)), [])
            return pd.DataFrame(data), 1
        if suffix in (".csv", ".tsv"):
            return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str), 2
        if suffix == ".parquet":
            return pd.read_parquet(path), 1
    except (ValueError, json.JSONDecodeError, pd.errors.ParserError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot parse ({first})") from None
    raise InputError(
        f"{path}: unknown battle file type {suffix!r} (use .jsonl, .json, .csv, .parquet)"
    )


def _where(path: Path, df: pd.DataFrame, bad: np.ndarray, offset: int) -> str:
    """``FILE: line N`` of the first bad row (``record N`` in a JSON array or Parquet file)."""
    row = int(np.flatnonzero(bad)[0])
    unit = "record" if path.suffix.lower() in (".json", ".parquet") else "line"
    return f"{path}: {unit} {int(df.index[row]) + offset}"


def _expand_counts(path: Path, df: pd.DataFrame, offset: int) -> pd.DataFrame:
    """Count tables (wide wins_a/wins_b/ties or long winner + count) to one row per battle."""
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
        df = long
    raw = pd.to_numeric(df["count"], errors="coerce")
    bad = raw.isna() | (raw < 0) | (raw != np.floor(raw))
    if bad.any():
        raise InputError(
            f"{_where(path, df, bad.to_numpy(), offset)}: field 'count' must be a whole number "
            f">= 0, got {df['count'].to_numpy()[bad.to_numpy()][0]!r}"
        )
    reps = raw.to_numpy(dtype=np.int64)
    return df.drop(columns=["count"]).iloc[np.repeat(np.arange(len(df)), reps)]


def read_battles(path: str | Path) -> pd.DataFrame:
    """Read battles from JSONL/JSON/CSV/Parquet and validate them.

    Rows need ``model_a``, ``model_b`` and ``winner`` in {model_a, model_b, tie, tie (bothbad),
    tie_bothbad}; optional ``judge``, ``prompt_id`` (or Chatbot Arena's ``question_id``) and
    ``time`` (or ``tstamp``, Unix seconds). Count tables are accepted too: either a ``count``
    column beside ``winner``, or columns ``wins_a``, ``wins_b``, ``ties`` (, ``ties_bothbad``).
    Returns one row per battle with columns model_a, model_b, winner, prompt_id, judge, time.
    Errors are one line naming the file, the line and the field.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    df, offset = _load(path)
    if df.empty:
        raise InputError(f"{path}: no battles")
    df = df.reset_index(drop=True)
    for name in ("model_a", "model_b"):
        if name not in df.columns:
            raise InputError(
                f"{path}: missing field {name!r} (columns: {', '.join(map(str, df.columns))})"
            )
    if "count" in df.columns or any(c in df.columns for c in _COUNT_COLUMNS):
        if "count" in df.columns and "winner" not in df.columns:
            raise InputError(f"{path}: a 'count' column needs a 'winner' column beside it")
        df = _expand_counts(path, df, offset)
    if "winner" not in df.columns:
        raise InputError(f"{path}: missing field 'winner' (or count columns wins_a, wins_b, ties)")
    for name in ("model_a", "model_b"):
        col = df[name]
        bad = (col.isna() | (col.astype(str).str.strip() == "")).to_numpy()
        if bad.any():
            raise InputError(f"{_where(path, df, bad, offset)}: field {name!r} is empty")
    winner = df["winner"].astype(str).str.strip().replace(_WINNER_ALIASES)
    bad = (~winner.isin(WINNERS)).to_numpy()
    if bad.any():
        raise InputError(
            f"{_where(path, df, bad, offset)}: field 'winner' is {df['winner'].to_numpy()[bad][0]!r}; "
            "use model_a, model_b, tie or tie (bothbad)"
        )
    same = (df["model_a"].astype(str) == df["model_b"].astype(str)).to_numpy()
    if same.any():
        raise InputError(
            f"{_where(path, df, same, offset)}: model_a and model_b are the same model"
        )
    out = pd.DataFrame(
        {
            "model_a": df["model_a"].astype(str).to_numpy(),
            "model_b": df["model_b"].astype(str).to_numpy(),
            "winner": winner.to_numpy(),
        }
    )
    prompt = next((c for c in ("prompt_id", "question_id") if c in df.columns), None)
    out["prompt_id"] = _text_or_none(df[prompt]) if prompt else None
    out["judge"] = _text_or_none(df["judge"]) if "judge" in df.columns else None
    out["time"] = _parse_time(path, df, offset)
    return out


def _text_or_none(col: pd.Series) -> np.ndarray:
    """Strings, with None (not pd.NA) where missing: the store hashes rows with astype(str)."""
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
            f"{_where(path, df, bad, offset)}: field {col!r} is not a time: {raw.to_numpy()[bad][0]!r}"
        )
    return parsed.to_numpy()


def battle_ids(battles: pd.DataFrame) -> np.ndarray:
    """Stable ids: a 64-bit hash of (model_a, model_b, winner, prompt_id, judge, time, source)
    and the row's occurrence number among identical rows, so re-importing is a no-op while two
    identical votes in one file both count. Vectorised (pandas' seeded row hash)."""
    fields = [c for c in (*BATTLE_FIELDS, "source") if c in battles.columns]
    keyed = battles[fields].astype(object).where(battles[fields].notna(), "\x00")
    keyed = keyed.astype(str)
    keyed["_occurrence"] = keyed.groupby(fields, sort=False, dropna=False).cumcount()
    hashed = pd.util.hash_pandas_object(keyed, index=False).to_numpy()
    return np.char.mod("b%016x", hashed)


def import_battles(store, path: str | Path, *, source: str | None = None) -> int:
    """Read a battle file and add it to ``store`` (re-importing the same file is a no-op)."""
    return store_battles(store, read_battles(path), source=source or Path(path).name)


def store_battles(store, battles: pd.DataFrame, *, source: str | None = None) -> int:
    """Add validated battles to ``store`` with :func:`battle_ids`; returns rows written."""
    battles = battles.copy()
    if source is not None:
        battles["source"] = source
    battles["battle_id"] = battle_ids(battles)
    return store.add_battles(battles)


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


def aggregate_battles(battles: pd.DataFrame) -> PairCounts:
    """Count wins and ties per unordered pair (vectorised: factorize + bincount)."""
    for name in ("model_a", "model_b", "winner"):
        if name not in battles.columns:
            raise InputError(f"battles: missing column {name!r}")
    if battles.empty:
        raise InputError("battles: no battles to rank")
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
    a_codes, a_uniques = pd.factorize(battles["model_a"])
    b_codes, b_uniques = pd.factorize(battles["model_b"])
    if (a_codes < 0).any() or (b_codes < 0).any():
        raise InputError("battles: a model name is missing")
    a_names = pd.Index(a_uniques).astype(str)
    b_names = pd.Index(b_uniques).astype(str)
    uniques = a_names.union(b_names).sort_values()
    k = len(uniques)
    if k < 2:
        raise InputError("battles: need at least two models")
    a = uniques.get_indexer(a_names)[a_codes]
    b = uniques.get_indexer(b_names)[b_codes]
    if (a == b).any():
        raise InputError(f"battles: row {int(np.argmax(a == b))} has model_a == model_b")
    swap = a > b
    lo, hi = np.where(swap, b, a), np.where(swap, a, b)
    # swapping sides turns a win of a into a win of b; ties stay ties
    out = np.where(swap & (outcome < 2), 1 - outcome, outcome)
    cell = (lo * k + hi) * 3 + out
    counts = np.bincount(cell, minlength=k * k * 3).reshape(k * k, 3)
    pair = np.flatnonzero(counts.sum(axis=1))
    return PairCounts(
        models=[str(m) for m in uniques],
        pair_i=pair // k,
        pair_j=pair % k,
        counts=counts[pair].astype(float),
    )
