"""Import lighteval outputs: per-sample ``details`` Parquet files and the ``results`` JSON.

lighteval (0.13) writes, under its ``--output-dir``,
``results/<model>/results_<date>.json`` (``config_general`` with the model config, per-task
``results`` such as ``acc``/``acc_stderr``, ``config_tasks``) and, with ``--save-details``,
``details/<model>/<date>/details_<task>|<shots>_<date>.parquet``: one row per document with
three struct columns, ``doc`` (``id``, ``query``, ``choices``, ``gold_index``, ...),
``model_response`` (``text``, ``logprobs``, ``input_tokens``, ...) and ``metric`` (each
sample-level metric's value).

Each details file is one run per (model, task, n-shot, date); each row one sample with
``doc.id`` as doc id. A task ``name|k`` is stored as task ``name`` with ``num_fewshot`` k. The
model's name is the results JSON's ``config_general.model_config.model_name`` (else the folder
below ``details/``), unless ``model=`` overrides it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from assay.core import decode_text, limit, limit_message, parse_json
from assay.errors import InputError

from ._import_runs import ImportSummary, Part, Progress, chunked, given_model
from ._log_import import each_file, import_log
from ._records import ModelInfo, RunInfo, SampleRecord, make_run_id
from ._store import Store

COLUMNS = ("doc", "metric", "model_response")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?")
_SHOTS = re.compile(r"(.+)\|(\d+)")


def _details_files(path: Path) -> list[Path]:
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if path.is_file():
        if path.name.startswith("details_") and path.suffix == ".parquet":
            return [path]
        if path.name.startswith("results_") and path.suffix == ".json":
            found = _details_next_to(path)
            if found:
                return found
        raise InputError(
            f"{path}: not a lighteval details_<task>_<date>.parquet (or a results JSON with "
            "details next to it: run lighteval with --save-details)"
        )
    files = sorted(p for p in path.rglob("details_*.parquet") if p.is_file())
    if not files:
        raise InputError(
            f"{path}: no lighteval details_*.parquet inside (run lighteval with --save-details)"
        )
    return files


def _details_next_to(results: Path) -> list[Path]:
    """The details of a results JSON: ``<out>/details/<model>/<date>/details_*_<date>.parquet``."""
    date = results.stem[len("results_") :]
    for up in results.parents:
        if up.name == "results":
            model = results.parent.relative_to(up)
            folder = up.parent / "details" / model / date
            return sorted(folder.glob(f"details_*_{date}.parquet"))
    return sorted(results.parent.glob(f"details_*_{date}.parquet"))


def _date_and_task(file: Path) -> tuple[str, str]:
    stem = file.stem[len("details_") :]
    date = file.parent.name
    if not (_DATE.fullmatch(date) and stem.endswith("_" + date)):
        match = re.search(r"_(" + _DATE.pattern + r")$", stem)
        if match is None:
            raise InputError(f"{file}: name is not details_<task>_<date>.parquet")
        date = match.group(1)
    task = stem[: -len(date) - 1]
    if not task:
        raise InputError(f"{file}: name is not details_<task>_<date>.parquet")
    return date, task


def read_small_json(path: Path) -> Any:
    """A JSON file read whole, refused past ``ASSAY_MAX_JSON_VALUE_CHARS`` bytes (a results
    file holds aggregates and configs: a few MB at most)."""
    try:
        if path.stat().st_size > limit("JSON_VALUE_CHARS"):
            raise InputError(limit_message(f"{path}: one JSON value", "JSON_VALUE_CHARS"))
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return parse_json(decode_text(path, raw), path, constants=float)


def _read_json(path: Path) -> dict[str, Any]:
    data = read_small_json(path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a JSON object, so not a lighteval results file")
    for field in ("config_general", "results"):
        if not isinstance(data.get(field), dict):
            raise InputError(f"{path}: field '{field}': missing or not a JSON object")
    return data


def _results_of(file: Path, date: str) -> tuple[Path | None, dict[str, Any] | None]:
    """The results JSON written with a details file, when it is where lighteval puts it."""
    for up in file.parents:
        if up.name == "details":
            model = file.parent.parent.relative_to(up)
            candidate = up.parent / "results" / model / f"results_{date}.json"
            if candidate.is_file():
                return candidate, _read_json(candidate)
            break
    return None, None


def _model_name(results: dict[str, Any] | None, file: Path) -> str:
    """``config_general.model_config.model_name`` (or ``config_general.model_name``), else the
    folders between ``details/`` and the date folder, else the date folder's parent."""
    general = (results or {}).get("config_general") or {}
    config = general.get("model_config") if isinstance(general.get("model_config"), dict) else {}
    for name in (config.get("model_name"), general.get("model_name")):
        if isinstance(name, str) and name.strip():
            return name.strip()
    for up in file.parents:
        if up.name == "details":
            return file.parent.parent.relative_to(up).as_posix()
    return file.parent.parent.name


BATCH_ROWS = 1_000  # rows of a details file converted to Python at once


def _read_rows(file: Path) -> Iterator[dict[str, Any]]:
    """The rows of a details file (its three columns), read a record batch at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def failed(exc: BaseException) -> InputError:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return InputError(f"{file}: cannot be read as parquet: {first}")

    try:
        parquet = pq.ParquetFile(file, pre_buffer=False)  # pre-buffered, it keeps every batch
    except (pa.ArrowException, OSError) as exc:
        raise failed(exc) from None
    with parquet:
        missing = [c for c in COLUMNS if c not in parquet.schema_arrow.names]
        if missing:
            raise InputError(
                f"{file}: not lighteval details of a version assay reads (lacks column(s) "
                f"{', '.join(missing)}; lighteval 0.13 writes {', '.join(COLUMNS)})"
            )
        batches = parquet.iter_batches(batch_size=BATCH_ROWS, columns=list(COLUMNS))
        while True:
            try:
                batch = next(batches, None)
            except (pa.ArrowException, OSError) as exc:
                raise failed(exc) from None
            if batch is None:
                return
            yield from batch.to_pylist()


def _number(value: Any) -> float | None:
    if isinstance(value, bool | int | float):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _count(value: Any) -> int | None:
    return len(value) if isinstance(value, list) and value else None


def _sample(row: dict[str, Any], where: str, run: RunInfo, skipped: set[str]) -> SampleRecord:
    doc, response, scores = row["doc"], row["model_response"] or {}, row["metric"]
    if not isinstance(doc, dict):
        raise InputError(f"{where}, field 'doc': missing")
    sid = doc.get("id")
    if not isinstance(sid, str | int) or isinstance(sid, bool) or str(sid).strip() == "":
        raise InputError(f"{where}, field 'doc.id': missing or empty")
    if not isinstance(scores, dict):
        raise InputError(f"{where}, field 'metric': missing")
    metrics = {}
    for name, value in scores.items():
        number = _number(value)
        if number is not None:
            metrics[name] = number
        elif value is not None:
            skipped.add(name)  # corpus-level inputs (tuples, dicts), not a per-sample score
    choices = doc.get("choices") if isinstance(doc.get("choices"), list) else []
    gold = doc.get("gold_index")
    golds = gold if isinstance(gold, list) else [gold]
    if not all(isinstance(g, int) and 0 <= g < len(choices) for g in golds if g is not None):
        raise InputError(f"{where}, field 'doc.gold_index': not an index into doc.choices")
    texts = [choices[g] for g in golds if g is not None]
    logprobs = response.get("logprobs") or []
    if logprobs and len(logprobs) == len(choices) and all(_number(x) is not None for x in logprobs):
        chosen = max(range(len(logprobs)), key=logprobs.__getitem__)
        prediction, choice_logprobs = choices[chosen], [float(x) for x in logprobs]
    else:
        chosen, choice_logprobs = None, None
        outputs = response.get("text_post_processed") or response.get("text") or []
        prediction = outputs[0] if outputs and isinstance(outputs[0], str) else None
    prompt = response.get("input")
    if not isinstance(prompt, str):
        prompt = json.dumps(prompt) if isinstance(prompt, list) else doc.get("query")
    outputs = response.get("output_tokens") or []
    extra = {
        "choices": choices or None,
        "gold_index": gold,
        "text": response.get("text") or None,
        "truncated_tokens": response.get("truncated_tokens_count") or None,
    }
    return SampleRecord(
        run_id=run.run_id,
        model=run.model,
        task=run.task,
        doc_id=str(sid),
        metrics=metrics,
        prompt=prompt,
        target=None if not texts else texts[0] if len(texts) == 1 else json.dumps(texts),
        prediction=prediction,
        choice_logprobs=choice_logprobs,
        chosen_position=chosen,
        input_tokens=_count(response.get("input_tokens")),
        output_tokens=_count(outputs[0]) if outputs and isinstance(outputs[0], list) else None,
        extra={k: v for k, v in extra.items() if v is not None},
    )


def _run(
    file: Path, date: str, full_task: str, results_file: Path | None, results: Any, name: str
) -> RunInfo:
    match = _SHOTS.fullmatch(full_task)
    task, shots = (match.group(1), int(match.group(2))) if match else (full_task, None)
    general = (results or {}).get("config_general") or {}
    config = general.get("model_config") if isinstance(general.get("model_config"), dict) else {}
    task_config = ((results or {}).get("config_tasks") or {}).get(full_task) or {}
    version = task_config.get("version") if isinstance(task_config, dict) else None
    version = None if version is None else str(version)
    settings = {
        "source": "lighteval",
        "model": config.get("model_name") or general.get("model_name"),
        "model_config": {k: v for k, v in config.items() if k not in ("model_name", "cache_dir")},
        "date": date,
    }
    run_id = make_run_id(name, task, task_version=version, num_fewshot=shots, settings=settings)
    reported = ((results or {}).get("results") or {}).get(full_task)
    return RunInfo(
        run_id=run_id,
        model=name,
        task=task,
        task_version=version,
        num_fewshot=shots,
        settings=settings,
        source="lighteval",
        extra={
            "file": str(file),
            "results_file": None if results_file is None else str(results_file),
            "lighteval_task": full_task,
            "results": reported if isinstance(reported, dict) else None,
        },
    )


def _parts(path: str | Path, model: str | None, progress: Progress) -> Iterator[Part]:
    """One part per details file: its run and its rows, read a batch at a time."""
    for file in each_file(_details_files(Path(path)), progress):
        date, full_task = _date_and_task(file)
        results_file, results = _results_of(file, date)
        name = model or _model_name(results, file)
        run = _run(file, date, full_task, results_file, results, name)
        info = ModelInfo(model=name, spec=f"lighteval:{run.settings['model'] or name}")
        yield Part(info, run, chunked(_records(file, run)))


def _records(file: Path, run: RunInfo) -> Iterator[tuple[SampleRecord, str]]:
    """``(record, where)`` of each row; at the end the run's ``extra`` counts them."""
    skipped: set[str] = set()
    count = 0
    for count, row in enumerate(_read_rows(file), start=1):
        where = f"{file}: row {count}"
        yield _sample(row, where, run, skipped), where
    run.extra["samples"] = count
    if skipped:
        run.extra["not_per_sample"] = sorted(skipped)


def _empty(path: str | Path) -> Callable[[int], str]:
    return lambda _: f"{path}: the lighteval details hold no rows"


def _twice(doc_id: str, repeat: int, where: str, first: str) -> str:
    return f"{where}: doc id {doc_id!r} appears twice (also at {first})"


def lighteval_models(path: str | Path, *, model: str | None = None) -> set[str]:
    """The model names of the details at ``path`` (from their results JSON or folders)."""
    return {part.model.model for part in _parts(path, model, None)}


def read_lighteval(path: str | Path, *, model: str | None = None, progress: Progress = None):
    """Parse lighteval details (and their results JSON) into (models, runs, samples), checked
    and all in memory (:func:`import_lighteval` streams them into a store instead);
    ``progress(done, total)`` as each details file is read."""
    models: dict[str, ModelInfo] = {}
    runs: list[RunInfo] = []
    samples: list[SampleRecord] = []
    seen: dict[tuple[str, str], str] = {}
    for part in _parts(path, given_model(model), progress):
        for chunk in part.chunks:
            for record, where in chunk:
                key = (record.run_id, record.doc_id)
                if key in seen:
                    raise InputError(_twice(record.doc_id, 0, where, seen[key]))
                seen[key] = where
                samples.append(record)
        models[part.model.model] = part.model
        runs.append(part.run)
    return list(models.values()), runs, samples


def import_lighteval(
    store: Store, path: str | Path, *, model: str | None = None, progress: Progress = None
) -> ImportSummary:
    """Import lighteval details into ``store`` in one transaction, a chunk of rows at a time
    (any bad row rolls the whole import back).

    Importing the same files twice changes nothing (runs are keyed by model, task, n-shot,
    model config and lighteval's date id). ``progress(done, total)``: one step per details
    file, then the write.
    """
    return import_log(store, path, "lighteval", model, progress, _parts, _empty(path), _twice)
