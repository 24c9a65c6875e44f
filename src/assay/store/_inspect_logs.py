"""Reading inspect_ai logs a sample at a time (``.eval`` zip archives and ``.json`` files).

:func:`open_log` gives a log's header (every top-level field but ``samples``) and an iterator
over its samples, so memory holds one sample, never the log. An ``.eval`` archive is read a
member at a time within a :class:`~assay.core.ReadBudget` (the bytes actually decompressed are
counted: ``ASSAY_MAX_DECOMPRESSED_BYTES``, ``ASSAY_MAX_COMPRESSION_RATIO``); a ``.json`` log is
read a field at a time, its ``samples`` an element at a time (:class:`assay.core.TopLevel`), each held
whole only up to ``ASSAY_MAX_JSON_VALUE_CHARS``.
"""

from __future__ import annotations

import io
import struct
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assay.core import Elements, ReadBudget, TopLevel, decode_text, parse_json
from assay.errors import InputError

LOG_VERSIONS = (2,)
_ZSTD = 93  # zip compression method of inspect_ai >= 0.3.1xx
_SKIP = {"logs.json"}  # inspect's own listing of a log folder
_RUN_FIELDS = ("version", "eval", "plan")  # what a run id is made of: read before any sample

Samples = Iterator[tuple[str, Any]]
"""(label, sample as parsed JSON) of each sample of a log, in file order."""


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
    return parse_json(decode_text(path, raw), where, constants=float)


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


def _eval_log(path: Path) -> tuple[dict[str, Any], Samples]:
    """An ``.eval`` archive's header fields, and its samples read a member at a time."""
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
    log.pop("samples", None)
    members = sorted(n for n in names if n.startswith("samples/") and n.endswith(".json"))

    def samples() -> Samples:
        with zipfile.ZipFile(path) as archive:
            for name in members:
                yield name, _member(path, archive, name, budget)

    return log, samples()


def _json_samples(path: Path, header: dict[str, Any], stream: TopLevel, fields) -> Samples:
    """The samples of a ``.json`` log from ``fields`` (positioned at ``samples``), then the
    fields after them into ``header``."""
    try:
        key, value = next(fields, (None, None))
        if isinstance(value, Elements):
            for i, sample in enumerate(value):
                yield f"samples[{i}]", sample
        for key, value in fields:
            if not isinstance(value, Elements) and key != "samples":
                header[key] = value  # the fields after the samples
    finally:
        stream.close()


def _json_log(path: Path) -> tuple[dict[str, Any], Samples]:
    """A ``.json`` log's header fields, and its samples read an element at a time. When the
    fields a run id needs come after ``samples`` (inspect writes them before), the log is read
    twice: once for the header, once for the samples."""
    header: dict[str, Any] = {}
    stream = TopLevel(path)
    fields = stream.fields()
    for key, value in fields:
        if key == "samples" and value is not None:
            if not isinstance(value, Elements):
                stream.close()
                raise InputError(f"{path}: field 'samples': not a list")
            if all(k in header for k in _RUN_FIELDS):
                again = iter([(key, value)])
                return header, _json_samples(path, header, stream, _chain(again, fields))
            value.skip()
            for later, item in fields:  # the rest of the header, then the samples again
                if not isinstance(item, Elements) and later != "samples":
                    header[later] = item
            stream.close()
            second = TopLevel(path)
            rest = ((k, v) for k, v in second.fields() if k == "samples")
            return header, _json_samples(path, header, second, rest)
        if not isinstance(value, Elements) and key != "samples":
            header[key] = value
    stream.close()
    return header, _none()


def _none() -> Samples:
    yield from ()


def _chain(first, rest):
    yield from first
    yield from rest


def open_log(path: Path) -> tuple[dict[str, Any], Samples]:
    """One log's header (checked: version, task, model) and its samples, read lazily."""
    if path.suffix.lower() == ".eval":
        log, samples = _eval_log(path)
    elif path.suffix.lower() == ".json":
        log, samples = _json_log(path)
    else:
        raise InputError(f"{path}: unknown file type (an inspect log is .eval or .json)")
    if not isinstance(log, dict) or not isinstance(log.get("eval"), dict) or "version" not in log:
        samples.close()
        raise InputError(f"{path}: not an inspect log (no 'version' and 'eval' at the top level)")
    if log["version"] not in LOG_VERSIONS:
        samples.close()
        raise InputError(
            f"{path}: inspect log version {log['version']!r} is not one assay reads "
            f"(it reads version {', '.join(map(str, LOG_VERSIONS))})"
        )
    for field in ("task", "model"):
        if not isinstance(log["eval"].get(field), str) or not log["eval"][field].strip():
            samples.close()
            raise InputError(f"{path}: field 'eval.{field}': missing or not text")
    return log, samples
