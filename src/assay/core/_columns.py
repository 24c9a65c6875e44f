"""Column checks on DataFrames, one message for every part."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from assay.errors import InputError


def require_columns(
    df: pd.DataFrame, columns: Iterable[str | None], what: str = "", *, name: str = "data"
) -> None:
    """One-line :class:`InputError` for the first of ``columns`` (None entries skipped) that
    ``df`` lacks: ``SOURCE: no column 'x'WHAT (columns: a, b)``. SOURCE is ``df.attrs['source']``
    (the file it came from) when set, else "the NAME"; ``what`` says what the column was for."""
    for col in columns:
        if col is not None and col not in df.columns:
            source = df.attrs.get("source") or f"the {name}"
            listing = ", ".join(map(str, df.columns))
            raise InputError(f"{source}: no column {col!r}{what} (columns: {listing})")
