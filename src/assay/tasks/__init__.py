"""Tasks: what to ask a model and how to score the answer.

A :class:`Task` holds documents with stable ``doc_id``s, Jinja2 prompt templates, a few-shot
policy and one request type (``multiple_choice``, ``generate``, ``loglikelihood_rolling``).
``Task.instances(...)`` renders prompts into requests; ``Task.score(instance, results)`` turns a
model's answers into metrics. ``load_task`` resolves built-in names, registered names and files
(assay YAML, lm-eval YAML subset, BIG-bench JSON, JSONL/CSV/Parquet, Hugging Face datasets).
"""

from ._builtin import BUILTIN_SUITE
from ._docs import Doc, make_docs
from ._filters import make_filter
from ._instance import Instance, Result, ScoredSample
from ._loaders import bigbench_task, load_hf_records, read_records, task_from_records
from ._metrics import (
    aggregate_rolling,
    exact_match,
    multiple_choice_metrics,
    normalize_answer,
    rolling_metrics,
    token_f1,
)
from ._registry import list_tasks, load_task, register_task
from ._render import CHATML_TEMPLATE, render_chat
from ._schema import save_task, task_from_dict, task_to_dict
from ._task import REQUEST_TYPES, Task

__all__ = [
    "BUILTIN_SUITE",
    "CHATML_TEMPLATE",
    "REQUEST_TYPES",
    "Doc",
    "Instance",
    "Result",
    "ScoredSample",
    "Task",
    "aggregate_rolling",
    "bigbench_task",
    "exact_match",
    "list_tasks",
    "load_hf_records",
    "load_task",
    "make_docs",
    "make_filter",
    "multiple_choice_metrics",
    "normalize_answer",
    "read_records",
    "register_task",
    "render_chat",
    "rolling_metrics",
    "save_task",
    "task_from_dict",
    "task_from_records",
    "task_to_dict",
    "token_f1",
]
