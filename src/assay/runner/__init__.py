"""Running models on tasks: scoring, write-through to the store, resume, inference cost."""

from ._cost import CostFit, fit_cost
from ._evaluate import EvalResult, evaluate, stored_cost_fit, summarize
from ._grid import Grid, GridCell, grid_from_dict, grid_table, load_grid, run_grid
from ._job import (
    DEFAULT_JOB_LIMIT,
    DEFAULT_JOB_ORDERINGS,
    DEFAULT_VARIANTS,
    Variant,
    evaluate_variants,
)
from ._lm_eval_tasks import (
    LmEvalOptions,
    LmEvalOutcome,
    lm_eval_registry,
    lm_eval_task_names,
    run_lm_eval_tasks,
)
from ._ray import ray_session
from ._score import answer_requests, get_backend, score_instances

__all__ = [
    "LmEvalOptions",
    "LmEvalOutcome",
    "lm_eval_registry",
    "lm_eval_task_names",
    "run_lm_eval_tasks",
    "DEFAULT_JOB_LIMIT",
    "DEFAULT_JOB_ORDERINGS",
    "DEFAULT_VARIANTS",
    "CostFit",
    "EvalResult",
    "Grid",
    "GridCell",
    "Variant",
    "answer_requests",
    "evaluate",
    "evaluate_variants",
    "fit_cost",
    "get_backend",
    "grid_from_dict",
    "grid_table",
    "load_grid",
    "ray_session",
    "run_grid",
    "score_instances",
    "stored_cost_fit",
    "summarize",
]
