"""Normalised tree edit distance between a predicted and a true equation (SRSD).

Matsubara, Chiba, Igarashi & Ushiku, "Rethinking Symbolic Regression Datasets and Benchmarks
for Scientific Discovery" (2022/2024) score a symbolic-regression answer by the edit distance
between the expression trees of the predicted equation f̂ and the true one f:

    NED(f̂, f) = min(1, d(T(f̂), T(f)) / |T(f)|)

where T(·) is the expression tree, d the Zhang–Shasha tree edit distance with unit costs
(insert, delete and relabel one node each cost 1) and |T(f)| the number of nodes of the true
tree. 0 is the true equation (up to sympy's canonical form), 1 is as far as an unrelated one.
Nodes are labelled as SRSD labels them: every number is the constant ``c``, a symbol its name
and any other node the name of its sympy class (``Add``, ``Mul``, ``Pow``, ``sin``, ...).

Text is parsed without Python's ``eval`` of arbitrary code: only numbers, names, ``+ - * / ^
( ) ,`` and ``**`` are accepted, every name is bound beforehand to an allowed function
(:data:`FUNCTIONS`) or to a plain symbol, and the text is at most :data:`MAX_CHARS` long. A
prediction that cannot be parsed scores 1 (as far as possible); a target that cannot be parsed
is an error of the task, not of the model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from assay.errors import InputError

__all__ = ["FUNCTIONS", "MAX_CHARS", "equation_tree_size", "tree_edit_distance"]

#: The longest equation text parsed (longer predictions score 1; longer targets are an error).
MAX_CHARS = 2000
#: Names that parse as functions or constants; every other name is a symbol.
FUNCTIONS = (
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "tanh",
    "asinh",
    "acosh",
    "atanh",
    "exp",
    "log",
    "ln",
    "sqrt",
    "Abs",
    "abs",
    "pi",
    "E",
)
_ALLOWED = re.compile(r"^[A-Za-z0-9_.+\-*/^()\s,]*$")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ATTRIBUTE = re.compile(r"\.\s*[A-Za-z_]")  # x.attr: never an attribute lookup
_MAX_EXPONENT = 64


def _check_powers(expr, sympy) -> None:
    """Refuse numeric powers sympy would evaluate at great cost (``9**9**9``): a number raised
    to a non-atomic numeric exponent, or to one above :data:`_MAX_EXPONENT` in size."""
    for node in sympy.preorder_traversal(expr):
        if not (isinstance(node, sympy.Pow) and node.exp.is_number and node.base.is_number):
            continue
        if not node.exp.is_Atom or abs(float(node.exp)) > _MAX_EXPONENT:
            raise ValueError("numeric power too large")


def _sympy():
    try:
        import sympy
    except ImportError:  # pragma: no cover - sympy comes with the metrics extra
        raise InputError(
            "tree_edit_distance needs sympy and zss: pip install 'assay[metrics]'"
        ) from None
    return sympy


@lru_cache(maxsize=4096)
def _parse(text: str):
    """The sympy expression of ``text`` (``lhs = rhs``: the right-hand side); ValueError when it
    is not an equation assay parses."""
    sympy = _sympy()
    from sympy.parsing.sympy_parser import (
        convert_xor,
        implicit_multiplication,
        parse_expr,
        standard_transformations,
    )

    text = str(text).strip()
    if text.count("=") == 1:
        text = text.split("=")[1].strip()
    if (
        not text
        or len(text) > MAX_CHARS
        or not _ALLOWED.match(text)
        or "__" in text
        or _ATTRIBUTE.search(text)
    ):
        raise ValueError("not an equation")
    funcs = {
        "ln": sympy.log,
        "abs": sympy.Abs,
        "pi": sympy.pi,
        "E": sympy.E,
        **{f: getattr(sympy, f) for f in FUNCTIONS if f not in ("ln", "abs", "pi", "E")},
    }
    names = {n: funcs[n] if n in funcs else sympy.Symbol(n) for n in _NAME.findall(text)}
    glob = {
        k: getattr(sympy, k)
        for k in ("Integer", "Float", "Rational", "Symbol", "Add", "Mul", "Pow")
    }
    transforms = (*standard_transformations, convert_xor, implicit_multiplication)
    try:
        raw = parse_expr(
            text,
            local_dict=names,
            global_dict=dict(glob),
            transformations=transforms,
            evaluate=False,
        )
        _check_powers(raw, sympy)
        expr = parse_expr(text, local_dict=names, global_dict=glob, transformations=transforms)
    except Exception as exc:  # sympy raises many kinds on malformed text
        raise ValueError("not an equation") from exc
    if not isinstance(expr, sympy.Basic):
        raise ValueError("not an equation")
    return expr


def _label(node) -> str:
    sympy = _sympy()
    if node.is_number:
        return "c"
    if isinstance(node, sympy.Symbol):
        return str(node)
    return type(node).__name__


def _zss_tree(expr):
    from zss import Node

    root = Node(_label(expr))
    for arg in expr.args:
        root.addkid(_zss_tree(arg))
    return root


def _size(expr) -> int:
    return 1 + sum(_size(arg) for arg in expr.args)


def equation_tree_size(text: str) -> int:
    """|T(f)|: the number of nodes of the expression tree of ``text``."""
    try:
        return _size(_parse(text))
    except ValueError:
        raise InputError(f"not an equation assay can parse: {str(text)[:80]!r}") from None


@lru_cache(maxsize=4096)
def _distance(pred: str, true: str) -> float:
    try:
        truth = _parse(true)
    except ValueError:
        raise InputError(f"target is not an equation assay can parse: {true[:80]!r}") from None
    try:
        guess = _parse(pred)
    except ValueError:
        return 1.0
    try:
        from zss import simple_distance
    except ImportError:  # pragma: no cover - zss comes with the metrics extra
        raise InputError(
            "tree_edit_distance needs sympy and zss: pip install 'assay[metrics]'"
        ) from None
    d = simple_distance(_zss_tree(guess), _zss_tree(truth))
    return float(min(1.0, d / _size(truth)))


def tree_edit_distance(predictions: Sequence[str] | str, targets: Sequence[str] | str):
    """SRSD's normalised tree edit distance, min(1, d(T(f̂), T(f)) / |T(f)|), of each
    prediction to its target (in [0, 1], lower is better; see the module docstring).

    Scalars give a float; sequences (of equal length) a float array. A prediction that is not
    an equation scores 1; a target that is not one raises :class:`InputError`.
    """
    if isinstance(predictions, str) and isinstance(targets, str):
        return _distance(predictions, targets)
    preds, trues = list(predictions), list(targets)
    if len(preds) != len(trues):
        raise InputError(f"{len(preds)} predictions for {len(trues)} targets")
    return np.array([_distance(str(p), str(t)) for p, t in zip(preds, trues, strict=True)])
