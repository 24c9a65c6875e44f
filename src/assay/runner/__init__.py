"""Running models on tasks: scoring, write-through to the store, resume, inference cost."""

from ._cost import CostFit, fit_cost
from ._evaluate import EvalResult, evaluate, stored_cost_fit, summarize
from ._score import answer_requests, get_backend, score_instances

__all__ = [
    "CostFit",
    "EvalResult",
    "answer_requests",
    "evaluate",
    "fit_cost",
    "get_backend",
    "score_instances",
    "stored_cost_fit",
    "summarize",
]
