"""Per-sample files in and out of the store (Parquet, CSV, JSONL) and model metadata tables.

Exported samples are one row per sample with its metrics as ``metric.<name>`` columns,
partitioned Hive-style as ``model=<m>/task=<t>/data_0.<ext>`` (Spark, Ray, Polars and DuckDB
read the folder directly); the partition columns are also kept inside each file, so a single
file can be imported on its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from assay.errors import InputError

from ._records import ModelInfo, RunInfo, make_run_id
from ._schema import SAMPLE_COLUMNS
from ._store import Store

FORMATS = {"parquet": "parquet", "csv": "csv", "jsonl": "json"}
_EXTENSIONS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".json": "jsonl",
}
_LIST_COLUMNS = ("choice_logprobs", "choice_order")
_INT_COLUMNS = ("repeat", "chosen_position", "input_tokens", "output_tokens")
_FLOAT_COLUMNS = ("latency_s", "difficulty")
METRIC_PREFIX = "metric."


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def export_samples(store: Store, directory: str | Path, *, fmt: str = "parquet") -> int:
    """Write every sample with its metrics to ``directory``, partitioned by model and task."""
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    with store.connect() as con:
        names = [
            r[0]
            for r in con.execute("SELECT DISTINCT metric FROM sample_metrics ORDER BY 1").fetchall()
        ]
        pivots = "".join(
            f", max(value) FILTER (WHERE metric = {_sql_string(n)})"
            f' AS "{METRIC_PREFIX}{n.replace(chr(34), "")}"'
            for n in names
        )
        cols = ", ".join(f's."{c}"' for c in SAMPLE_COLUMNS)
        metric_cols = "".join(f', w."{METRIC_PREFIX}{n.replace(chr(34), "")}"' for n in names)
        query = (
            f'WITH w AS (SELECT run_id, doc_id, "repeat"{pivots} FROM sample_metrics GROUP BY ALL) '
            f"SELECT {cols}{metric_cols} FROM samples s LEFT JOIN w "
            'USING (run_id, doc_id, "repeat") ORDER BY s.model, s.task, s.run_id, s.doc_id, s."repeat"'
        )
        count = con.execute("SELECT count(*) FROM samples").fetchall()[0][0]
        if count == 0:
            return 0
        options = f"FORMAT {FORMATS[fmt]}, PARTITION_BY (model, task), WRITE_PARTITION_COLUMNS true, OVERWRITE true"
        if fmt == "csv":
            options += ", HEADER true"
        con.execute(f"COPY ({query}) TO {_sql_string(str(out))} ({options})")
    return int(count)


def _files_in(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in _EXTENSIONS)
        if not files:
            raise InputError(f"{path}: no .parquet, .csv or .jsonl files inside")
        return files
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if path.suffix.lower() not in _EXTENSIONS:
        raise InputError(f"{path}: unknown file type (use .parquet, .csv or .jsonl)")
    return [path]


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; one-line InputError on a bad line."""
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}: line {lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise InputError(f"{path}: line {lineno}: not a JSON object")
            yield lineno, row


def _read_jsonl(path: Path) -> pd.DataFrame:
    rows = [row for _, row in iter_jsonl(path)]
    df = pd.DataFrame(rows)
    df.attrs["first_line"] = 1
    return df


def read_table(path: str | Path) -> pd.DataFrame:
    """Read one CSV / JSONL / Parquet file into a DataFrame (``attrs['unit']`` names rows)."""
    path = Path(path)
    kind = _EXTENSIONS.get(path.suffix.lower())
    try:
        if kind == "jsonl":
            df = _read_jsonl(path)
            df.attrs["unit"] = "line"
            return df
        if kind == "csv":
            df = duckdb.read_csv(str(path), all_varchar=True, header=True).df()
            df.attrs["unit"] = "line"
            df.attrs["first_line"] = 2
            return df
        df = pd.read_parquet(path)
        df.attrs["unit"] = "record"
        df.attrs["first_line"] = 1
        return df
    except InputError:
        raise
    except (duckdb.Error, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError(f"{path}: cannot be read as {kind}: {first}") from None


def _where(df: pd.DataFrame, path: Path, bad: np.ndarray) -> str:
    row = int(np.flatnonzero(bad)[0])
    return f"{path}: {df.attrs.get('unit', 'record')} {row + df.attrs.get('first_line', 1)}"


def _parse_list(value: Any) -> list | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        return json.loads(text)
    return list(value)


def _coerce(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Validate and convert a mapped samples frame; raise naming the first bad row and field."""
    for field in ("model", "task", "doc_id"):
        if field not in df:
            raise InputError(
                f"{path}: required field '{field}' is missing (map it with --map {field}=COLUMN)"
            )
        missing = df[field].isna().to_numpy() | (df[field].astype(str).str.strip() == "").to_numpy()
        if missing.any():
            raise InputError(f"{_where(df, path, missing)}, field '{field}': empty")
        df[field] = df[field].astype(str)
    for field in (*_INT_COLUMNS, *_FLOAT_COLUMNS):
        if field in df:
            raw = df[field]
            values = pd.to_numeric(raw, errors="coerce")
            bad = (values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")).to_numpy()
            if field in _INT_COLUMNS:
                bad = bad | (values.notna() & (values % 1 != 0)).to_numpy()
            if bad.any():
                raise InputError(f"{_where(df, path, bad)}, field '{field}': not a number")
            df[field] = values.astype("Int64") if field in _INT_COLUMNS else values.astype(float)
    for field in _LIST_COLUMNS:
        if field in df:
            parsed = []
            for i, value in enumerate(df[field].tolist()):
                try:
                    item = _parse_list(value)
                    if item is not None:
                        item = [float(x) if field == "choice_logprobs" else int(x) for x in item]
                except (ValueError, TypeError):
                    bad = np.zeros(len(df), dtype=bool)
                    bad[i] = True
                    raise InputError(
                        f"{_where(df, path, bad)}, field '{field}': not a list of numbers"
                    ) from None
                parsed.append(item)
            df[field] = parsed
    metric_cols = [c for c in df.columns if c.startswith(METRIC_PREFIX)]
    for col in metric_cols:
        raw = df[col]
        values = pd.to_numeric(raw, errors="coerce")
        bad = (values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")).to_numpy()
        if bad.any():
            raise InputError(f"{_where(df, path, bad)}, field '{col}': not a number")
        df[col] = values.astype(float)
    if not metric_cols:
        raise InputError(
            f"{path}: no metric columns (name them metric.<name> or pass --metric COLUMN)"
        )
    names = [c[len(METRIC_PREFIX) :] for c in metric_cols]
    values = df[metric_cols].to_numpy(dtype=float)
    df["metrics"] = [
        {n: v for n, v in zip(names, row, strict=True) if not np.isnan(v)} for row in values
    ]
    return df.drop(columns=metric_cols)


def import_samples(
    store: Store,
    path: str | Path,
    *,
    mapping: Mapping[str, str] | None = None,
    metrics: list[str] | None = None,
    source: str = "import",
) -> dict[str, Any]:
    """Import per-sample rows from CSV / JSONL / Parquet files (a file or a folder of them).

    ``mapping`` maps assay fields to the file's columns (``{"doc_id": "id"}``); ``metrics``
    names plain columns to read as metrics (columns called ``metric.<name>`` always are).
    Rows without ``run_id`` get one from (model, task, source). All files are validated before
    one transaction writes them; importing the same files twice changes nothing.
    """
    frames = []
    for file in _files_in(Path(path)):
        df = read_table(file)
        if mapping:
            absent = [col for col in mapping.values() if col not in df.columns]
            if absent:
                raise InputError(
                    f"{file}: column '{absent[0]}' named in the mapping is not in the file"
                )
            df = df.rename(columns={col: field for field, col in mapping.items()})
        for name in metrics or []:
            if name not in df.columns:
                raise InputError(f"{file}: metric column '{name}' is not in the file")
            df = df.rename(columns={name: METRIC_PREFIX + name})
        df = _coerce(df, file)
        if "run_id" not in df or df["run_id"].isna().any():
            ids = {
                (m, t): make_run_id(m, t, settings={"source": source})
                for m, t in df[["model", "task"]].drop_duplicates().itertuples(index=False)
            }
            generated = [ids[(m, t)] for m, t in zip(df["model"], df["task"], strict=True)]
            df["run_id"] = (
                df["run_id"].fillna(pd.Series(generated)) if "run_id" in df else generated
            )
        if "repeat" not in df:
            df["repeat"] = 0
        df["repeat"] = df["repeat"].fillna(0).astype(int)
        frames.append(df)
    data = pd.concat(frames, ignore_index=True)
    runs = data[["run_id", "model", "task"]].drop_duplicates("run_id")
    with store.transaction() as con:
        store.upsert_models([{"model": m} for m in runs["model"].unique()], con=con)
        for run in runs.itertuples(index=False):
            exists = con.execute("SELECT 1 FROM runs WHERE run_id = ?", [run.run_id]).fetchall()
            if not exists:
                store.upsert_run(
                    RunInfo(run_id=run.run_id, model=run.model, task=run.task, source=source),
                    con=con,
                )
        written = store.write_samples(data, con=con)
    return {
        "source": str(path),
        "samples": written,
        "runs": len(runs),
        "models": sorted(runs["model"].unique().tolist()),
        "tasks": sorted(runs["task"].unique().tolist()),
    }


_META_ALIASES = {
    "name": "model",
    "parameters": "params",
    "n_params": "params",
    "num_params": "params",
    "training_tokens": "tokens",
    "data": "tokens",
    "compute": "flops",
    "training_flops": "flops",
    "date": "release_date",
    "checkpoint_step": "step",
    "parent_model": "parent",
}
_META_NUMERIC = ("params", "tokens", "flops", "step")


def read_model_meta(path: str | Path) -> list[ModelInfo]:
    """Read a model metadata table (model, params, tokens, flops, family, date, step, parent)."""
    path = Path(path)
    _files_in(path)
    df = read_table(path)
    df = df.rename(
        columns={c: _META_ALIASES.get(c.strip().lower(), c.strip().lower()) for c in df.columns}
    )
    if "model" not in df:
        raise InputError(f"{path}: required column 'model' is missing")
    missing = df["model"].isna().to_numpy() | (df["model"].astype(str).str.strip() == "").to_numpy()
    if missing.any():
        raise InputError(f"{_where(df, path, missing)}, field 'model': empty")
    for field in _META_NUMERIC:
        if field in df:
            raw = df[field]
            values = pd.to_numeric(raw, errors="coerce")
            bad = (values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")).to_numpy()
            if bad.any():
                raise InputError(f"{_where(df, path, bad)}, field '{field}': not a number")
            df[field] = values
    if "release_date" in df:
        raw = df["release_date"]
        dates = pd.to_datetime(raw, errors="coerce")
        bad = (dates.isna() & raw.notna() & (raw.astype(str).str.strip() != "")).to_numpy()
        if bad.any():
            raise InputError(f"{_where(df, path, bad)}, field 'release_date': not a date")
        df["release_date"] = dates.dt.strftime("%Y-%m-%d").where(dates.notna(), None)
    known = set(ModelInfo.__dataclass_fields__) - {"extra"}
    extra_cols = [c for c in df.columns if c not in known]
    out = []
    for row in df.to_dict(orient="records"):
        fields = {k: (None if _isnull(v) else v) for k, v in row.items() if k in known}
        if fields.get("step") is not None:
            fields["step"] = int(fields["step"])
        extra = {k: row[k] for k in extra_cols if not _isnull(row[k])}
        out.append(ModelInfo(**fields, extra=extra or None))
    return out


def _isnull(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def set_model_meta(store: Store, path: str | Path) -> int:
    """Read a metadata table and upsert it into the store's models table."""
    return store.upsert_models(read_model_meta(path))
