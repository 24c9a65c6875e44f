"""Tasks: what to ask a model and how to score the answer.

A :class:`Task` holds documents with stable ``doc_id``s, Jinja2 prompt templates, a few-shot
policy and one request type (``multiple_choice``, ``generate``, ``loglikelihood_rolling``), each
a strategy that builds the requests and scores the answers. ``Task.instances(...)`` renders
prompts into :class:`Instance`\\ s (with a typed payload per request type);
``Task.score(instance, results)`` turns a model's answers into a :class:`ScoredSample`.
``load_task`` resolves built-in names, registered names and files (assay YAML, lm-eval YAML
subset, BIG-bench JSON, JSONL/CSV/Parquet, Hugging Face datasets).
"""

from ._builtin import BUILTIN_SUITE
from ._docs import Doc, make_docs
from ._instance import (
    ChoicePayload,
    GeneratePayload,
    Instance,
    Payload,
    Result,
    RollingPayload,
    ScoredSample,
)
from ._loaders import task_from_records
from ._metrics import aggregate_rolling
from ._perturb import PERTURBATIONS, perturb_text, perturbed, with_perturbations
from ._probes import FAIRNESS_AXES, fairness_probes
from ._registry import is_assay_task, list_tasks, load_task, register_task
from ._schema import save_task
from ._task import Task

__all__ = [
    "BUILTIN_SUITE",
    "FAIRNESS_AXES",
    "PERTURBATIONS",
    "ChoicePayload",
    "Doc",
    "GeneratePayload",
    "Instance",
    "Payload",
    "Result",
    "RollingPayload",
    "ScoredSample",
    "Task",
    "aggregate_rolling",
    "fairness_probes",
    "is_assay_task",
    "list_tasks",
    "load_task",
    "make_docs",
    "perturb_text",
    "perturbed",
    "register_task",
    "save_task",
    "task_from_records",
    "with_perturbations",
]
