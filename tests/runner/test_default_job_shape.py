"""The default job is what README promises: its scored-sample count equals README's figure,
multiple-choice questions in two orderings (the generative task in one), and the variance and
reliability analyses have rows right after it (run here with the deterministic fake backend in
place of SmolLM2, same tasks, limit, orderings and few-shot settings)."""

from __future__ import annotations

import re
from pathlib import Path

from cli_helpers import run_main
from fake_backend import FakeBackend, answer_key

from assay.runner import DEFAULT_JOB_LIMIT, DEFAULT_JOB_ORDERINGS, DEFAULT_VARIANTS, evaluate
from assay.store import open_store
from assay.tasks import BUILTIN_SUITE, load_task

README = Path(__file__).resolve().parents[2] / "README.md"


def _default_job(path: Path) -> None:
    tasks = [load_task(name) for name in BUILTIN_SUITE]
    names = ("smollm2-135m", "smollm2-135m-int8", "smollm2-135m-3shot")  # as README lists them
    for k, (variant, name) in enumerate(zip(DEFAULT_VARIANTS, names, strict=True)):
        answers = {}
        for task in tasks:
            answers.update(answer_key(task.instances(limit=DEFAULT_JOB_LIMIT)))
        fake = FakeBackend(name, answers=answers, skill=0.4 + 0.2 * k)
        evaluate(
            fake,
            tasks,
            store=path,
            limit=DEFAULT_JOB_LIMIT,
            permute_choices=DEFAULT_JOB_ORDERINGS,
            num_fewshot=variant.num_fewshot,
            progress=False,
        )


def test_default_job_matches_readme_and_fills_variance_and_reliability(tmp_path):
    path = tmp_path / "job.duckdb"
    _default_job(path)
    promised = int(re.search(r"\((\d+) scored samples", README.read_text()).group(1))
    samples = open_store(path).samples(with_metrics=False)
    assert len(samples) == promised
    per_doc = samples.groupby(["model", "task", "doc_id"]).size()
    for task in BUILTIN_SUITE:
        counts = per_doc.xs(task, level="task").unique().tolist()
        assert counts == ([1] if task.endswith("_gen") else [2]), (task, counts)
    for command in (["variance"], ["reliability"]):
        code, out, err = run_main([*command, "--store", str(path), "--json"])
        assert code == 0, (command, err)
        assert out.strip() not in ("", "[]", "{}"), command
