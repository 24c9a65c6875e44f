"""Numbers and user strings as text, in one place: every table cell of the CLI and the report
goes through :func:`format_number`, so a value that rounds to zero prints "0.000", never
"-0.000"; every user string a terminal shows (a model, task or file name) goes through
:func:`visible`, so its control characters print as ``\\xNN`` escapes (bidirectional controls as
``\\uNNNN``)."""

from __future__ import annotations

import math

__all__ = ["fixed", "format_number", "visible"]

#: Control characters (C0 but tab and newline, DEL, C1) as visible escapes: a model name or a
#: file's field holding ESC must not move the cursor, recolour or retitle the user's terminal;
#: and the bidirectional embeddings, overrides and isolates as ``\\uNNNN`` (the marks LRM/RLM of
#: right-to-left text stay): a
#: task named "math" + U+202E must not show the numbers after it reversed, on a terminal or in
#: the report.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0))}
_CONTROLS.update({c: f"\\u{c:04x}" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})


def visible(text: str) -> str:
    """``text`` with its control characters written as ``\\xNN`` (see :data:`_CONTROLS`)."""
    return text.translate(_CONTROLS)


def fixed(x: float, digits: int, *, sign: bool = False) -> str:
    """``x`` with ``digits`` decimals (``sign``: a leading "+" on positives); a value that
    rounds to zero is "0.000" (no sign), never "-0.000"."""
    text = f"{float(x):{'+' if sign else ''}.{digits}f}"
    if text.lstrip("+-").strip("0.") == "":
        return text.lstrip("+-")
    return text


def format_number(x: float, digits: int = 3, *, big: float = 1e5, sci: str = "e") -> str:
    """A float for a table cell: '' for NaN, ∞ / −∞, scientific for nonzero values below
    10^−digits or from ``big`` up (``sci`` "e": digits − 1 decimals of the mantissa; "g":
    digits significant figures), else :func:`fixed` with ``digits`` decimals."""
    x = float(x)
    if math.isnan(x):
        return ""
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x != 0 and (abs(x) >= big or abs(x) < 10 ** (-digits)):
        return f"{x:.{digits}g}" if sci == "g" else f"{x:.{max(digits - 1, 1)}e}"
    return fixed(x, digits)
