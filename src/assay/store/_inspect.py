"""Import inspect_ai evaluation logs (``.eval`` zip archives and ``.json`` files, log version 2).

Read with the standard library only (inspect_ai is not needed). An ``.eval`` file is a zip of
``header.json`` (or, for a run that never finished, ``_journal/start.json``) and one
``samples/<id>_epoch_<n>.json`` per sample; a ``.json`` log holds the same objects in one file.

Each log is one run per (model, task); each (sample id, epoch) one sample with ``repeat`` =
epoch − 1. Every scorer's value becomes a metric the way inspect's ``value_to_float`` maps it
(``C`` 1, ``P`` 0.5, ``I`` and ``N`` 0, yes/true 1, no/false 0, numbers as they are); a dict
value becomes one metric per key, ``<scorer>.<key>`` (a list: ``<scorer>.<i>``). A sample that
errored has no scores: it is not imported (and so never counted as wrong), only counted; so is
a sample without a score (never scored, or no value that maps to a number), and re-importing
such a log keeps what the store holds for it.

A log is read a sample at a time (:mod:`._inspect_logs`) and written a chunk at a time in one
transaction (:func:`~._import_runs.write_parts`): memory does not grow with the log.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from assay.errors import InputError

from ._import_runs import ImportSummary, Part, Progress, chunked, given_model
from ._inspect_logs import LOG_VERSIONS, log_files, open_log
from ._log_import import each_file, import_log
from ._records import ModelInfo, RunInfo, SampleRecord, make_run_id
from ._store import Store

__all__ = ["LOG_VERSIONS", "import_inspect", "inspect_models", "read_inspect", "to_float"]

_LETTERS = {"C": 1.0, "P": 0.5, "I": 0.0, "N": 0.0}
_WORDS = {"yes": 1.0, "true": 1.0, "no": 0.0, "false": 0.0}


def to_float(value: Any) -> float | None:
    """inspect's ``value_to_float`` (C/P/I/N letters, yes/no words, numbers); None when it
    would only warn (inspect then counts 0: assay keeps the cell missing instead)."""
    if isinstance(value, str):
        if value in _LETTERS:
            return _LETTERS[value]
        word = value.lower()
        if word in _WORDS:
            return _WORDS[word]
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    if isinstance(value, bool | int | float):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _metrics(scores: dict[str, Any], where: str) -> tuple[dict[str, float], dict[str, Any]]:
    """(metric name → value, raw scores kept for the drill-down) of one sample."""
    metrics: dict[str, float] = {}
    raw: dict[str, Any] = {}
    for name, score in scores.items():
        if not isinstance(score, dict) or "value" not in score:
            raise InputError(f"{where}, field 'scores.{name}': not a score (no 'value')")
        value = score["value"]
        if isinstance(value, dict):
            items = {f"{name}.{k}": v for k, v in value.items()}
        elif isinstance(value, list):
            items = {f"{name}.{i}": v for i, v in enumerate(value)}
        else:
            items = {name: value}
        for key, item in items.items():
            number = to_float(item)
            if number is not None:
                metrics[key] = number
        raw[name] = {k: score[k] for k in ("value", "answer", "explanation") if k in score}
    return metrics, raw


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(c.get("text", "") if isinstance(c, dict) else str(c) for c in content)
    return "" if content is None else str(content)


def _prompt(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n\n".join(
            f"{m.get('role', '?')}: {_text(m.get('content'))}" if isinstance(m, dict) else str(m)
            for m in value
        )
    return json.dumps(value)


def _whole(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return int(value) if float(value).is_integer() and value < 2**31 else None


def _tokens(sample: dict[str, Any]) -> tuple[int | None, int | None]:
    usage = sample.get("model_usage")
    parts = list(usage.values()) if isinstance(usage, dict) and usage else []
    if not parts:
        out = sample.get("output")
        parts = [out.get("usage")] if isinstance(out, dict) and out.get("usage") else []
    parts = [p for p in parts if isinstance(p, dict)]
    if not parts:
        return None, None
    sums = []
    for key in ("input_tokens", "output_tokens"):
        values = [_whole(p.get(key)) for p in parts]
        sums.append(None if any(v is None for v in values) else sum(values))
    return sums[0], sums[1]


def _sample(
    path: Path, label: str, sample: Any, run_id: str, model: str, task: str
) -> SampleRecord | None:
    where = f"{path}: {label}"
    if not isinstance(sample, dict):
        raise InputError(f"{where}: not a JSON object")
    sid = sample.get("id")
    if isinstance(sid, bool) or not isinstance(sid, str | int) or sid == "":
        raise InputError(f"{where}, field 'id': missing or not a number or text")
    epoch = sample.get("epoch", 1)
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        raise InputError(f"{where}, field 'epoch': not a whole number >= 1")
    if sample.get("error"):
        return None
    scores = sample.get("scores") or {}
    if not isinstance(scores, dict):
        raise InputError(f"{where}, field 'scores': not a JSON object")
    metrics, raw = _metrics(scores, where)
    output = sample.get("output") if isinstance(sample.get("output"), dict) else {}
    target = sample.get("target")
    inp, outp = _tokens(sample)
    total = sample.get("total_time")
    extra = {
        "scores": raw,
        "metadata": sample.get("metadata") or None,
        "working_time": sample.get("working_time"),
        "stop_reason": ((output.get("choices") or [{}])[0] or {}).get("stop_reason"),
    }
    return SampleRecord(
        run_id=run_id,
        model=model,
        task=task,
        doc_id=str(sid),
        repeat=epoch - 1,
        metrics=metrics,
        prompt=_prompt(sample.get("input")),
        target=None
        if target is None
        else target
        if isinstance(target, str)
        else json.dumps(target),
        prediction=output.get("completion") if isinstance(output.get("completion"), str) else None,
        input_tokens=inp,
        output_tokens=outp,
        latency_s=float(total) if isinstance(total, int | float) and total >= 0 else None,
        extra={k: v for k, v in extra.items() if v is not None},
    )


def _run(path: Path, log: dict[str, Any], model: str | None) -> RunInfo:
    spec = log["eval"]
    config = spec.get("config") if isinstance(spec.get("config"), dict) else {}
    name = model or spec["model"]
    plan = log.get("plan") if isinstance(log.get("plan"), dict) else {}
    plan_config = plan.get("config") if isinstance(plan.get("config"), dict) else {}
    version = spec.get("task_version")
    settings = {
        "source": "inspect",
        "model": spec["model"],
        "generate_config": {**(spec.get("model_generate_config") or {}), **plan_config},
        "model_args": spec.get("model_args") or {},
        "task_args": spec.get("task_args") or {},
        "epochs": config.get("epochs"),
        "epochs_reducer": config.get("epochs_reducer"),
        "eval_id": spec.get("eval_id"),
    }
    task = spec["task"]
    run_id = make_run_id(
        name, task, task_version=None if version is None else str(version), settings=settings
    )
    results = log.get("results") if isinstance(log.get("results"), dict) else {}
    error = log.get("error") if isinstance(log.get("error"), dict) else {}
    extra = {
        "status": log.get("status"),
        "file": str(path),
        "created": spec.get("created"),
        "results": {
            s.get("name"): {k: (m or {}).get("value") for k, m in (s.get("metrics") or {}).items()}
            for s in results.get("scores") or []
            if isinstance(s, dict)
        },
        "error": str(error.get("message", "")).splitlines()[0] if error else None,
    }
    return RunInfo(
        run_id=run_id,
        model=name,
        task=task,
        task_version=None if version is None else str(version),
        settings=settings,
        source="inspect",
        extra=extra,
    )


def _parts(path: str | Path, model: str | None, progress: Progress) -> Iterator[Part]:
    """One part per log file: its run, read from the header, and its samples as read."""
    for file in each_file(log_files(Path(path)), progress):
        log, samples = open_log(file)
        run = _run(file, log, model)
        model_info = ModelInfo(model=run.model, spec=f"inspect:{log['eval']['model']}")
        yield Part(model_info, run, chunked(_records(file, log, samples, run, model)))


def _records(
    file: Path, log: dict[str, Any], samples, run: RunInfo, model: str | None
) -> Iterator[tuple[SampleRecord | None, str]]:
    """``(record, label)`` of each sample (None: it errored); at the end the run's ``extra``
    is brought up to date with the fields a ``.json`` log holds after its samples."""
    found = 0
    for label, raw in samples:
        record = _sample(file, label, raw, run.run_id, run.model, run.task)
        found += record is not None and bool(record.metrics)
        yield record, f"{file}: {label}"
    final = _run(file, log, model)
    if final.run_id != run.run_id:  # a field of the run id given twice
        raise InputError(f"{file}: the log's 'eval' or 'plan' field appears twice")
    run.extra = {**final.extra, "samples": found}


def _twice(doc_id: str, repeat: int, label: str, first: str) -> str:
    return (
        f"{label}: sample id {doc_id!r} epoch {repeat + 1} appears twice "
        f"(also in {first}; the same log in two files?)"
    )


def _empty(path: str | Path) -> Callable[[int], str]:
    return lambda errored: (
        f"{path}: no finished samples in the inspect logs"
        + (f" ({errored} errored)" if errored else "")
    )


def inspect_models(path: str | Path) -> set[str]:
    """The model names of the logs at ``path`` (their headers only)."""
    found = set()
    for file in log_files(Path(path)):
        log, samples = open_log(file)
        samples.close()
        found.add(log["eval"]["model"])
    return found


def read_inspect(path: str | Path, *, model: str | None = None, progress: Progress = None):
    """Parse inspect logs into (models, runs, samples, errored sample count), all checked and
    all in memory (:func:`import_inspect` streams them into a store instead);
    ``progress(done, total)`` as each log file is read."""
    models: dict[str, ModelInfo] = {}
    runs: list[RunInfo] = []
    samples: list[SampleRecord] = []
    seen: dict[tuple[str, str, int], str] = {}
    errored = 0
    for part in _parts(path, given_model(model), progress):
        for chunk in part.chunks:
            for record, label in chunk:
                if record is None:
                    errored += 1
                    continue
                key = (record.run_id, record.doc_id, record.repeat)
                if key in seen:
                    raise InputError(_twice(record.doc_id, record.repeat, label, seen[key]))
                seen[key] = label
                samples.append(record)
        runs.append(part.run)
        models[part.run.model] = part.model
    return list(models.values()), runs, samples, errored


def import_inspect(
    store: Store, path: str | Path, *, model: str | None = None, progress: Progress = None
) -> ImportSummary:
    """Import inspect_ai logs into ``store`` in one transaction, a chunk of samples at a time.

    Samples that errored are left out and counted (``ImportSummary.errored``); a cancelled or
    errored run contributes the samples that finished. Any bad sample or file rolls the whole
    import back; importing the same logs twice changes nothing. ``progress(done, total)``: one
    step per log file, then the write.
    """
    return import_log(store, path, "inspect", model, progress, _parts, _empty(path), _twice)
