"""The template sandbox: Jinja2's ``ImmutableSandboxedEnvironment`` plus bounds on what a
template may build, so no template can exhaust memory or time.

Jinja2's sandbox stops a template from reaching Python internals but not from asking for a
string of ten billion characters (``'x' | indent(10**10)``, ``'%999999999s' % 1``) or for
10^15 loop iterations (nested ``range``). Here every operation that can make something much
larger than its inputs checks the size of its result first (``*``, ``+``, ``~``, ``%`` on
strings, bytes and large numbers, the width and count arguments of ``indent``/``center``/
``format``/``replace``/``join``/``wordwrap``/``batch``/``slice``/``tojson``/``urlize``/
``regex_replace``, of the ``str``/``bytes`` methods ``ljust``/``rjust``/``center``/``zfill``/
``expandtabs``/``replace``/``join``/``translate``/``format``/``split`` and of
``int.to_bytes``); every value built is charged to one budget of characters per rendering
(:mod:`._budget`: filters, lazily item by item, calls, slices, block and macro bodies), every
``{% for %}`` counts its iterations against one budget per rendering, and the output is
counted as it streams. Past a limit: a :class:`SecurityError` naming the limit and the
environment variable that raises it (``ASSAY_MAX_TEMPLATE_OUTPUT``, ``ASSAY_MAX_TEMPLATE_LOOPS``).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.runtime import Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum
from jinja2.visitor import NodeTransformer

from ._budget import (
    afford,
    charge,
    charge_filters,
    charge_result,
    check_size,
    end_rendering,
    join_buffer,
    loop,
    output_cap,
    start_rendering,
    too_big,
    weight,
)

_NUMBER = re.compile(r"\d+")
_NESTED_FIELD = re.compile(r"\{[^{}]*\{")
_MAX_PIECES = 100_000  # batch/slice pieces, lipsum paragraphs x words (as Jinja's range)
_TEXT = str | bytes | bytearray
_SEQUENCE = str | bytes | bytearray | list | tuple


def _width(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _check_format(fmt: str, args: Iterable[Any], kwargs: Mapping[str, Any], what: str) -> None:
    """``fmt % args`` or ``fmt.format(*args, **kwargs)`` stays under the limit: the widths and
    precisions written in ``fmt`` (every number in it, counted generously), the ones passed as
    arguments (``%*s``, ``{:{w}}``) and the arguments' own sizes."""
    values = [*args, *kwargs.values()]
    size = len(fmt) + sum(int(n) for n in _NUMBER.findall(fmt) if len(n) < 30) + weight(values)
    if any(len(n) >= 30 for n in _NUMBER.findall(fmt)):
        raise too_big(f"{what}: a width in the format string")
    if "*" in fmt or _NESTED_FIELD.search(fmt):
        size += sum(_width(v) for v in values)
    check_size(size, what)


def _replace_size(s: Any, old: Any, new: Any, count: Any = None) -> int:
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
        raise too_big(f"{what}({count})")
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


@jinja2.pass_environment
def _f_sum(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    """Jinja2's ``sum``; lists or tuples (``start=[]``) joined in one pass, not one copy per
    item."""
    if not isinstance(start, list | tuple):
        return jinja2.filters.sync_do_sum(environment, iterable, attribute, start)
    items = list(iterable)
    if attribute is not None:
        items = list(map(jinja2.filters.make_attrgetter(environment, attribute), items))
    kind = type(start)
    odd = next((item for item in items if type(item) is not kind), None)
    if odd is not None:
        raise TypeError(f"can only concatenate {kind.__name__} (not {type(odd).__name__!r})")
    return kind(chain(start, *items))


@jinja2.pass_eval_context
def _f_urlize(eval_ctx: Any, value: str, *args: Any, **kwargs: Any) -> str:
    """Jinja2's ``urlize``; its ``target`` and ``rel``, written into every link, bounded."""
    names = ("trim_url_limit", "nofollow", "target", "rel")
    given = {**dict(zip(names, args, strict=False)), **kwargs}
    extra = len(str(given.get("target") or "")) + len(str(given.get("rel") or ""))
    check_size(len(str(value)) + (len(str(value)) // 2 + 1) * extra, "urlize")
    return jinja2.filters.do_urlize(eval_ctx, value, *args, **kwargs)


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if _width(n) * _width(max) > _MAX_PIECES:
        raise too_big(f"lipsum({n}, max={max})")
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
    "sum": _f_sum,
    "urlize": _f_urlize,
}


# ---------------------------------------------------------------- string methods


def _text_method_size(s: Any, name: str, args: tuple, kwargs: dict) -> int | None:
    """The size a risky ``str`` or ``bytes`` method's result could reach (None: a method that
    cannot grow its string much)."""
    first = args[0] if args else next(iter(kwargs.values()), None)
    if name in ("ljust", "rjust", "center", "zfill"):
        return max(len(s), _width(first))
    if name == "expandtabs":
        tab = "\t" if isinstance(s, str) else b"\t"
        return len(s) + s.count(tab) * max(_width(first if args or kwargs else 8), 1)
    if name == "replace" and len(args) >= 2 and isinstance(args[0], type(s) | bytes):
        return _replace_size(s, args[0], args[1], args[2] if len(args) > 2 else None)
    if name == "join":
        return weight(first) + len(s) * (len(first) if isinstance(first, list) else 0)
    if name == "translate" and isinstance(first, Mapping):
        longest = max((len(v) for v in first.values() if isinstance(v, str)), default=1)
        return len(s) * max(longest, 1)
    return None


_WORDS = {str: re.compile(r"\S+"), bytes: re.compile(rb"\S+")}
_LINE_ENDS = {
    str: re.compile("\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]"),
    bytes: re.compile(rb"\r\n|[\n\r]"),
}


def _pieces_size(s: Any, name: str, args: tuple, kwargs: dict) -> int | None:
    """The size of the list ``split``/``rsplit``/``splitlines`` would build (a slot per piece
    besides the characters), so a string is not cut into millions of objects unchecked."""
    if name not in ("split", "rsplit", "splitlines"):
        return None
    sep = None if name == "splitlines" else args[0] if args else kwargs.get("sep")
    if sep is not None:
        pieces = s.count(sep) + 1 if isinstance(sep, type(s)) and sep else 1
    else:
        pieces = len(s) // (2 if name != "splitlines" else 1) + 1
        if len(s) + 16 * pieces > 1_000_000:  # a large string: count its pieces
            kind = str if isinstance(s, str) else bytes
            pattern = _WORDS[kind] if name != "splitlines" else _LINE_ENDS[kind]
            pieces = pattern.subn(kind(), s)[1] + 1
    return len(s) + 16 * pieces


# ---------------------------------------------------------------- loops and concatenation


def _concat(*parts: Any) -> str:
    """``a ~ b ~ c``, its size checked before it is built."""
    check_size(sum(weight(p) for p in parts), "~ (concatenation)")
    return charge("".join(map(str, parts)), "~ (concatenation)")


def _sliced(value: Any) -> Any:
    """``value[a:b]`` (Jinja2 subscribes slices directly, not through ``getitem``), charged."""
    return charge(value, "a slice")


def _literal(value: Any) -> Any:
    """A list, tuple or dict written in the template, charged for all it holds (``[s, s, s]``
    makes ``pprint`` or ``replace`` write ``s`` three times)."""
    return charge(value, "a list or dict")


class _Bounds(NodeTransformer):
    """Routes every loop's iterable through :func:`~._budget.loop`, every ``~`` through
    :func:`_concat`, every slice through :func:`_sliced` and every list, tuple or dict through
    :func:`_literal`, reached as attributes of the environment (no template variable can
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

    def visit_Getitem(self, node: nodes.Getitem) -> nodes.Node:
        node = self.generic_visit(node)
        if not isinstance(node.arg, nodes.Slice) or node.ctx != "load":
            return node
        return nodes.Call(nodes.EnvironmentAttribute("assay_slice"), [node], [], None, None)

    def visit_List(self, node: nodes.Expr) -> nodes.Node:
        node = self.generic_visit(node)
        if getattr(node, "ctx", "load") != "load":  # a tuple assigned to
            return node
        return nodes.Call(nodes.EnvironmentAttribute("assay_literal"), [node], [], None, None)

    visit_Tuple = visit_Dict = visit_List


class TaskSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox plus the bounds of this module."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    assay_loop = staticmethod(loop)
    assay_concat = staticmethod(_concat)
    assay_slice = staticmethod(_sliced)
    assay_literal = staticmethod(_literal)
    concat = staticmethod(join_buffer)

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=self._finalize, **options)
        self.filters.update(_FILTERS)
        charge_filters(self.filters)
        self.globals["lipsum"] = _lipsum

    @staticmethod
    def _finalize(value: Any) -> Any:
        check_size(weight(value), "an output value")
        return value

    def _generate(self, source: Any, name: Any, filename: Any, defer_init: bool = False) -> Any:
        if isinstance(source, nodes.Template):
            source = _Bounds().visit(source)
        charge_filters(self.filters)  # those added since (e.g. regex_replace)
        return super()._generate(source, name, filename, defer_init=defer_init)

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**":
            if _is_int(left) and _is_int(right) and right * _bits(left) > 4 * output_cap():
                raise too_big(f"{left} ** {right}")
            return operator.pow(left, right)
        if op == "%":
            if isinstance(left, _TEXT):
                fmt = left if isinstance(left, str) else left.decode("latin-1")
                args = right if isinstance(right, tuple) else (right,)
                _check_format(fmt, args, right if isinstance(right, Mapping) else {}, "%")
            return charge(operator.mod(left, right), "%")
        if op == "+":
            if isinstance(left, _SEQUENCE) and isinstance(right, _SEQUENCE):
                check_size(weight(left) + weight(right), "+")
            return charge(operator.add(left, right), "+")
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, _SEQUENCE) and _is_int(count):
                check_size(max(len(seq), weight(seq)) * count, "*")
        if _is_int(left) and _is_int(right) and _bits(left) + _bits(right) > 4 * output_cap():
            raise too_big("* of two large numbers")
        return charge(operator.mul(left, right), "*")

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        if __obj in _CHARGED:  # the environment's own helpers check and charge for themselves
            kwargs.pop("_loop_vars", None)  # what Jinja2 passes for a context's functions
            kwargs.pop("_block_vars", None)
            return __obj(*args, **kwargs)
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, _TEXT):
            if name == "join" and args:
                if isinstance(args[0], _TEXT):  # joined character by character
                    afford(9 * len(args[0]), f"{type(owner).__name__}.join")
                args = (list(args[0]), *args[1:])
            size = _text_method_size(owner, name, args, kwargs)
            if size is not None:
                check_size(size, f"{type(owner).__name__}.{name}")
            pieces = _pieces_size(owner, name, args, kwargs)
            if pieces is not None:
                afford(pieces, f"{type(owner).__name__}.{name}")
        elif _is_int(owner) and name == "to_bytes":
            check_size(_width(args[0] if args else kwargs.get("length", 1)), "int.to_bytes")
        for value in (*args, *kwargs.values()):  # a macro's arguments (recursion doubling)
            if isinstance(value, _SEQUENCE | dict):
                check_size(weight(value), "an argument")
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(__obj, Macro):  # its body was charged as it was joined
            return result
        return charge_result(result, owner, name or "a call")

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


_CHARGED = frozenset({loop, _concat, _sliced, _literal})
"""The environment's own helpers: what they return is charged by them (or is not built)."""


def render_bounded(template: jinja2.Template, variables: Mapping[str, Any]) -> str:
    """``template.render(**variables)`` with one budget of loops and of characters built for
    this rendering, and its output counted as it streams."""
    token = start_rendering()
    try:
        cap = output_cap()
        out: list[str] = []
        size = 0
        for chunk in template.generate(**variables):
            size += len(chunk)
            if size > cap:
                raise too_big("template output")
            out.append(chunk)
        return "".join(out)
    finally:
        end_rendering(token)


def _bits(value: int) -> int:
    """Bits of ``abs(value)``, 0 for -1, 0 and 1 (whose powers stay small)."""
    return 0 if abs(value) <= 1 else abs(value).bit_length()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
