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
from ._ray import ray_session
from ._score import answer_requests, get_backend, score_instances
from ._shard import doc_shard, parse_shard, shard_documents

__all__ = [
    "DEFAULT_JOB_LIMIT",
    "DEFAULT_JOB_ORDERINGS",
    "DEFAULT_VARIANTS",
    "CostFit",
    "EvalResult",
    "Grid",
    "GridCell",
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
    "run_grid",
    "score_instances",
    "shard_documents",
    "stored_cost_fit",
    "summarize",
]
