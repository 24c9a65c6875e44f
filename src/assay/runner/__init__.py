"""Running models on tasks: scoring, write-through to the store, resume, inference cost.

Every evaluation is a :class:`RunSpec` handed to :func:`run` (``evaluate`` is its keyword form;
``assay eval``, variant jobs and grids build specs too). Loaded models live in a
:class:`Backends` scope owned by one call (or, explicitly, one grid): no process-wide cache.

Two models can also be compared question batch by batch until a rule decides
(:func:`evaluate_until_decided`)."""

from ._asker import QuestionAsker
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
from ._sequential import (
    DEFAULT_EVERY,
    SequentialRun,
    evaluate_until_decided,
    question_order,
    sequential_records,
)
from ._shard import doc_shard, parse_shard, shard_documents
from ._spec import RunSpec
from ._summary import stored_cost_fit, summarize

__all__ = [
    "DEFAULT_EVERY",
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
    "QuestionAsker",
    "SequentialRun",
    "Variant",
    "answer_requests",
    "doc_shard",
    "evaluate",
    "evaluate_until_decided",
    "evaluate_variants",
    "fit_cost",
    "get_backend",
    "grid_from_dict",
    "grid_table",
    "load_grid",
    "parse_shard",
    "question_order",
    "ray_session",
    "run",
    "run_grid",
    "run_variants",
    "score_instances",
    "shard_documents",
    "sequential_records",
    "stored_cost_fit",
    "summarize",
]
