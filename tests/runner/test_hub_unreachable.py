"""A hub id that is neither cached nor reachable fails with one line before any retry loop,
and leaves no store behind."""

from __future__ import annotations

import pytest
from cli_helpers import run_main

from assay.errors import InputError
from assay.models._hf_load import require_hub


@pytest.fixture
def no_hub(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # a closed port: refused at once
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def test_unreachable_hub_is_one_line(no_hub, tmp_path):
    with pytest.raises(InputError, match="not in the local cache and http://127.0.0.1:9 cannot"):
        require_hub("someone/some-model")
    store = tmp_path / "s.duckdb"
    code, out, err = run_main(["eval", "-m", "hf:someone/some-model", "-t", "arith_mc",
                               "--store", str(store)])  # fmt: skip
    assert code == 1 and err.count("\n") == 1 and "cannot be reached" in err
    assert not store.exists()


def test_offline_mode_needs_the_cache(no_hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError, match="HF_HUB_OFFLINE is set"):
        require_hub("someone/some-model")
