"""Style features of arena answers: the counts style control compares (LMArena's covariates).

One place computes them, for the fit (``assay.rank``) and for the store, which keeps them with
each battle: from per-battle ``style_a`` / ``style_b`` (dicts feature → value, or their JSON
text) or, without them, from ``answer_a`` / ``answer_b`` text (:data:`TEXT_FEATURES`).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from assay.errors import InputError

from ._arrow_guard import arrow_may_read

__all__ = ["STYLE_FIELDS", "TEXT_FEATURES", "style_json", "style_values", "text_style"]

#: Features computed from answer text: whitespace-separated tokens, markdown header lines
#: (# .. ######), list items (-, *, + or "1." / "1)" at the start of a line), bold spans.
TEXT_FEATURES = {
    "length": r"\S+",
    "header_count": r"(?m)^[ \t]{0,3}#{1,6}[ \t]",
    "list_count": r"(?m)^[ \t]*(?:[-*+]|\d+[.)])[ \t]",
    "bold_count": r"\*\*[^*\n]+\*\*|__[^_\n]+__",
}
#: Per-battle fields style features come from (the store keeps ``style_a`` / ``style_b``).
STYLE_FIELDS = ("style_a", "style_b", "answer_a", "answer_b")


def text_style(text: pd.Series) -> pd.DataFrame:
    """Style counts of answer texts (missing text counts 0): one column per TEXT_FEATURES."""
    s = text.astype(object).where(text.notna(), "").astype(str)
    return pd.DataFrame(
        {name: s.str.count(rx).to_numpy(float) for name, rx in TEXT_FEATURES.items()}
    )


def _object(value):
    """A dict as given, or parsed from JSON text (CSV cells, the store's column)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):  # not an object: the caller names the field
            return value
    return value


def _flat_json(col: pd.Series) -> pd.DataFrame | None:
    """A column of JSON object texts of plain numbers (what the store writes) parsed at once by
    pyarrow's JSON reader; None for anything else (the careful path checks and names it)."""
    if len(col) == 0 or pd.api.types.infer_dtype(col, skipna=False) != "string":
        return None
    import pyarrow as pa
    import pyarrow.json as pa_json

    text = "\n".join(col.tolist()).encode()
    if not arrow_may_read(text):  # pyarrow would crash (a "null" text, deep nesting)
        return None
    try:
        table = pa_json.read_json(pa.py_buffer(text))
    except (pa.ArrowException, ValueError):
        return None
    numeric = all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in table.schema.types)
    if table.num_rows != len(col) or not table.num_columns or not numeric:
        return None
    frame = table.to_pandas().astype(float)
    if frame.isna().any(axis=None) or not np.isfinite(frame.to_numpy()).all():
        return None
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _dicts(col: pd.Series, side: str) -> pd.DataFrame:
    """A column of {feature: number} dicts as a numeric frame (a dict value is summed:
    LMArena stores header counts per level)."""
    fast = _flat_json(col)
    if fast is not None:
        return fast
    rows = [_object(r) for r in col.tolist()]  # parsing the field, not analysis
    bad = next((i for i, r in enumerate(rows) if not isinstance(r, dict)), None)
    if bad is not None:
        raise InputError(f"battles: row {bad + 1}: field {side!r} must be an object of numbers")
    frame = pd.DataFrame.from_records(rows)
    for name in frame.columns:
        values = frame[name]
        if values.map(lambda v: isinstance(v, dict)).any():
            values = values.map(
                lambda v: sum(v.values()) if isinstance(v, dict) else v  # per-level counts
            )
        num = pd.to_numeric(values, errors="coerce")
        if num.isna().any() or not np.isfinite(num.to_numpy(float)).all():
            first = values[num.isna() | ~np.isfinite(num.to_numpy(float))].iloc[0]
            raise InputError(
                f"battles: field {side!r}: feature {name!r} must be a number, got {first!r:.40}"
            )
        frame[name] = num.astype(float)
    frame.columns = [str(c) for c in frame.columns]
    return frame


def style_values(battles: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each battle's style values of answer a and of answer b, one column per feature: from
    ``style_a`` / ``style_b`` (the features both sides give) or, without them, counted in
    ``answer_a`` / ``answer_b`` (:func:`text_style`). An :class:`InputError` when the battles
    have neither or a value is not a number."""
    if {"style_a", "style_b"} <= set(battles.columns):
        side_a = _dicts(battles["style_a"], "style_a")
        side_b = _dicts(battles["style_b"], "style_b")
        names = [c for c in side_a.columns if c in side_b.columns]
        if not names:
            raise InputError("battles: style_a and style_b share no feature")
        return side_a[names], side_b[names]
    if {"answer_a", "answer_b"} <= set(battles.columns):
        return text_style(battles["answer_a"]), text_style(battles["answer_b"])
    raise InputError(
        "--style-control: the battles need style_a/style_b (feature -> value) or "
        "answer_a/answer_b (the answers' text)"
    )


def _lines(frame: pd.DataFrame) -> np.ndarray:
    """Each row as a JSON object text (pandas' C writer, 15 significant digits)."""
    text = frame.to_json(orient="records", lines=True, double_precision=15)
    return np.asarray(text.rstrip("\n").split("\n"), dtype=object)


def _given(battles: pd.DataFrame, pair: tuple[str, str], both: bool) -> np.ndarray:
    """Rows where the fields of ``pair`` are given: both of them, or (``both=False``) either."""
    if not set(pair) <= set(battles.columns):
        return np.zeros(len(battles), dtype=bool)
    a, b = battles[pair[0]].notna().to_numpy(), battles[pair[1]].notna().to_numpy()
    return a & b if both else a | b


def style_json(battles: pd.DataFrame) -> pd.DataFrame:
    """``battles`` as the store keeps them: ``style_a`` / ``style_b`` as JSON text of the
    :func:`style_values` of each battle that has them (None for the others), the answer texts
    dropped. A row with both ``style_a`` and ``style_b`` uses them; else a row with
    ``answer_a`` or ``answer_b`` counts their text (:func:`text_style`); else it has none."""
    present = [c for c in STYLE_FIELDS if c in battles.columns]
    if not present:
        return battles
    texts = {c: None for c in ("answer_a", "answer_b") if c not in present}
    if len(texts) < 2:  # one answer given: the other has no text
        battles = battles.assign(**texts)
    by_dict = _given(battles, ("style_a", "style_b"), both=True)
    by_text = _given(battles, ("answer_a", "answer_b"), both=False) & ~by_dict
    text_a = np.full(len(battles), None, dtype=object)
    text_b = text_a.copy()
    for rows, pair in ((by_dict, ["style_a", "style_b"]), (by_text, ["answer_a", "answer_b"])):
        if rows.any():
            side_a, side_b = style_values(battles.loc[rows, pair])
            text_a[rows], text_b[rows] = _lines(side_a), _lines(side_b)
    return battles.drop(columns=present).assign(style_a=text_a, style_b=text_b)
