"""Jinja2 rendering with lm-eval's semantics: field names, templates, literal lists.

A spec (``doc_to_text``/``doc_to_target``/``doc_to_choice`` in lm-eval's words) is resolved as
lm-eval 0.4 does: an ``int`` or a ``list`` is returned as is; a string naming a document field
returns that field; any other string is rendered as a Jinja2 template (``StrictUndefined``, so a
missing field is an error) and, for choices, parsed with :func:`ast.literal_eval`.

Every template (task templates, descriptions, chat templates) renders in Jinja2's
``ImmutableSandboxedEnvironment`` with the bounds of :mod:`._sandbox`: no access to private
attributes, no mutation of the document, bounded sizes and loops; a template that tries to escape, or fails in any other way, is
one :class:`InputError` naming ``where``. Document fields are variables, never templates.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError

from assay.errors import InputError

from ._sandbox import TaskSandbox, check_size, render_bounded


def _regex_replace(string: str, pattern: str, repl: str, count: int = 0) -> str:
    """lm-eval's ``regex_replace``, each replacement counted so the result stays under the
    template output limit (an empty pattern matches between every two characters)."""
    size = [len(string)]

    def one(match: re.Match) -> str:
        piece = match.expand(repl)
        size[0] += len(piece)
        check_size(size[0], "regex_replace")
        return piece

    return re.sub(pattern, one, string, count=count)


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def template_error(where: str, exc: BaseException) -> InputError:
    """One line naming ``where`` for an exception raised while compiling/rendering."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return InputError(
            f"{where}: bad Jinja2 template ({_one_line(exc.message or '')}, line {exc.lineno})"
        )
    if isinstance(exc, SecurityError):
        return InputError(f"{where}: template blocked by the sandbox ({_one_line(str(exc))})")
    return InputError(f"{where}: template failed ({type(exc).__name__}: {_one_line(str(exc))})")


_ENV = TaskSandbox(
    loader=jinja2.BaseLoader(), undefined=jinja2.StrictUndefined, keep_trailing_newline=True
)
_ENV.filters["regex_replace"] = _regex_replace
_CACHE: dict[str, jinja2.Template] = {}


def compile_template(source: str, *, where: str) -> jinja2.Template:
    """Compile (and cache) a sandboxed Jinja2 template; a syntax error names ``where``."""
    template = _CACHE.get(source)
    if template is None:
        try:
            template = _ENV.from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise template_error(where, exc) from None
        _CACHE[source] = template
    return template


def render(source: str, variables: Mapping[str, Any], *, where: str) -> str:
    """Render ``source`` with ``variables`` in the sandbox; any failure (an undefined variable,
    a blocked attribute, a filter error, a division by zero) is one InputError naming
    ``where`` (task, template, doc_id)."""
    template = compile_template(source, where=where)
    try:
        return render_bounded(template, variables)
    except jinja2.UndefinedError as exc:
        raise InputError(f"{where}: UndefinedError: {_one_line(str(exc))}") from None
    except Exception as exc:  # a template is user code: anything it raises is a user error
        raise template_error(where, exc) from None


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

_CHAT_ENV = TaskSandbox(
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
    where: str = "chat template",
) -> str:
    """Render one user turn plus the assistant prefix with a Hugging Face chat template.

    ``chat_template`` is a tokenizer's ``chat_template`` string (Jinja2, rendered like
    ``tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)``);
    ``None`` uses :data:`CHATML_TEMPLATE`. It renders in the sandbox; a failure is one
    InputError naming ``where``.
    """
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user_message}
    ]
    try:
        template = _CHAT_ENV.from_string(chat_template or CHATML_TEMPLATE)
        variables = {
            "messages": messages,
            "add_generation_prompt": True,
            "bos_token": bos_token,
            "eos_token": eos_token,
        }
        return render_bounded(template, variables)
    except Exception as exc:  # a chat template is user code too
        raise template_error(where, exc) from None


def template_variables(source: str) -> set[str]:
    """The variables a template reads (parsed by the task sandbox, never rendered); a template
    that does not parse reads none."""
    import jinja2.meta

    try:
        return set(jinja2.meta.find_undeclared_variables(_ENV.parse(source)))
    except jinja2.TemplateSyntaxError:
        return set()
