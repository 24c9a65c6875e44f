"""The runner on Ray: shards scored by actors that load the backend once each.

The driver plans the shards (the same chunks a single-process run forms), ships each to a pool
of actors and writes every finished shard itself, in one transaction, so resume, idempotence
and crash safety are those of the single-process runner. Actors restart when their process
dies (``max_restarts``) and Ray retries the shard they held (``max_task_retries``): a shard is
written once, when its result reaches the driver, so nothing is lost or duplicated. Ray is an
optional extra (``pip install "assay[ray]"``).
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from assay.errors import InputError
from assay.models import BackendInfo, ModelBackend
from assay.store import SampleRecord
from assay.tasks import Instance

from ._score import Backends, TaskLike, score_instances

EXECUTORS = ("local", "ray")
MAX_RESTARTS = 3
"""Times an actor is restarted after its process dies (each retries the shard it held)."""


def check_executor(executor: Any, workers: Any, ray_address: Any) -> tuple[str, int | None]:
    """``(executor, workers)`` checked before any work: InputError with one line otherwise."""
    if executor not in EXECUTORS:
        raise InputError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if workers is not None:
        ok = isinstance(workers, int) and not isinstance(workers, bool) and workers >= 1
        if not ok:
            raise InputError(f"workers must be an integer >= 1, got {workers!r}")
    if executor == "local" and ray_address is not None:
        raise InputError("ray_address needs executor='ray'")
    return executor, workers


def _ray():
    try:
        import ray
    except ImportError:
        raise InputError('the Ray executor needs ray: pip install "assay[ray]"') from None
    return ray


@contextmanager
def ray_session(address: str | None = None) -> Iterator[Any]:
    """Ray connected for the body: an already initialised Ray is used as is; else a local
    instance is started (``address=None``) or ``address`` joined, and shut down after.
    A local instance's workers get the driver's ``sys.path`` (tasks and backends defined in
    the user's modules unpickle there)."""
    ray = _ray()
    if ray.is_initialized():
        yield ray
        return
    env = {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}}
    if address not in (None, "auto", "local"):
        _check_reachable(address)
    try:
        ray.init(
            address=address,
            runtime_env=env if address is None else None,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    except Exception as exc:  # ConnectionError, RuntimeError, ValueError: all one line
        where = address or "a local instance"
        raise InputError(f"ray: cannot connect to {where}: {str(exc).splitlines()[0]}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


CONNECT_SECONDS = 10.0
"""How long an explicit Ray address may take to accept a TCP connection."""


def _check_reachable(address: str) -> None:
    """InputError unless ``host:port`` (``ray://`` or not) accepts a TCP connection: Ray itself
    retries an unreachable head for minutes."""
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"ray: address {address!r} is not HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"ray: cannot connect to {address}: {reason}") from None


def load_backend(
    model: ModelBackend | str, batch_size: int | str, backends: Backends | None = None
) -> ModelBackend:
    """The backend for a spec (loaded now, or once per ``backends`` scope) or a given backend,
    with ``batch_size`` applied (a given backend keeps its own when ``"auto"``)."""
    options = {} if isinstance(model, ModelBackend) else {"batch_size": batch_size}
    backend = (backends if backends is not None else Backends()).get(model, **options)
    if isinstance(model, ModelBackend) and batch_size != "auto" and hasattr(backend, "batch_size"):
        backend.batch_size = batch_size
    return backend


class _Worker:
    """A Ray actor's body: one backend, loaded once, scoring shards."""

    def __init__(self, model: ModelBackend | str, batch_size: int | str):
        self.backend = load_backend(model, batch_size)

    def describe(self) -> tuple[str, BackendInfo, str]:
        return self.backend.name, self.backend.info, self.backend.spec

    def score(
        self, instances: list[Instance], task: TaskLike, run_id: str, model_name: str
    ) -> list[SampleRecord]:
        return score_instances(self.backend, instances, task, run_id=run_id, model_name=model_name)


class RayPool:
    """``workers`` actors holding ``model`` (one CPU each; one GPU each when the cluster has
    GPUs and ``workers`` is None, one actor per GPU). Every actor has loaded its backend when
    the constructor returns, or InputError is raised and no actor is left."""

    def __init__(self, model: ModelBackend | str, batch_size: int | str, workers: int | None):
        ray = _ray()
        self.ray = ray
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 0))
        per_actor = {"num_gpus": 1} if gpus and workers is None else {"num_cpus": 1}
        count = workers or gpus or 1
        capacity = gpus if "num_gpus" in per_actor else cpus
        if count > capacity:
            unit = "GPUs" if "num_gpus" in per_actor else "CPUs"
            raise InputError(f"ray: {count} workers asked, the cluster has {capacity} {unit}")
        actor = ray.remote(max_restarts=MAX_RESTARTS, max_task_retries=MAX_RESTARTS)(_Worker)
        self.actors = [actor.options(**per_actor).remote(model, batch_size) for _ in range(count)]
        try:
            described = ray.get([a.describe.remote() for a in self.actors])
        except Exception as exc:
            self.close()
            cause = getattr(exc, "cause", None) or exc
            first = str(cause).strip().splitlines()
            raise InputError(
                f"ray worker cannot load the model {_label(model)}: "
                f"{first[-1] if first else type(cause).__name__}"
            ) from None
        self.name, self.info, self.spec = described[0]

    def score(
        self, shards: Sequence[tuple[list[Instance], TaskLike, str]], model_name: str
    ) -> Iterator[tuple[int, list[SampleRecord]]]:
        """``(shard index, records)`` as shards finish (any order), each actor busy with at
        most two shards; a shard's failure (not a dead process, which Ray retries) raises."""
        ray = self.ray
        pending: dict[Any, int] = {}
        queue = list(enumerate(shards))[::-1]
        free = [a for a in self.actors for _ in range(2)]
        owner: dict[Any, Any] = {}
        while queue or pending:
            while queue and free:
                index, (instances, task, run_id) = queue.pop()
                actor = free.pop()
                ref = actor.score.remote(instances, task, run_id, model_name)
                pending[ref], owner[ref] = index, actor
            [done], _ = ray.wait(list(pending), num_returns=1)
            index = pending.pop(done)
            free.append(owner.pop(done))
            yield index, ray.get(done)

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []


def _label(model: ModelBackend | str) -> str:
    return model if isinstance(model, str) else getattr(model, "name", type(model).__name__)


def scored_shards(
    shards: Sequence[tuple[Any, list[Instance]]],
    backend: ModelBackend | None,
    pool: RayPool | None,
    name: str,
) -> Iterator[tuple[Any, list[SampleRecord]]]:
    """``(plan, records)`` per ``(plan, instances)`` shard: scored here in order with
    ``backend``, or by the Ray ``pool`` as they finish."""
    if pool is None:
        for plan, part in shards:
            assert backend is not None  # loaded when something is left to do
            yield (
                plan,
                score_instances(backend, part, plan.task, run_id=plan.run.run_id, model_name=name),
            )
        return
    jobs = [(part, plan.task, plan.run.run_id) for plan, part in shards]
    for index, records in pool.score(jobs, name):
        yield shards[index][0], records
