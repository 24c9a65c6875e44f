"""Write the lighteval fixtures under tests/data/lighteval/ (needs ``pip install lighteval``).

Runs lighteval itself, offline, on two tasks of our own read from local JSONL files: a
multiple-choice task scored by log-likelihood (``loglikelihood_acc``) and a generative one
(``exact_match``). The models are lighteval's own ``DummyModel`` (random log-probabilities from a
seed, the fixed generation "random baseline"), under two names and seeds, so nothing is
downloaded. lighteval writes ``results/<model>/results_<date>.json`` and
``details/<model>/<date>/details_<task>|<shots>_<date>.parquet`` under the output folder;
``expected.json`` records the per-task metric values and stderrs lighteval reported.

    python tests/support/make_lighteval_logs.py   # rewrites tests/data/lighteval/
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

OUT = Path(__file__).resolve().parents[1] / "data" / "lighteval"

TASKS = '''
"""Two tiny local tasks for assay's lighteval fixtures."""
from pathlib import Path

from lighteval.metrics.metrics import Metrics
from lighteval.tasks.lighteval_task import LightevalTaskConfig
from lighteval.tasks.requests import Doc

DATA = str(Path(__file__).parent / "data")


def mc_prompt(line, task_name=None):
    return Doc(task_name=task_name, query=line["q"], choices=line["choices"],
               gold_index=line["gold"], id=line["id"])


def gen_prompt(line, task_name=None):
    return Doc(task_name=task_name, query=line["q"], choices=[line["answer"]],
               gold_index=0, id=line["id"])


TASKS_TABLE = [
    LightevalTaskConfig(name="arith_mc", prompt_function=mc_prompt, hf_repo=DATA + "/mc",
                        hf_subset="default", hf_avail_splits=["test"], evaluation_splits=["test"],
                        metrics=[Metrics.loglikelihood_acc], version=1),
    LightevalTaskConfig(name="echo_gen", prompt_function=gen_prompt, hf_repo=DATA + "/gen",
                        hf_subset="default", hf_avail_splits=["test"], evaluation_splits=["test"],
                        metrics=[Metrics.exact_match], generation_size=8, stop_sequence=["\\n"]),
]
'''


def _write_data(root: Path) -> None:
    (root / "data" / "mc").mkdir(parents=True)
    (root / "data" / "gen").mkdir(parents=True)
    with open(root / "data" / "mc" / "test.jsonl", "w") as f:
        for i in range(20):
            a, b = i % 7, (3 * i) % 5
            choices = [str(a + b + d) for d in (0, 1, -1, 2)]
            f.write(json.dumps({"id": f"mc{i}", "q": f"{a}+{b}=", "choices": choices,
                                "gold": i % 4}) + "\n")  # fmt: skip
    with open(root / "data" / "gen" / "test.jsonl", "w") as f:
        for i in range(10):
            answer = "random baseline" if i % 3 == 0 else f"word{i}"
            f.write(json.dumps({"id": f"g{i}", "q": f"Say {answer}:", "answer": answer}) + "\n")


def _run(root: Path, out: Path, name: str, seed: int) -> None:
    from lighteval.logging.evaluation_tracker import EvaluationTracker
    from lighteval.models.dummy.dummy_model import DummyModelConfig
    from lighteval.pipeline import ParallelismManager, Pipeline, PipelineParameters
    from lighteval.tasks.registry import Registry

    # only our custom tasks: lighteval's built-in task files download things when imported
    Registry._load_from_files = staticmethod(lambda files, prefix: {})
    Registry._load_from_subdirs = staticmethod(lambda subdirs: {})
    tracker = EvaluationTracker(output_dir=str(out), save_details=True)
    params = PipelineParameters(
        launcher_type=ParallelismManager.NONE, custom_tasks_directory=str(root / "tasks.py")
    )
    pipeline = Pipeline(
        tasks="arith_mc|0,echo_gen|0",
        pipeline_parameters=params,
        evaluation_tracker=tracker,
        model_config=DummyModelConfig(model_name=name, seed=seed),
    )
    pipeline.evaluate()
    pipeline.save_and_push_results()


def main() -> None:
    from importlib.metadata import version

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _write_data(root)
        (root / "tasks.py").write_text(TASKS)
        out = root / "out"
        for name, seed in (("org/dummy-a", 1), ("dummy-b", 2)):
            _run(root, out, name, seed)
        if OUT.exists():
            shutil.rmtree(OUT)
        shutil.copytree(out, OUT / "out")
    expected = {}
    for results in sorted((OUT / "out" / "results").rglob("results_*.json")):
        data = json.loads(results.read_text())
        model = data["config_general"]["model_config"]["model_name"]
        for task, values in data["results"].items():
            if task != "all":
                expected[f"{model} {task}"] = values
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    (OUT / "VERSION").write_text(f"lighteval {version('lighteval')}\n")
    print(f"wrote {OUT} with lighteval {version('lighteval')}", file=sys.stderr)


if __name__ == "__main__":
    main()
