"""Which blocks of JSON lines pyarrow's JSON reader may be given.

``pyarrow.json.read_json`` crashes the process (a segmentation fault, pyarrow 26) on a block
whose first line is not an object (``null``, ...) and on a value nested some 20,000 deep, and
reads a ``null`` line after an object as a row. :func:`arrow_may_read` refuses such blocks
cheaply, a few passes of numpy over the bytes, so that the strict reader (:func:`json_row`)
reads them and names the line: ``not a JSON object (got None)``, ``JSON nested too deeply``.
"""

from __future__ import annotations

import json
import re

import numpy as np

#: Opening brackets on one line past which Python's ``json`` decides whether the line is
#: nested too deeply (it refuses under 1,000 levels; pyarrow crashes far deeper).
BRACKETS_CHECKED = 256

_BRACE, _NEWLINE = ord("{"), ord("\n")
_FIRST = re.compile(rb"(?:\xef\xbb\xbf)?[ \t\r]*([^ \t\r]?)")  # a line's first character


def arrow_may_read(block: bytes) -> bool:
    """True when every line of ``block`` (whole JSON lines) that is not blank starts with
    ``{`` (after white space and a BOM) and none that holds more than
    :data:`BRACKETS_CHECKED` opening brackets (an upper bound of its depth, brackets in strings
    counted too) is nested deeper than Python's ``json`` reads. False: only the strict reader
    may read it."""
    if not block:
        return True
    data = np.frombuffer(block, np.uint8)
    starts = np.flatnonzero(data == _NEWLINE) + 1
    starts = np.concatenate(([0], starts[starts < len(data)]))
    for start in starts[data[starts] != _BRACE].tolist():  # blank, indented or no object
        if _FIRST.match(block, start).group(1) not in (b"", b"{", b"\n"):
            return False
    opens = np.flatnonzero((data | 0x20) == _BRACE)  # "[" and "{" (0x5b, 0x7b), nothing else
    per_line = np.diff(np.searchsorted(opens, starts), append=len(opens))
    for line in np.flatnonzero(per_line > BRACKETS_CHECKED).tolist():
        end = starts[line + 1] if line + 1 < len(starts) else len(block)
        try:
            json.loads(block[starts[line] : end])
        except (RecursionError, ValueError):
            return False
    return True
