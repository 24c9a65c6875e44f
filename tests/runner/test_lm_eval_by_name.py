"""Benchmarks by name through lm-eval's own registry (`assay eval -t arc_easy`), on small data sets
written in the `--data-dir` mirror layout (no hub): prompts, few-shot selection and metrics are
lm-eval's, the answers come from an assay backend, and the samples land in the store."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

pytest.importorskip("lm_eval")
pytest.importorskip("datasets")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from fake_backend import FakeBackend  # noqa: E402

from assay.errors import InputError  # noqa: E402
from assay.requests import LoglikelihoodRequest  # noqa: E402
from assay.runner import LmEvalOptions, run_lm_eval_tasks  # noqa: E402
from assay.store import open_store  # noqa: E402


@pytest.fixture(autouse=True)
def _offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf_cache"))


def write_arc(root, n_test: int = 12, seed: int = 0) -> list[dict]:
    """allenai/ai2_arc/ARC-Easy/{train,validation,test}.parquet; returns the test rows."""
    rng = random.Random(seed)
    out = {}
    for split, n in (("train", 10), ("validation", 5), ("test", n_test)):
        rows = []
        for i in range(n):
            k = rng.choice([3, 4, 4, 5])
            labels = list("ABCDE")[:k]
            rows.append(
                {
                    "id": f"{split}{i}",
                    "question": f"What is {i} plus {i % 7}?",
                    "choices": {"text": [str(i + i % 7 + d) for d in range(k)], "label": labels},
                    "answerKey": labels[rng.randrange(k)],
                }
            )
        folder = root / "allenai" / "ai2_arc" / "ARC-Easy"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), folder / f"{split}.parquet")
        out[split] = rows
    return out["test"]


def write_mmlu(root) -> dict[str, list[dict]]:
    """cais/mmlu/abstract_algebra/{test,dev}.parquet in MMLU's columns."""
    out = {}
    for split, n in (("dev", 5), ("test", 6)):
        rows = [
            {
                "question": f"{split} question {i}: which group has order {i + 2}?",
                "subject": "abstract_algebra",
                "choices": [f"Z_{i + 2}", f"S_{i + 3}", f"A_{i + 4}", f"D_{i + 5}"],
                "answer": i % 4,
            }
            for i in range(n)
        ]
        folder = root / "cais" / "mmlu" / "abstract_algebra"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), folder / f"{split}.parquet")
        out[split] = rows
    return out


def test_arc_by_name_stores_lm_evals_samples(tmp_path):
    test_rows = write_arc(tmp_path / "data")
    store = open_store(tmp_path / "s.duckdb")
    fake = FakeBackend("fake-a")
    outcome = run_lm_eval_tasks(
        fake, ["arc_easy"], LmEvalOptions(data_dir=str(tmp_path / "data"), limit=8), store
    )
    rows = store.sql(
        "SELECT doc_id, prompt, choice_logprobs FROM samples WHERE task = 'arc_easy'"
    ).sort_values("doc_id", key=lambda s: s.astype(int))
    scores = store.evidence().scores
    assert list(rows["doc_id"]) == [str(i) for i in range(8)]  # --limit 8: lm-eval's first 8
    expected_acc = []
    for (_, row), doc in zip(rows.iterrows(), test_rows[:8], strict=True):
        context = f"Question: {doc['question']}\nAnswer:"
        assert row["prompt"] == context
        asks = [LoglikelihoodRequest(context, f" {c}") for c in doc["choices"]["text"]]
        want = [r.logprob for r in FakeBackend("fake-a").loglikelihood(asks)]
        np.testing.assert_allclose(json_list(row["choice_logprobs"]), want, rtol=0, atol=1e-9)
        expected_acc.append(
            float(np.argmax(want) == doc["choices"]["label"].index(doc["answerKey"]))
        )
    acc = scores[(scores.task == "arc_easy") & (scores.metric == "acc")]
    assert set(acc.model) == {"fake-a"}
    assert acc.sort_values("doc_id", key=lambda s: s.astype(int))["value"].tolist() == expected_acc
    assert outcome.results["arc_easy"]["acc,none"] == pytest.approx(
        np.mean(expected_acc), abs=1e-12
    )


def json_list(value) -> list[float]:
    return json.loads(value) if isinstance(value, str) else list(value)


def test_mmlu_few_shot_follows_the_yaml(tmp_path):
    """MMLU's YAML draws few-shot examples from `dev` with `first_n`, and its prompt shows the
    choice texts (not the letters)."""
    data = write_mmlu(tmp_path / "data")
    store = open_store(tmp_path / "s.duckdb")
    options = LmEvalOptions(data_dir=str(tmp_path / "data"), num_fewshot=2)
    run_lm_eval_tasks(FakeBackend("fake-a"), ["mmlu_abstract_algebra"], options, store)
    prompts = store.sql("SELECT doc_id, prompt FROM samples").set_index("doc_id")["prompt"]
    assert len(prompts) == len(data["test"])
    first = prompts["0"]
    assert data["dev"][0]["question"] in first and data["dev"][1]["question"] in first
    assert data["dev"][2]["question"] not in first
    assert not any(row["question"] in first for row in data["test"][1:])
    assert "A. Z_2\nB. S_3\nC. A_4\nD. D_5\nAnswer:" in first


def test_missing_data_set_names_the_path(tmp_path):
    (tmp_path / "data").mkdir()
    store = open_store(tmp_path / "s.duckdb")
    with pytest.raises(InputError) as err:
        run_lm_eval_tasks(
            FakeBackend("fake-a"),
            ["arc_easy"],
            LmEvalOptions(data_dir=str(tmp_path / "data")),
            store,
        )
    message = str(err.value)
    assert str(tmp_path / "data" / "allenai" / "ai2_arc" / "ARC-Easy") in message
    assert "\n" not in message and "cache" in message
    assert store.sql("SELECT count(*) AS n FROM samples")["n"][0] == 0


def test_unknown_name_is_one_line():
    from assay.runner import lm_eval_task_names

    with pytest.raises(InputError, match="not an assay task") as err:
        lm_eval_task_names(["arc_easy", "no_such_benchmark_xyz"])
    assert "no_such_benchmark_xyz" in str(err.value) and "\n" not in str(err.value)


def write_hellaswag(root, n: int = 6) -> None:
    rows = [
        {
            "ind": i,
            "activity_label": "Cooking",
            "ctx_a": f"A person puts {i + 2} eggs in a bowl.",
            "ctx_b": "they",
            "ctx": f"A person puts {i + 2} eggs in a bowl. they",
            "endings": ["whisk them.", "fly away.", "sing loudly.", "paint the bowl [title]."],
            "source_id": "x",
            "split": "val",
            "split_type": "indomain",
            "label": str(i % 4),
        }
        for i in range(n)
    ]
    folder = root / "Rowan" / "hellaswag" / "default"
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation"):
        pq.write_table(pa.Table.from_pylist(rows), folder / f"{split}.parquet")


def write_gsm8k(root, n: int = 8) -> None:
    rows = [
        {
            "question": f"Tom has {i + 3} apples and buys {i + 1} more. How many?",
            "answer": f"He has {i + 3} + {i + 1} = {2 * i + 4}.\n#### {2 * i + 4}",
        }
        for i in range(n)
    ]
    folder = root / "openai" / "gsm8k" / "main"
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        pq.write_table(pa.Table.from_pylist(rows), folder / f"{split}.parquet")


@pytest.mark.real_model
def test_parity_with_lm_evals_own_hf_model(backend, tmp_path):
    """The same data and model through lm-eval's HFLM and through assay: identical metrics,
    per-choice log-likelihoods within 1e-4 (ARC, MMLU 2-shot, HellaSwag and GSM8K shapes)."""
    pytest.importorskip("accelerate")  # lm-eval's HFLM imports it
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    from assay.runner._lm_eval_tasks import local_datasets

    data = tmp_path / "data"
    write_arc(data, n_test=8)
    write_mmlu(data)
    write_hellaswag(data)
    write_gsm8k(data)
    tasks = ["arc_easy", "mmlu_abstract_algebra", "hellaswag", "gsm8k"]
    gen = {"max_gen_toks": 12}
    lm = HFLM(pretrained=backend.model, tokenizer=backend.tokenizer, batch_size=8)
    with local_datasets(data):
        theirs = simple_evaluate(
            model=lm, tasks=tasks, num_fewshot=2, limit=4, log_samples=True, gen_kwargs=gen
        )
    store = open_store(tmp_path / "s.duckdb")
    options = LmEvalOptions(data_dir=str(data), num_fewshot=2, limit=4, gen_kwargs=gen)
    ours = run_lm_eval_tasks(backend, tasks, options, store)
    for task in tasks:
        for key, value in theirs["results"][task].items():
            if isinstance(value, float) and "_stderr" not in key:
                assert ours.results[task][key] == pytest.approx(value, abs=1e-9), (task, key)
        mine = store.sql(
            f"SELECT doc_id, choice_logprobs, prediction FROM samples WHERE task = '{task}'"
        ).set_index("doc_id")
        for sample in theirs["samples"][task]:
            row = mine.loc[str(sample["doc_id"])]
            if task == "gsm8k":  # one sample per filter; the store keeps the first filter's answer
                answers = [
                    s["filtered_resps"][0]
                    for s in theirs["samples"][task]
                    if s["doc_id"] == sample["doc_id"]
                ]
                assert row["prediction"] in answers
                continue
            their_lp = [float(r[0][0]) for r in sample["resps"]]
            np.testing.assert_allclose(json_list(row["choice_logprobs"]), their_lp, atol=1e-4)


@pytest.mark.real_model
def test_cli_through_an_openai_compatible_server(backend, tmp_path):
    """`assay eval -m openai:...@URL -t arc_easy,gsm8k --data-dir DIR`, as a user of a vLLM or
    SGLang server runs it: log-likelihoods from echoed prompt log-probs equal the local model's,
    lm-eval's results JSON and samples land under --output-path, and `tasks --all` lists both."""
    from cli_helpers import run_main

    from .test_openai_backend import make_server, stop

    data = tmp_path / "data"
    test_rows = write_arc(data, n_test=4)
    write_gsm8k(data)
    srv, _ = make_server(backend, faults=False)
    url = f"http://127.0.0.1:{srv.server_address[1]}/v1"
    store = tmp_path / "s.duckdb"
    try:
        code, out, err = run_main(
            ["eval", "-m", f"openai:smol@{url},timeout=120,name=smol-api", "-t", "arc_easy,gsm8k",
             "-n", "3", "--data-dir", data, "--gen-kwargs", "max_gen_toks=8", "--store", store,
             "--output-path", tmp_path / "out", "--log-samples"],
            env={"COLUMNS": "200"},
        )  # fmt: skip
    finally:
        stop(srv)
    assert code == 0, err
    assert "arc_easy" in out and "exact_match" in out
    assert any((tmp_path / "out" / "smol-api").glob("results_*.json"))
    assert any((tmp_path / "out" / "smol-api").glob("samples_gsm8k_*.jsonl"))
    rows = open_store(store).sql(
        "SELECT doc_id, choice_logprobs FROM samples WHERE task = 'arc_easy' ORDER BY doc_id"
    )
    assert list(rows["doc_id"]) == ["0", "1", "2"]
    for (_, row), doc in zip(rows.iterrows(), test_rows, strict=False):
        context = f"Question: {doc['question']}\nAnswer:"
        asks = [LoglikelihoodRequest(context, f" {c}") for c in doc["choices"]["text"]]
        local = [r.logprob for r in backend.loglikelihood(asks)]
        np.testing.assert_allclose(json_list(row["choice_logprobs"]), local, atol=1e-3)
    generated = open_store(store).sql("SELECT output_tokens FROM samples WHERE task = 'gsm8k'")
    assert len(generated) == 3 and (generated["output_tokens"] > 0).all()
    code, out, _ = run_main(["tasks", "--all", "--json"])
    names = {r["name"]: r["source"] for r in json.loads(out)}
    assert names["arith_mc"] == "builtin" and names["mmlu"] == "lm-eval"


def test_group_aggregate_with_an_interval_clustered_by_subtask(tmp_path):
    """`mmlu` expands to its 57 subtasks; lm-eval's size-weighted group score equals the pooled
    mean of the stored questions, and assay's interval treats the subtasks as clusters."""
    from lm_eval.tasks import TaskManager

    from assay.stats import mean_ci, pooled_mean

    index = TaskManager().task_index
    subjects = sorted(
        name.removeprefix("mmlu_")
        for name, entry in index.items()
        if entry.yaml_path is not None
        and entry.yaml_path.parent.name == "default"
        and entry.yaml_path.parent.parent.name == "mmlu"
        and name.startswith("mmlu_")
        and str(getattr(entry.kind, "name", "")) == "TASK"
    )
    assert len(subjects) == 57
    for k, subject in enumerate(subjects):
        folder = tmp_path / "data" / "cais" / "mmlu" / subject
        folder.mkdir(parents=True)
        for split in ("dev", "test"):
            rows = [
                {"question": f"{subject} {split} {i}?", "subject": subject,
                 "choices": [f"{k}", f"{k + i}", f"{k * 2 + i}", f"x{i}"], "answer": (k + i) % 4}
                for i in range(1 + (k % 3))
            ]  # fmt: skip
            pq.write_table(pa.Table.from_pylist(rows), folder / f"{split}.parquet")
    store = open_store(tmp_path / "s.duckdb")
    options = LmEvalOptions(data_dir=str(tmp_path / "data"))
    outcome = run_lm_eval_tasks(FakeBackend("fake-a"), ["mmlu"], options, store)
    leaves = outcome.groups["mmlu"]
    assert leaves == [f"mmlu_{s}" for s in subjects]
    scores = store.evidence().scores
    ours = pooled_mean(scores, leaves, "acc")
    acc = scores[scores.metric == "acc"]
    assert ours.n == len(acc) == sum(1 + (k % 3) for k in range(57))
    assert ours.mean == pytest.approx(outcome.results["mmlu"]["acc,none"], abs=1e-12)
    assert ours.n_clusters == 57
    reference = mean_ci(
        acc.sort_values(["task", "doc_id"])["value"].to_numpy(),
        clusters=acc.sort_values(["task", "doc_id"])["task"],
    )
    assert (ours.ci_low, ours.ci_high) == pytest.approx((reference.ci_low, reference.ci_high))
