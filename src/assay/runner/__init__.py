"""Running models on tasks: scoring, write-through to the store, resume, inference cost, and
two models compared question batch by batch until a rule decides."""

from ._asker import QuestionAsker
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
from ._ray import ray_session
from ._score import answer_requests, get_backend, score_instances
from ._sequential import (
    DEFAULT_EVERY,
    SequentialRun,
    evaluate_until_decided,
    question_order,
    sequential_records,
)

__all__ = [
    "DEFAULT_EVERY",
    "DEFAULT_JOB_LIMIT",
    "DEFAULT_JOB_ORDERINGS",
    "DEFAULT_VARIANTS",
    "CostFit",
    "EvalResult",
    "Grid",
    "GridCell",
    "QuestionAsker",
    "SequentialRun",
    "Variant",
    "answer_requests",
    "evaluate",
    "evaluate_until_decided",
    "evaluate_variants",
    "fit_cost",
    "get_backend",
    "grid_from_dict",
    "grid_table",
    "load_grid",
    "question_order",
    "ray_session",
    "run_grid",
    "score_instances",
    "sequential_records",
    "stored_cost_fit",
    "summarize",
]
