"""The openai backend and the runner against a loopback server that fails ~30% of requests
(429, 500, timeouts, 200 replies with garbage), a server that stops answering mid-run, a refused
connection, and invalid eval options. No model is loaded."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys

import pandas as pd
import pytest
from fake_backend import FakeBackend
from fault_server import FAULTS, FaultServer, fault_plan

from assay.errors import AssayError, InputError
from assay.models import load_model
from assay.models._openai import (
    CAPABILITY_ATTEMPTS,
    CONNECT_ATTEMPTS,
    NoLogprobsError,
    OpenAIBackend,
)
from assay.requests import LoglikelihoodRequest
from assay.runner import evaluate
from assay.store import Store
from assay.tasks import load_task

SEED, RATE, LIMIT = 0, 0.3, 12
FAST = "backoff=0.01,backoff_cap=0.05"
COMPARED = ["doc_id", "repeat", "prompt", "prediction", "chosen_position", "metric.acc"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _prompts(task: str, limit: int) -> list[str]:
    insts = load_task(task).instances(limit=limit)
    return sorted({q.context + q.continuation for i in insts for q in i.requests})


def _samples(store: Store) -> pd.DataFrame:
    df = store.samples().sort_values(["doc_id", "repeat"]).reset_index(drop=True)
    df["choice_logprobs"] = df["choice_logprobs"].map(list)
    return df


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assay", *args], capture_output=True, text=True, timeout=300
    )


def test_fault_plan_is_what_the_test_needs():
    """The seeded faults hit every kind, never exhaust the retries and never look like a server
    without log-probs (that takes CAPABILITY_ATTEMPTS no-logprobs replies in a row)."""
    plans = [fault_plan(p, SEED, RATE) for p in _prompts("arith_mc", LIMIT)]
    attempts = sum(len(p) + 1 for p in plans)
    faults = [k for p in plans for k in p]
    assert set(faults) == set(FAULTS)
    assert 0.2 < len(faults) / attempts < 0.4
    assert max(len(p) for p in plans) < 8
    assert all(p.count("nologprobs") < CAPABILITY_ATTEMPTS for p in plans)


def test_eval_survives_30_percent_faults_with_identical_results(tmp_path):
    with FaultServer(rate=RATE, seed=SEED) as server:
        spec = f"openai:fake@{server.url},concurrency=4,timeout=2,max_retries=8,{FAST}"
        faulty = load_model(spec)
        a = evaluate(faulty, "arith_mc", store=tmp_path / "a.duckdb", limit=LIMIT, progress=False)
        hit = dict(server.stats)
        server.rate = 0.0  # the same server, faults off
        clean = load_model(spec)
        b = evaluate(clean, "arith_mc", store=tmp_path / "b.duckdb", limit=LIMIT, progress=False)
    assert a.new_samples == b.new_samples == LIMIT
    assert set(FAULTS) <= set(hit) and hit["ok"] >= len(_prompts("arith_mc", LIMIT))
    assert faulty.counters["retries"] >= sum(v for k, v in hit.items() if k != "ok")
    assert clean.counters["retries"] == 0
    sa, sb = _samples(Store(tmp_path / "a.duckdb")), _samples(Store(tmp_path / "b.duckdb"))
    pd.testing.assert_frame_equal(sa[COMPARED], sb[COMPARED])
    assert sa["choice_logprobs"].tolist() == sb["choice_logprobs"].tolist()
    assert sa["doc_id"].is_unique and len(sa) == LIMIT
    pd.testing.assert_frame_equal(a.table, b.table)


def test_spent_retries_give_one_line_and_keep_the_written_chunks(tmp_path):
    path = tmp_path / "s.duckdb"
    # 8 instances x 4 choices = 32 requests per chunk: the first chunk succeeds, then garbage
    with FaultServer(good_limit=40) as server:
        remote = load_model(f"openai:fake@{server.url},concurrency=2,max_retries=2,{FAST}")
        with pytest.raises(AssayError) as info:
            evaluate(remote, "arith_mc", store=path, limit=24, batch_size=8, progress=False)
    message = str(info.value)
    assert "\n" not in message and f"{server.url}/completions" in message
    assert "giving up after 3 attempts" in message and "body is not valid JSON" in message
    store = Store(path)
    assert len(store.samples()) == 8  # the finished chunk is stored
    assert len(store.runs()) == 1 and store.models()["model"].tolist() == ["fake"]
    with FaultServer() as server:  # a healthy server: the same eval resumes
        remote = load_model(f"openai:fake@{server.url},{FAST}")
        done = evaluate(remote, "arith_mc", store=path, limit=24, batch_size=8, progress=False)
    assert (done.new_samples, done.resumed_samples) == (16, 8)
    assert len(store.samples()) == 24 and store.runs()["finished_at"].notna().all()


def test_server_without_logprobs_is_reported_quickly():
    with FaultServer(logprobs=False) as server:
        remote = load_model(f"openai:fake@{server.url},concurrency=1,{FAST}")
        with pytest.raises(NoLogprobsError, match="cannot score log-likelihoods"):
            remote.loglikelihood([LoglikelihoodRequest("2 + 2 =", " 4")])
    assert server.requests == CAPABILITY_ATTEMPTS  # not max_retries + 1


def test_refused_connection_fails_fast_and_writes_nothing(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    sleeps: list[float] = []
    remote = OpenAIBackend("m", url, concurrency=4, sleep=sleeps.append)
    with pytest.raises(AssayError, match="cannot connect") as info:
        remote.loglikelihood([LoglikelihoodRequest("2 + 2 =", f" {k}") for k in range(8)])
    assert "\n" not in str(info.value) and f"after {CONNECT_ATTEMPTS} attempts" in str(info.value)
    assert len(sleeps) <= 8 * (CONNECT_ATTEMPTS - 1)  # a few quick retries, not max_retries

    existing = tmp_path / "old.duckdb"
    Store(existing).upsert_models([{"model": "keep"}])
    before = _sha(existing)
    for path in (tmp_path / "new.duckdb", existing):
        proc = _cli(
            "eval", "-m", f"openai:m@{url}", "-t", "arith_mc", "-n", "2", "--store", str(path)
        )
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 1 and len(lines) == 1, proc.stderr
        assert "cannot connect" in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "new.duckdb").exists()  # no store, so no phantom model or run
    assert _sha(existing) == before
    assert Store(existing).models()["model"].tolist() == ["keep"] and Store(existing).runs().empty


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("limit", -1),
        ("limit", 0),
        ("batch_size", 0),
        ("repeats", 0),
        ("permute_choices", -2),
        ("num_fewshot", -1),
        ("seed", -5),
        ("limit", 2.5),
    ],
)
def test_invalid_eval_options_touch_nothing(tmp_path, option, value):
    path = tmp_path / "s.duckdb"
    with pytest.raises(InputError, match=option):
        untouchable = FakeBackend(fail_after=0)  # raises if the runner asks it anything
        evaluate(untouchable, "arith_mc", store=path, progress=False, **{option: value})
    assert not path.exists()


@pytest.mark.parametrize(
    "option",
    ["concurrency=0", "concurrency=-3", "max_retries=-1", "timeout=0", "backoff=-1", "chat=maybe"],
)
def test_invalid_openai_options_are_one_line_errors(option):
    with pytest.raises(InputError, match=option.split("=")[0]) as info:
        load_model(f"openai:m@http://127.0.0.1:9/v1,{option}")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "args",
    [
        ["-m", "openai:m@http://127.0.0.1:9/v1,concurrency=0"],
        ["--limit", "-1"],
        ["--batch-size", "0"],
        ["--permute-choices", "-1"],
        ["--repeats", "0"],
    ],
)
def test_cli_rejects_bad_counts_at_once(tmp_path, args):
    path = tmp_path / "s.duckdb"
    proc = _cli("eval", "-t", "arith_mc", *args, "--no-progress", "--store", str(path))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert not path.exists()


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        ("truncated", "body is not valid JSON"),
        ("utf8", "body is not valid UTF-8"),
        ("types", "'logprobs.tokens' is a string, not a list"),
        ("html", "body is not valid JSON"),
        ("nologprobs", "the reply has no 'logprobs'"),
        ("500", "4 HTTP 500"),
    ],
)
def test_each_bad_reply_is_retried_then_named(kind, why):
    with FaultServer() as server:
        remote = load_model(f"openai:fake@{server.url},concurrency=1,max_retries=3,{FAST}")
        (first,) = remote.loglikelihood([LoglikelihoodRequest("2 + 2 =", " 4")])
        server.rate, server.kinds = 1.0, (kind,)  # from now on every reply is bad
        with pytest.raises(AssayError) as info:
            remote.loglikelihood([LoglikelihoodRequest("2 + 3 =", " 5")])
    assert first.continuation_tokens == 1 and first.logprob < 0
    message = str(info.value)
    assert not isinstance(info.value, NoLogprobsError)  # this server did return log-probs
    assert "giving up after 4 attempts" in message and why in message and "\n" not in message
    assert server.requests == 1 + 4
