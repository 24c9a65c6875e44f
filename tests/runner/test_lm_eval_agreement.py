"""assay's hf backend vs lm-eval's HFLM on the same GGUF model and a generated MC task."""

from __future__ import annotations

import numpy as np
import pytest
from lm_eval_tasks import write_lm_eval_task

pytestmark = pytest.mark.real_model
pytest.importorskip("lm_eval")
pytest.importorskip("accelerate")  # lm-eval's HFLM imports it

from assay.runner import score_instances  # noqa: E402
from assay.tasks import task_from_records  # noqa: E402

from .conftest import addition_records  # noqa: E402


def run_lm_eval(backend, folder, name: str, batch_size: int = 32):
    """lm-eval's HFLM on the already loaded model (the same GGUF weights): per-doc samples."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=backend.model, tokenizer=backend.tokenizer, batch_size=batch_size)
    out = simple_evaluate(
        model=lm,
        tasks=[name],
        # this task only: no index of lm-eval's built-in tasks
        task_manager=TaskManager(include_path=str(folder), include_defaults=False),
        log_samples=True,
        verbosity="ERROR",
    )
    return sorted(out["samples"][name], key=lambda s: s["doc_id"]), out["results"][name]


def test_loglikelihoods_and_accuracy_equal_lm_eval(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf_cache"))
    records = addition_records(20, seed=7)
    write_lm_eval_task(tmp_path, "assay_addition", records)
    theirs, summary = run_lm_eval(backend, tmp_path, "assay_addition")

    task = task_from_records(
        records,
        name="assay_addition",
        where="generated",
        template="{{ question }}",
        target="label",
        choices="choices",
    )
    instances = task.instances()
    ours = score_instances(backend, instances, task)
    by_doc = {r.doc_id: r for r in ours}
    assert len(theirs) == len(records) == len(ours)
    for sample, rec in zip(theirs, records, strict=True):
        their_lp = np.array([float(r[0][0]) for r in sample["resps"]])
        mine = by_doc[rec["doc_id"]]
        np.testing.assert_allclose(mine.choice_logprobs, their_lp, atol=1e-3)
        assert mine.metrics["acc"] == sample["acc"]
        assert mine.metrics["acc_norm"] == sample["acc_norm"]
    acc = np.mean([r.metrics["acc"] for r in ours])
    assert acc == pytest.approx(summary["acc,none"])
