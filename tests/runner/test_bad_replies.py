"""The openai backend against servers that answer, but badly: a reply dripped one byte a second
(``timeout`` bounds the whole request), and well-formed 200 replies with no text or a positive
log-prob (retried, then stored as an errored sample: no prediction, no metric, counted)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from fault_server import FaultServer, fault_plan

from assay.models import load_model
from assay.requests import FailedResult, LoglikelihoodRequest
from assay.runner import evaluate
from assay.store import Store
from assay.tasks import load_task

FAST = "backoff=0.01,backoff_cap=0.05"
SEED, RATE, LIMIT = 0, 0.5, 12


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assay", *args], capture_output=True, text=True, timeout=timeout
    )


def test_a_dripping_server_times_out_within_the_deadline(tmp_path):
    path = tmp_path / "s.duckdb"
    with FaultServer(rate=1.0, kinds=("drip",), drip=1.0) as server:
        spec = f"openai:fake@{server.url},timeout=2,max_retries=1,{FAST}"
        start = time.monotonic()
        proc = _cli("eval", "-m", spec, "-t", "arith_mc", "-n", "1", "--no-progress",
                    "--store", str(path), timeout=120)  # fmt: skip
        seconds = time.monotonic() - start
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert "giving up after 2 attempts" in lines[0] and "no reply within 2 s" in lines[0]
    assert seconds < 20  # 2 attempts x 2 s (+ start-up); the old per-read timeout took minutes
    assert not path.exists()


def _prompts(task: str, limit: int) -> list[str]:
    insts = load_task(task).instances(limit=limit)
    return [q.context + getattr(q, "continuation", "") for i in insts for q in i.requests]


def _errored_docs(task: str, limit: int, rate: float, kinds, retries: int) -> set[str]:
    """The documents whose every attempt meets a fault (one request per document)."""
    insts = load_task(task).instances(limit=limit)
    return {
        str(i.doc_id)
        for i in insts
        if len(fault_plan(i.requests[0].context, SEED, rate, kinds)) > retries
    }


@pytest.mark.parametrize(("kind", "chat"), [("nulltext", False), ("notext", True)])
def test_a_reply_without_text_is_an_errored_sample_not_a_wrong_answer(tmp_path, kind, chat):
    expected = _errored_docs("arith_gen", LIMIT, RATE, (kind,), retries=1)
    assert 0 < len(expected) < LIMIT  # the seeded plan has both kinds of document
    with FaultServer(rate=RATE, seed=SEED, kinds=(kind,)) as server:
        spec = f"openai:fake@{server.url},chat={'true' if chat else 'false'},max_retries=1,{FAST}"
        result = evaluate(spec, "arith_gen", store=tmp_path / "s.duckdb", limit=LIMIT,
                          progress=False)  # fmt: skip
    assert result.errored == len(expected) and result.to_dict()["errored"] == len(expected)
    store = Store(tmp_path / "s.duckdb")
    df = store.samples().set_index("doc_id")
    bad = df.loc[sorted(expected)]
    assert bad["prediction"].isna().all()  # never the answer ""
    assert all(f"unusable reply: '{'choices[0].message.content' if chat else 'choices[0].text'}' "
               in json.loads(e)["error"] for e in bad["extra"])  # fmt: skip
    scored = set(store.scores()["doc_id"])
    assert scored == {str(d) for d in df.index} - expected  # no metric row for an errored one
    assert int(result.table.loc[result.table["metric"] == "exact_match", "n"].iloc[0]) == (
        LIMIT - len(expected)
    )
    with FaultServer() as server:  # a healthy server: the errored samples are computed again
        again = evaluate(f"openai:fake@{server.url},chat={'true' if chat else 'false'},{FAST}",
                         "arith_gen", store=tmp_path / "s.duckdb", limit=LIMIT, progress=False)  # fmt: skip
    assert (again.new_samples, again.errored) == (len(expected), 0)
    assert Store(tmp_path / "s.duckdb").samples()["prediction"].notna().all()


def test_a_positive_logprob_is_never_a_score(tmp_path):
    kinds = ("posprob",)
    with FaultServer(rate=1.0, kinds=kinds) as server:
        remote = load_model(f"openai:fake@{server.url},concurrency=1,max_retries=2,{FAST}")
        (answer,) = remote.loglikelihood([LoglikelihoodRequest("2 + 2 =", " 4")])
    assert isinstance(answer, FailedResult) and server.requests == 3
    assert "giving up after 3 attempts" in answer.error and "5.0" in answer.error
    with FaultServer(rate=1.0, kinds=kinds) as server:
        spec = f"openai:fake@{server.url},max_retries=1,{FAST}"
        result = evaluate(spec, "arith_mc", store=tmp_path / "s.duckdb", limit=4, progress=False)
    assert result.errored == 4 and result.table.empty
    stored = Store(tmp_path / "s.duckdb").samples()
    assert len(stored) == 4 and stored["choice_logprobs"].isna().all()
    assert "metric.acc" not in stored
