"""The building blocks of a report: panels holding tables, plots and text, and number formats."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

# Metrics where smaller is better (DESIGN.md: conventions).
LOWER_IS_BETTER = ("perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte", "loss")
# Preferred headline metric per task, in order.
PREFERRED_METRICS = ("acc", "exact_match", "acc_norm", "f1", "pass@1", "score")


def lower_is_better(metric: str) -> bool:
    """True for perplexity-, loss- and latency-like metrics."""
    name = metric.lower()
    return name.startswith(LOWER_IS_BETTER) or "latency" in name or name.endswith("_loss")


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a table cell: fixed decimals, scientific when tiny or huge, '' for NaN."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return ""
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 10 ** (-digits)):
        return f"{x:.{max(digits - 1, 1)}e}"
    return f"{x:.{digits}f}"


def fmt_p(p: Any) -> str:
    """A p-value: '< 0.001' below a thousandth."""
    try:
        x = float(p)
    except (TypeError, ValueError):
        return ""
    if math.isnan(x):
        return ""
    return "< 0.001" if x < 0.001 else f"{x:.3f}"


def cell(text: str, value: Any = None, cls: str = "", title: str = "") -> dict[str, Any]:
    """A table cell with display text, the raw value (data-value attribute) and a CSS class."""
    raw = None
    if value is not None:
        try:
            raw = float(value)
            raw = None if math.isnan(raw) else raw
        except (TypeError, ValueError):
            raw = str(value)
    return {"text": text, "value": raw, "cls": cls, "title": title}


@dataclass
class Panel:
    """One section of the report. ``items`` are dicts with ``kind`` table | svg | text | kv.

    A panel without data keeps a ``note`` that says why and how to get it.
    """

    key: str
    title: str
    intro: str = ""
    note: str | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def available(self) -> bool:
        return bool(self.items)

    def table(
        self,
        columns: list[str],
        rows: list[list[Any]],
        *,
        caption: str = "",
        table_id: str = "",
        row_keys: list[str] | None = None,
    ) -> None:
        wrapped = [[c if isinstance(c, dict) else cell(str(c)) for c in r] for r in rows]
        self.items.append(
            {
                "kind": "table",
                "caption": caption,
                "columns": columns,
                "rows": wrapped,
                "id": table_id,
                "row_keys": row_keys or [""] * len(rows),
            }
        )

    def svg(self, svg: str, caption: str = "") -> None:
        self.items.append({"kind": "svg", "svg": svg, "caption": caption})

    def text(self, text: str) -> None:
        self.items.append({"kind": "text", "text": text})

    def kv(self, pairs: dict[str, str], caption: str = "") -> None:
        self.items.append({"kind": "kv", "pairs": pairs, "caption": caption})

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "available": self.available,
            "note": self.note,
            "data": jsonable(self.data),
        }


def records(df: pd.DataFrame | None) -> list[dict[str, Any]]:
    """DataFrame rows as JSON-ready dicts (NaN → None)."""
    if df is None or len(df) == 0:
        return []
    return jsonable(df.to_dict(orient="records"))


def jsonable(value: Any) -> Any:
    """Convert numpy/pandas scalars, NaN and dataclasses into plain JSON values."""
    if hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
        return jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return records(value)
    if isinstance(value, np.ndarray | pd.Series):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if value is pd.NaT:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def result_dict(result: Any) -> dict[str, Any]:
    """A result object's ``to_dict()`` (or its dataclass fields) as JSON-ready values."""
    if hasattr(result, "to_dict"):
        return jsonable(result.to_dict())
    return jsonable(result)
