"""Per-document score matrices read in DuckDB, for analyses of stores too large to load.

:func:`scan_store` reads what an analysis needs to know before it asks for numbers — the runs,
models, tasks and metrics under the filters — without bringing the sample rows into Python;
:meth:`MatrixSource.doc_matrices` then returns, for chosen (task, metric) pairs, the documents ×
models matrix of per-document means (repeats and runs averaged, as
:func:`assay.stats.doc_matrix` does from the loaded rows), built in numpy from three integer
codes and the value per row. It applies only where the loaded rows would add nothing: every
sample's (run_id, model, task) is a row of ``runs`` (the metrics join ``runs`` on ``run_id``),
no sample carries a cluster id, and no metric is a piece of a corpus metric (``logprob``,
``words``, ``bytes``); otherwise :func:`scan_store` returns None and the rows are loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MatrixSource", "scan_store"]

_CORPUS_PIECES = ("logprob", "words", "bytes", "discovery_pred", "discovery_true")
"""Stored pieces from which `with_corpus_metrics` makes corpus metrics (perplexity, DAF, ...)."""
_FEW_METRICS = 4


def _in(column: str, values: str | Sequence[str] | None, params: list) -> str:
    if values is None:
        return ""
    values = [values] if isinstance(values, str) else list(values)
    params.extend(values)
    return f" AND {column} IN ({', '.join('?' * len(values))})"


@dataclass(frozen=True)
class MatrixSource:
    """The runs (run_id, model, task) and metrics under an evidence read's filters, and how to
    read their per-document matrices (:meth:`doc_matrices`)."""

    store: Any
    runs: tuple[tuple[str, str, str], ...]
    metrics_by_run: dict[str, tuple[str, ...]]

    def task_metric_names(self) -> dict[str, list[str]]:
        """task -> the metrics its rows carry (sorted)."""
        out: dict[str, set[str]] = {}
        for run_id, _, task in self.runs:
            out.setdefault(task, set()).update(self.metrics_by_run.get(run_id, ()))
        return {t: sorted(v) for t, v in sorted(out.items()) if v}

    def doc_matrices(
        self, wanted: Sequence[tuple[str, str]], models: Sequence[str] | None = None
    ) -> list[tuple[str, str, np.ndarray, list[str]]]:
        """(task, metric, matrix, model names) for each wanted (task, metric), in that order:
        documents (sorted by doc_id) × models (``models`` in its order, else sorted) of the
        mean non-missing value per document; NaN where a model lacks the document. Models with
        no value on the task are left out."""
        if not wanted:
            return []
        tasks = sorted({t for t, _ in wanted})
        task_code = {t: k for k, t in enumerate(tasks)}
        metric_of = dict(wanted)
        run_rows = [
            (run_id, model, task_code[task], metric_of[task])
            for run_id, model, task in self.runs
            if task in task_code and (models is None or model in models)
        ]
        names = list(models) if models is not None else sorted({r[1] for r in run_rows})
        model_code = {m: k for k, m in enumerate(names)}
        rc = [(r, model_code[m], t, met) for r, m, t, met in run_rows]
        twice = len({(m, t) for _, m, t, _ in rc}) < len(rc)  # a (model, task) with two runs
        with self.store.connect() as con:
            columns = [list(c) for c in zip(*rc, strict=True)] if rc else [[], [], [], []]
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _rc AS SELECT unnest(?::VARCHAR[]) AS run_id, "
                "unnest(?::INTEGER[]) AS mc, unnest(?::INTEGER[]) AS tc, "
                "unnest(?::VARCHAR[]) AS metric",
                columns,
            )
            # one metric for every task (the usual case): a join on run_id alone and the metric
            # as a filter, about 3x cheaper than the two-column join
            kept = sorted(set(metric_of.values()))
            if len(kept) == 1:
                join = "sample_metrics m JOIN _rc r USING (run_id)"
                valid = "m.metric = '" + kept[0].replace("'", "''") + "' AND "
            else:
                join, valid = "sample_metrics m JOIN _rc r USING (run_id, metric)", ""
            valid += "m.value IS NOT NULL AND NOT isnan(m.value)"
            found = None if twice else _bit_matrix(con, join, valid, len(names), len(tasks))
            if found is None:
                found = _value_matrix(con, join, valid, len(names), len(tasks))
            con.execute("DROP TABLE IF EXISTS _rc")
        big, start = found
        out = []
        for task, met in wanted:
            k = task_code[task]
            block = big[start[k] : start[k + 1]]
            cols = np.flatnonzero(~np.all(np.isnan(block), axis=0))
            if cols.size == 0:
                continue
            block = block if cols.size == len(names) else np.ascontiguousarray(block[:, cols])
            out.append((task, met, block, [names[c] for c in cols]))
        return out


def _bit_matrix(con, join: str, valid: str, models: int, tasks: int):
    """(matrix, task starts) when every value is 0 or 1 and each (document, model) has one:
    per document, bit masks of the models that answered and of those right, aggregated in
    DuckDB (10⁷ rows become 2 × 10⁵ masks); None otherwise (nothing else read)."""
    words = max(1, -(-models // 64))
    masks = []
    # (a UTINYINT shift keeps UBIGINT: an INTEGER one makes a HUGEINT, fetched as float)
    bit = "1::UBIGINT << (r.mc % 64)::UTINYINT"
    right = f"bit_or(CASE WHEN m.value = 1 THEN {bit} ELSE 0::UBIGINT END)"
    if words == 1:  # (up to 64 models, the usual case: no FILTER, ~10% cheaper)
        masks = [f"bit_or({bit}) AS h0", f"{right} AS o0"]
    for w in range(words if words > 1 else 0):  # model k is bit k % 64 of word k // 64
        inside = f"r.mc // 64 = {w}"
        masks.append(f"coalesce(bit_or({bit}) FILTER ({inside}), 0::UBIGINT) AS h{w}")
        masks.append(
            f"coalesce(bit_or({bit}) FILTER ({inside} AND m.value = 1), 0::UBIGINT) AS o{w}"
        )
    odd = "count(*) FILTER (m.value <> 0 AND m.value <> 1) AS odd"
    got = con.execute(
        f"SELECT r.tc AS tc, count(*) AS k, {odd}, {', '.join(masks)} FROM {join} "
        f"WHERE {valid} GROUP BY r.tc, m.doc_id ORDER BY r.tc, m.doc_id"
    ).fetchnumpy()
    if np.asarray(got["odd"]).any():
        return None

    def bits(prefix: str) -> np.ndarray:
        stacked = np.stack([np.asarray(got[f"{prefix}{w}"], "<u8") for w in range(words)], 1)
        flat = np.unpackbits(stacked.view(np.uint8), axis=1, bitorder="little")
        return flat[:, :models].astype(bool)

    have = bits("h")
    if int(have.sum()) != int(np.asarray(got["k"]).sum()):
        return None  # a cell given twice (repeats): each document's mean, from the values
    big = np.where(have, bits("o").astype(float), np.nan)
    start = np.searchsorted(np.asarray(got["tc"]), np.arange(tasks + 1))
    return big, start


def _value_matrix(con, join: str, valid: str, models: int, tasks: int):
    """(matrix, task starts) of any values: each row's value (or each cell's mean) put in a
    documents × models matrix by its index, computed in DuckDB."""
    # documents numbered in (task, doc_id) order: task k's rows start[k]..start[k+1]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _dc AS SELECT tc, doc_id, hash(doc_id) AS h, (row_number() "
        "OVER (ORDER BY tc, doc_id) - 1)::BIGINT AS g FROM (SELECT DISTINCT "
        f"r.tc, m.doc_id FROM {join} WHERE {valid})"
    )
    rows, unique = con.execute("SELECT count(*), count(DISTINCT (tc, h)) FROM _dc").fetchall()[0]
    # a hash collision within a task: join on the doc_id itself (slower, same result)
    same = "d.h = hash(m.doc_id)" if rows == unique else "d.doc_id = m.doc_id"
    body = f"FROM {join} JOIN _dc d ON d.tc = r.tc AND {same} WHERE {valid}"
    counts = con.execute("SELECT tc, count(*) FROM _dc GROUP BY tc").fetchall()
    docs = np.zeros(tasks, dtype=np.int64)
    for tc, n in counts:
        docs[tc] = n
    start = np.concatenate([[0], np.cumsum(docs)])
    big = np.full((int(start[-1]), models), np.nan)
    kind = "INTEGER" if big.size < 2**31 else "BIGINT"
    cell = f"(d.g * {max(models, 1)} + r.mc)::{kind}"  # the flat index in the matrix
    got = con.execute(f"SELECT {cell} AS i, m.value AS v {body}").fetchnumpy()
    big.reshape(-1)[np.asarray(got["i"])] = np.asarray(got["v"], float)
    if np.count_nonzero(~np.isnan(big)) < len(got["i"]):
        # a cell given twice (repeats, two runs of a (model, task)): each document's
        # mean, as DuckDB takes it
        got = con.execute(f"SELECT {cell} AS i, avg(m.value) AS v {body} GROUP BY ALL")
        got = got.fetchnumpy()
        big.reshape(-1)[np.asarray(got["i"])] = np.asarray(got["v"], float)
    con.execute("DROP TABLE IF EXISTS _dc")
    return big, start


def scan_store(
    store: Any,
    *,
    model: str | Sequence[str] | None = None,
    task: str | Sequence[str] | None = None,
    metric: str | Sequence[str] | None = None,
) -> MatrixSource | None:
    """The runs and metrics under the filters, read in SQL; None when the per-document
    matrices cannot stand for the loaded rows (see the module's docstring)."""
    with store.connect() as con:
        params: list = []
        where = "TRUE" + _in("s.model", model, params) + _in("s.task", task, params)
        # one pass over the samples, joined on run_id alone (the key of runs; every column
        # NOT NULL): a third cheaper than an anti join on the three columns and a second scan
        orphans, clustered = con.execute(
            "SELECT count(*) FILTER (r.run_id IS NULL OR r.model <> s.model OR r.task <> "
            "s.task), count(*) FILTER (s.cluster_id IS NOT NULL) FROM samples s LEFT JOIN runs r "
            f"USING (run_id) WHERE {where}",
            params,
        ).fetchall()[0]
        if orphans or clustered:
            return None
        # each metric's runs: a DISTINCT on one column per metric (the metric's name added
        # after it) is several times cheaper than on (run_id, metric) when the store holds few
        names = [n for (n,) in con.execute("SELECT DISTINCT metric FROM sample_metrics").fetchall()]
        params = []
        if len(names) <= _FEW_METRICS:
            pairs = (
                " UNION ALL ".join(
                    [
                        "SELECT run_id, ?::VARCHAR AS metric FROM (SELECT DISTINCT run_id "
                        "FROM sample_metrics WHERE metric = ?)"
                    ]
                    * len(names)
                )
                or "SELECT NULL::VARCHAR AS run_id, NULL::VARCHAR AS metric WHERE FALSE"
            )
            params = [n for name in names for n in (name, name)]
        else:
            pairs = "SELECT DISTINCT run_id, metric FROM sample_metrics"
        where = "TRUE" + _in("r.model", model, params) + _in("r.task", task, params)
        found = con.execute(
            f"SELECT r.run_id, r.model, r.task, m.metric FROM ({pairs}) m JOIN runs r "
            f"USING (run_id) WHERE {where} ORDER BY r.run_id, m.metric",
            params,
        ).fetchall()
    if any(met in _CORPUS_PIECES for *_, met in found):
        return None  # (a metric filter may name a corpus metric they make)
    if metric is not None:
        keep = {metric} if isinstance(metric, str) else set(metric)
        found = [row for row in found if row[3] in keep]
    runs: dict[str, tuple[str, str, str]] = {}
    metrics: dict[str, list[str]] = {}
    for run_id, mdl, tsk, met in found:
        runs[run_id] = (run_id, mdl, tsk)
        metrics.setdefault(run_id, []).append(met)
    return MatrixSource(store, tuple(runs.values()), {k: tuple(v) for k, v in metrics.items()})
