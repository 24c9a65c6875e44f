"""Sharding a run over machines: ``--shard K/N`` keeps the documents whose id hashes to K.

A document's shard is a pure function of its id and N (SHA-256 of the id, modulo N), so it
does not depend on ``--limit``, the batch size, the worker count or the other documents: the
N shards never overlap and their union is the task. The share is about 1/N of the documents
(exactly so only on average). The runner applies it after ``--limit`` has picked the
documents, so ``--limit 100 --shard 2/4`` evaluates shard 2's share of those same 100.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from assay.core import stable_hash
from assay.errors import InputError

__all__ = ["doc_shard", "parse_shard", "shard_documents"]

T = TypeVar("T")


def parse_shard(value: Any, name: str = "shard") -> tuple[int, int] | None:
    """``(k, n)`` from ``"K/N"`` (1-based K, 1 <= K <= N) or a ``(K, N)`` pair; None stays
    None. Anything else is a one-line InputError naming ``name``."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        k_text, sep, n_text = text.partition("/")
        parts = (k_text.strip(), n_text.strip())
        if not sep or not all(p.isascii() and p.isdigit() for p in parts):
            raise InputError(f"{name} {value!r}: use K/N with whole numbers, e.g. 2/8")
        k, n = int(parts[0]), int(parts[1])
    elif isinstance(value, tuple | list) and len(value) == 2:
        k, n = value
        ok = all(isinstance(x, int) and not isinstance(x, bool) for x in (k, n))
        if not ok:
            raise InputError(f"{name} {value!r}: use K/N with whole numbers, e.g. 2/8")
    else:
        raise InputError(f"{name} {value!r}: use K/N with whole numbers, e.g. 2/8")
    if n < 1 or not 1 <= k <= n:
        raise InputError(f"{name} {k}/{n}: K must be between 1 and N (K/N, 1-based)")
    return int(k), int(n)


def doc_shard(doc_id: Any, n: int) -> int:
    """The 1-based shard of ``doc_id`` (compared as text, as the store keeps it) among ``n``."""
    return int(stable_hash(str(doc_id)), 16) % n + 1


def shard_documents(items: Iterable[T], k: int, n: int) -> list[T]:
    """The items (documents or instances: anything with a ``doc_id``) of shard ``k`` of ``n``,
    in their order. All the instances of a document (repeats, orderings) stay together."""
    cache: dict[str, int] = {}
    out = []
    for item in items:
        key = str(item.doc_id)  # type: ignore[attr-defined]
        if key not in cache:
            cache[key] = doc_shard(key, n)
        if cache[key] == k:
            out.append(item)
    return out
