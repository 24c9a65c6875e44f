"""Loaders: local JSONL/JSON/CSV/Parquet files, Hugging Face ``datasets``, BIG-bench JSON."""

from __future__ import annotations

import ast
import contextlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assay.core import iter_jsonl, parse_json, read_csv_rows, read_text, to_jsonable
from assay.errors import InputError

from ._docs import make_docs
from ._task import Task

DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
_TEXT_FIELDS = ("question", "input", "prompt", "query", "text", "sentence", "context")
_TARGET_FIELDS = ("target", "answer", "label", "gold", "output")


def _listish(value: Any) -> Any:
    """CSV cells holding a list literal ('["a", "b"]') become lists."""
    if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
        with contextlib.suppress(ValueError, SyntaxError):
            return json.loads(value)
        with contextlib.suppress(ValueError, SyntaxError):
            return ast.literal_eval(value)
    return value


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a local .jsonl, .json (a list, or ``{"data"|"examples": [...]}``), .csv or
    .parquet file; a malformed file names the file (and the line for JSONL).

    CSV cells are read as text (a list literal such as ``["a", "b"]`` becomes a list), so an
    answer "4" stays the text "4"; a digit string that is not one of the choices is taken as a
    choice index."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a data file")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return [row for _, row in iter_jsonl(path)]
    if suffix == ".json":
        data = parse_json(read_text(path), path)
        if isinstance(data, dict):
            data = data.get("data", data.get("examples"))
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise InputError(f"{path}: expected a list of objects (or a 'data' key holding one)")
        return data
    if suffix == ".csv":
        header, cells, _ = read_csv_rows(path, delimiter=",")
        return [{k: _listish(v) for k, v in zip(header, row, strict=True)} for row in cells]
    if suffix == ".parquet":
        import pandas as pd

        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types for bad files
            raise InputError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from None
        return to_jsonable(frame)
    raise InputError(f"{path}: unknown data file type {suffix!r} (use {', '.join(DATA_SUFFIXES)})")


def _packaged_local_rows(path: str, split: str, data_files: Any) -> list[dict[str, Any]] | None:
    """Rows of ``load_dataset("json" | "parquet", data_files=...)`` read directly when the
    split's files are local .jsonl/.json/.parquet files (no ``datasets`` package needed); None
    where the ``datasets`` builder has to read them (CSV type inference, globs, remote files)."""
    if path not in ("json", "parquet") or data_files is None:
        return None
    files = data_files.get(split) if isinstance(data_files, dict) else None
    if files is None and isinstance(data_files, str | Path) and split == "train":
        files = data_files
    if files is None:
        return None
    files = [files] if isinstance(files, str | Path) else list(files)
    suffixes = (".parquet",) if path == "parquet" else (".jsonl", ".json")
    if not all(
        isinstance(f, str | Path) and Path(f).suffix.lower() in suffixes and Path(f).is_file()
        for f in files
    ):
        return None
    return [row for f in files for row in read_records(f)]


@contextlib.contextmanager
def _hub_offline(offline: bool) -> Iterator[None]:
    if not offline:
        yield
        return
    import datasets.config as dconfig

    saved = dconfig.HF_HUB_OFFLINE
    dconfig.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        dconfig.HF_HUB_OFFLINE = saved


def load_hf_records(
    path: str,
    name: str | None = None,
    split: str = "test",
    *,
    data_files: Any = None,
    offline: bool = False,
) -> list[dict[str, Any]]:
    """Rows of one split of a Hugging Face dataset.

    ``path`` is a hub id (used when the dataset is in the local ``datasets`` cache or the hub is
    reachable), a builder name such as ``"json"``/``"csv"``/``"parquet"`` with ``data_files``,
    or a local folder written by ``Dataset.save_to_disk``/``DatasetDict.save_to_disk``.
    ``offline=True`` never touches the network. Failures name what was looked for and where.
    """
    local_rows = _packaged_local_rows(path, split, data_files)
    if local_rows is not None:
        if not local_rows:
            raise InputError(f"dataset {path!r}, split {split!r}: no rows in {data_files}")
        return local_rows
    try:
        import datasets
    except ImportError:
        raise InputError(
            "loading a Hugging Face dataset needs the `datasets` package: "
            "pip install 'assay[datasets]'"
        ) from None
    local = Path(path)
    what = f"dataset {path!r}" + (f" (name={name!r})" if name else "") + f", split {split!r}"
    if local.is_dir() and any(
        (local / f).exists() for f in ("dataset_dict.json", "dataset_info.json", "state.json")
    ):
        try:
            loaded = datasets.load_from_disk(str(local))
        except Exception as exc:  # datasets raises many types for a broken/empty folder
            raise InputError(
                f"{what}: cannot load the folder {local} ({type(exc).__name__}: {_first_line(exc)})"
            ) from None
        if isinstance(loaded, datasets.DatasetDict):
            if split not in loaded:
                raise InputError(
                    f"{what}: no split {split!r} in the folder {local} (has: {', '.join(loaded)})"
                )
            loaded = loaded[split]
        return [to_jsonable(r) for r in loaded]
    if isinstance(data_files, str | Path):
        data_files = str(data_files)
    try:
        with _hub_offline(offline):
            loaded = datasets.load_dataset(path, name, split=split, data_files=data_files)
    except (ConnectionError, OSError) as exc:
        cache = datasets.config.HF_DATASETS_CACHE
        raise InputError(
            f"{what}: not in the local datasets cache ({cache}) and the Hugging Face hub is "
            f"unreachable ({type(exc).__name__}: {_first_line(exc, 200)}); "
            "download it where there is network, or pass a local file or a save_to_disk folder"
        ) from None
    except ValueError as exc:  # e.g. unknown split
        raise InputError(f"{what}: {_first_line(exc)}") from None
    except Exception as exc:  # datasets raises its own hierarchy (DatasetNotFoundError, ...)
        raise InputError(f"{what}: {type(exc).__name__}: {_first_line(exc)}") from None
    return [to_jsonable(r) for r in loaded]


def _first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (possibly empty), at most ``limit`` chars."""
    lines = str(exc).strip().splitlines()
    return lines[0][:limit] if lines else ""


def _first_present(columns: list[str], preferred: tuple[str, ...]) -> str | None:
    return next((c for c in preferred if c in columns), None)


def task_from_records(
    records: list[dict[str, Any]],
    *,
    name: str,
    where: str,
    request_type: str | None = None,
    template: str | dict[str, str] | None = None,
    target: Any = None,
    choices: Any = None,
    id_field: str = "doc_id",
    difficulty_field: str = "difficulty",
    cluster_field: str = "cluster_id",
    **task_options: Any,
) -> Task:
    """A task over plain rows; missing options are guessed from the column names.

    Guesses: the question column is the first of question/input/prompt/query/text; the target
    the first of target/answer/label/gold/output; a ``choices`` column makes it multiple choice;
    no target makes it ``loglikelihood_rolling`` over the text column.
    """
    if not records:
        raise InputError(f"{where}: no rows")
    columns = list(records[0])
    if choices is None and "choices" in columns:
        choices = "choices"
    if target is None:
        target = _first_present(columns, _TARGET_FIELDS)
    if request_type is None:
        request_type = (
            "multiple_choice" if choices else "generate" if target else "loglikelihood_rolling"
        )
    if template is None:
        text_field = _first_present(columns, _TEXT_FIELDS)
        if text_field is None:
            raise InputError(
                f"{where}: no question column (looked for {', '.join(_TEXT_FIELDS)}); "
                "pass template='...' (a Jinja2 template over the columns)"
            )
        if request_type == "loglikelihood_rolling":
            template = text_field
        else:
            template = f"Question: {{{{ {text_field} }}}}\nAnswer:"
    templates = {"default": template} if isinstance(template, str) else dict(template)
    for key, value in (("target", target), ("choices", choices)):
        if isinstance(value, str) and value.isidentifier() and value not in columns:
            raise InputError(f"{where}: {key} column {value!r} not found (have: {columns})")
    if request_type != "loglikelihood_rolling" and target is None:
        raise InputError(f"{where}: no target column (looked for {', '.join(_TARGET_FIELDS)})")
    try:
        docs = make_docs(
            records,
            id_field=id_field,
            difficulty_field=difficulty_field,
            cluster_field=cluster_field,
        )
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    try:
        return Task(
            name=name,
            request_type=request_type,
            docs=docs,
            templates=templates,
            target=target if target is not None else "",
            choices=choices,
            source=where,
            **task_options,
        )
    except TypeError as exc:  # an unknown option
        raise InputError(f"{where}: {str(exc).replace('__init__()', 'task')}") from None
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


# ---------------------------------------------------------------- BIG-bench

_BIGBENCH_KEYS = {
    "canary",
    "name",
    "description",
    "keywords",
    "metrics",
    "preferred_score",
    "examples",
    "task_prefix",
    "example_input_prefix",
    "example_output_prefix",
    "choice_prefix",
    "append_choices_to_input",
    "few_shot_example_separator",
    "output_regex",
    "stop_string",
    "max_input_length_per_query",
    "max_queries",
    "comment",
}
_BIGBENCH_TEXT_KEYS = (
    "name",
    "task_prefix",
    "example_input_prefix",
    "example_output_prefix",
    "choice_prefix",
    "few_shot_example_separator",
    "output_regex",
    "stop_string",
)


def bigbench_task(path: str | Path, **task_options: Any) -> Task:
    """A task from BIG-bench's JSON format ("Beyond the Imitation Game", Srivastava et al. 2022).

    Examples with ``target_scores`` become multiple choice (the highest-scoring choice is the
    target); examples with ``target`` (a string or a list of accepted strings) become generation.
    The prompt follows BIG-bench's defaults: ``task_prefix`` + ``example_input_prefix``
    ("\\nQ: ") + input + (choices joined by ``choice_prefix`` "\\n  choice: " when
    ``append_choices_to_input``) + ``example_output_prefix`` ("\\nA: ").
    """
    path = Path(path)
    where = str(path)
    spec = parse_json(read_text(path), where)
    if not isinstance(spec, dict) or not isinstance(spec.get("examples"), list):
        raise InputError(f"{where}: key 'examples' missing or not a list (BIG-bench JSON task)")
    unknown = sorted(set(spec) - _BIGBENCH_KEYS)
    if unknown:
        raise InputError(f"{where}: unknown BIG-bench key {unknown[0]!r}")
    for key in _BIGBENCH_TEXT_KEYS:
        if key in spec and not isinstance(spec[key], str):
            raise InputError(f"{where}: {key} must be a string, got {spec[key]!r:.80}")
    if not isinstance(spec.get("append_choices_to_input", True), bool):
        raise InputError(f"{where}: append_choices_to_input must be true or false")
    if not spec["examples"]:
        raise InputError(f"{where}: 'examples' is empty (a task needs at least one example)")
    input_prefix = spec.get("example_input_prefix", "\nQ: ")
    output_prefix = spec.get("example_output_prefix", "\nA: ")
    choice_prefix = spec.get("choice_prefix", "\n  choice: ")
    append = spec.get("append_choices_to_input", True)
    records = [
        _bigbench_record(example, f"{where}: examples[{i}]")
        for i, example in enumerate(spec["examples"])
    ]
    kinds = {"multiple_choice" if "choices" in r else "generate" for r in records}
    if len(kinds) > 1:
        raise InputError(f"{where}: mixes 'target_scores' and 'target' examples")
    request_type = kinds.pop()
    question = _literal(input_prefix) + "{{ input }}"
    if request_type == "multiple_choice" and append:
        question += "{% for c in choices %}" + _literal(choice_prefix) + "{{ c }}{% endfor %}"
    question += _literal(output_prefix.rstrip(" "))
    options: dict[str, Any] = {
        "description": _literal(spec.get("task_prefix", "")),
        "fewshot_delimiter": spec.get("few_shot_example_separator", "\n"),
        "target_delimiter": " " if output_prefix.endswith(" ") else "",
        "stop": (spec["stop_string"],) if spec.get("stop_string") else ("\n",),
        "filters": [f"regex:{spec['output_regex']}"] if spec.get("output_regex") else ["strip"],
        "metadata": {k: spec[k] for k in ("keywords", "metrics", "preferred_score") if k in spec},
    }
    if request_type == "multiple_choice":
        options["filters"] = []
    options.update(task_options)
    name = options.pop("name", None) or spec.get("name") or path.stem
    return task_from_records(
        records,
        name=name,
        where=where,
        request_type=request_type,
        template=question,
        target="target",
        choices="choices" if request_type == "multiple_choice" else None,
        **options,
    )


def _bigbench_record(example: Any, where: str) -> dict[str, Any]:
    """One BIG-bench example as a record; its text stays data (a template variable)."""
    if not isinstance(example, dict) or "input" not in example:
        raise InputError(f"{where} has no 'input'")
    if not isinstance(example["input"], str):
        raise InputError(f"{where}.input must be a string, got {example['input']!r:.80}")
    if "target_scores" in example:
        scores = example["target_scores"]
        if not isinstance(scores, dict) or not scores:
            raise InputError(f"{where}.target_scores must be a non-empty object")
        for choice, score in scores.items():
            if isinstance(score, bool) or not isinstance(score, int | float):
                raise InputError(
                    f"{where}.target_scores[{choice!r:.60}] = {score!r:.60} is not a number"
                )
            if not math.isfinite(score):
                raise InputError(f"{where}.target_scores[{choice!r:.60}] = {score} is not finite")
        choices = list(scores)
        best = max(range(len(choices)), key=lambda j: (scores[choices[j]], -j))
        record: dict[str, Any] = {"input": example["input"], "choices": choices, "target": best}
    elif "target" in example:
        target = example["target"]
        texts = target if isinstance(target, list) else [target]
        if not texts or not all(_is_text(t) for t in texts):
            raise InputError(
                f"{where}.target must be a string or a non-empty list of strings, "
                f"got {target!r:.80}"
            )
        record = {"input": example["input"], "target": target}
    else:
        raise InputError(f"{where} has neither 'target_scores' nor 'target'")
    if "comment" in example:
        record["comment"] = example["comment"]
    return record


def _is_text(value: Any) -> bool:
    """A string (or a number, which BIG-bench files sometimes use as an answer)."""
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _literal(text: str) -> str:
    """``text`` as Jinja2 source that renders to exactly ``text`` (BIG-bench prefixes are text:
    braces stay braces). A ``raw`` block, split where the text itself says ``endraw`` so the
    text can never close the block early and become template code."""
    if not text:
        return ""
    return "endraw".join(
        f"{{% raw %}}{part}{{% endraw %}}" if part else "" for part in text.split("endraw")
    )
