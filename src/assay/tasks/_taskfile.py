"""The shape of an assay task file, as pydantic models: which keys exist, which are required,
which hold a mapping or a list of mappings. Values (a number of shots, a framing, a template's
syntax) are checked by :class:`Task` itself, so a file and the Python API accept the same.

Every problem is one line naming the file and the field: ``FILE: unknown key 'x'``,
``FILE: missing key 'name'``, ``FILE: task 'x': field 'docs' must be a list of mappings``.
Imported only when a task file is read (pydantic stays off the import path of ``assay``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from assay.errors import InputError


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, arbitrary_types_allowed=True)


class TemplateSpec(_Shape):
    """One template written as a mapping: its text and, optionally, its own framing."""

    text: Any
    framing: Any = None


class GenerationSpec(_Shape):
    max_new_tokens: Any = None
    stop: Any = None
    temperature: Any = None


class DataSpec(_Shape):
    """Where the documents come from: a file or folder (``path``) or a dataset (``hf``)."""

    path: Any = None
    fewshot_path: Any = None
    hf: Any = None
    name: Any = None
    split: Any = None
    fewshot_split: Any = None
    data_files: Any = None
    id_field: Any = "doc_id"
    difficulty_field: Any = "difficulty"
    cluster_field: Any = "cluster_id"
    offline: Any = False

    def given(self) -> dict[str, Any]:
        """The keys the file set (defaults left out)."""
        return {k: getattr(self, k) for k in self.model_fields_set}


class TaskFile(_Shape):
    """An assay task file (docs/tasks.md)."""

    name: Any
    request_type: Any
    templates: dict[str, TemplateSpec | str] | None = None
    template: dict[str, TemplateSpec | str] | None = None
    generation: GenerationSpec | None = None
    docs: list[dict[str, Any]] | None = None
    fewshot_docs: list[dict[str, Any]] | None = None
    data: DataSpec | None = None
    version: Any = None
    default_template: Any = None
    target: Any = None
    choices: Any = None
    framing: Any = None
    description: Any = None
    num_fewshot: Any = None
    fewshot_split: Any = None
    target_delimiter: Any = None
    fewshot_delimiter: Any = None
    filters: Any = None
    chat: Any = None
    chat_template: Any = None
    system_prompt: Any = None
    metadata: Any = None
    metrics: Any = None
    choice_labels: Any = None

    @field_validator("generation", mode="before")
    @classmethod
    def _no_generation(cls, value: Any) -> Any:
        return value or None  # an empty value sets nothing

    @field_validator("templates", "template", mode="before")
    @classmethod
    def _one_text(cls, value: Any) -> Any:
        """A bare template is the template ``default``; template ids are text; an empty
        value is no templates."""
        if not value:
            return None
        if isinstance(value, str):
            return {"default": value}
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
        return value

    def template_texts(self) -> tuple[dict[str, Any], dict[str, str]]:
        """(template id -> text, template id -> its own framing)."""
        spec = self.templates or self.template or {}
        texts = {t: v.text if isinstance(v, TemplateSpec) else v for t, v in spec.items()}
        framing = {t: v.framing for t, v in spec.items() if isinstance(v, TemplateSpec)}
        return texts, {t: f for t, f in framing.items() if f}


_WHAT = {
    "templates": "must map template ids to templates",
    "template": "must map template ids to templates",
    "generation": "must be a mapping",
    "data": "must be a mapping",
    "docs": "must be a list of mappings",
    "fewshot_docs": "must be a list of mappings",
}


def parse_task_file(spec: dict[str, Any], where: str) -> TaskFile:
    """``spec`` (a task file's mapping) as a :class:`TaskFile`, or one InputError."""
    for key in ("docs", "fewshot_docs"):
        if key in spec and spec[key] is None:
            raise InputError(_message({"loc": (key,), "type": "none", "msg": ""}, spec, where))
    try:
        parsed = TaskFile.model_validate(spec)
    except ValidationError as exc:
        raise InputError(_message(min(exc.errors(), key=_rank), spec, where)) from None
    if not parsed.templates and not parsed.template:
        raise InputError(f"{where}: missing key 'templates'")
    if parsed.docs is None and parsed.data is None:
        raise InputError(f"{where}: needs 'docs' (inline) or 'data' (a file or dataset)")
    return parsed


def _rank(error: Any) -> int:
    """Unknown keys first, then missing ones (the file's own before a section's), then the
    rest, each in the file's order."""
    nested = 2 * (len(error["loc"]) > 1)
    return {"extra_forbidden": nested, "missing": 1 + nested}.get(error["type"], 4)


_MEMBERS = frozenset({"TemplateSpec", "str"})  # a union's member in an error's location


def _message(error: Any, spec: dict[str, Any], where: str) -> str:
    """One line for a pydantic error, in the words of the file's keys."""
    loc = [str(part) for part in error["loc"] if part not in _MEMBERS]
    kind = error["type"]
    if kind == "extra_forbidden":
        section = ".".join(loc[:-1])
        return f"{where}: unknown {section + ' ' if section else ''}key {loc[-1]!r}"
    if kind == "missing":
        if len(loc) == 1:
            return f"{where}: missing key {loc[0]!r}"
        return f"{where}: {'.'.join(loc[:-1])} needs key {loc[-1]!r}"
    name = spec.get("name")
    task = f"task {name!r}: " if isinstance(name, str) else ""
    field = loc[0]
    if field in ("templates", "template") and len(loc) > 1:
        field, what = f"{loc[0]}.{loc[1]}", "must be a string or a mapping"
    else:
        what = _WHAT.get(field) or str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {task}field {field!r} {what}"
