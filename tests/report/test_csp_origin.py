"""The stand-alone report carries a strict Content-Security-Policy (its own inline script and
style by SHA-256, nothing else runs); the live app refuses writes from other sites' pages and
rate-limits pair draws like votes."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from assay.report import render_report
from assay.serve import RateLimit, create_app
from assay.store import Store

LOCAL = "http://127.0.0.1"
BATTLE = {"model_a": "tiny-10m", "model_b": "xl-30b", "winner": "model_a"}


class _Inline(HTMLParser):
    """The text of every executable inline <script> and every <style>, as a browser hashes it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._into: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("type") != "application/json" and "src" not in attrs:
            self._into = self.scripts
        elif tag == "style":
            self._into = self.styles
        else:
            return
        self._into.append("")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._into = None

    def handle_data(self, data):
        if self._into is not None:
            self._into[-1] += data


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _policy(html: str) -> dict[str, list[str]]:
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', html)
    assert meta, "no CSP meta"
    assert meta.start() < html.index("<script") and meta.start() < html.index("<style")
    directives = [d.split() for d in meta.group(1).split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


def test_static_report_csp_allows_exactly_its_own_inline_script_and_style(report_data):
    html = render_report(report_data, max_docs=50)
    policy = _policy(html)
    inline = _Inline()
    inline.feed(html)
    assert inline.scripts and inline.styles  # the drill-down script, the stylesheet
    assert policy["default-src"] == ["'none'"]
    assert sorted(policy["script-src"]) == sorted({_hash(s) for s in inline.scripts})
    assert sorted(policy["style-src"]) == sorted({_hash(s) for s in inline.styles})
    assert policy["img-src"] == ["data:"] and policy["base-uri"] == ["'none'"]
    sources = [s for d, values in policy.items() if d != "style-src-attr" for s in values]
    assert not any(s in ("'unsafe-inline'", "'unsafe-eval'", "*") for s in sources)
    assert not any(re.match(r"^[a-z-]+:|//|\.", s) for s in sources if s != "data:")
    # a script injected into the page (not among the hashed ones) would not match any hash
    assert _hash("alert(1)") not in policy["script-src"]
    # served live, the page keeps the server's nonce policy (a header) and has no meta
    live = render_report(report_data, live=True, nonce="abc")
    assert 'http-equiv="Content-Security-Policy"' not in live and 'nonce="abc"' in live


@pytest.fixture()
def app_store(plain_store_path, tmp_path):
    path = tmp_path / "app.duckdb"
    shutil.copy(plain_store_path, path)
    return path


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "http://127.0.0.1:9999", "http://localhost.evil"]
)
def test_writes_from_a_foreign_origin_are_refused(app_store, origin):
    client = TestClient(create_app(app_store, seed=1), base_url=LOCAL)
    before = len(Store(app_store).battles())
    r = client.post("/api/battles", json=BATTLE, headers={"Origin": origin})
    assert r.status_code == 403 and "cross-origin" in r.json()["detail"]
    pair = client.get("/api/arena/pair").json()
    vote = {"pair_id": pair["pair_id"], "winner": "model_a"}
    assert client.post("/api/arena/vote", json=vote, headers={"Origin": origin}).status_code == 403
    assert len(Store(app_store).battles()) == before
    # the app's own pages (and clients that send no Origin) still write
    mine = client.post("/api/arena/vote", json=vote, headers={"Origin": LOCAL})
    assert mine.status_code == 200
    assert client.post("/api/battles", json=BATTLE, headers={"Origin": LOCAL}).status_code == 200
    other = {**BATTLE, "prompt_id": "another prompt"}  # the same vote again would be a 409
    assert client.post("/api/battles", json=other).status_code == 200
    assert len(Store(app_store).battles()) == before + 3


class FakeClock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_pair_draws_are_rate_limited(app_store):
    clock = FakeClock()
    app = create_app(app_store, rate=RateLimit(per_minute=30, burst=3, clock=clock))
    client = TestClient(app, base_url=LOCAL)
    codes = [client.get("/api/arena/pair").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    limited = client.get("/api/arena/pair")
    assert limited.headers["retry-after"] == "2" and "pair draws" in limited.json()["detail"]
    clock.now += 2.0
    assert client.get("/api/arena/pair").status_code == 200
    # draws have their own bucket: votes are not used up by drawing
    assert client.post("/api/battles", json=BATTLE).status_code == 200
