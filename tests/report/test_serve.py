"""The web app: arena voting stores battles, token guard, clear errors, API fuzzed."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from assay.serve import RateLimit, create_app
from assay.store import Store

from .conftest import MODELS, make_store

LOCAL = "http://127.0.0.1"  # the app answers loopback Host headers only (not "testserver")


@pytest.fixture()
def vote_store(plain_store_path, tmp_path):
    path = tmp_path / "votes.duckdb"
    shutil.copy(plain_store_path, path)
    return path


def test_vote_stores_a_human_battle_and_reveals_names(vote_store):
    client = TestClient(create_app(vote_store, token="s3cret", seed=1), base_url=LOCAL)
    before = len(Store(vote_store).battles())
    pair = client.get("/api/arena/pair", params={"task": "facts"}).json()
    assert set(pair) == {"pair_id", "task", "doc_id", "prompt", "answer_a", "answer_b"}
    assert pair["task"] == "facts" and not any(m in str(pair) for m in MODELS)
    vote = {"pair_id": pair["pair_id"], "winner": "model_b"}
    assert client.post("/api/arena/vote", json=vote).status_code == 401
    bad = client.post("/api/arena/vote", json=vote, headers={"X-Assay-Token": "wrong"})
    assert bad.status_code == 401
    ok = client.post("/api/arena/vote", json=vote, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    revealed = ok.json()
    battles = Store(vote_store).battles()
    assert len(battles) == before + 1
    stored = battles.set_index("battle_id").loc[revealed["battle_id"]]
    assert stored["judge"] == "human" and stored["winner"] == "model_b"
    assert {stored["model_a"], stored["model_b"]} <= set(MODELS)
    assert (
        stored["model_a"] == revealed["model_a"]
        and stored["prompt_id"] == f"facts/{pair['doc_id']}"
    )
    # the answers shown were those models' stored answers to that document
    samples = Store(vote_store).samples(task="facts").set_index(["model", "doc_id"])
    assert samples.at[(revealed["model_a"], pair["doc_id"]), "prediction"] == pair["answer_a"]
    # one vote per pair; the leaderboard counts it
    again = client.post("/api/arena/vote", json=vote, headers={"X-Assay-Token": "s3cret"})
    assert again.status_code == 404 and "already voted" in again.json()["detail"]
    assert client.get("/api/ratings").json()["battles"] == before + 1


def test_errors_are_clear(vote_store, tmp_path):
    client = TestClient(create_app(vote_store), base_url=LOCAL)
    r = client.get("/api/samples", params={"model": "gpt-17"})
    assert r.status_code == 404 and "unknown model 'gpt-17'" in r.json()["detail"]
    r = client.post("/api/arena/vote", json={"pair_id": "abcdefgh", "winner": "A"})
    assert r.status_code == 422
    r = client.post(
        "/api/battles", json={"model_a": "tiny-10m", "model_b": "nope", "winner": "tie"}
    )
    assert r.status_code == 404
    r = client.post(
        "/api/battles", json={"model_a": "tiny-10m", "model_b": "xl-30b", "winner": "tie"}
    )
    assert r.status_code == 200  # no token configured: writes are open
    missing = TestClient(create_app(tmp_path / "missing.duckdb"), base_url=LOCAL)
    page = missing.get("/")
    assert page.status_code == 404 and "no store at" in page.text and "Traceback" not in page.text
    assert "<html" in page.text
    assert missing.get("/api/models").json()["detail"].startswith("no store at")
    assert not (tmp_path / "missing.duckdb").exists()  # serving never creates a store


def test_posted_battle_names_are_stripped(vote_store):
    client = TestClient(create_app(vote_store), base_url=LOCAL)
    r = client.post(
        "/api/battles", json={"model_a": " tiny-10m ", "model_b": "xl-30b\t", "winner": "tie"}
    )
    assert r.status_code == 200 and (r.json()["model_a"], r.json()["model_b"]) == (
        "tiny-10m",
        "xl-30b",
    )
    stored = Store(vote_store).battles().set_index("battle_id").loc[r.json()["battle_id"]]
    assert (stored["model_a"], stored["model_b"]) == ("tiny-10m", "xl-30b")
    r = client.post("/api/battles", json={"model_a": "  ", "model_b": "xl-30b", "winner": "tie"})
    assert r.status_code == 422 and r.json()["detail"] == "model_a is empty"
    r = client.post(
        "/api/battles", json={"model_a": "xl-30b ", "model_b": "xl-30b", "winner": "tie"}
    )
    assert r.status_code == 422 and "must differ" in r.json()["detail"]


def test_leaderboard_api_matches_compare(vote_store):
    stats = pytest.importorskip("assay.stats")
    client = TestClient(create_app(vote_store), base_url=LOCAL)
    got = client.get("/api/leaderboard", params={"task": "arith"}).json()["scores"]
    expected = stats.compare(Store(vote_store).scores(task="arith", metric="acc")).scores
    exp = {r["model"]: r for r in expected.to_dict(orient="records")}
    assert {r["model"] for r in got} == set(MODELS)
    for r in got:
        assert r["mean"] == pytest.approx(exp[r["model"]]["mean"], abs=1e-12)
        assert r["ci_high"] == pytest.approx(exp[r["model"]]["ci_high"], abs=1e-12)
    assert "/api/arena/vote" in client.get("/openapi.json").json()["paths"]


def _fuzz_schema():
    """The app over a small generated store (made at collection: schemathesis parametrizes
    from a schema object); removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="assay-fuzz-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    make_store(folder / "fuzz.duckdb", sizes=False, battles=40, n_docs=15)
    app = create_app(
        folder / "fuzz.duckdb",
        token="fuzz-token",
        allowed_hosts=["testserver"],
        read_rate=RateLimit(burst=100_000),  # every case reaches its endpoint, none gets a 429
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = _fuzz_schema()


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_fuzz_no_server_error(case):
    case.call_and_validate(checks=[not_a_server_error])
