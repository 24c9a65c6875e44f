"""The template sandbox: Jinja2's ``ImmutableSandboxedEnvironment`` plus bounds on what a
template may build, so no template can exhaust memory or time.

Jinja2's sandbox stops a template from reaching Python internals but not from asking for a
string of ten billion characters (``'x' | indent(10**10)``, ``'%999999999s' % 1``) or for
10^15 loop iterations (nested ``range``). Here every operation that can make something much
larger than its inputs checks the size of its result first (``*``, ``+``, ``~``, ``%``, the
width and count arguments of ``indent``/``center``/``format``/``replace``/``join``/
``wordwrap``/``batch``/``slice``/``tojson`` and of the string methods ``ljust``/``rjust``/
``center``/``zfill``/``expandtabs``/``replace``/``join``/``translate``/``format``), every
``{% for %}`` counts its iterations against one budget per rendering, and the output is
counted as it streams. Past a limit: a :class:`SecurityError` naming the limit and the
environment variable that raises it (``ASSAY_MAX_TEMPLATE_OUTPUT``, ``ASSAY_MAX_TEMPLATE_LOOPS``).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum
from jinja2.visitor import NodeTransformer

from assay.core import limit, limit_message

_LOOPS: ContextVar[list[int] | None] = ContextVar("assay_template_loops", default=None)
_NUMBER = re.compile(r"\d+")
_NESTED_FIELD = re.compile(r"\{[^{}]*\{")
_MAX_PIECES = 100_000  # batch/slice pieces, lipsum paragraphs x words (as Jinja's range)


def output_cap() -> int:
    """Most characters a template may build in one value or print in one rendering."""
    return limit("TEMPLATE_OUTPUT")


def _too_big(what: str) -> SecurityError:
    return SecurityError(limit_message(what, "TEMPLATE_OUTPUT"))


def weight(value: Any, cap: int | None = None) -> int:
    """About how many characters ``str(value)`` has (strings, and lists, tuples and dicts of
    them, each element counted as often as it appears); stops counting past ``cap``."""
    cap = output_cap() if cap is None else cap
    total = 0
    stack = [value]
    while stack and total <= cap:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, list | tuple):
            total += 2 + 2 * len(item)
            stack.extend(item)
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            total += 8
    return total


def check_size(size: int, what: str) -> None:
    """A SecurityError when ``size`` characters is past the output limit."""
    if size > output_cap():
        raise _too_big(what)


def _width(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _check_format(fmt: str, args: Iterable[Any], kwargs: Mapping[str, Any], what: str) -> None:
    """``fmt % args`` or ``fmt.format(*args, **kwargs)`` stays under the limit: the widths and
    precisions written in ``fmt`` (every number in it, counted generously), the ones passed as
    arguments (``%*s``, ``{:{w}}``) and the arguments' own sizes."""
    values = [*args, *kwargs.values()]
    size = len(fmt) + sum(int(n) for n in _NUMBER.findall(fmt) if len(n) < 30) + weight(values)
    if any(len(n) >= 30 for n in _NUMBER.findall(fmt)):
        raise _too_big(f"{what}: a width in the format string")
    if "*" in fmt or _NESTED_FIELD.search(fmt):
        size += sum(_width(v) for v in values)
    check_size(size, what)


def _replace_size(s: str, old: str, new: str, count: Any = None) -> int:
    hits = s.count(old) if old else len(s) + 1
    if _width(count) > 0:
        hits = min(hits, count)
    return len(s) + hits * max(0, len(new) - len(old))


# ---------------------------------------------------------------- bounded filters


def _f_indent(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> str:
    text = str(s)
    pad = len(width) if isinstance(width, str) else _width(width)
    check_size(len(text) + (text.count("\n") + 1) * pad, "indent")
    return jinja2.filters.do_indent(text, width, first, blank)


def _f_center(value: Any, width: int = 80) -> str:
    check_size(_width(width), "center")
    return jinja2.filters.do_center(value, width)


def _f_format(value: str, *args: Any, **kwargs: Any) -> str:
    _check_format(str(value), args, kwargs, "format")
    return jinja2.filters.do_format(value, *args, **kwargs)


@jinja2.pass_eval_context
def _f_replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: Any = None) -> str:
    check_size(_replace_size(str(s), str(old), str(new), count), "replace")
    return jinja2.filters.do_replace(eval_ctx, s, old, new, count)


@jinja2.pass_eval_context
def _f_join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    items = list(value)
    check_size(weight(items) + len(str(d)) * len(items), "join")
    return jinja2.filters.sync_do_join(eval_ctx, items, d, attribute)


@jinja2.pass_environment
def _f_wordwrap(
    environment: Any,
    s: str,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str | None = None,
    break_on_hyphens: bool = True,
) -> str:
    text = str(s)
    check_size(len(text) * (1 + len(wrapstring or "\n")), "wordwrap")
    return jinja2.filters.do_wordwrap(
        environment, text, width, break_long_words, wrapstring, break_on_hyphens
    )


def _pieces(count: Any, fill: Any, what: str) -> None:
    if _width(count) > _MAX_PIECES:
        raise _too_big(f"{what}({count})")
    check_size(_width(count) * (weight(fill) if fill is not None else 1), what)


def _f_batch(value: Any, linecount: int, fill_with: Any = None) -> Iterator[list[Any]]:
    _pieces(linecount, fill_with, "batch")
    return jinja2.filters.do_batch(value, linecount, fill_with)


def _f_slice(value: Any, slices: int, fill_with: Any = None) -> Iterator[list[Any]]:
    _pieces(slices, fill_with, "slice")
    return jinja2.filters.sync_do_slice(value, slices, fill_with)


@jinja2.pass_eval_context
def _f_tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Any:
    check_size(weight(value) * (2 + _width(indent)), "tojson")
    return jinja2.filters.do_tojson(eval_ctx, value, indent)


def _f_string(value: Any) -> str:
    check_size(weight(value), "string")
    return jinja2.filters.soft_str(value)


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if _width(n) * _width(max) > _MAX_PIECES:
        raise _too_big(f"lipsum({n}, max={max})")
    return generate_lorem_ipsum(n, html, min, max)


_FILTERS = {
    "indent": _f_indent,
    "center": _f_center,
    "format": _f_format,
    "replace": _f_replace,
    "join": _f_join,
    "wordwrap": _f_wordwrap,
    "batch": _f_batch,
    "slice": _f_slice,
    "tojson": _f_tojson,
    "string": _f_string,
}


# ---------------------------------------------------------------- string methods


def _str_method_size(s: str, name: str, args: tuple, kwargs: dict) -> int | None:
    """The size a risky ``str`` method's result could reach (None: a method that cannot grow
    its string much)."""
    first = args[0] if args else next(iter(kwargs.values()), None)
    if name in ("ljust", "rjust", "center", "zfill"):
        return max(len(s), _width(first))
    if name == "expandtabs":
        return len(s) + s.count("\t") * max(_width(first if args or kwargs else 8), 1)
    if name == "replace" and len(args) >= 2:
        return _replace_size(s, str(args[0]), str(args[1]), args[2] if len(args) > 2 else None)
    if name == "join":
        return weight(first) + len(s) * weight(first)
    if name == "translate" and isinstance(first, Mapping):
        longest = max((len(v) for v in first.values() if isinstance(v, str)), default=1)
        return len(s) * max(longest, 1)
    return None


# ---------------------------------------------------------------- loops and concatenation


def _loop(iterable: Any) -> Iterator[Any]:
    """Every ``{% for %}`` iterates through here: one budget of iterations per rendering."""
    budget = _LOOPS.get()
    if budget is None:
        budget = [limit("TEMPLATE_LOOPS")]
    for item in iterable:
        budget[0] -= 1
        if budget[0] < 0:
            raise SecurityError(limit_message("template loops", "TEMPLATE_LOOPS"))
        yield item


def _concat(*parts: Any) -> str:
    """``a ~ b ~ c``, its size checked before it is built."""
    check_size(sum(weight(p) for p in parts), "~ (concatenation)")
    return "".join(map(str, parts))


class _Bounds(NodeTransformer):
    """Routes every loop's iterable through :func:`_loop` and every ``~`` through
    :func:`_concat`, reached as attributes of the environment (no template variable can
    shadow them)."""

    def visit_For(self, node: nodes.For) -> nodes.For:
        node = self.generic_visit(node)
        func = nodes.EnvironmentAttribute("assay_loop")
        node.iter = nodes.Call(func, [node.iter], [], None, None)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Call:
        node = self.generic_visit(node)
        func = nodes.EnvironmentAttribute("assay_concat")
        return nodes.Call(func, list(node.nodes), [], None, None)


class TaskSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox plus the bounds of this module."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    assay_loop = staticmethod(_loop)
    assay_concat = staticmethod(_concat)

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=self._finalize, **options)
        self.filters.update(_FILTERS)
        self.globals["lipsum"] = _lipsum

    @staticmethod
    def _finalize(value: Any) -> Any:
        check_size(weight(value), "an output value")
        return value

    def _generate(self, source: Any, name: Any, filename: Any, defer_init: bool = False) -> Any:
        if isinstance(source, nodes.Template):
            source = _Bounds().visit(source)
        return super()._generate(source, name, filename, defer_init=defer_init)

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**":
            if _is_int(left) and _is_int(right) and right * _bits(left) > 4 * output_cap():
                raise _too_big(f"{left} ** {right}")
            return operator.pow(left, right)
        if op == "%":
            if isinstance(left, str):
                args = right if isinstance(right, tuple) else (right,)
                _check_format(left, args, right if isinstance(right, Mapping) else {}, "%")
            return operator.mod(left, right)
        if op == "+":
            if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                check_size(weight(left) + weight(right), "+")
            return operator.add(left, right)
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and _is_int(count):
                check_size(max(len(seq), weight(seq)) * count, "*")
        return operator.mul(left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            name = getattr(__obj, "__name__", "")
            if name == "join" and args:
                args = (list(args[0]), *args[1:])
            size = _str_method_size(owner, name, args, kwargs)
            if size is not None:
                check_size(size, f"str.{name}")
        for value in (*args, *kwargs.values()):  # a macro's arguments (recursion doubling)
            if isinstance(value, str | list | tuple | dict):
                check_size(weight(value), "an argument")
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        """``str.format``/``format_map`` as Jinja2's sandbox wraps them, sizes checked first."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = str(value.__self__)

        def bounded(*args: Any, **kwargs: Any) -> str:
            mapping = args[0] if value.__name__ == "format_map" and args else kwargs
            _check_format(fmt, args, mapping if isinstance(mapping, Mapping) else {}, "format")
            return wrapped(*args, **kwargs)

        return bounded


def render_bounded(template: jinja2.Template, variables: Mapping[str, Any]) -> str:
    """``template.render(**variables)`` with one loop budget for this rendering and its output
    counted as it streams."""
    token = _LOOPS.set([limit("TEMPLATE_LOOPS")])
    try:
        cap = output_cap()
        out: list[str] = []
        size = 0
        for chunk in template.generate(**variables):
            size += len(chunk)
            if size > cap:
                raise _too_big("template output")
            out.append(chunk)
        return "".join(out)
    finally:
        _LOOPS.reset(token)


def _bits(value: int) -> int:
    """Bits of ``abs(value)``, 0 for -1, 0 and 1 (whose powers stay small)."""
    return 0 if abs(value) <= 1 else abs(value).bit_length()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
