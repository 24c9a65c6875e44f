"""The web app's limits: forwarded headers change no client address, other sites' requests
are refused before they spend any bucket, every endpoint is rate-limited, and the report
against a baseline is cached until the store changes."""

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
CROSS = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
LINK = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}


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


ROUTES = [
    "/",
    "/arena",
    "/docs",
    "/healthz",
    "/openapi.json",
    "/api/info",
    "/api/samples?limit=1",
    "/api/arena/pair",
    "/nowhere",
]


@pytest.mark.parametrize(
    "headers",
    [
        CROSS,
        {"Sec-Fetch-Site": "cross-site"},  # <img src>, no-cors: no Origin
        {"Sec-Fetch-Site": "same-site"},  # another port of this host
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {**LINK, "Sec-Fetch-Dest": "iframe"},
    ],
)
def test_cross_site_requests_are_refused_before_any_bucket(store, headers):
    clock = FakeClock()
    app = create_app(
        store,
        rate=RateLimit(per_minute=30, burst=3, clock=clock),
        read_rate=RateLimit(per_minute=60, burst=20, clock=clock),
    )
    client = TestClient(app, base_url=LOCAL)
    before = len(Store(store).battles())
    for path in ROUTES:
        r = client.get(path, headers=headers)
        assert r.status_code == 403 and "cross-origin" in r.json()["detail"], path
    for _ in range(30):
        assert client.get("/api/arena/pair", headers=headers).status_code == 403
        assert client.post("/api/battles", json=_battle(0), headers=headers).status_code == 403
    assert len(Store(store).battles()) == before
    # the visitor's own draws and writes kept their whole buckets
    own = {"Sec-Fetch-Site": "same-origin"}
    assert [client.get("/api/arena/pair", headers=own).status_code for _ in range(4)] == [
        200, 200, 200, 429,
    ]  # fmt: skip
    posts = [
        client.post("/api/battles", json=_battle(i), headers={**own, "Origin": LOCAL})
        for i in range(3)
    ]
    assert [r.status_code for r in posts] == [200] * 3


def test_same_origin_and_direct_requests_pass(store):
    client = TestClient(create_app(store), base_url=LOCAL)
    for headers in (
        {},
        {"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "same-origin", "Origin": LOCAL},
    ):
        for path in ("/arena", "/docs", "/healthz", "/api/info", "/api/arena/pair"):
            assert client.get(path, headers=headers).status_code == 200, (path, headers)
    # a link followed from another site opens a page, never the API
    assert client.get("/arena", headers=LINK).status_code == 200
    assert client.get("/healthz", headers=LINK).status_code == 200
    assert client.get("/api/arena/pair", headers=LINK).status_code == 403
    assert client.post("/api/battles", json=_battle(0), headers=LINK).status_code == 403


@pytest.mark.parametrize(
    "path", ["/api/info", "/api/samples?limit=1", "/docs", "/healthz", "/openapi.json", "/x"]
)
def test_every_endpoint_is_rate_limited(store, path):
    clock = FakeClock()
    app = create_app(store, read_rate=RateLimit(per_minute=60, burst=5, clock=clock))
    client = TestClient(app, base_url=LOCAL)
    codes = [client.get(path).status_code for _ in range(7)]
    assert codes[:5] == [404 if path == "/x" else 200] * 5 and codes[5:] == [429, 429]
    limited = client.get(path)
    assert limited.headers["retry-after"] == "1" and "too many" in limited.json()["detail"]
    assert limited.headers["x-frame-options"] == "DENY"  # still a guarded response
    other = TestClient(app, base_url=LOCAL, client=("192.0.2.9", 4000))  # its own bucket
    assert other.get("/healthz").status_code == 200
    clock.now += 1.0
    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz").status_code == 429
    # writes spend the read budget too (before their own bucket)
    clock.now += 3600
    codes = [client.post("/api/battles", json=_battle(i)).status_code for i in range(6)]
    assert codes == [200] * 5 + [429]


def test_report_against_a_baseline_is_limited_and_cached(store, monkeypatch):
    clock = FakeClock()
    app = create_app(store, baseline_rate=RateLimit(per_minute=6, burst=3, clock=clock))
    client = TestClient(app, base_url=LOCAL)
    state = app.state.assay
    data_cls = type(state.report())
    built = []
    original = data_cls.with_baseline

    def counting(self, store, baseline):
        built.append(baseline)
        return original(self, store, baseline)

    monkeypatch.setattr(data_cls, "with_baseline", counting)
    first = client.get("/", params={"baseline": "tiny-10m"})
    again = client.get("/", params={"baseline": "tiny-10m"})
    assert first.status_code == again.status_code == 200 and built == ["tiny-10m"]
    assert "Every model minus the baseline tiny-10m" in again.text
    limited = client.get("/", params={"baseline": "tiny-10m"})
    assert limited.status_code == 200
    limited = client.get("/", params={"baseline": "tiny-10m"})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "10"
    assert "baseline" in limited.text
    assert client.get("/").status_code == 200  # the plain report has no such bucket
    clock.now += 3600
    # a vote changes the store: the cached report against the baseline is rebuilt
    assert client.post("/api/battles", json=_battle(0)).status_code == 200
    assert client.get("/", params={"baseline": "tiny-10m"}).status_code == 200
    assert built == ["tiny-10m"] * 2
    # bounded: the least recently used baseline goes first
    state.max_baselines = 2
    for name in ("xl-30b", "base-1b", "tiny-10m"):
        state.report(name)
    assert built == ["tiny-10m", "tiny-10m", "xl-30b", "base-1b", "tiny-10m"]
    assert list(state._baselines) == ["base-1b", "tiny-10m"]
    # an unknown baseline is a clear 404, nothing cached
    r = client.get("/", params={"baseline": "gpt-17"})
    assert r.status_code == 404 and "unknown baseline" in r.text
    assert "gpt-17" not in state._baselines
