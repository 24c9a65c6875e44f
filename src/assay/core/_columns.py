"""Column checks on DataFrames, one message for every part."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from assay.errors import InputError


def require_columns(df: pd.DataFrame, columns: Iterable[str], what: str = "table") -> None:
    """One-line :class:`InputError` naming the columns of ``columns`` that ``df`` lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{what} lacks column(s) {', '.join(missing)}")
