"""The scheduler examples run: the Slurm array script's own commands, executed here with the
array variables set (a stub ``sbatch`` records the dependent merge job, run once every shard
is done), and the Kubernetes Indexed Job's commands with each ``JOB_COMPLETION_INDEX``, give a
merged store equal to a single-machine run, sample for sample. ``assay`` is a stub that runs
the real CLI with the deterministic fake backend for ``-m fake``."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from stored_records import stored_records

from assay.store import open_store

ROOT = Path(__file__).resolve().parents[2]
SLURM = ROOT / "examples" / "slurm" / "eval_array.sbatch"
K8S = ROOT / "examples" / "k8s" / "eval-indexed-job.yaml"
TASKS = "arith_mc,arith_gen"
EVAL_ARGS = "--limit 14 --permute-choices 2"

ASSAY_STUB = """#!{python}
import os, sys
sys.path[:0] = [{src!r}, {support!r}]
from fake_backend import FakeBackend, answer_key
import assay.runner._job as job
from assay.tasks import load_task
names = os.environ["FAKE_TASKS"].split(",")
fake = FakeBackend(answers=answer_key(i for n in names for i in load_task(n).instances()),
                   skill=0.5)
real = job.evaluate
job.evaluate = lambda model, *a, **k: real(fake if model == "fake" else model, *a, **k)
from assay.cli import main
main()
"""

SBATCH_STUB = """#!{python}
import json, os, sys
with open(os.environ["SBATCH_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
print("Submitted batch job 99")
"""


FILL = dict(python=sys.executable, src=str(ROOT / "src"), support=str(ROOT / "tests/support"))


def _stub(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text.format(**FILL))
    (folder / name).chmod(0o755)


@pytest.fixture
def bin_dir(tmp_path) -> Path:
    """A folder with the ``assay`` stub, to put first on PATH."""
    folder = tmp_path / "bin"
    folder.mkdir()
    _stub(folder, "assay", ASSAY_STUB)
    return folder


def _env(bin_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "ASSAY_"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}", FAKE_TASKS=TASKS)
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def _single_run(bin_dir: Path, tmp_path: Path) -> pd.DataFrame:
    path = tmp_path / "single.duckdb"
    args = ["assay", "eval", "-m", "fake", "-t", TASKS, *EVAL_ARGS.split(), "--store", str(path),
            "--no-progress"]  # fmt: skip
    _run(args, _env(bin_dir), tmp_path)
    return stored_records(path)


def test_slurm_script_has_the_array_the_shard_and_the_merge():
    text = SLURM.read_text()
    assert re.search(r"^#SBATCH --array=1-\d+$", text, re.M)
    assert '--shard "$SLURM_ARRAY_TASK_ID/$N"' in text
    assert "SLURM_ARRAY_TASK_ID" in text and "store merge" in text
    assert "--dependency=" in text and "afterok" in text


def _array_size() -> int:
    return int(re.search(r"^#SBATCH --array=1-(\d+)$", SLURM.read_text(), re.M).group(1))


def test_slurm_array_run_locally_equals_a_single_run(bin_dir, tmp_path):
    _stub(bin_dir, "sbatch", SBATCH_STUB)  # records the merge job instead of queueing it
    n = _array_size()
    out, log = tmp_path / "out", tmp_path / "sbatch.log"
    common = dict(SLURM_ARRAY_JOB_ID="4242", SLURM_ARRAY_TASK_COUNT=str(n),
                  SLURM_ARRAY_TASK_MIN="1", SLURM_ARRAY_TASK_MAX=str(n), ASSAY_MODEL="fake",
                  ASSAY_TASKS=TASKS, ASSAY_EVAL_ARGS=EVAL_ARGS, ASSAY_OUT=str(out),
                  SBATCH_LOG=str(log))  # fmt: skip
    for k in range(1, n + 1):  # each array task, as Slurm would start it
        _run(["bash", str(SLURM)], _env(bin_dir, SLURM_ARRAY_TASK_ID=str(k), **common), tmp_path)
    assert sorted(p.name for p in out.glob("shard-*.duckdb")) == [
        f"shard-{k}-of-{n}.duckdb" for k in range(1, n + 1)
    ]
    submitted = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(submitted) == 1  # one merge job, submitted by the first array task
    [argv] = submitted
    assert "--dependency=afterok:4242" in argv
    wrap = next(a.split("=", 1)[1] for a in argv if a.startswith("--wrap="))
    _run(["sh", "-c", wrap], _env(bin_dir), tmp_path)  # the dependent job, after the array
    merged = out / "all.duckdb"
    single = _single_run(bin_dir, tmp_path)
    assert len(single) == 14 + 14 * 2  # arith_gen, and arith_mc in two orderings
    pd.testing.assert_frame_equal(stored_records(merged), single, check_exact=True)
    shard_rows = sum(len(open_store(p).samples()) for p in out.glob("shard-*.duckdb"))
    assert shard_rows == len(single)  # the shards never overlap
    assert len(open_store(merged).runs()) == 2  # shards of a run: one run


def test_slurm_script_without_a_scheduler_merges_after_the_last_shard(bin_dir, tmp_path):
    """Only SLURM_ARRAY_TASK_ID set, no sbatch anywhere: the shards run one after another and
    the last one merges (N from the script's default, equal to its --array)."""
    assert shutil.which("sbatch", path=str(bin_dir)) is None
    n = _array_size()
    env = dict(ASSAY_MODEL="fake", ASSAY_TASKS=TASKS, ASSAY_EVAL_ARGS=EVAL_ARGS)
    path = f"{bin_dir}{os.pathsep}/usr/bin:/bin"  # no sbatch on it
    merged = tmp_path / "assay-local" / "all.duckdb"
    for k in range(1, n + 1):
        assert not merged.exists()  # not before every shard is done
        _run(["bash", str(SLURM)], _env(bin_dir, SLURM_ARRAY_TASK_ID=str(k), PATH=path, **env),
             tmp_path)  # fmt: skip
    single = _single_run(bin_dir, tmp_path)
    pd.testing.assert_frame_equal(stored_records(merged), single, check_exact=True)


def _k8s() -> tuple[dict, dict]:
    docs = [d for d in yaml.safe_load_all(K8S.read_text()) if d]
    jobs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Job"}
    assert {d["kind"] for d in docs} == {"Job", "PersistentVolumeClaim"}
    assert all(d["apiVersion"] == "batch/v1" for d in jobs.values())
    return jobs["assay-eval"], jobs["assay-merge"]


def _env_of(container: dict) -> dict[str, str]:
    return {e["name"]: str(e["value"]) for e in container.get("env", [])}


def test_k8s_indexed_job_fields():
    eval_job, merge_job = _k8s()
    spec = eval_job["spec"]
    assert spec["completionMode"] == "Indexed"
    [container] = spec["template"]["spec"]["containers"]
    shards = int(_env_of(container)["SHARDS"])
    assert spec["completions"] == spec["parallelism"] == shards
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    script = " ".join(container["command"] + container["args"])
    assert "JOB_COMPLETION_INDEX" in script and "--shard" in script and "assay eval" in script
    merge_spec = merge_job["spec"]["template"]["spec"]
    [merge] = merge_spec["containers"]
    assert "store merge" in " ".join(merge["args"]) and _env_of(merge)["SHARDS"] == str(shards)
    assert _env_of(merge_spec["initContainers"][0])["SHARDS"] == str(shards)
    claims = {
        v["persistentVolumeClaim"]["claimName"]
        for job in (eval_job, merge_job)
        for v in job["spec"]["template"]["spec"]["volumes"]
    }
    assert claims == {"assay-results"}


def test_k8s_commands_run_locally_equal_a_single_run(bin_dir, tmp_path):
    eval_job, merge_job = _k8s()
    [container] = eval_job["spec"]["template"]["spec"]["containers"]
    shards = eval_job["spec"]["completions"]
    results = tmp_path / "results"
    results.mkdir()
    local = dict(ASSAY_MODEL="fake", ASSAY_TASKS=TASKS, ASSAY_EVAL_ARGS=EVAL_ARGS,
                 RESULTS=str(results))  # fmt: skip
    for index in range(shards):  # each pod of the Indexed Job
        env = _env(bin_dir, **{**_env_of(container), **local}, JOB_COMPLETION_INDEX=str(index))
        _run([*container["command"], *container["args"]], env, tmp_path)
    spec = merge_job["spec"]["template"]["spec"]
    for step in [*spec["initContainers"], *spec["containers"]]:  # wait (returns: all done), merge
        env = _env(bin_dir, **{**_env_of(step), "RESULTS": str(results)})
        _run([*step["command"], *step["args"]], env, tmp_path)
    assert len(list(results.glob("*.done"))) == shards
    single = _single_run(bin_dir, tmp_path)
    pd.testing.assert_frame_equal(stored_records(results / "all.duckdb"), single, check_exact=True)
