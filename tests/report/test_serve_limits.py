"""The web app's limits: forwarded headers change no client address."""

from __future__ import annotations

import json
import re

import pytest
import uvicorn
from fastapi.testclient import TestClient

from assay.serve import RateLimit, create_app, run
from assay.store import Store

from .conftest import make_store

LOCAL = "http://127.0.0.1"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("limits") / "small.duckdb"
    make_store(path, n_docs=12, battles=30)
    return path


@pytest.fixture()
def store(small_store, tmp_path):
    path = tmp_path / "s.duckdb"
    path.write_bytes(small_store.read_bytes())
    return path


def _served(app, monkeypatch):
    """The ASGI app uvicorn would run for ``app`` under ``assay serve`` (run() captured)."""
    seen = []

    def capture(server, *args, **kwargs):
        seen.append(server.config)
        server.started = True  # as if it had served

    monkeypatch.setattr(uvicorn.Server, "run", capture)
    run(app)
    (config,) = seen
    config.load()
    return config.loaded_app


def _battle(i):
    return {"model_a": "tiny-10m", "model_b": "xl-30b", "winner": "tie", "prompt_id": f"p{i}"}


def test_forwarded_for_changes_no_bucket(store, monkeypatch):
    app = create_app(store, rate=RateLimit(per_minute=30, burst=3, clock=FakeClock()))
    served = TestClient(_served(app, monkeypatch), base_url=LOCAL, client=("127.0.0.1", 5000))
    codes = [
        served.post(
            "/api/battles", json=_battle(i), headers={"X-Forwarded-For": f"10.0.0.{i}"}
        ).status_code
        for i in range(8)
    ]
    assert codes == [200] * 3 + [429] * 5
    assert len(Store(store).battles()) == 30 + 3
    # what uvicorn does by default (the defect): each spoofed address a fresh bucket
    fresh = create_app(store, rate=RateLimit(per_minute=30, burst=3, clock=FakeClock()))
    default = uvicorn.Config(fresh, log_config=None)
    default.load()
    spoofed = TestClient(default.loaded_app, base_url=LOCAL, client=("127.0.0.1", 5000))
    codes = [
        spoofed.post(
            "/api/battles", json=_battle(100 + i), headers={"X-Forwarded-For": f"10.0.0.{i}"}
        ).status_code
        for i in range(5)
    ]
    assert codes == [200] * 5


def _arena_token(client, headers):
    page = client.get("/arena", headers=headers)
    assert page.status_code == 200
    found = re.search(r'<script[^>]*id="arena-config"[^>]*>(.*?)</script>', page.text, re.S)
    return json.loads(found.group(1))["token"]


def test_forwarded_for_changes_no_loopback_decision(store, monkeypatch):
    app = create_app(store, host="0.0.0.0", port=8765)  # exposed: writes need the token
    token = app.state.assay.token
    served = _served(app, monkeypatch)
    host = {"Host": "127.0.0.1:8765"}
    remote = TestClient(served, base_url=LOCAL, client=("192.0.2.7", 5000))
    for spoof in ("127.0.0.1", "::1", "192.0.2.7, 127.0.0.1"):
        assert _arena_token(remote, {**host, "X-Forwarded-For": spoof}) is None
        r = remote.post("/api/battles", json=_battle(0), headers={**host, "X-Forwarded-For": spoof})
        assert r.status_code == 401
    local = TestClient(served, base_url=LOCAL, client=("127.0.0.1", 5000))
    assert _arena_token(local, {**host, "X-Forwarded-For": "192.0.2.9"}) == token
