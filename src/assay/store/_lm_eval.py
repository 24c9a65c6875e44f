"""Import an lm-evaluation-harness 0.4.x output directory.

lm-eval writes, per model folder, ``results_<date>.json`` (aggregates, configs, n-shot, model
args) and ``samples_<task>_<date>.jsonl`` (one line per document and filter: ``doc_id``,
``target``, ``arguments``, ``resps``/``filtered_resps`` as strings, ``doc_hash``,
``prompt_hash``, and each metric's value at top level, named in ``metrics``). Documents logged
under several filters become one sample whose metrics are named ``metric,filter`` for filters
other than ``none`` (lm-eval's own naming).

A samples file is read twice and never held whole (:mod:`._lm_eval_lines`): first to check
every line and note where each document's lines are, then a document at a time, each written to
the store as soon as its lines are merged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.errors import InputError

from ._import_runs import ImportSummary, Part, Progress, chunked, given_model
from ._lighteval import read_small_json
from ._lm_eval_export import read_carried
from ._lm_eval_lines import Layout, iter_lines, line_at
from ._log_import import each_file, import_log
from ._records import ModelInfo, RunInfo, SampleRecord, make_run_id
from ._store import Store


def _date_of(path: Path) -> str:
    return path.stem.rsplit("_", 1)[-1]


def _task_of(path: Path) -> str:
    name = path.stem  # samples_<task>_<date>
    return name[name.find("_") + 1 : name.rfind("_")]


def _fail(path: Path, where: str, field: str, why: str) -> InputError:
    return InputError(f"{path}: {where}, field '{field}': {why}")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _read_results(path: Path) -> dict[str, Any]:
    data = read_small_json(path)
    if not isinstance(data, dict) or "results" not in data:
        raise _fail(path, "top level", "results", "missing: not an lm-eval results file")
    for key in ("results", "config", "configs", "n-shot", "versions"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise _fail(path, "top level", key, "not a JSON object")
    return data


def _short(value: str) -> str:
    """A local checkpoint path names the model by its folder (``/ckpt/smollm-135m/`` ->
    ``smollm-135m``); a hub id (``org/name``) is kept as it is."""
    text = value.strip().rstrip("/\\")
    local = text.startswith(("/", "./", "../", "~", "\\")) or text.count("/") > 1 or "\\" in text
    local = local or (len(text) > 1 and text[1] == ":")  # C:\\...
    return text.replace("\\", "/").rsplit("/", 1)[-1] if local else text


def _model_name(results: dict[str, Any], folder: str = "") -> str:
    """The model's name: assay's own (an ``assay export``), else lm-eval's ``model_name`` or the
    ``pretrained``/``model``/``path``/``engine`` model argument with a local path shortened to
    its last folder (:func:`_short`), else the results folder's name (``org__name`` ->
    ``org/name``). A name that is blank once shortened counts as missing."""
    own = results.get("assay")
    if isinstance(own, dict) and isinstance(own.get("model"), str) and own["model"].strip():
        return own["model"]
    name = results.get("model_name")
    if not _short(str(name or "")):
        args = (results.get("config") or {}).get("model_args") or ""
        if isinstance(args, dict):
            name = args.get("pretrained") or args.get("model")
        else:
            for part in str(args).split(","):
                key, _, value = part.partition("=")
                if key.strip() in ("pretrained", "model", "path", "engine") and value.strip():
                    name = value.strip()
                    break
    if _short(str(name or "")):
        return _short(str(name))
    if _short(folder.replace("__", "/")):
        return _short(folder.replace("__", "/"))
    fallback = str((results.get("config") or {}).get("model") or "").strip()
    return fallback or "unknown"


def _choice_logprobs(resps: list[Any]) -> list[float] | None:
    """``filtered_resps`` of loglikelihood requests: [[logprob, is_greedy], ...] as strings."""
    out = []
    for r in resps:
        if isinstance(r, list | tuple) and len(r) == 2 and _number(r[0]) is not None:
            out.append(float(r[0]))
        else:
            return None
    return out


@dataclass
class _Line:
    """One checked line of a samples file: a document's metrics under one filter."""

    doc_id: str
    repeat: int
    filt: str
    metrics: dict[str, float]
    other: dict[str, Any]  # metrics that are not numbers (corpus-level inputs), kept in extra
    row: dict[str, Any]
    carried: dict[str, Any]  # assay's own fields of an exported line


def _parse(path: Path, lineno: int, row: dict[str, Any]) -> _Line:
    """Check one line (everything a sample needs) and read its key and metrics."""
    for field in ("doc_id", "filtered_resps"):
        if field not in row:
            raise _fail(path, f"line {lineno}", field, "missing")
    names = row.get("metrics")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _fail(path, f"line {lineno}", "metrics", "missing or not a list of names")
    for field in ("prompt_hash", "doc_hash"):
        if isinstance(row.get(field), dict | list):
            raise _fail(path, f"line {lineno}", field, "not text")
    filt = str(row.get("filter", "none"))
    metrics: dict[str, float] = {}
    other: dict[str, Any] = {}
    for name in names:
        if name not in row:
            raise _fail(path, f"line {lineno}", str(name), "metric named but missing")
        value = row[name]
        key = name if filt == "none" else f"{name},{filt}"
        number = _number(value) if not isinstance(value, str) else None
        if number is not None and not math.isfinite(number):
            raise _fail(path, f"line {lineno}", str(name), "not a finite number")
        if number is None:
            other[key] = value
        else:
            metrics[key] = number
    if not isinstance(row["filtered_resps"], list):
        raise _fail(path, f"line {lineno}", "filtered_resps", "not a list")
    if isinstance(row["doc_id"], dict | list | bool) or row["doc_id"] is None:
        raise _fail(path, f"line {lineno}", "doc_id", "not a number or text")
    carried = read_carried(f"{path}: line {lineno}", row.get("assay"))  # assay's export
    repeat = carried.pop("repeat", 0)
    return _Line(str(row["doc_id"]), repeat, filt, metrics, other, row, carried)


def _record(
    line: _Line, run_id: str, model: str, task: str, output_type: str | None
) -> SampleRecord:
    """The sample of a document's first line (the other lines add metrics: :func:`_merge`)."""
    row, carried = line.row, line.carried
    resps = row["filtered_resps"]
    logprobs = _choice_logprobs(resps) if output_type != "generate_until" else None
    if logprobs is not None and output_type in (None, "multiple_choice"):
        prediction = str(max(range(len(logprobs)), key=logprobs.__getitem__))
    elif resps and output_type != "loglikelihood_rolling":
        first = resps[0]
        prediction = first if isinstance(first, str) else json.dumps(first)
    else:
        prediction = None
    args = row.get("arguments") or {}
    first_args = args.get("gen_args_0", {}) if isinstance(args, dict) else {}
    prompt = first_args.get("arg_0") if isinstance(first_args, dict) else None
    prediction = carried.pop("prediction", prediction)
    if line.other:
        carried["extra"] = {**carried.get("extra", {}), "filters": {line.filt: line.other}}
    return SampleRecord(
        run_id=run_id,
        model=model,
        task=task,
        doc_id=line.doc_id,
        repeat=line.repeat,
        metrics=line.metrics,
        prompt=prompt if isinstance(prompt, str) else None,
        prompt_hash=row.get("prompt_hash"),
        doc_hash=row.get("doc_hash"),
        target=None if row.get("target") is None else str(row["target"]),
        prediction=prediction,
        choice_logprobs=logprobs if output_type != "loglikelihood_rolling" else None,
        **carried,
    )


def _merge(record: SampleRecord, line: _Line) -> None:
    """A later line of the same document (another filter): its metrics join the sample's."""
    record.metrics.update(line.metrics)
    if line.other:
        record.extra = record.extra or {}
        record.extra.setdefault("filters", {})[line.filt] = line.other


def _sample_rows(
    path: Path, run_id: str, model: str, task: str, output_type: str | None
) -> Iterator[tuple[SampleRecord, str]]:
    """``(sample, where)`` of each document of a samples file, every line checked first."""
    with Layout() as layout:
        for lineno, offset, row in iter_lines(path):
            line = _parse(path, lineno, row)
            layout.add(line.doc_id, line.repeat, line.filt, lineno, offset)
        twice = layout.twice()
        if twice is not None:
            lineno, doc_id, repeat, filt, again = twice
            name = f"{doc_id!r}" + (f" repeat {repeat}" if repeat else "")
            raise _fail(
                path,
                f"line {lineno}",
                "doc_id",
                f"{name} with filter {filt!r} appears twice (also on line {again})",
            )
        with path.open("rb") as handle:
            for lines in layout.documents():
                first, offset = lines[0]
                head = _parse(path, first, line_at(handle, path, first, offset))
                record = _record(head, run_id, model, task, output_type)
                for lineno, offset in lines[1:]:
                    _merge(record, _parse(path, lineno, line_at(handle, path, lineno, offset)))
                yield record, f"{path}: line {first}"


def _results(
    path: str | Path, model: str | None, progress: Progress
) -> Iterator[tuple[ModelInfo, list[tuple[RunInfo, Path, str | None]]]]:
    """Per results file: its model and, per samples file beside it, (run, file, output type)."""
    root = Path(path)
    if not root.exists():
        raise InputError(f"{root}: no such file or directory")
    result_files = [root] if root.is_file() else sorted(root.rglob("results_*.json"))
    if not result_files:
        raise InputError(f"{root}: no results_<date>.json found (is this an lm-eval output dir?)")
    for results_path in each_file(result_files, progress):
        results = _read_results(results_path)
        name = model or _model_name(results, results_path.parent.name)
        config = results.get("config") or {}
        model_args = config.get("model_args")
        info = ModelInfo(model=name, spec=f"lm-eval:{config.get('model', '')}:{model_args or ''}")
        date = _date_of(results_path)
        configs = results.get("configs") or {}
        runs = []
        for sample_path in sorted(results_path.parent.glob(f"samples_*_{date}.jsonl")):
            task = _task_of(sample_path)
            task_config = configs.get(task) or {}
            if not isinstance(task_config, dict):
                raise _fail(results_path, f"configs.{task}", "configs", "not a JSON object")
            n_shot = (results.get("n-shot") or {}).get(task, task_config.get("num_fewshot"))
            if n_shot is not None and (
                isinstance(n_shot, bool) or not isinstance(n_shot, int) or n_shot < 0
            ):
                raise _fail(results_path, f"n-shot.{task}", "n-shot", "not a whole number >= 0")
            version = (results.get("versions") or {}).get(task)
            settings = {"source": "lm-eval", "model_args": model_args, "date": date}
            run_id = make_run_id(
                name,
                task,
                task_version=None if version is None else str(version),
                num_fewshot=n_shot,
                settings=settings,
            )
            run = RunInfo(
                run_id=run_id,
                model=name,
                task=task,
                task_version=None if version is None else str(version),
                num_fewshot=None if n_shot is None else int(n_shot),
                settings=settings,
                source="lm-eval",
                extra={
                    "results": (results.get("results") or {}).get(task),
                    "output_type": task_config.get("output_type"),
                    "file": str(sample_path),
                },
            )
            runs.append((run, sample_path, task_config.get("output_type")))
        yield info, runs


def _parts(path: str | Path, model: str | None, progress: Progress) -> Iterator[Part]:
    """One part per samples file: its run (from the results file beside it) and its samples."""
    for info, runs in _results(path, model, progress):
        for run, sample_path, output_type in runs:
            rows = _sample_rows(sample_path, run.run_id, run.model, run.task, output_type)
            yield Part(info, run, chunked(rows))


def _empty(path: str | Path) -> Callable[[int], str]:
    return lambda _: f"{path}: no samples_<task>_<date>.jsonl next to the results file"


def lm_eval_models(path: str | Path) -> set[str]:
    """The model names of the lm-eval results at ``path`` (their results files only)."""
    return {info.model for info, _ in _results(path, None, None)}


def read_lm_eval(path: str | Path, *, model: str | None = None, progress: Progress = None):
    """Parse an lm-eval output folder (or one model folder) into (models, runs, samples), all
    in memory (:func:`import_lm_eval` streams them into a store instead); ``progress(done,
    total)`` as each results file is read."""
    model = given_model(model)
    models: dict[str, ModelInfo] = {}
    runs: list[RunInfo] = []
    samples: list[SampleRecord] = []
    for info, found in _results(path, model, progress):
        models[info.model] = info
        for run, sample_path, output_type in found:
            runs.append(run)
            rows = _sample_rows(sample_path, run.run_id, run.model, run.task, output_type)
            samples.extend(record for record, _ in rows)
    return list(models.values()), runs, samples


def import_lm_eval(
    store: Store, path: str | Path, *, model: str | None = None, progress: Progress = None
) -> ImportSummary:
    """Import lm-eval 0.4.x results and per-sample logs into ``store`` in one transaction.

    Each samples file is checked whole before its first sample is written, and written a chunk
    at a time; any error rolls the whole import back. Importing the same folder twice changes
    nothing (runs are keyed by model, task, n-shot, model args and date).
    ``progress(done, total)``: one step per results file, then the write.
    """
    return import_log(store, path, "lm-eval", model, progress, _parts, _empty(path))
