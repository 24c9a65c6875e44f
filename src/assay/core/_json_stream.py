"""One JSON object read a top-level field at a time, a top-level array an element at a time.

The standard library's decoder parses each value (``raw_decode``) out of a buffer that holds
that value and a block of the file, never the whole file: a value is read whole only up to
``ASSAY_MAX_JSON_VALUE_CHARS`` characters. Errors read as :func:`json.loads` errors do, with the
line counted from the start of the file: ``FILE: line N: not valid JSON (...)``.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assay.errors import InputError

from ._limits import limit, limit_message

_BLOCK = 2**20
_WHITE = " \t\n\r"
_NEAR_END = 64  # a syntax error this close to the buffer's end may be a value cut in two


class Elements:
    """The elements of a top-level array, decoded one at a time (iterate it at most once)."""

    def __init__(self, stream: TopLevel, key: str) -> None:
        self.stream = stream
        self.key = key
        self.done = False

    def __iter__(self) -> Iterator[Any]:
        stream = self.stream
        stream.pos += 1  # the '['
        if stream.peek() == "]":
            stream.pos += 1
            self.done = True
            return
        while True:
            yield stream.value(f"{self.key}[]")
            char = stream.peek()
            stream.pos += 1
            if char == "]":
                self.done = True
                return
            if char != ",":
                stream.fail("Expecting ',' delimiter")

    def skip(self) -> None:
        """Read (and drop) the elements not read yet."""
        if not self.done:
            for _ in self:
                pass


class TopLevel:
    """The fields of the JSON object in ``path``: :meth:`fields` yields ``(key, value)``, with an
    array value as :class:`Elements` (read or skipped before the next field)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.handle = path.open("rb")
        except OSError as exc:
            raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.buf = ""
        self.pos = 0
        self.line = 1  # the line of buf[0]
        self.raw_lines = 1  # lines of the file decoded so far (for a UTF-8 error)
        self.eof = False
        self.json = json.JSONDecoder(parse_constant=float)
        self.most = limit("JSON_VALUE_CHARS")

    def close(self) -> None:
        self.handle.close()

    def _more(self, size: int = _BLOCK) -> bool:
        """Read about ``size`` more characters into the buffer (dropping what was consumed)."""
        if self.eof:
            return False
        if self.pos:
            self.line += self.buf.count("\n", 0, self.pos)
            self.buf = self.buf[self.pos :]
            self.pos = 0
        data = self.handle.read(max(size, _BLOCK))
        try:
            text = self.decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            line = self.raw_lines + data.count(b"\n", 0, max(exc.start, 0))
            byte = data[exc.start] if 0 <= exc.start < len(data) else 0
            raise InputError(
                f"{self.path}: line {line}: not valid UTF-8 (byte 0x{byte:02x})"
            ) from None
        self.raw_lines += data.count(b"\n")
        self.eof = not data
        self.buf += text
        return bool(data)

    def peek(self) -> str:
        """The next character that is not white space ('' at the end of the file)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WHITE:
                self.pos += 1
            if self.pos < len(self.buf) or not self._more():
                return self.buf[self.pos] if self.pos < len(self.buf) else ""

    def fail(self, msg: str, pos: int | None = None) -> InputError:
        at = self.pos - 1 if pos is None else pos
        line = self.line + self.buf.count("\n", 0, max(at, 0))
        raise InputError(f"{self.path}: line {line}: not valid JSON ({msg})")

    def value(self, where: str) -> Any:
        """The JSON value at the current position (reading more of the file while it is cut)."""
        self.peek()
        while True:
            try:
                value, end = self.json.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                cut = (
                    exc.msg.startswith("Unterminated string")
                    or exc.pos >= len(self.buf) - _NEAR_END
                )
                if self.eof or not cut:
                    self.fail(exc.msg, exc.pos)
                held = len(self.buf) - self.pos
                if held > self.most:
                    raise InputError(
                        limit_message(f"{self.path}: {where}: one JSON value", "JSON_VALUE_CHARS")
                    ) from None
                self._more(held)  # doubles what is held: reading a value stays linear
                continue
            except RecursionError:
                raise InputError(f"{self.path}: JSON nested too deeply") from None
            if end - self.pos > self.most:
                raise InputError(
                    limit_message(f"{self.path}: {where}: one JSON value", "JSON_VALUE_CHARS")
                )
            self.pos = end
            return value

    def array(self) -> Elements | None:
        """The elements of the top-level array (None when the file holds no array); read them,
        then :meth:`end`."""
        return Elements(self, "[]") if self.peek() == "[" else None

    def end(self) -> None:
        """Nothing but white space is left."""
        if self.peek() != "":
            self.fail("Extra data", self.pos)

    def fields(self) -> Iterator[tuple[str, Any]]:
        """``(key, value)`` of each top-level field, in file order; an array as Elements."""
        first = self.peek()
        if first != "{":
            if first == "":
                self.fail("Expecting value", self.pos)
            raise InputError(
                f"{self.path}: not an inspect log (no 'version' and 'eval' at the top level)"
            )
        self.pos += 1
        if self.peek() == "}":
            self.pos += 1
        else:
            while True:
                if self.peek() != '"':
                    self.fail("Expecting property name enclosed in double quotes", self.pos)
                key = self.value("a key")
                if self.peek() != ":":
                    self.fail("Expecting ':' delimiter", self.pos)
                self.pos += 1
                if self.peek() == "[":
                    elements = Elements(self, key)
                    yield key, elements
                    elements.skip()
                else:
                    yield key, self.value(f"field '{key}'")
                char = self.peek()
                self.pos += 1
                if char == "}":
                    break
                if char != ",":
                    self.fail("Expecting ',' delimiter")
        self.end()
