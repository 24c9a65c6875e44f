"""Content hashes: one canonical JSON encoding, so equal values hash equally everywhere."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def stable_hash(value: Any, length: int = 16) -> str:
    """SHA-256 of the canonical JSON of ``value`` (sorted keys), as ``length`` hex chars."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]
