"""Battle files for `assay rank battles FILE` and `assay import battles`: read once, a block at a
time, into the store in one transaction (a store the command created is removed again when it
fails); and the store's battles for `assay rank battles` without a FILE."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from assay.errors import InputError
from assay.rank import CompactBattles, styled_battles
from assay.store import BattleWriter, battle_writer, default_store_path

from ._common import console, get_store

#: Blocks of a file `rank battles FILE` lets wait for the store's writer (a block is at most
#: 100,000 battles, without their answers' text: about 12 MB): the writer lags the reading by
#: the ids it computes and catches up while the fit runs (1.67 million battles, 17 blocks: 7 or
#: 8 wait when the fit starts on an idle machine; more wait on a busy one, up to this many).
RANK_AHEAD = 10


def _stored_battles(store: Path | None, style_control: bool, json_out: bool) -> pd.DataFrame:
    """The store's battles (with ``style_control``, those with style features)."""
    battles = get_store(store, must_exist=True).battles()
    if battles.empty:
        raise InputError("the store has no battles: pass a FILE or run `assay import battles`")
    if not style_control:
        return battles
    styled = styled_battles(battles)  # the stored votes with style features
    if styled.empty:
        raise InputError(
            "--style-control: the stored battles carry no style information; import "
            "a battle file with answer_a/answer_b or style_a/style_b"
        )
    if len(styled) < len(battles) and not json_out:
        console.print(
            f"style control: {len(styled):,} of {len(battles):,} stored battles carry "
            "style features; fitting those",
            highlight=False,
        )
    return styled


def _rank_file(blocks, file: Path, store: Path | None, rank, style_control: bool, ids: bool):
    """``rank(battles)`` of a battle file read once, a block at a time (``blocks``:
    :func:`assay.rank.battle_blocks`): each block is checked,
    kept as codes for the fit (:class:`CompactBattles`: no answer text) and queued for the
    store's writer, which numbers and writes them in one transaction while the file is read and
    then while the fit runs (up to :data:`RANK_AHEAD` blocks it has not written yet wait in
    memory, without their answers' text); committed only when the fit succeeded."""
    compact = CompactBattles(styles=style_control, ids=ids)
    with _importing(store, file, ahead=RANK_AHEAD) as writer:
        with console.status(f"reading {file.name}"):
            for block in blocks:
                compact.add(block)
                writer.add(block.drop(columns=["vote_id"], errors="ignore"))
        result = rank(compact.frame())
        with console.status(f"importing {writer.written:,} battles into the store"):
            writer.finish()
    return result


@contextmanager
def _importing(store: Path | None, file: Path, ahead: int | None = 1) -> Iterator[BattleWriter]:
    """A writer of battles from ``file`` into the store (``ahead``: :class:`BattleWriter`),
    committed when the block ends without an error; a store this created is removed again when
    it fails (nothing is left behind)."""
    target = Path(store) if store is not None else default_store_path()
    existed = target.exists()
    st = get_store(store)
    try:
        with battle_writer(st, source=file.name, path=file, ahead=ahead) as writer:
            yield writer
    except BaseException:
        if not existed:
            for made in (st.path, st.path.with_name(st.path.name + ".wal")):
                made.unlink(missing_ok=True)
        raise
