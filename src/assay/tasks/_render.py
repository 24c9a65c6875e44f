"""Jinja2 rendering with lm-eval's semantics: field names, templates, literal lists.

A spec (``doc_to_text``/``doc_to_target``/``doc_to_choice`` in lm-eval's words) is resolved as
lm-eval 0.4 does: an ``int`` or a ``list`` is returned as is; a string naming a document field
returns that field; any other string is rendered as a Jinja2 template (``StrictUndefined``, so a
missing field is an error) and, for choices, parsed with :func:`ast.literal_eval`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from assay.errors import InputError


def _regex_replace(string: str, pattern: str, repl: str, count: int = 0) -> str:
    return re.sub(pattern, repl, string, count=count)


_ENV = jinja2.Environment(
    loader=jinja2.BaseLoader(), undefined=jinja2.StrictUndefined, keep_trailing_newline=True
)
_ENV.filters["regex_replace"] = _regex_replace
_CACHE: dict[str, jinja2.Template] = {}


def compile_template(source: str, *, where: str) -> jinja2.Template:
    """Compile (and cache) a Jinja2 template; a syntax error names ``where``."""
    template = _CACHE.get(source)
    if template is None:
        try:
            template = _ENV.from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            message = f"{where}: bad Jinja2 template ({exc.message}, line {exc.lineno})"
            raise InputError(message) from None
        _CACHE[source] = template
    return template


def render(source: str, variables: Mapping[str, Any], *, where: str) -> str:
    """Render ``source`` with ``variables``; errors name ``where`` (task, template, doc_id)."""
    template = compile_template(source, where=where)
    try:
        return template.render(**variables)
    except jinja2.TemplateError as exc:
        raise InputError(f"{where}: {type(exc).__name__}: {exc}") from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        raise InputError(f"{where}: {type(exc).__name__}: {exc}") from None


def resolve_text(spec: Any, doc: Mapping[str, Any], *, where: str) -> Any:
    """lm-eval ``doc_to_text``: field name, or template rendered to a string."""
    if isinstance(spec, int | list):
        return spec
    if isinstance(spec, str) and spec in doc:
        return doc[spec]
    return render(str(spec), doc, where=where)


def resolve_target(spec: Any, doc: Mapping[str, Any], *, has_choices: bool, where: str) -> Any:
    """lm-eval ``doc_to_target``: int, list, field, or template (digits become an index)."""
    if isinstance(spec, int | list):
        return spec
    if isinstance(spec, str) and spec in doc:
        return doc[spec]
    text = render(str(spec), doc, where=where)
    if has_choices and text.isdigit():
        return int(text)
    if len(text) >= 2 and text[0] == "[" and text[-1] == "]":
        try:
            return ast.literal_eval(text)
        except (SyntaxError, ValueError):
            return text
    return text


def resolve_choices(spec: Any, doc: Mapping[str, Any], *, where: str) -> list[str]:
    """lm-eval ``doc_to_choice``: list, dict values, field, or template parsed as a literal."""
    if isinstance(spec, list):
        value: Any = spec
    elif isinstance(spec, dict):
        value = list(spec.values())
    elif isinstance(spec, str) and spec in doc:
        value = doc[spec]
    else:
        text = render(str(spec), doc, where=where)
        try:
            value = ast.literal_eval(text)
        except (SyntaxError, ValueError):
            raise InputError(f"{where}: choices rendered to {text!r}, not a list") from None
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, list | tuple) or not value:
        raise InputError(f"{where}: choices must be a non-empty list, got {value!r}")
    return [str(v) for v in value]


# ---------------------------------------------------------------- chat templates

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
"""ChatML, the format of SmolLM2-Instruct and many others; used when no template is given."""

_CHAT_ENV = ImmutableSandboxedEnvironment(
    trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
)  # as transformers renders chat templates


def _raise(message: str) -> None:
    raise jinja2.TemplateError(message)


_CHAT_ENV.globals["raise_exception"] = _raise


def render_chat(
    user_message: str,
    *,
    chat_template: str | None = None,
    system: str | None = None,
    bos_token: str = "",
    eos_token: str = "",
) -> str:
    """Render one user turn plus the assistant prefix with a Hugging Face chat template.

    ``chat_template`` is a tokenizer's ``chat_template`` string (Jinja2, rendered like
    ``tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)``);
    ``None`` uses :data:`CHATML_TEMPLATE`.
    """
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user_message}
    ]
    try:
        template = _CHAT_ENV.from_string(chat_template or CHATML_TEMPLATE)
        return template.render(
            messages=messages,
            add_generation_prompt=True,
            bos_token=bos_token,
            eos_token=eos_token,
        )
    except jinja2.TemplateError as exc:
        raise InputError(f"chat template failed: {exc}") from None
