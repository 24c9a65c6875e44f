"""``assay eval -m MODEL -t TASK --adaptive K``: glue of three library calls — the task's item
parameters (``stats.fit_irt_2pl`` of the stored models' answers), a model answering chosen
questions (``runner.QuestionAsker``) and the adaptive test (``stats.adaptive_test``)."""

from __future__ import annotations

from typing import Any

from assay.errors import InputError

from ._common import console, print_json
from ._until_decided import Sequential

MIN_MODELS = 5
"""Stored models a task needs before its items can be fitted."""


def run_adaptive(
    model: str, task: str, seq: Sequential, *, store: Any, json_out: bool, **options: Any
) -> None:
    """Fit the items, test ``model`` adaptively on ``seq.adaptive`` of them, print the
    predicted score."""
    k, metric, confidence = seq.adaptive, seq.metric, seq.confidence
    from assay.models import describe_spec
    from assay.runner import QuestionAsker
    from assay.stats import adaptive_test, fit_irt_2pl, response_matrix
    from assay.store import existing_store

    ask = QuestionAsker(model, task, store=store, metric=metric, **options)
    ev = existing_store(store).evidence(task=ask.task.name)
    if ev.scores.empty:
        raise InputError(f"--adaptive needs earlier models' runs of {ask.task.name} in the store")
    described = describe_spec(model)  # the tested model's own answers stay out of the fit
    others = sorted(set(ev.scores["model"]) - {described[0] if described else None})
    if not others:
        raise InputError(f"--adaptive needs earlier models' runs of {ask.task.name} in the store")
    responses = response_matrix(
        ev.scores, task=ask.task.name, metric=metric, metrics=ev.metrics, models=others
    )
    responses = responses.loc[:, responses.columns.isin(sorted(ask.doc_ids))]
    if len(responses) < MIN_MODELS:
        raise InputError(
            f"--adaptive fits item parameters from stored runs of {ask.task.name}: "
            f"{len(responses)} models stored, at least {MIN_MODELS} needed"
        )
    if not 1 <= k <= responses.shape[1]:
        raise InputError(f"--adaptive {k}: the task has {responses.shape[1]} fitted questions")
    fit = fit_irt_2pl(responses)
    docs = [str(d) for d in responses.columns]
    ask.metric = ask.metric or ev.headline(sorted(ev.scores["metric"].unique()))
    result = adaptive_test(
        lambda rows, cols: ask([docs[c] for c in cols]),
        fit.discrimination.to_numpy(),
        fit.difficulty.to_numpy(),
        k=k,
        confidence=0.95 if confidence is None else confidence,
        fitted_on=responses.to_numpy(dtype=float),
    )
    name = ask.result.model if ask.result is not None else model
    out = {
        "model": name,
        "task": ask.task.name,
        "metric": ask.metric,
        "asked": ask.asked,
        "n_items": len(docs),
        "n_models_fitted": len(responses),
        "score": float(result.score[0]),
        "score_low": float(result.score_low[0]),
        "score_high": float(result.score_high[0]),
        "confidence": result.confidence,
        "ability": float(result.ability[0]),
        "ability_se": float(result.ability_se[0]),
        "new_samples": ask.new_samples,
    }
    if json_out:
        print_json(out)
        return
    console.print(
        f"{name} · {out['task']} · {out['metric']}: predicted full score {out['score']:.4f} "
        f"[{out['score_low']:.4f}, {out['score_high']:.4f}] ({result.confidence:.0%}) from "
        f"{len(ask.asked)} of {len(docs)} questions chosen adaptively (2PL items fitted on "
        f"{len(responses)} stored models); ability {out['ability']:+.2f} ± "
        f"{out['ability_se']:.2f}; {ask.new_samples} new samples",
        highlight=False,
        soft_wrap=True,
    )
