"""Task files: assay's YAML schema (read and write) and the simple subset of lm-eval task YAML."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from assay.core import YamlLoader, read_yaml
from assay.errors import InputError

from ._docs import make_docs
from ._loaders import load_hf_records, read_records
from ._paths import allowed_roots, check_data_path, check_local_source
from ._task import Task, task_to_dict

# the keys of our schema that are Task attributes as they are
_SIMPLE_KEYS = (
    "name",
    "version",
    "request_type",
    "default_template",
    "target",
    "choices",
    "framing",
    "description",
    "num_fewshot",
    "fewshot_split",
    "target_delimiter",
    "fewshot_delimiter",
    "filters",
    "chat",
    "chat_template",
    "system_prompt",
    "metadata",
    "metrics",
    "choice_labels",
)
LM_EVAL_KEYS = frozenset(
    {
        "task",
        "dataset_path",
        "dataset_name",
        "dataset_kwargs",
        "test_split",
        "validation_split",
        "training_split",
        "fewshot_split",
        "doc_to_text",
        "doc_to_target",
        "doc_to_choice",
        "num_fewshot",
        "output_type",
        "generation_kwargs",
        "target_delimiter",
        "fewshot_delimiter",
        "description",
        "metadata",
        "filter_list",
        "metric_list",
        "tag",
        "group",
        "task_alias",
        "should_decontaminate",
        "doc_to_decontamination_query",
        "fewshot_config",
        "repeats",
    }
)
_OUTPUT_TYPES = {
    "multiple_choice": "multiple_choice",
    "generate_until": "generate",
    "loglikelihood_rolling": "loglikelihood_rolling",
}


def save_task(task: Task, path: str | Path) -> Path:
    """Write the task (with its documents) as a YAML file in assay's schema."""
    path = Path(path)
    spec = task_to_dict(task)
    spec.pop("source", None)
    text = yaml.dump(spec, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    return path


def _records_from_data(
    data: dict[str, Any], base: Path | None, where: str, split_key: str, roots: Any = None
):
    offline = bool(data.get("offline", False))
    if "path" in data:
        key = "fewshot_path" if split_key == "fewshot_split" and "fewshot_path" in data else "path"
        path = check_data_path(data[key], base=base, roots=roots, where=where, key=f"data.{key}")
        if path.is_dir():
            return load_hf_records(str(path), split=data.get(split_key) or "test", offline=True)
        if key == "path" and split_key == "fewshot_split":
            raise InputError(
                f"{where}: data.fewshot_split needs a dataset folder or 'hf'; "
                "for a file use data.fewshot_path"
            )
        return read_records(path)
    if "hf" in data:
        split = data.get(split_key)
        if split is None:
            return None
        files = check_local_source(
            data.get("data_files"), base=base, roots=roots, where=where, key="data.data_files"
        )
        source = check_local_source(data["hf"], base=base, roots=roots, where=where, key="data.hf")
        return load_hf_records(source, data.get("name"), split, data_files=files, offline=offline)
    raise InputError(f"{where}: key 'data' needs 'path' or 'hf'")


def task_from_dict(
    spec: dict[str, Any], *, where: str, base: Path | None = None, data_roots: Any = ()
) -> Task:
    """Build a task from assay's YAML schema; its shape is checked by the pydantic models of
    ``_taskfile`` (a bad key names ``where`` and the key), its values by :class:`Task`. A task
    file (``base``, its folder) reads data only under ``base`` and ``data_roots``."""
    from ._taskfile import parse_task_file  # pydantic loads only when a task file is read

    roots = allowed_roots(base, data_roots)
    if not isinstance(spec, dict):
        raise InputError(f"{where}: a task file must be a mapping")
    spec = {k: v for k, v in spec.items() if k != "source"}
    parsed = parse_task_file(spec, where)
    templates, template_framing = parsed.template_texts()
    kwargs: dict[str, Any] = {
        k: getattr(parsed, k) for k in _SIMPLE_KEYS if getattr(parsed, k) is not None
    }
    if "version" in kwargs:
        kwargs["version"] = str(kwargs["version"])
    data = parsed.data.given() if parsed.data is not None else None
    try:
        kwargs.update(_generation(parsed.generation))
        kwargs.update(_documents(parsed, data, base, where, roots))
        return Task(templates=templates, template_framing=template_framing, source=where, **kwargs)
    except TypeError as exc:
        raise InputError(f"{where}: {exc}") from None
    except InputError as exc:
        message = str(exc)
        raise InputError(message if message.startswith(where) else f"{where}: {message}") from None


def _generation(generation: Any) -> dict[str, Any]:
    """The Task keywords of the ``generation`` section (the keys it sets)."""
    if generation is None:
        return {}
    out = {k: getattr(generation, k) for k in generation.model_fields_set}
    if "stop" in out:
        stop = out["stop"]
        out["stop"] = (stop,) if isinstance(stop, str) else tuple(stop)
    return out


def _documents(
    parsed: Any, data: dict[str, Any] | None, base: Path | None, where: str, roots: Any
) -> dict[str, Any]:
    """``docs`` and, when given, ``fewshot_docs`` and ``fewshot_split``: inline or from data."""
    id_opts = {
        "id_field": (data or {}).get("id_field", "doc_id"),
        "difficulty_field": (data or {}).get("difficulty_field", "difficulty"),
        "cluster_field": (data or {}).get("cluster_field", "cluster_id"),
    }
    if parsed.docs is not None:
        records = parsed.docs
    else:
        records = _records_from_data(data or {}, base, where, "split", roots)
    out: dict[str, Any] = {"docs": make_docs(records or [], **id_opts)}
    if parsed.fewshot_docs is not None:
        out["fewshot_docs"] = make_docs(parsed.fewshot_docs, prefix="fewshot-")
    elif data is not None and (data.get("fewshot_split") or data.get("fewshot_path")):
        shots = _records_from_data(data, base, where, "fewshot_split", roots)
        out["fewshot_docs"] = make_docs(shots or [], prefix="fewshot-", **id_opts)
        out["fewshot_split"] = data.get("fewshot_split") or data.get("fewshot_path")
    return out


# ---------------------------------------------------------------- lm-eval subset


class _FunctionTag(str):
    """Marks a ``!function`` value, which this subset cannot run."""


_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _LmEvalLoader(YamlLoader):
    """The shared strict loader (a repeated key is an error) that reads ``!function``."""


def _function_tag(loader: Any, node: yaml.Node) -> _FunctionTag:
    return _FunctionTag(loader.construct_scalar(node))  # type: ignore[arg-type]


_LmEvalLoader.add_constructor("!function", _function_tag)


def is_lm_eval_spec(spec: dict[str, Any]) -> bool:
    return any(k in spec for k in ("task", "dataset_path", "doc_to_text", "output_type"))


def task_from_lm_eval(
    spec: dict[str, Any],
    *,
    where: str,
    base: Path | None = None,
    offline: bool = False,
    data_roots: Any = (),
) -> Task:
    """Build a task from the simple subset of lm-eval's task YAML (see docs/tasks.md); any
    problem is one InputError naming ``where``."""
    try:
        return _task_from_lm_eval(
            spec, where=where, base=base, offline=offline, roots=allowed_roots(base, data_roots)
        )
    except InputError as exc:
        message = str(exc)
        raise InputError(message if message.startswith(where) else f"{where}: {message}") from None
    except (TypeError, ValueError, AttributeError) as exc:  # a value of the wrong type
        detail = " ".join(str(exc).split())[:200]
        raise InputError(f"{where}: bad value in the lm-eval task ({detail})") from None


def _task_from_lm_eval(
    spec: dict[str, Any], *, where: str, base: Path | None, offline: bool, roots: Any
) -> Task:
    for key, value in spec.items():
        if key not in LM_EVAL_KEYS:
            raise InputError(f"{where}: lm-eval key {key!r} is not in the supported subset")
        if isinstance(value, _FunctionTag):
            raise InputError(f"{where}: key {key!r} uses !function, which assay cannot run")
    if "include" in spec:
        raise InputError(f"{where}: key 'include' is not supported; inline the included file")
    output_type = spec.get("output_type", "generate_until")
    if output_type not in _OUTPUT_TYPES:
        raise InputError(
            f"{where}: output_type {output_type!r} not supported (use {', '.join(_OUTPUT_TYPES)})"
        )
    if "dataset_path" not in spec:
        raise InputError(f"{where}: missing key 'dataset_path'")
    for key in ("dataset_kwargs", "generation_kwargs", "metadata"):
        if not isinstance(spec.get(key) or {}, dict):
            raise InputError(f"{where}: key {key!r} must be a mapping")
    kwargs_spec = spec.get("dataset_kwargs") or {}
    data_files = check_local_source(
        kwargs_spec.get("data_files"),
        base=base,
        roots=roots,
        where=where,
        key="dataset_kwargs.data_files",
    )
    source = check_local_source(
        spec["dataset_path"], base=None, roots=roots, where=where, key="dataset_path"
    )

    def split(name: str | None) -> list[dict[str, Any]] | None:
        if name is None:
            return None
        return load_hf_records(
            source,
            spec.get("dataset_name"),
            name,
            data_files=data_files,
            offline=offline,
        )

    eval_split = spec.get("test_split") or spec.get("validation_split")
    if eval_split is None:
        raise InputError(f"{where}: needs 'test_split' or 'validation_split'")
    records = split(eval_split)
    shot_split = spec.get("fewshot_split") or spec.get("training_split")
    if shot_split is None and spec.get("test_split") and spec.get("validation_split"):
        shot_split = spec["validation_split"]
    shots = split(shot_split) if shot_split and int(spec.get("num_fewshot") or 0) > 0 else None
    gen = spec.get("generation_kwargs") or {}
    request_type = _OUTPUT_TYPES[output_type]
    options: dict[str, Any] = {
        "name": spec.get("task") or (Path(where).stem if where else "lm_eval_task"),
        "version": str((spec.get("metadata") or {}).get("version", "1")),
        "request_type": request_type,
        "docs": make_docs(records or [], id_field=None, difficulty_field=None, cluster_field=None),
        "templates": {"default": spec.get("doc_to_text", "")},
        "target": spec.get("doc_to_target", "target"),
        "choices": spec.get("doc_to_choice"),
        "description": spec.get("description", ""),
        "num_fewshot": int(spec.get("num_fewshot") or 0),
        "target_delimiter": spec.get("target_delimiter", " "),
        "fewshot_delimiter": spec.get("fewshot_delimiter", "\n\n"),
        "source": where,
        "metadata": {"lm_eval": True},
    }
    if shots is not None:
        options["fewshot_docs"] = make_docs(
            shots, id_field=None, difficulty_field=None, cluster_field=None, prefix=f"{shot_split}-"
        )
        options["fewshot_split"] = shot_split
    if request_type == "generate":
        until = gen.get("until", [options["fewshot_delimiter"]])
        options["stop"] = (until,) if isinstance(until, str) else tuple(until)
        options["max_new_tokens"] = int(gen.get("max_gen_toks", 256))
        if gen.get("do_sample") or gen.get("temperature"):
            options["temperature"] = float(gen.get("temperature", 1.0))
        options["filters"] = _lm_eval_filters(spec.get("filter_list"), where)
    return Task(**options)


def _lm_eval_filters(filter_list: Any, where: str) -> list[Any]:
    if not filter_list:
        return []
    first = filter_list[0] if isinstance(filter_list, list) else None
    if not isinstance(first, dict) or not isinstance(first.get("filter"), list):
        raise InputError(f"{where}: key 'filter_list' must be a list of {{name, filter: [...]}}")
    return list(first["filter"])


def load_task_file(path: str | Path, *, data_roots: Any = (), **options: Any) -> Task:
    """A task from a ``.yaml``/``.yml`` file (assay's schema or lm-eval's subset); it reads
    data only under its own folder and ``data_roots``."""
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise InputError(f"{where}: no such file")
    spec = read_yaml(path, loader=_LmEvalLoader)
    if not isinstance(spec, dict):
        raise InputError(f"{where}: a task file must be a mapping")
    offline = bool(options.pop("offline", False))
    if is_lm_eval_spec(spec):
        task = task_from_lm_eval(
            spec, where=where, base=path.parent, offline=offline, data_roots=data_roots
        )
    else:
        task = task_from_dict(spec, where=where, base=path.parent, data_roots=data_roots)
    names = {f.name for f in dataclasses.fields(task)}
    for key in options:
        if key not in names:
            raise InputError(f"{where}: unknown task option {key!r}")
    if not options:
        return task
    try:
        return dataclasses.replace(task, **options)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
