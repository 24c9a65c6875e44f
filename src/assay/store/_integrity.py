"""Checking a DuckDB file's block checksums, so a damaged store is refused when it is opened.

DuckDB checks a block's checksum only when it reads the block, and some blocks (index storage)
are read only on a later write: a damaged file could open, answer ``assay store info``, then
fail half-way through an eval. :func:`damaged` reads the file once and compares every block's
stored checksum with DuckDB's (``Checksum`` in duckdb/common/checksum.cpp: 5381 XOR, over the
block's 64-bit words, of word * 0xbf58476d1ce4e5b9). A file whose layout it does not recognise
(headers or first block not matching that checksum, as a future DuckDB format might) is not
judged (None), and neither is an all-zero block: DuckDB's own checks still apply, so a valid
store is never refused for a format this module does not know.

A file found sound is not read again within a process while its size, modification and change
times, inode and device stay the same. A file of :data:`_LARGE_BYTES` or more opened only to read
is not scanned (a gigabyte store takes most of a second): DuckDB checks the checksum of every
block a query reads, so a damaged block a reading command needs is still one line (``corrupt
database file``, turned into one by ``Store.connect``), and one it does not read cannot change
its answer; a write (``Store.transaction``, creating or migrating a store) scans it first,
as every smaller file is scanned when first opened. Nothing is
remembered outside the store file.
"""

from __future__ import annotations

import os
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

_HEADER_PAGE = 4096  # the main header, then two database headers, each one page
_FIRST_BLOCK = 3 * _HEADER_PAGE
_MULTIPLIER = np.uint64(0xBF58476D1CE4E5B9)
_MAX_BYTES = 2 * 1024**3  # larger files are left to DuckDB's own checks (reading takes seconds)
_CHUNK_BLOCKS = 16
_SPLIT_BLOCKS = 64 * _CHUNK_BLOCKS  # files of more blocks are scanned in two halves at once
_LARGE_BYTES = 256 * 1024**2  # files a reading connection leaves to DuckDB's own checks
_verified: set[tuple] = set()


def _checksums(words: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """DuckDB's checksum of each row of 64-bit words (``out``: a scratch array of their shape,
    so a long scan allocates nothing per chunk)."""
    with np.errstate(over="ignore"):
        product = np.multiply(words, _MULTIPLIER, out=out)
        return np.bitwise_xor.reduce(product, axis=-1) ^ np.uint64(5381)


def _database_header(head: bytes) -> tuple[int, int] | None:
    """(block count, block size) from the newer valid database header; None if unrecognised."""
    best = None
    for start in (_HEADER_PAGE, 2 * _HEADER_PAGE):
        page = head[start : start + _HEADER_PAGE]
        if len(page) < _HEADER_PAGE:
            return None
        stored, iteration, _, _, count, size = struct.unpack_from("<6Q", page)
        words = np.frombuffer(page, dtype="<u8")[1:]
        if int(_checksums(words)) != stored:
            continue
        if best is None or iteration > best[0]:
            best = (iteration, count, size)
    if best is None:
        return None
    _, count, size = best
    if size < 16 * 1024 or size > 256 * 1024**2 or size & (size - 1):
        return None  # an older layout without the block size
    return count, size


def damaged(path: Path, *, reading: bool = False) -> str | None:
    """What is wrong with the DuckDB file at ``path`` (a bad block, or it is cut short), or None.

    Call it while holding a DuckDB connection to the file, so no other process is writing it.
    A file already found sound (same size, time and inode) is not read again; with
    ``reading`` (a read-only connection) a large file is not read (see the module docstring).
    """
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (
        str(path.resolve()),
        stat.st_size,
        stat.st_mtime_ns,
        stat.st_ctime_ns,
        stat.st_ino,
        stat.st_dev,
    )
    if key in _verified or stat.st_size > _MAX_BYTES:
        return None
    if reading and stat.st_size >= _LARGE_BYTES:
        return None
    with path.open("rb") as handle:
        layout = _database_header(handle.read(_FIRST_BLOCK))
    if layout is None:
        return None
    count, size = layout
    # DuckDB trims free blocks off the end without lowering the header's count: check the
    # blocks the file holds; one cut short is damage (DuckDB writes whole blocks)
    whole, part = divmod(stat.st_size - _FIRST_BLOCK, size)
    if part and whole < count:
        return f"truncated: it ends {part} bytes into block {whole}"
    count = min(count, whole)
    if count:
        # two halves at once (reads and numpy's arithmetic run outside the GIL): the scan is
        # memory-bound, and this is most of opening a store of a gigabyte or more
        mid = count // 2 if count >= _SPLIT_BLOCKS else count
        spans = [(0, mid), (mid, count)] if mid < count else [(0, count)]
        with ThreadPoolExecutor(len(spans)) as pool:
            found = list(pool.map(lambda span: _first_bad(path, *span, size), spans))
        block = next((b for b in found if b is not None), None)
        if block == 0:
            return None  # the first block does not check out: a layout we do not know
        if block is not None:
            where = _FIRST_BLOCK + block * size
            if _changed(path, stat):
                return None  # written meanwhile (a thread of this process): no verdict
            return f"block {block} (bytes {where}-{where + size}) fails its checksum"
    if not _changed(path, stat):
        _verified.add(key)
    return None


def _first_bad(path: Path, low: int, high: int, size: int) -> int | None:
    """The first block in [low, high) of the file's blocks whose stored checksum (its first
    word) is not DuckDB's checksum of the rest; all-zero blocks (never written: holes) are not
    judged. The blocks are read a chunk at a time into one buffer, so the scan holds a few
    megabytes whatever the file's size (a memory map of the file grew the process by it)."""
    buffer = np.empty((_CHUNK_BLOCKS, size // 8), dtype="<u8")
    scratch = np.empty((_CHUNK_BLOCKS, size // 8 - 1), dtype=np.uint64)
    with path.open("rb", buffering=0) as handle:
        handle.seek(_FIRST_BLOCK + low * size)
        for start in range(low, high, _CHUNK_BLOCKS):
            chunk = buffer[: min(_CHUNK_BLOCKS, high - start)]
            _read_into(handle, memoryview(chunk).cast("B"))
            bad = np.flatnonzero(_checksums(chunk[:, 1:], scratch[: len(chunk)]) != chunk[:, 0])
            bad = bad[chunk[bad].any(axis=1)] if bad.size else bad
            if bad.size:
                return start + int(bad[0])
    return None


def _read_into(handle, view: memoryview) -> None:
    """Fill ``view`` from ``handle``; past the end of the file (cut short meanwhile) with zeros,
    which are not judged (the caller's :func:`_changed` then gives no verdict)."""
    done = 0
    while done < len(view):
        got = handle.readinto(view[done:])
        if not got:
            view[done:] = bytes(len(view) - done)
            return
        done += got


def _changed(path: Path, before: os.stat_result) -> bool:
    try:
        now = path.stat()
    except OSError:
        return True
    return (now.st_size, now.st_mtime_ns, now.st_ctime_ns, now.st_ino) != (
        before.st_size,
        before.st_mtime_ns,
        before.st_ctime_ns,
        before.st_ino,
    )
