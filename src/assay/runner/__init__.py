"""Running models on tasks: scoring, write-through to the store, resume, inference cost.

Every evaluation is a :class:`RunSpec` handed to :func:`run` (``evaluate`` is its keyword form;
``assay eval``, variant jobs and grids build specs too). Loaded models live in a
:class:`Backends` scope owned by one call (or, explicitly, one grid): no process-wide cache."""

from ._cost import CostFit, fit_cost
from ._evaluate import EvalResult, evaluate, run
from ._grid import Grid, GridCell, grid_from_dict, grid_table, load_grid, run_grid
from ._job import (
    DEFAULT_JOB_LIMIT,
    DEFAULT_JOB_ORDERINGS,
    DEFAULT_VARIANTS,
    Variant,
    evaluate_variants,
    run_variants,
)
from ._lm_eval_tasks import (
    LmEvalOptions,
    LmEvalOutcome,
    lm_eval_registry,
    lm_eval_task_names,
    run_lm_eval_tasks,
)
from ._ray import ray_session
from ._score import Backends, answer_requests, get_backend, score_instances
from ._shard import doc_shard, parse_shard, shard_documents
from ._spec import RunSpec
from ._summary import stored_cost_fit, summarize

__all__ = [
    "LmEvalOptions",
    "LmEvalOutcome",
    "lm_eval_registry",
    "lm_eval_task_names",
    "run_lm_eval_tasks",
    "DEFAULT_JOB_LIMIT",
    "DEFAULT_JOB_ORDERINGS",
    "DEFAULT_VARIANTS",
    "Backends",
    "CostFit",
    "EvalResult",
    "Grid",
    "GridCell",
    "RunSpec",
    "Variant",
    "answer_requests",
    "doc_shard",
    "evaluate",
    "evaluate_variants",
    "fit_cost",
    "get_backend",
    "grid_from_dict",
    "grid_table",
    "load_grid",
    "parse_shard",
    "ray_session",
    "run",
    "run_grid",
    "run_variants",
    "score_instances",
    "shard_documents",
    "stored_cost_fit",
    "summarize",
]
