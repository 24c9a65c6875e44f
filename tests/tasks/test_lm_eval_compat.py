"""Against lm-eval itself: same requests from the same task YAML, same acc/acc_norm."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from assay.requests import LoglikelihoodResult
from assay.tasks import load_task

lm_task = pytest.importorskip("lm_eval.api.task")

ROWS = [
    {
        "question": f"{a} + {b} =",
        "choices": [str(a + b), str(a + b + 1), f"{a + b - 1}0"],
        "label": i % 3,
    }
    for i, (a, b) in enumerate([(2, 2), (13, 5), (7, 40), (1, 1), (99, 1), (12, 12)])
]


def _lm_eval(config):
    task = lm_task.ConfigurableTask(config=config)
    task.build_all_requests(limit=None)
    by_doc: dict[int, list] = {}
    for inst in task.instances:
        by_doc.setdefault(inst.doc_id, []).append(inst)
    docs = list(task.eval_docs)
    return task, docs, [sorted(by_doc[i], key=lambda x: x.idx) for i in range(len(docs))]


def _write(tmp_path, config):
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(config))
    return load_task(str(tmp_path / "t.yaml"), offline=True)


def test_multiple_choice_requests_and_metrics_match_lm_eval(tmp_path):
    data = tmp_path / "test.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in ROWS))
    config = {
        "task": "sums",
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data)}},
        "test_split": "test",
        "output_type": "multiple_choice",
        "doc_to_text": "Question: {{question}}\nAnswer:",
        "doc_to_target": "label",
        "doc_to_choice": "{{choices}}",
    }
    theirs, docs, requests = _lm_eval(dict(config))
    ours = _write(tmp_path, config)
    instances = sorted(ours.instances(), key=lambda i: int(i.doc_id))
    rng = np.random.default_rng(1)
    for doc, lm_reqs, inst in zip(docs, requests, instances, strict=True):
        assert [tuple(r.arguments) for r in lm_reqs] == [
            (r.context, r.continuation) for r in inst.requests
        ]
        for _ in range(20):
            lls = rng.normal(-6, 2, size=len(lm_reqs))
            lls[rng.integers(len(lls))] = lls.max()  # ties happen with real models too
            expected = theirs.process_results(doc, [(float(v), False) for v in lls])
            got = ours.score(
                inst, [LoglikelihoodResult(float(v), False, 4, 1) for v in lls]
            ).metrics
            assert got["acc"] == expected["acc"] and got["acc_norm"] == expected["acc_norm"]


def test_generate_until_requests_match_lm_eval(tmp_path):
    data = tmp_path / "test.jsonl"
    data.write_text("\n".join(json.dumps({**r, "answer": r["choices"][0]}) for r in ROWS))
    config = {
        "task": "sums_gen",
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data)}},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": "{{question}}",
        "doc_to_target": "answer",
        "generation_kwargs": {"until": ["\n", "."], "max_gen_toks": 7},
    }
    _, _, requests = _lm_eval(dict(config))
    ours = _write(tmp_path, config)
    instances = sorted(ours.instances(), key=lambda i: int(i.doc_id))
    for lm_reqs, inst in zip(requests, instances, strict=True):
        context, kwargs = lm_reqs[0].arguments
        req = inst.requests[0]
        assert context == req.context
        assert list(kwargs["until"]) == list(req.stop) and req.max_new_tokens == 7


def test_fewshot_context_format_matches_lm_eval(tmp_path):
    (tmp_path / "test.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS[:3]))
    (tmp_path / "train.jsonl").write_text(json.dumps(ROWS[3]))  # one candidate: no sampling
    config = {
        "task": "sums_shot",
        "dataset_path": "json",
        "dataset_kwargs": {
            "data_files": {
                "test": str(tmp_path / "test.jsonl"),
                "train": str(tmp_path / "train.jsonl"),
            }
        },
        "test_split": "test",
        "training_split": "train",
        "num_fewshot": 1,
        "description": "Add the numbers.\n\n",
        "output_type": "multiple_choice",
        "doc_to_text": "Q: {{question}}\nA:",
        "doc_to_target": "label",
        "doc_to_choice": "{{choices}}",
    }
    _, _, requests = _lm_eval(dict(config))
    ours = _write(tmp_path, config)
    instances = sorted(ours.instances(), key=lambda i: int(i.doc_id))
    for lm_reqs, inst in zip(requests, instances, strict=True):
        assert [tuple(r.arguments) for r in lm_reqs] == [
            (r.context, r.continuation) for r in inst.requests
        ]
