"""Resource limits: how much a template, an archive or a task document may make assay hold.

Each limit has a default and is raised (or lowered) by one environment variable,
``ASSAY_MAX_<NAME>`` (docs/security.md lists them). Going past one is one
:class:`~assay.errors.InputError` line naming the limit and that variable.
"""

from __future__ import annotations

import os

from assay.errors import InputError

LIMITS: dict[str, tuple[int, str]] = {
    "TEMPLATE_OUTPUT": (10_000_000, "characters a template may build or print in one rendering"),
    "TEMPLATE_LOOPS": (1_000_000, "loop iterations in one template rendering"),
    "DECOMPRESSED_BYTES": (512 * 2**20, "bytes read out of one compressed archive"),
    "COMPRESSION_RATIO": (200, "times its compressed size a compressed member may expand"),
    "DOCUMENT_CHARS": (4_000_000, "characters of text in one task document"),
    "IMPORT_MEMORY": (256 * 2**20, "bytes DuckDB may hold while one import writes"),
    "JSON_VALUE_CHARS": (
        64 * 2**20,
        "characters of one JSON value an import holds (a results file, an lm-eval line, one sample)",
    ),
}
"""NAME -> (default, what it counts)."""


def limit(name: str) -> int:
    """The limit ``name`` (a key of :data:`LIMITS`): ``ASSAY_MAX_<NAME>`` when set, else its
    default. A value that is not a positive whole number is an InputError."""
    default, _ = LIMITS[name]
    raw = os.environ.get(f"ASSAY_MAX_{name}")
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise InputError(f"ASSAY_MAX_{name}={raw!r}: must be a positive whole number")
    return value


def limit_message(what: str, name: str) -> str:
    """``what`` (the thing that went past it) with the limit's value and how to raise it."""
    return (
        f"{what}: too large, over the limit of {limit(name):,} {LIMITS[name][1]} "
        f"(raise it with the environment variable ASSAY_MAX_{name})"
    )


class ReadBudget:
    """The bytes one archive may still expand to (``ASSAY_MAX_DECOMPRESSED_BYTES`` for all its
    members together); each member also may not expand past ``ASSAY_MAX_COMPRESSION_RATIO``
    times its compressed size."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.left = limit("DECOMPRESSED_BYTES")

    def read(self, stream, compressed_size: int, member: str = "") -> bytes:
        """Everything ``stream`` (a decompressing file object) yields, counting the bytes
        actually read, never the size an archive header claims; past either limit an
        InputError before more is read."""
        where = f"{self.where}: {member}" if member else self.where
        ratio_cap = limit("COMPRESSION_RATIO") * max(compressed_size, 1) + 2**20
        cap = min(self.left, ratio_cap)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = stream.read(min(2**20, cap + 1 - total))
            if not chunk:
                break
            total += len(chunk)
            if total > cap:
                name = "DECOMPRESSED_BYTES" if cap == self.left else "COMPRESSION_RATIO"
                what = f"{where}: expands past {cap:,} bytes"
                raise InputError(limit_message(what, name))
            chunks.append(chunk)
        self.left -= total
        return b"".join(chunks)
