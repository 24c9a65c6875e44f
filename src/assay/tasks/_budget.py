"""What one template rendering may build: a budget of characters charged on every value a
template makes, and a budget of loop iterations.

Checking each value against the output limit alone bounds no template: a chain of lazy filters
(``s | list | map('center', 500) | list``) builds its list item by item, and a list literal or a
block of ``{% set %}`` holds many values each under the limit. So every value a template builds
(the result of a filter, a call, ``*``/``+``/``%``/``~``, a slice, a ``{% set %}`` or macro
body) is charged, by :func:`weight`, against one budget of ``ASSAY_MAX_TEMPLATE_OUTPUT``
characters per rendering; an iterator a filter returns is charged item by item as it is
consumed, so a list is refused before it is built. The output printed is counted separately
(:func:`assay.tasks._sandbox.render_bounded`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from jinja2.exceptions import SecurityError

from assay.core import limit, limit_message

_RUN: ContextVar[list[int] | None] = ContextVar("assay_template_run", default=None)
"""This rendering's [loop iterations left, characters left to build, the output limit]; None
outside one (while Jinja2 folds constants at compile time: each value is then checked on its
own)."""

_SLOT = 8
"""What each slot of a list, tuple or dict and each non-string object counts: about its bytes,
so that a budget of characters also bounds the memory of lists of small items."""

_STR = frozenset({str})
_MATERIALISING = frozenset({"list", "sort", "batch", "slice", "groupby", "join"})
"""Filters that turn a string into a list of its characters (one object each) before they
return: charged for that list before they run."""


def output_cap() -> int:
    """Most characters a template may build, or print, in one rendering."""
    run = _RUN.get()
    return limit("TEMPLATE_OUTPUT") if run is None else run[2]


def too_big(what: str) -> SecurityError:
    return SecurityError(limit_message(what, "TEMPLATE_OUTPUT"))


def weight(value: Any, cap: int | None = None) -> int:
    """About how many characters ``value`` holds: a string's (or bytes') length, each slot of a
    list, tuple or dict and each other object 8 (an int also its bytes), every element counted
    as often as it appears; stops counting past ``cap``."""
    if type(value) is str:
        return len(value)
    cap = output_cap() if cap is None else cap
    total = 0
    stack = [value]
    while stack and total <= cap:
        item = stack.pop()
        if isinstance(item, str | bytes | bytearray):
            total += len(item)
        elif isinstance(item, list | tuple):
            total += _SLOT * (1 + len(item))
            if set(map(type, item)) <= _STR:  # the common case, counted at C speed
                total += sum(map(len, item))
            else:
                stack.extend(item)
        elif isinstance(item, dict):
            total += _SLOT * (1 + 2 * len(item))
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, int):
            total += _SLOT + item.bit_length() // 8
        else:
            total += _SLOT
    return total


def check_size(size: int, what: str) -> None:
    """A SecurityError when ``size`` characters is past the output limit."""
    if size > output_cap():
        raise too_big(what)


def afford(size: int, what: str) -> None:
    """A SecurityError when ``size`` characters would not fit in what this rendering may still
    build (outside one: in the output limit); nothing is charged."""
    run = _RUN.get()
    if size > (output_cap() if run is None else run[1]):
        raise too_big(f"{what} (all values one rendering builds)")


def spend(size: int, what: str) -> None:
    """Charge ``size`` characters about to be built to this rendering (outside one: check it
    alone against the limit)."""
    run = _RUN.get()
    if run is None:
        check_size(size, what)
        return
    run[1] -= size
    if run[1] < 0:
        raise too_big(f"{what} (all values one rendering builds)")


def charge(value: Any, what: str) -> Any:
    """``value``, just built by ``what``, charged to this rendering; numbers that fit in a
    machine word cost nothing (loops do arithmetic)."""
    kind = type(value)
    if kind is str:
        spend(len(value), what)
    elif kind is int:
        if value.bit_length() > 64:
            spend(value.bit_length() // 8, what)
    elif kind not in (bool, float) and value is not None:
        run = _RUN.get()
        spend(weight(value, output_cap() if run is None else max(run[1], 0)), what)
    return value


def charge_result(result: Any, source: Any, what: str) -> Any:
    """A filter's or call's ``result`` charged: nothing when it is ``source`` itself, an
    iterator item by item as it is consumed, anything else whole."""
    if type(result) is str:
        spend(len(result), what)
        return result
    if result is source:
        return result
    if hasattr(result, "__next__") and not isinstance(result, str | bytes):
        return counted(result, what)
    return charge(result, what)


def counted(items: Iterable[Any], what: str) -> Iterator[Any]:
    """``items``, each charged as it is produced."""
    for item in items:
        if type(item) is str:
            spend(_SLOT + len(item), what)
        else:
            spend(_SLOT, what)
            charge(item, what)
        yield item


def charged_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` (the filter ``name``) with its result charged to the rendering."""
    pass_arg = getattr(func, "jinja_pass_arg", None)
    index = 0 if pass_arg is None else 1
    materialises = name in _MATERIALISING

    def charged(*args: Any, **kwargs: Any) -> Any:
        value = args[index] if len(args) > index else None
        if materialises and isinstance(value, str | bytes | bytearray):
            afford((1 + _SLOT) * len(value), name)
        return charge_result(func(*args, **kwargs), value, name)

    if pass_arg is not None:
        charged.jinja_pass_arg = pass_arg  # type: ignore[attr-defined]
    charged.assay_charged = True  # type: ignore[attr-defined]
    charged.__name__ = getattr(func, "__name__", name)
    return charged


def charge_filters(filters: dict[str, Callable[..., Any]]) -> None:
    """Every filter of ``filters`` (built in, bounded or added later) charged."""
    for name, func in list(filters.items()):
        if not getattr(func, "assay_charged", False):
            filters[name] = charged_filter(name, func)


def join_buffer(parts: Iterable[str]) -> str:
    """The body of a ``{% set %}`` block, a macro or a ``{% filter %}`` block joined, its size
    charged before it is built (Jinja2's ``environment.concat``)."""
    parts = parts if isinstance(parts, list) else list(parts)
    spend(sum(map(len, parts)), "a block or macro body")
    return "".join(parts)


def loop(iterable: Any) -> Iterator[Any]:
    """Every ``{% for %}`` iterates through here: one budget of iterations per rendering."""
    run = _RUN.get()
    if run is None:
        run = [limit("TEMPLATE_LOOPS"), output_cap(), output_cap()]
    for item in iterable:
        run[0] -= 1
        if run[0] < 0:
            raise SecurityError(limit_message("template loops", "TEMPLATE_LOOPS"))
        yield item


def start_rendering() -> Any:
    """A fresh budget for one rendering; the token to :func:`end_rendering`."""
    cap = limit("TEMPLATE_OUTPUT")
    return _RUN.set([limit("TEMPLATE_LOOPS"), cap, cap])


def end_rendering(token: Any) -> None:
    _RUN.reset(token)
