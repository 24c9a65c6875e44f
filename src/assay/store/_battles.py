"""Battle ids and the battle writer: one id per vote, whoever writes it.

A vote is identified by its content: ``model_a``, ``model_b``, ``winner``, ``prompt_id``,
``judge`` and ``extra`` (what a judge recorded with its verdict: its verdicts, ratings, the
kind of judgment; names without surrounding spaces, ``tie (bothbad)`` as ``tie_bothbad``), plus
its occurrence number among identical votes. Where it came from (``source``) and when it was
cast (``time``) are kept with the row but are not part of the id, so the same vote
imported from a file (``assay rank``), posted to ``POST /api/battles`` or given to
:meth:`Store.add_battles` is one row. Identical votes in one batch are different votes
(occurrences 0, 1, ...), so a file of repeated votes counts them all and importing it again is
a no-op. ``POST /api/battles`` writes occurrence 0 (a repeat is refused: 409); an arena vote on
a freshly drawn pair is always a new vote and takes the next free occurrence.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import duckdb
import numpy as np
import pandas as pd

__all__ = ["BATTLES_IN_ORDER", "ID_FIELDS", "battle_chunks", "battle_id", "battle_ids"]

#: The fields that identify a vote (besides its occurrence among identical votes).
ID_FIELDS = ("model_a", "model_b", "winner", "prompt_id", "judge", "extra")
#: meta key recording that the store's assay-written battle ids are content ids.
#: The stored battles in their one order: time order, battles without a time last, the order
#: they were stored in among equal times (a file's line order). Online Elo depends on it; a
#: Parquet export keeps it (a view has no rowid: the scan's row number).
BATTLES_IN_ORDER = (
    "SELECT * EXCLUDE (_stored) FROM (SELECT *, row_number() OVER () AS _stored "
    "FROM battles) ORDER BY time NULLS LAST, _stored"
)
MIGRATION_KEY = "battle_ids"
MIGRATION_VALUE = "content-v1"
#: ids assay wrote: ``b`` + 16 hex (file imports, and now every writer) or 16 hex (older
#: ``Store.add_battles`` and ``assay serve`` ids); anything else was given by a caller.
ASSAY_ID = r"^b?[0-9a-f]{16}$"
_MISSING = "\u2400"  # ␀ (a NUL byte would not survive Arrow-backed strings)
_WINNER_ALIASES = {"tie (bothbad)": "tie_bothbad", "tie(bothbad)": "tie_bothbad"}


def _weights(battles: pd.DataFrame) -> np.ndarray:
    if "count" not in battles.columns:
        return np.ones(len(battles), dtype=np.int64)
    return pd.to_numeric(battles["count"]).to_numpy(dtype=np.int64)


def _text(name: str, col: pd.Series) -> pd.Series:
    """One identifying field as text (missing: ␀), normalised as the importers store them."""
    col = col.astype(object)
    text = col.where(col.notna(), _MISSING).astype(str)
    if name == "extra":  # as the store writes it: JSON text
        col = col.map(lambda v: v if isinstance(v, str) or v is None else _json(v))
        text = col.where(col.notna(), _MISSING).astype(str)
    elif name in ("model_a", "model_b"):
        text = text.str.strip()
    elif name == "winner":
        text = text.str.strip().replace(_WINNER_ALIASES)
    return text


def _keyed(battles: pd.DataFrame) -> pd.DataFrame:
    """The identifying fields as text (missing: ␀), normalised as the importers store them."""
    out = pd.DataFrame(index=battles.index)
    for name in ID_FIELDS:
        out[name] = _text(name, battles[name]) if name in battles.columns else _MISSING
    return out


def _is_text(col: pd.Series) -> bool:
    """Text and missing values only (so distinct values are distinct texts)."""
    return isinstance(col.dtype, pd.StringDtype) or pd.api.types.infer_dtype(col) in (
        "string",
        "empty",
    )


def _coded(battles: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Per row the code of field ``name``'s text (:func:`_text`) among its distinct texts, and
    the hashes of those texts (:func:`_hash`): computed once per distinct value for a text
    column (an arena's millions of votes have few models, winners and judges), per row
    otherwise."""
    if name not in battles.columns:
        return np.zeros(len(battles), dtype=np.int64), _hash(pd.Series([_MISSING], dtype=object))
    col = battles[name]
    if not _is_text(col):
        codes, texts = pd.factorize(_text(name, col).to_numpy(dtype=object))
        return codes, _hash(pd.Series(texts, dtype=object))
    if name == "prompt_id":  # often one per vote: hashed per row, grouped by the hashes
        hashed = _row_hashes(col)
        if hashed is not None:
            codes, distinct = pd.factorize(hashed)
            return codes, distinct
    codes, uniques = pd.factorize(col)
    if name in ("prompt_id", "judge"):
        given = _given_hashes(uniques)
        if given is not None:  # text as given: distinct already
            return codes, given
    texts = _text(name, pd.Series([*np.asarray(uniques, dtype=object), None], dtype=object))
    merged, distinct = pd.factorize(texts.to_numpy(dtype=object))  # " a" and "a": one text
    return merged[codes], _hash(pd.Series(distinct, dtype=object))  # code -1 (missing): last


#: Distinct texts hashed at a time (a file of a million prompts: no Python string for each
#: held at once).
_HASH_BLOCK = 1 << 18


def _row_hashes(col: pd.Series) -> np.ndarray | None:
    """:func:`_hash` of each row's text as given (missing: the marker), a block of rows at a
    time; None when a text is the missing marker itself. Grouping rows by these 64-bit hashes
    instead of by their texts only matters for two texts with the same hash, which then also
    share their vote ids."""
    out = np.empty(len(col), dtype=np.uint64)
    for start in range(0, len(col), _HASH_BLOCK):
        part = col.iloc[start : start + _HASH_BLOCK]
        texts = part.to_numpy(dtype=object, na_value=None)
        blank = part.isna().to_numpy()
        if (texts[~blank] == _MISSING).any():
            return None
        texts = np.where(blank, _MISSING, texts)
        out[start : start + len(texts)] = pd.util.hash_array(texts, categorize=False)
    return out


def _given_hashes(uniques) -> np.ndarray | None:
    """Hashes of distinct texts taken as they are (prompt ids, judges), then of the missing
    text (code -1 picks the last), a block of texts at a time; None when a text is the
    missing marker itself."""
    out = np.empty(len(uniques) + 1, dtype=np.uint64)
    for start in range(0, len(uniques), _HASH_BLOCK):
        texts = np.asarray(uniques[start : start + _HASH_BLOCK], dtype=object)
        if (texts == _MISSING).any():
            return None
        out[start : start + len(texts)] = pd.util.hash_array(texts, categorize=False)
    out[-1] = _hash(pd.Series([_MISSING], dtype=object))[0]
    return out


def _json(value) -> str | None:
    if isinstance(value, float) and np.isnan(value):
        return None
    return json.dumps(value, sort_keys=True, default=str)


def _combine(hashes: list[np.ndarray]) -> np.ndarray:
    """Row hashes from column hashes, as pandas' ``hash_pandas_object`` combines a DataFrame's
    columns (CPython's tuple hash)."""
    mult = np.uint64(1000003)
    out = np.zeros_like(hashes[0]) + np.uint64(0x345678)
    with np.errstate(over="ignore"):
        for i, a in enumerate(hashes):
            inverse = len(hashes) - i
            out ^= a
            out *= mult
            mult += np.uint64(82520 + inverse + inverse)
        out += np.uint64(97531)
    return out


def _hash(text: pd.Series) -> np.ndarray:
    """pandas' hash of each text (as ``hash_pandas_object`` of the column)."""
    return pd.util.hash_array(text.to_numpy(dtype=object), categorize=False)


def _hashes(keyed: pd.DataFrame) -> list[np.ndarray]:
    return [_hash(keyed[c]) for c in ID_FIELDS]


#: the two hex digits of each byte value, as one uint16 (little-endian: first digit low)
_HEX_PAIRS = np.array(
    [ord(f"{v:02x}"[0]) | ord(f"{v:02x}"[1]) << 8 for v in range(256)], dtype="<u2"
)


def _hex_ids(values: np.ndarray, as_arrow: bool = False):
    """``"b%016x" % value`` of each uint64, vectorised: an object array of str, or with
    ``as_arrow`` a pandas Arrow-backed string array (no Python object per id)."""
    values = np.asarray(values, dtype=np.uint64)
    out = np.empty((len(values), 17), dtype=np.uint8)
    out[:, 0] = ord("b")
    big_endian = values.astype(">u8").view(np.uint8).reshape(-1, 8)
    out[:, 1:] = _HEX_PAIRS[big_endian].view(np.uint8).reshape(-1, 16)
    import pyarrow as pa

    offsets = pa.py_buffer(np.arange(0, 17 * len(values) + 1, 17, dtype=np.int32))
    text = pa.Array.from_buffers(pa.string(), len(values), [None, offsets, pa.py_buffer(out)])
    if as_arrow:
        return pd.array(text, dtype=pd.ArrowDtype(pa.string()))
    return text.to_numpy(zero_copy_only=False)


def _keys(hashes: list[np.ndarray], occurrence: np.ndarray) -> np.ndarray:
    """The 64-bit values the ids write in hex."""
    occ = pd.util.hash_pandas_object(pd.Series(occurrence, dtype=np.int64), index=False)
    return _combine([*hashes, occ.to_numpy()])


def _ids(hashes: list[np.ndarray], occurrence: np.ndarray, as_arrow: bool = False):
    return _hex_ids(_keys(hashes, occurrence), as_arrow)


def _parts(battles: pd.DataFrame) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Per row: the field hashes, its battle count and the occurrence number of its first
    battle among identical rows (earlier rows' counts). Each field is hashed once per distinct
    text; rows are grouped by their fields' codes."""
    hashes, group, size = [], np.zeros(len(battles), dtype=np.int64), 1
    for name in ID_FIELDS:
        codes, distinct = _coded(battles, name)
        hashes.append(distinct[codes])
        if size * len(distinct) >= 1 << 62:  # renumber the groups so far: fewer than the rows
            group, size = pd.factorize(group)[0], len(battles)
        group, size = group * len(distinct) + codes, size * len(distinct)
    counts = _weights(battles)
    first = pd.Series(counts).groupby(group).cumsum().to_numpy() - counts
    return hashes, counts, first


def _keys_at(hashes, counts, first, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Row index and id (:func:`_keys`) of battles ``start:stop`` of the expansion (count-table
    rows repeated ``count`` times, in order) without building the expansion."""
    ends = np.cumsum(counts)
    pos = np.arange(start, stop, dtype=np.int64)
    row = np.searchsorted(ends, pos, side="right")
    occurrence = first[row] + pos - (ends[row] - counts[row])
    return row, _keys([h[row] for h in hashes], occurrence)


def _ids_at(hashes, counts, first, start: int, stop: int, as_arrow: bool = False):
    """Row index and id of battles ``start:stop`` of the expansion (:func:`_keys_at`)."""
    row, keys = _keys_at(hashes, counts, first, start, stop)
    return row, _hex_ids(keys, as_arrow)


def battle_ids(battles: pd.DataFrame, *, as_arrow: bool = False):
    """The id of every vote of ``battles`` (columns model_a, model_b, winner, optional
    prompt_id, judge, extra and ``count``): a 64-bit hash of the identifying fields and the vote's
    occurrence number among identical votes of the frame. For a count table, ``count`` ids per
    row, as if the rows were repeated. Vectorised; ``source`` and ``time`` do not enter the
    id (see the module docstring). An object array of str; ``as_arrow=True``: a pandas
    Arrow-backed string array (compact: no Python string per vote)."""
    hashes, counts, first = _parts(battles)
    return _ids_at(hashes, counts, first, 0, int(counts.sum()), as_arrow)[1]


def battle_id(
    model_a: str,
    model_b: str,
    winner: str,
    prompt_id: str | None = None,
    judge: str | None = None,
    extra: str | dict | None = None,
    *,
    occurrence: int = 0,
) -> str:
    """The id of one vote (its ``occurrence``-th copy): :func:`battle_ids` of a one-row frame."""
    row = pd.DataFrame(
        [
            {
                "model_a": model_a,
                "model_b": model_b,
                "winner": winner,
                "prompt_id": prompt_id,
                "judge": judge,
                "extra": extra,
            }
        ]
    )
    return str(_ids(_hashes(_keyed(row)), np.array([occurrence]))[0])


class Occurrences:
    """Battles numbered across the chunks of one import: for each vote's content (the 64-bit
    combination of its fields' hashes) how many battles came before, so a file read a block at
    a time gets the ids :func:`battle_ids` gives the whole file (two different votes whose
    contents share a 64-bit hash, which :func:`battle_ids` tells apart, share the numbering)."""

    def __init__(self) -> None:
        self.keys = np.empty(0, dtype=np.uint64)  # sorted
        self.counts = np.empty(0, dtype=np.int64)

    def first(self, keys: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Per row, the occurrence number of its first battle: the battles of its content in
        earlier chunks and earlier rows of this one; then this chunk's battles are counted."""
        uniq, inverse = np.unique(keys, return_inverse=True)
        pos = np.searchsorted(self.keys, uniq)
        found = pos < len(self.keys)
        found[found] = self.keys[pos[found]] == uniq[found]
        before = np.zeros(len(uniq), dtype=np.int64)
        before[found] = self.counts[pos[found]]
        if len(uniq) == len(keys):  # no content twice in this chunk (an arena export)
            within = np.zeros(len(keys), dtype=np.int64)
        else:
            within = pd.Series(counts).groupby(inverse).cumsum().to_numpy() - counts
        total = np.zeros(len(uniq), dtype=np.int64)
        np.add.at(total, inverse, counts)
        self.counts[pos[found]] += total[found]
        self.keys = np.insert(self.keys, pos[~found], uniq[~found])
        self.counts = np.insert(self.counts, pos[~found], total[~found])
        return before[inverse] + within


def chunk_parts(battles: pd.DataFrame, seen: Occurrences):
    """:func:`_parts` of one chunk of an import, its votes numbered after the chunks ``seen``
    counted already (ids: :func:`_ids_at`)."""
    hashes = [distinct[codes] for codes, distinct in (_coded(battles, n) for n in ID_FIELDS)]
    counts = _weights(battles)
    return hashes, counts, seen.first(_combine(hashes), counts)


def battle_chunks(battles: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    """The votes one row each with its ``battle_id`` (count-table rows expanded), ``size``
    rows at a time."""
    hashes, counts, first = _parts(battles)
    total = int(counts.sum())
    plain = battles.drop(columns=["count"], errors="ignore")
    for start in range(0, total, size):
        row, ids = _ids_at(hashes, counts, first, start, min(total, start + size))
        yield plain.iloc[row].assign(battle_id=ids)


def _each_distinct(col: pd.Series, function) -> np.ndarray | None:
    """``col.map(function)`` as an object array, ``function`` called once per distinct value
    of a text column (missing values kept as they are); None when it leaves every value of a
    text column as it is (a file's checked names: the column is kept, Arrow-backed)."""
    if not _is_text(col):
        return col.map(function).to_numpy(dtype=object)
    codes, uniques = pd.factorize(col)
    given = np.asarray(uniques, dtype=object)
    out = np.asarray([function(v) for v in given], dtype=object)
    if all(a == b for a, b in zip(out, given, strict=True)):
        return None
    out = out[codes] if len(out) else np.empty(len(col), dtype=object)
    missing = codes < 0
    if missing.any():
        out[missing] = col.to_numpy(dtype=object)[missing]
    return out


def _stripped(v):
    return v.strip() if isinstance(v, str) else v


def normalised(df: pd.DataFrame) -> pd.DataFrame:
    """Rows as stored: names without surrounding spaces, winner aliases resolved, and a
    ``battle_id`` from :func:`battle_ids` (of the rows without one) where none was given."""
    df = df.copy()
    for name, function in (
        ("model_a", _stripped),
        ("model_b", _stripped),
        (
            "winner",
            lambda v: _WINNER_ALIASES.get(v.strip(), v.strip()) if isinstance(v, str) else v,
        ),
    ):
        values = _each_distinct(df[name], function)
        if values is not None:
            df[name] = values
    if "battle_id" not in df:
        df["battle_id"] = None
    missing = df["battle_id"].isna().to_numpy()
    if missing.any():
        df.loc[missing, "battle_id"] = battle_ids(
            df.loc[missing].drop(columns="count", errors="ignore")
        )
    return df


_UPDATE = (
    "UPDATE battles AS b SET prompt_id = n.prompt_id, model_a = n.model_a, "
    "model_b = n.model_b, winner = n.winner, judge = n.judge, "
    '"time" = coalesce(b."time", n."time"), source = coalesce(b.source, n.source), '
    "extra = coalesce(b.extra, n.extra), style_a = coalesce(n.style_a, b.style_a), "
    "style_b = coalesce(n.style_b, b.style_b) "
    "FROM ({rows}) n WHERE b.battle_id = n.battle_id AND ({changed})"
)


def upsert(rows: str, changed: str = "TRUE") -> list[str]:
    """The upsert of ``rows`` (a SELECT of battle rows, columns in table order, unique ids) as
    two statements: a vote stored already (``b``) is updated where ``changed`` (a condition on
    it and the new row ``n``), keeping its time, source and extra (missing ones filled in) and
    taking new style features; the other votes are inserted (an anti-join on the ids: the
    table has no index, see :data:`assay.store.BATTLE_COLUMNS`)."""
    return [
        _UPDATE.format(rows=rows, changed=changed),
        f"INSERT INTO battles SELECT * FROM ({rows}) n "
        "WHERE NOT EXISTS (SELECT 1 FROM battles b WHERE b.battle_id = n.battle_id)",
    ]


def next_vote_id(con: duckdb.DuckDBPyConnection, vote: dict, *, again: bool) -> tuple[str, bool]:
    """The id for ``vote`` and whether it is new: occurrence 0 (``again=False``; not new when
    stored already), or the first occurrence not yet stored (``again=True``)."""
    fields = {k: vote.get(k) for k in ID_FIELDS}
    occurrence = 0
    while True:
        vid = battle_id(**fields, occurrence=occurrence)
        taken = con.execute("SELECT 1 FROM battles WHERE battle_id = ?", [vid]).fetchall()
        if not taken:
            return vid, True
        if not again:
            return vid, False
        occurrence += 1


def merged_battles(rows: pd.DataFrame) -> pd.DataFrame:
    """Assay-written battle rows with content ids, duplicates merged.

    Within one ``source`` identical votes are different votes (the old ids counted them); the
    same vote from different sources is one vote. So a vote stored n_s times by source s is
    kept max_s n_s times; each copy keeps the row of the source with most copies (then the
    first source by name), with the earliest ``time`` of the copies it stands for."""
    if rows.empty:
        return rows
    keyed = _keyed(rows)
    content = keyed.groupby(list(ID_FIELDS), sort=False, dropna=False).ngroup().to_numpy()
    source = rows["source"].astype(object).where(rows["source"].notna(), _MISSING).astype(str)
    work = rows.assign(_content=content, _source=source.to_numpy())
    work = work.sort_values(["time", "battle_id"], na_position="last", kind="stable")
    by_source = work.groupby(["_content", "_source"], sort=False)
    work["_k"] = by_source.cumcount().to_numpy()
    work["_n"] = by_source["_k"].transform("size").to_numpy()
    earliest = work.groupby(["_content", "_k"])["time"].transform("min")
    work["time"] = earliest
    work = work.sort_values(
        ["_content", "_k", "_n", "_source"], ascending=[True, True, False, True]
    )
    kept = work.drop_duplicates(["_content", "_k"], keep="first")
    ids = _ids(_hashes(_keyed(kept)), kept["_k"].to_numpy())
    return kept.drop(columns=["_content", "_source", "_k", "_n"]).assign(battle_id=ids)


def migrate_battle_ids(con: duckdb.DuckDBPyConnection, insert) -> int:
    """Give the battles assay wrote under its older id schemes (which hashed the source and
    time, or drew random ids) their content ids and merge the duplicates that left
    (:func:`merged_battles`), in one transaction; rows whose id a caller chose are left alone.
    Runs once per store (a ``meta`` row records it); returns the rows removed."""
    done = con.execute("SELECT value FROM meta WHERE key = ?", [MIGRATION_KEY]).fetchall()
    if done and done[0][0] == MIGRATION_VALUE:
        return 0
    con.execute("BEGIN TRANSACTION")
    try:
        where = "WHERE regexp_full_match(battle_id, ?)"
        old = con.execute(f"SELECT * FROM battles {where}", [ASSAY_ID]).df()
        new = merged_battles(old)
        if set(new["battle_id"]) != set(old["battle_id"]):
            con.execute(f"DELETE FROM battles {where}", [ASSAY_ID])
            insert(con, new)
        con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [MIGRATION_KEY, MIGRATION_VALUE])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(old) - len(new)
