"""``assay export --format lm-eval``: the store as lm-evaluation-harness 0.4 output files.

Per (model, task) run: ``model=<m>/task=<t>/results_<date>.json`` (lm-eval's aggregate keys,
``acc,none`` and ``acc_stderr,none``, plus ``configs``, ``versions``, ``n-shot``, ``config``
and ``model_name``) and ``samples_<t>_<date>.jsonl`` (one line per document and filter, with
each metric at top level, named in ``metrics``). Tools that read lm-eval output read these;
``assay import lm-eval`` reads them back. What lm-eval has no field for (repeats, the stored
prediction, tokens, timings, ...) rides in an ``assay`` object on each line, which lm-eval's
readers ignore. The folder safety rules are those of :mod:`._export`.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from assay.core import to_jsonable
from assay.errors import InputError

from ._export import _check_target, _install
from ._store import Store

# sample columns carried in each line's "assay" object (lm-eval has no field for them)
_CARRIED = (
    "repeat",
    "prediction",
    "template_id",
    "choice_order",
    "chosen_position",
    "input_tokens",
    "output_tokens",
    "latency_s",
    "cluster_id",
    "difficulty",
    "extra",
)


def _split(metric: str) -> tuple[str, str]:
    """lm-eval's ``metric,filter`` naming: plain names are filter ``none``."""
    name, sep, filt = metric.rpartition(",")
    return (name, filt) if sep and name else (metric, "none")


def _stamp(value: Any, taken: set[str]) -> str:
    """lm-eval's date stamp (``2026-11-01T10-00-00.000001``), unique within a folder."""
    when = pd.Timestamp(value) if value is not None and not pd.isna(value) else pd.Timestamp(0)
    while (text := when.strftime("%Y-%m-%dT%H-%M-%S.%f")) in taken:
        when += pd.Timedelta(microseconds=1)
    taken.add(text)
    return text


def _plain(value: Any) -> Any:
    value = to_jsonable(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _listed(value: Any) -> list | None:
    """A list cell (a list, an array, or missing) as a list or None."""
    if isinstance(value, list | tuple | np.ndarray):
        return list(value)
    return None


def _doc_id(doc_id: str) -> int | str:
    return int(doc_id) if doc_id.isdigit() and str(int(doc_id)) == doc_id else doc_id


def _aggregates(metrics: pd.DataFrame) -> dict[str, Any]:
    """``<metric>,<filter>`` and ``<metric>_stderr,<filter>`` over docs (repeats averaged first;
    stderr with ddof 1, lm-eval's ``mean_stderr``)."""
    out: dict[str, Any] = {}
    per_doc = metrics.groupby(["metric", "doc_id"])["value"].mean()
    for metric, values in per_doc.groupby(level=0):
        arr = values.dropna().to_numpy(dtype=float)
        name, filt = _split(str(metric))
        out[f"{name},{filt}"] = float(arr.mean()) if arr.size else None
        se = float(arr.std(ddof=1) / np.sqrt(arr.size)) if arr.size > 1 else "N/A"
        out[f"{name}_stderr,{filt}"] = se
    return out


def _lines(samples: pd.DataFrame, metrics: pd.DataFrame) -> list[str]:
    """One JSON line per (sample, filter)."""
    by_key: dict[tuple[str, int], dict[str, dict[str, float | None]]] = {}
    for row in metrics.itertuples(index=False):
        name, filt = _split(row.metric)
        value = None if pd.isna(row.value) else float(row.value)
        by_key.setdefault((row.doc_id, int(row.repeat)), {}).setdefault(filt, {})[name] = value
    lines = []
    for s in samples.to_dict(orient="records"):
        logprobs = _listed(s.get("choice_logprobs"))
        if logprobs is not None:
            resps = [[repr(float(lp)), "False"] for lp in logprobs]
        else:
            resps = [] if s.get("prediction") is None else [s["prediction"]]
        extra = s.get("extra")
        carried = {k: _plain(s.get(k)) for k in _CARRIED}
        carried["extra"] = json.loads(extra) if isinstance(extra, str) else None
        order = _listed(s.get("choice_order"))
        carried["choice_order"] = None if order is None else [int(x) for x in order]
        carried = {k: v for k, v in carried.items() if v is not None}
        filters = by_key.get((s["doc_id"], int(s["repeat"]))) or {"none": {}}
        for filt, values in sorted(filters.items()):
            line = {
                "doc_id": _doc_id(s["doc_id"]),
                "doc": {},
                "target": s.get("target"),
                "arguments": {"gen_args_0": {"arg_0": s.get("prompt")}},
                "resps": [resps],
                "filtered_resps": resps,
                "filter": filt,
                "metrics": sorted(values),
                "doc_hash": s.get("doc_hash"),
                "prompt_hash": s.get("prompt_hash"),
                **{k: values[k] for k in sorted(values)},
                "assay": carried,
            }
            lines.append(json.dumps(_plain(line), ensure_ascii=False, allow_nan=False))
    return lines


def _results(run: dict[str, Any], task: str, metrics: pd.DataFrame, n: int, mc: bool) -> dict:
    settings = json.loads(run["settings"]) if isinstance(run.get("settings"), str) else {}
    settings = settings or {}
    n_shot = None if pd.isna(run.get("num_fewshot")) else int(run["num_fewshot"])
    version = run.get("task_version")
    model_args = settings.get("model_args")
    if not isinstance(model_args, str):
        model_args = f"pretrained={run['model']}"
    return {
        "results": {task: {"alias": task, **_aggregates(metrics)}},
        "group_subtasks": {task: []},
        "configs": {
            task: {
                "task": task,
                "output_type": "multiple_choice" if mc else "generate_until",
                "num_fewshot": n_shot,
            }
        },
        "versions": {task: version if isinstance(version, str) else None},
        "n-shot": {task: n_shot} if n_shot is not None else {},
        "n-samples": {task: {"original": n, "effective": n}},
        "config": {"model": "assay", "model_args": model_args},
        "model_name": run["model"],
        "assay": _plain(
            {
                "model": run["model"],
                "run_id": run["run_id"],
                "source": run.get("source"),
                "settings": settings,
            }
        ),
    }


def _write_runs(store: Store, staging: Path) -> tuple[list[str], int]:
    runs = store.sql("SELECT * FROM runs ORDER BY model, task, created_at, run_id")
    samples = store.samples(with_metrics=False)
    metrics = store.sql('SELECT run_id, doc_id, "repeat", metric, value FROM sample_metrics')
    orphans = sorted(set(samples["run_id"]) - set(runs["run_id"]))
    if orphans:  # samples written without a run row: describe them from the samples
        extra = samples[samples["run_id"].isin(orphans)].drop_duplicates("run_id")
        runs = pd.concat([runs, extra[["run_id", "model", "task"]]], ignore_index=True)
    written: list[str] = []
    stamps: dict[str, set[str]] = {}
    count = 0
    sample_groups = dict(tuple(samples.groupby("run_id", sort=False)))
    metric_groups = dict(tuple(metrics.groupby("run_id", sort=False)))
    for run in runs.to_dict(orient="records"):
        rows = sample_groups.get(run["run_id"])
        if rows is None or rows.empty:
            continue
        model, task = str(run["model"]), str(run["task"])
        folder = f"model={quote(model, safe='')}/task={quote(task, safe='')}"
        date = _stamp(run.get("created_at"), stamps.setdefault(folder, set()))
        mets = metric_groups.get(run["run_id"], metrics.iloc[:0])
        mc = rows["choice_logprobs"].map(lambda v: bool(_listed(v))).any()
        task_name = task.replace("/", "_")
        results = _results(run, task_name, mets, int(rows["doc_id"].nunique()), bool(mc))
        (staging / folder).mkdir(parents=True, exist_ok=True)
        names = [f"results_{date}.json", f"samples_{task_name}_{date}.jsonl"]
        (staging / folder / names[0]).write_text(
            json.dumps(results, indent=2, ensure_ascii=False, allow_nan=False), encoding="utf-8"
        )
        (staging / folder / names[1]).write_text(
            "\n".join(_lines(rows, mets)) + "\n", encoding="utf-8"
        )
        written += [f"{folder}/{n}" for n in names]
        count += len(rows)
    return sorted(written), count


def export_lm_eval(store: Store, directory: str | Path, *, overwrite: bool = False) -> int:
    """Write every run as lm-eval 0.4 output under ``directory``; returns the samples written.

    The folder rules of :func:`export_samples` hold: a new or empty folder, or with
    ``overwrite`` one whose other files are not in the way; only an earlier export's own files
    are ever replaced or removed.
    """
    out = Path(directory)
    previous = _check_target(out, overwrite)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out}: cannot create the folder ({exc.strerror or exc})") from None
    staging = Path(tempfile.mkdtemp(prefix=".assay-export-", dir=out))
    try:
        written, count = _write_runs(store, staging)
        if count:
            _install(out, staging, written, previous, "lm-eval")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            with suppress(OSError):
                out.rmdir()
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return count


_INT_FIELDS = ("repeat", "chosen_position", "input_tokens", "output_tokens")
_FLOAT_FIELDS = ("latency_s", "difficulty")
_TEXT_FIELDS = ("prediction", "template_id", "cluster_id")


def read_carried(where: str, value: Any) -> dict[str, Any]:
    """The ``assay`` object of an exported sample line, checked: sample fields lm-eval lacks."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{where}, field 'assay': not a JSON object")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if item is None:
            continue
        bad = False
        if key in _INT_FIELDS:
            bad = isinstance(item, bool) or not isinstance(item, int) or not 0 <= item < 2**31
        elif key in _FLOAT_FIELDS:
            bad = isinstance(item, bool) or not isinstance(item, int | float)
            bad = bad or not math.isfinite(item)
        elif key in _TEXT_FIELDS:
            bad = not isinstance(item, str)
        elif key == "choice_order":
            bad = not isinstance(item, list) or not all(
                isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 2**31 for x in item
            )
        elif key == "extra":
            bad = not isinstance(item, dict)
        else:
            continue  # a field a newer assay wrote: ignored
        if bad:
            raise InputError(f"{where}, field 'assay.{key}': not a valid {key}")
        out[key] = float(item) if key in _FLOAT_FIELDS else item
    return out
