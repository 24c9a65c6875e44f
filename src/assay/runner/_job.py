"""Evaluating several variants of a model as one job, and the default job of ``assay eval``.

A variant is a model spec plus its prompting (few-shot examples). The default job compares what
users compare every day, on the bundled SmolLM2-135M: the full-precision model, the same weights
quantized to int8 (recorded with the full-precision model as its parent, so version flips apply)
and a few-shot prompt against zero-shot, each question in two choice orderings.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from assay.errors import InputError
from assay.models import check_remote_code, describe_spec
from assay.store import Store

from ._evaluate import EvalResult, evaluate
from ._spec import RunSpec


@dataclass(frozen=True)
class Variant:
    """One model setting of a job: a model spec (``name=`` in it names the variant in the
    store) and its few-shot examples per prompt (None: the task's default)."""

    model: str
    num_fewshot: int | None = None
    description: str = ""


DEFAULT_VARIANTS: tuple[Variant, ...] = (
    Variant("smollm2-135m", None, "full precision (float32), zero-shot"),
    Variant("smollm2-135m,quantize=int8", None, "int8 weights (parent smollm2-135m), zero-shot"),
    Variant("smollm2-135m,name=smollm2-135m-3shot", 3, "full precision, three-shot prompts"),
)
"""The default job's variants (``assay eval`` with no model, task or few-shot option). The
zero-shot ones keep the tasks' own few-shot setting (None), so they are the very runs of
``assay eval -m smollm2-135m --limit 20 --permute-choices 2`` (same run ids: either resumes the
other)."""

DEFAULT_JOB_LIMIT = 20
"""Documents per task in the default job: 3 variants x (7 multiple-choice tasks x 20 documents x
2 orderings + 1 generative task x 20 documents) = 900 scored samples; the time is measured by
benchmarks/default_job.py."""

DEFAULT_JOB_ORDERINGS = 2
"""Choice orderings per multiple-choice question in the default job (``permute_choices``: two
seeded orderings, so the variance and reliability analyses have content)."""


def evaluate_variants(
    variants: Sequence[Variant],
    tasks: Any,
    *,
    store: Store | str | os.PathLike[str] | None = None,
    progress: bool = True,
    **settings: Any,
) -> list[EvalResult]:
    """:func:`evaluate` each variant on ``tasks`` with the same ``settings`` (the keywords of
    :class:`RunSpec`: limit, seed, batch_size, repeats, permute_choices, executor, ...): the
    keyword form of :func:`run_variants`."""
    return run_variants(variants, RunSpec(tasks=tasks, **settings), store=store, progress=progress)


def run_variants(
    variants: Sequence[Variant],
    spec: RunSpec,
    *,
    store: Store | str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> list[EvalResult]:
    """Evaluate ``spec`` once per variant (its model and few-shot replace the spec's), in
    order, into one store (each variant resumes on its own, so a killed job continues where it
    stopped). Variants need distinct store names (``name=`` in the spec): the store compares
    models by name, and two settings under one name would pool. Checked before anything runs."""
    if not variants:
        raise InputError("a job needs at least one model variant")
    for variant in variants:
        check_remote_code(variant.model, spec.trust_remote_code)
        replace(spec, num_fewshot=variant.num_fewshot).check_options()
    known = [d[0] for d in map(_described, variants) if d is not None]
    dupes = sorted({n for n in known if known.count(n) > 1})
    if dupes:
        raise InputError(
            f"variants share the store name {', '.join(dupes)}: give each a name= in its spec"
        )
    results: list[EvalResult] = []
    for variant in variants:
        one = replace(spec, model=variant.model, num_fewshot=variant.num_fewshot)
        # through ``evaluate`` by name: a test (or a caller) may wrap it to swap the model
        results.append(
            evaluate(one.model, one.tasks, store=store, progress=progress, **one.settings())
        )
    return results


def _described(variant: Variant):
    """The variant's (name, info) when its spec tells without loading; a malformed spec is
    left to :func:`evaluate`, which raises its one-line error before anything runs."""
    try:
        return describe_spec(variant.model)
    except InputError:
        return None
