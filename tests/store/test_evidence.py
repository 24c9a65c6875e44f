"""Store.evidence() is the one read of a store: its scores (with corpus metrics), the metric
definitions THAT store declares, and provenance. Nothing leaks between stores opened in one
process: a store whose task file says exact_match is lower-is-better, then a store that says
nothing, then the first again — each read, comparison, ranking and CLI answer follows its own
store."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from cli_helpers import run_main
from fake_backend import FakeBackend
from fastapi.testclient import TestClient

from assay import stats
from assay.core import metric_info
from assay.rank import rank_samples
from assay.report import build_report
from assay.runner import evaluate
from assay.serve import create_app
from assay.store import Evidence, open_store
from assay.tasks import load_task

pytestmark = pytest.mark.filterwarnings("ignore")

WORDS = [f"w{i}" for i in range(30)]
TASK = "name: echo\nrequest_type: generate\ntemplates: 'Say {{ word }}:'\ntarget: word\ndocs:\n"
TASK += "".join(f"  - {{doc_id: d{i}, word: {w}}}\n" for i, w in enumerate(WORDS))
DECLARED = "metrics: {exact_match: {higher_is_better: false}}\n"


def _store(tmp_path, name: str, declaration: str) -> str:
    """A store where ``right`` answers every document and ``wrong`` none."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(TASK + declaration, encoding="utf-8")
    task = load_task(path)
    store = open_store(tmp_path / f"{name}.duckdb")
    evaluate(FakeBackend("right", generation=lambda r: r.context.split()[1].rstrip(":")), [task],
             store=store, progress=False)  # fmt: skip
    evaluate(FakeBackend("wrong", generation="nothing"), [task], store=store, progress=False)
    return str(store.path)


@pytest.fixture
def stores(tmp_path) -> tuple[str, str]:
    return _store(tmp_path, "declared", DECLARED), _store(tmp_path, "plain", "")


def _best(path: str) -> dict[str, object]:
    """What each read says is best on exact_match, for the store at ``path``."""
    ev = open_store(path).evidence()
    comp = stats.compare(ev.scores, metric="exact_match", metrics=ev.metrics)
    groups = comp.groups.set_index("model")["group"].to_dict()
    mean = rank_samples(ev.scores, method="mean", metric="exact_match", metrics=ev.metrics,
                        bootstrap=0)  # fmt: skip
    code, out, err = run_main(["compare", "--store", path, "--metric", "exact_match", "--json"])
    assert code == 0, err
    cli = pd.DataFrame(json.loads(out)["groups"]).set_index("model")["group"].to_dict()
    return {
        "lower": ev.metrics["exact_match"].lower_is_better,
        "alias": open_store(path).analysis_scores().equals(ev.scores),
        "groups": groups,
        "rank": str(mean.table.sort_values("rating", ascending=False)["model"].iloc[0]),
        "cli": cli,
    }


def test_each_store_reads_its_own_metric_definitions(stores):
    declared, plain = stores
    lower = {"lower": True, "alias": True, "groups": {"right": "b", "wrong": "a"}, "rank": "wrong",
             "cli": {"right": "b", "wrong": "a"}}  # fmt: skip
    higher = {"lower": False, "alias": True, "groups": {"right": "a", "wrong": "b"},
              "rank": "right", "cli": {"right": "a", "wrong": "b"}}  # fmt: skip
    assert _best(declared) == lower
    assert _best(plain) == higher  # the first store's declaration did not leak
    assert _best(declared) == lower
    assert not metric_info("exact_match").lower_is_better  # the built-in stays as it is


def test_evidence_holds_scores_definitions_and_provenance(stores):
    declared, plain = stores
    ev = open_store(declared).evidence(model="right")
    assert isinstance(ev, Evidence) and ev.store == declared
    assert ev.models == ("right",) and ev.tasks == ("echo",)
    runs = open_store(declared).runs()
    assert ev.run_ids == tuple(sorted(runs.loc[runs["model"] == "right", "run_id"]))
    assert set(ev.scores["model"]) == {"right"}
    em = ev.scores.loc[ev.scores["metric"] == "exact_match", "value"]
    assert len(em) == 30 and em.mean() == 1.0
    assert set(ev.metrics) == set(ev.scores["metric"])  # every metric in the scores, resolved
    assert ev.metrics["exact_match"].lower_is_better and ev.metric("exact_match").priority == 0
    assert ev.metrics["f1"] == metric_info("f1")  # undeclared: the built-in definition
    # a declaration with the default priority 0 no longer heads the task: f1 (80) does
    assert ev.headline(["exact_match", "f1"]) == "f1"
    assert open_store(plain).evidence().headline(["exact_match", "f1"]) == "exact_match"
    with pytest.raises(TypeError):
        ev.metrics["exact_match"] = metric_info("exact_match")  # read-only


def test_report_and_api_follow_their_own_store(stores):
    declared, plain = stores
    for path, best in ((declared, "wrong"), (plain, "right"), (declared, "wrong")):
        report = build_report(path, bootstrap=0, scaling_bootstrap=0)
        metric = report.headline["echo"]
        assert metric == ("f1" if path == declared else "exact_match")  # declared priority 0
        ranked = report.panel("leaderboard").items[0]["row_keys"]
        assert ranked[0] == (best if metric == "exact_match" else "right"), (path, metric)
        about = next(t for t in report.panel("about").items if t.get("id") == "about-metrics")
        better = {row[0]["text"]: row[1]["text"] for row in about["rows"]}
        assert better["exact_match"] == ("lower" if best == "wrong" else "higher")
        assert better["f1"] == "higher"
        client = TestClient(create_app(path), base_url="http://127.0.0.1")
        board = client.get("/api/leaderboard", params={"metric": "exact_match"}).json()
        groups = {g["model"]: g["group"] for g in board["groups"]}
        assert groups[best] == "a" and groups[({"right", "wrong"} - {best}).pop()] == "b"
