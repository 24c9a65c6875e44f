"""Shared pieces of the result objects: ``.to_dict()`` that turns tables into records."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from assay.core import to_jsonable


class ResultMixin:
    """``to_dict()`` over the dataclass fields (DataFrames as lists of records)."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: to_jsonable(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]
