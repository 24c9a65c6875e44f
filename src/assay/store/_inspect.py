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
"""

from __future__ import annotations

import io
import json
import math
import struct
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assay.core import ReadBudget, decode_text
from assay.errors import InputError

from ._import_runs import ImportSummary, Progress, Steps, write_runs
from ._records import ModelInfo, RunInfo, SampleRecord, make_run_id
from ._store import Store

LOG_VERSIONS = (2,)
_ZSTD = 93  # zip compression method of inspect_ai >= 0.3.1xx
_LETTERS = {"C": 1.0, "P": 0.5, "I": 0.0, "N": 0.0}
_WORDS = {"yes": 1.0, "true": 1.0, "no": 0.0, "false": 0.0}
_SKIP = {"logs.json"}  # inspect's own listing of a log folder


def log_files(path: Path) -> list[Path]:
    """The inspect logs at ``path``: the file itself, or every ``.eval``/``.json`` below it."""
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if path.is_file():
        return [path]
    files = sorted(
        p
        for p in path.rglob("*")
        if p.suffix.lower() in (".eval", ".json")
        and p.is_file()
        and p.name not in _SKIP
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    if not files:
        raise InputError(f"{path}: no inspect logs (.eval or .json files) inside")
    return files


def _json(path: Path, raw: bytes, member: str = "") -> Any:
    where = f"{path}: {member}" if member else str(path)
    try:
        return json.loads(decode_text(path, raw), parse_constant=lambda c: float(c))
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise InputError(f"{where}: JSON nested too deeply") from None


def _zstd_member(
    path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: ReadBudget
) -> bytes:
    """A zstd-compressed member on Python < 3.14, with the optional ``zstandard`` package."""
    try:
        import zstandard
    except ImportError:
        raise InputError(
            f"{path}: compressed with zstd (inspect_ai's newer .eval logs): install the "
            "zstandard package (pip install zstandard; assay installs it), use Python 3.14+, or convert the log "
            "with `inspect log convert --to json`"
        ) from None
    with open(zf.filename or path, "rb") as handle:
        handle.seek(info.header_offset)
        head = handle.read(30)
        if head[:4] != b"PK\x03\x04":
            raise InputError(f"{path}: {info.filename}: damaged zip entry")
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        handle.seek(info.header_offset + 30 + name_len + extra_len)
        raw = handle.read(info.compress_size)
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(raw), read_across_frames=True
        )
        return budget.read(reader, info.compress_size, info.filename)
    except zstandard.ZstdError as exc:
        raise InputError(f"{path}: {info.filename}: damaged zstd data ({exc})") from None


def _member(path: Path, zf: zipfile.ZipFile, name: str, budget: ReadBudget) -> Any:
    """One member's JSON, read within ``budget`` (the bytes actually decompressed are counted,
    never the sizes the zip headers state)."""
    info = zf.getinfo(name)
    try:
        if info.compress_type == _ZSTD and sys.version_info < (3, 14):
            raw = _zstd_member(path, zf, info, budget)
        else:
            with zf.open(info) as stream:
                raw = budget.read(stream, info.compress_size, name)
    except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError) as exc:
        raise InputError(f"{path}: {name}: cannot be read from the archive ({exc})") from None
    return _json(path, raw, name)


def _read_eval(path: Path) -> dict[str, Any]:
    """An ``.eval`` archive as the dict a ``.json`` log holds (header fields and samples)."""
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise InputError(f"{path}: not a zip archive, so not an inspect .eval log") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    budget = ReadBudget(str(path))
    with zf:
        names = set(zf.namelist())
        head = next((n for n in ("header.json", "_journal/start.json") if n in names), None)
        if head is None:
            raise InputError(
                f"{path}: a zip archive but not an inspect log (no header.json or "
                "_journal/start.json inside)"
            )
        log = _member(path, zf, head, budget)
        if not isinstance(log, dict):
            raise InputError(f"{path}: {head}: not a JSON object, so not an inspect log")
        if head != "header.json":
            log.setdefault("status", "started")
        samples = sorted(n for n in names if n.startswith("samples/") and n.endswith(".json"))
        log["samples"] = [_member(path, zf, n, budget) for n in samples]
        log["_members"] = samples
    return log


def read_log(path: Path) -> dict[str, Any]:
    """One log file as a dict, its version and header checked."""
    if path.suffix.lower() == ".eval":
        log = _read_eval(path)
    elif path.suffix.lower() == ".json":
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        log = _json(path, raw)
    else:
        raise InputError(f"{path}: unknown file type (an inspect log is .eval or .json)")
    if not isinstance(log, dict) or not isinstance(log.get("eval"), dict) or "version" not in log:
        raise InputError(f"{path}: not an inspect log (no 'version' and 'eval' at the top level)")
    if log["version"] not in LOG_VERSIONS:
        raise InputError(
            f"{path}: inspect log version {log['version']!r} is not one assay reads "
            f"(it reads version {', '.join(map(str, LOG_VERSIONS))})"
        )
    for field in ("task", "model"):
        if not isinstance(log["eval"].get(field), str) or not log["eval"][field].strip():
            raise InputError(f"{path}: field 'eval.{field}': missing or not text")
    if log.get("samples") is not None and not isinstance(log["samples"], list):
        raise InputError(f"{path}: field 'samples': not a list")
    return log


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


def _labels(log: dict[str, Any]) -> Iterator[str]:
    members = log.get("_members")
    for i in range(len(log.get("samples") or [])):
        yield members[i] if members else f"samples[{i}]"


def read_inspect(path: str | Path, *, model: str | None = None, progress: Progress = None):
    """Parse inspect logs into (models, runs, samples, errored sample count), all checked;
    ``progress(done, total)`` as each log file is read."""
    models: dict[str, ModelInfo] = {}
    runs: list[RunInfo] = []
    samples: list[SampleRecord] = []
    seen: dict[tuple[str, str, int], str] = {}
    errored = 0
    files = list(log_files(Path(path)))
    for k, file in enumerate(files):
        if progress is not None:
            progress(k, len(files))
        log = read_log(file)
        run = _run(file, log, model)
        runs.append(run)
        models[run.model] = ModelInfo(model=run.model, spec=f"inspect:{log['eval']['model']}")
        found = 0
        for label, raw in zip(_labels(log), log.get("samples") or [], strict=True):
            record = _sample(file, label, raw, run.run_id, run.model, run.task)
            if record is None:
                errored += 1
                continue
            key = (run.run_id, record.doc_id, record.repeat)
            if key in seen:
                raise InputError(
                    f"{file}: {label}: sample id {record.doc_id!r} epoch {record.repeat + 1} "
                    f"appears twice (also in {seen[key]}; the same log in two files?)"
                )
            seen[key] = f"{file}: {label}"
            samples.append(record)
            found += bool(record.metrics)  # an unscored sample is skipped by write_runs
        run.extra["samples"] = found
    return list(models.values()), runs, samples, errored


def import_inspect(
    store: Store, path: str | Path, *, model: str | None = None, progress: Progress = None
) -> ImportSummary:
    """Import inspect_ai logs into ``store`` in one transaction, after checking every file.

    Samples that errored are left out and counted (``ImportSummary.errored``); a cancelled or
    errored run contributes the samples that finished. Importing the same logs twice changes
    nothing. ``progress(done, total)``: one step per log file, then the write.
    """
    steps = Steps(progress)
    models, runs, samples, errored = read_inspect(path, model=model, progress=steps.read)
    if not samples:
        raise InputError(
            f"{path}: no finished samples in the inspect logs"
            + (f" ({errored} errored)" if errored else "")
        )
    return write_runs(store, path, "inspect", models, runs, samples, errored=errored, steps=steps)
