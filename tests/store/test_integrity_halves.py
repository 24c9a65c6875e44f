"""A damaged block is found, and named, whether the file is scanned whole or in two halves at
once (large files)."""

from __future__ import annotations

import numpy as np
import pytest

from assay.store import _integrity, open_store


@pytest.mark.parametrize("split", [10**9, 2])
def test_damage_is_found_in_either_half(tmp_path, monkeypatch, split):
    monkeypatch.setattr(_integrity, "_SPLIT_BLOCKS", split)
    store = open_store(tmp_path / "s.duckdb")
    store.add_battles([{"model_a": f"m{k}", "model_b": "b", "winner": "tie"} for k in range(50)])
    real = store.path.read_bytes()
    found = []
    for where in (len(real) // 3, 2 * len(real) // 3):
        path = tmp_path / f"bad{where}.duckdb"
        data = bytearray(real)
        data[where : where + 4096] = np.random.default_rng(1).bytes(4096)
        path.write_bytes(bytes(data))
        found.append(_integrity.damaged(path))
    assert _integrity.damaged(store.path) is None
    hit = [f for f in found if f is not None]
    assert hit and all("fails its checksum" in f for f in hit)
    monkeypatch.setattr(_integrity, "_SPLIT_BLOCKS", 10**9)
    _integrity._verified.clear()
    assert [
        _integrity.damaged(tmp_path / f"bad{w}.duckdb")
        for w in (len(real) // 3, 2 * len(real) // 3)
    ] == found
