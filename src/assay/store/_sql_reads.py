"""Aggregates and bounded slices of a store read in DuckDB, for the report and the sample-level
ranking of stores too large to load into pandas.

* :func:`score_facts`: what the report's panels need to know about the scores without their
  rows — documents per task and per run, the metric names, the models with scores, the number
  of samples, and which optional panels have anything to show (perturbed tasks, fairness
  probes, recorded choice positions, choice log-likelihoods, latencies, difficulties, repeats /
  templates / several runs of one (model, task), chance levels of multiple-choice tasks).
* :func:`drill_docs`: per task, the documents the side-by-side view shows (disputed ones first,
  at most ``max_docs``) and how many there are, from each model's first answer.
* :func:`sample_cells`: the (model, task, doc_id) cells of chosen (task, metric) pairs as three
  integer codes and a value (repeats and runs averaged), for the sample-level rankings.

The first and the last assume what ``Evidence.matrices`` assumes (every sample's run is a row
of ``runs``); callers use them only when the evidence has ``matrices``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pandas as pd

__all__ = [
    "FEATURES",
    "Cells",
    "ScoreFacts",
    "bounded_sql",
    "drill_docs",
    "sample_cells",
    "score_facts",
    "valid_metrics",
]

#: The drill-down clips answers to this many characters (``report._drilldown.MAX_TEXT``).
CLIP = 1500


@dataclass(frozen=True)
class ScoreFacts:
    """Aggregates of a store's scores (see the module docstring). ``docs_by_task`` /
    ``docs_by_run``: distinct documents with a score row, indexed by task (sorted) / run_id;
    ``features``: the optional panels' inputs the samples carry (names in
    :data:`FEATURES`); ``choice_inverse``: per task the (task, 1 / number of choices) rows of
    its samples with stored choice log-likelihoods (the chance level's input)."""

    docs_by_task: pd.Series
    docs_by_run: pd.Series | None
    metric_names: tuple[str, ...]
    models: tuple[str, ...]
    n_samples: int
    features: frozenset[str] = field(default_factory=frozenset)
    choice_inverse: pd.DataFrame | None = None


FEATURES = ("perturbed", "probes", "positions", "choices", "latency", "difficulty", "varied")


#: What DuckDB may hold during one read of :func:`bounded` (it spills to a temporary folder past
#: it). Unbounded it keeps up to 80% of the machine's memory for a query's hash tables and the
#: blocks it read: `assay report` on 10^7 samples peaked at 3.2 GB, growing with the samples.
READ_MEMORY = "256MiB"


@contextmanager
def bounded(store: Any) -> Iterator[Any]:
    """A connection of ``store`` whose DuckDB holds at most :data:`READ_MEMORY` (spilling to a
    temporary folder, not next to the store, which may be read-only), insertion order not kept
    (every read that needs an order asks for it); a session's settings are put back after."""
    names = ("memory_limit", "temp_directory", "preserve_insertion_order")
    with tempfile.TemporaryDirectory(prefix="assay-read-") as tmp, store.connect() as con:
        asked = ", ".join(f"current_setting('{n}')" for n in names)
        before = con.execute(f"SELECT {asked}").fetchall()[0]
        try:
            for name, value in zip(names, (READ_MEMORY, tmp, False), strict=True):
                _set(con, name, value)
            yield con
        finally:
            for name, value in zip(names, before, strict=True):
                _set(con, name, value)


def _set(con: Any, name: str, value: Any) -> None:
    text = str(value).replace("'", "''")
    with suppress(duckdb.Error):  # (a session's temporary files already in its folder: kept)
        con.execute(f"SET {name} = '{text}'")


def bounded_sql(store, query: str, params: Sequence | None = None) -> pd.DataFrame:
    """``store.sql(query, params)`` with DuckDB's memory bounded (:func:`bounded`): a
    report's filtered reads of 10^7 samples, which held up to 1.8 GB in DuckDB unbounded."""
    with bounded(store) as con:
        return con.execute(query, list(params or [])).df()


def _task_filter(tasks: Sequence[str] | None, column: str, params: list) -> str:
    if tasks is None:
        return "TRUE"
    params.extend(tasks)
    return f"{column} IN ({', '.join('?' * len(tasks))})" if tasks else "FALSE"


def score_facts(store, tasks: Sequence[str] | None = None) -> ScoreFacts:
    """The :class:`ScoreFacts` of ``store`` (a ``Store``) under the ``tasks`` filter."""
    tasks = None if tasks is None else list(tasks)
    with bounded(store) as con:
        params: list = []
        where = _task_filter(tasks, "r.task", params)
        by_run = con.execute(
            "SELECT r.run_id, r.model, r.task, d.docs, d.metrics FROM (SELECT run_id, "
            "count(DISTINCT doc_id) AS docs, list(DISTINCT metric) AS metrics "
            f"FROM sample_metrics GROUP BY run_id) d JOIN runs r USING (run_id) WHERE {where} "
            "ORDER BY r.run_id",
            params,
        ).df()
        docs_by_task = con.execute(
            "SELECT r.task, count(DISTINCT m.doc_id) AS docs FROM sample_metrics m JOIN runs r "
            f"USING (run_id) WHERE {where} GROUP BY r.task ORDER BY r.task",
            params,
        ).df()
        params = []
        where = _task_filter(tasks, "task", params)
        flags = con.execute(
            "SELECT count(*), bool_or(task LIKE '%+%'), "
            "bool_or(length(doc_id) - length(replace(doc_id, '/', '')) = 2), "
            "bool_or(chosen_position IS NOT NULL), bool_or(choice_logprobs IS NOT NULL), "
            "bool_or(latency_s IS NOT NULL), bool_or(difficulty IS NOT NULL), "
            "(SELECT count(*) > 0 FROM (SELECT 1 FROM samples WHERE " + where + " "
            "GROUP BY model, task, doc_id HAVING count(*) > 1 LIMIT 1)) "
            f"FROM samples WHERE {where}",
            params + params,
        ).fetchall()[0]
        features = frozenset(f for f, on in zip(FEATURES, flags[1:], strict=True) if on)
        inverse = None
        if "choices" in features:
            params = []
            where = _task_filter(tasks, "task", params)
            inverse = con.execute(
                "SELECT task, 1.0 / len(choice_logprobs) AS inv FROM samples "
                f"WHERE choice_logprobs IS NOT NULL AND len(choice_logprobs) > 0 AND {where} "
                'ORDER BY model, task, run_id, doc_id, "repeat"',
                params,
            ).df()
    names = sorted({str(m) for ms in by_run["metrics"] for m in ms})
    return ScoreFacts(
        docs_by_task=docs_by_task.set_index("task")["docs"].astype(int),
        docs_by_run=by_run.set_index("run_id")["docs"].astype(int),
        metric_names=tuple(names),
        models=tuple(sorted(set(by_run["model"].astype(str)))),
        n_samples=int(flags[0]),
        features=features,
        choice_inverse=inverse,
    )


def _want_table(con, wanted: dict[str, str]) -> None:
    """Temp table ``_want`` (task, metric) of ``wanted``."""
    tasks = sorted(wanted)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _want AS SELECT unnest(?::VARCHAR[]) AS task, "
        "unnest(?::VARCHAR[]) AS metric",
        [tasks, [wanted[t] for t in tasks]],
    )


def drill_docs(
    store, wanted: dict[str, str], max_docs: int
) -> dict[str, tuple[list[str], int, int, list[str]]]:
    """Per task of ``wanted`` (task -> metric) with two models or more, for the side-by-side
    view: (doc_ids, documents, disputed documents, models). Each (model, document)'s first answer
    (lowest repeat, then run_id) counts, with its metric value and clipped prediction; a
    document is disputed when the models' values (or answers) are not all equal; the doc_ids
    are the first ``max_docs`` by (disputed first, doc_id), sorted by doc_id."""
    clipped = (
        f"CASE WHEN length(s.prediction) > {CLIP} THEN left(s.prediction, {CLIP}) || ' …' "
        "ELSE coalesce(s.prediction, '') END"
    )
    value = "CASE WHEN isnan(m.value) THEN NULL ELSE m.value END"
    answers = (
        f'SELECT s.task, s.model, s.doc_id, {clipped} AS pred, {value} AS v, s."repeat" AS r, '
        "s.run_id FROM samples s JOIN _want w ON w.task = s.task LEFT JOIN _multi u ON "
        "u.model = s.model AND u.task = s.task LEFT JOIN sample_metrics m ON m.run_id = "
        's.run_id AND m.doc_id = s.doc_id AND m."repeat" = s."repeat" AND m.metric = w.metric '
        "WHERE u.task IS {} NULL"
    )
    # a (model, task) with one run and no repeat has one answer per document ((run_id, doc_id,
    # repeat) is a sample's key): its first; only the others' are picked, one per document
    first = (
        "SELECT task, doc_id, a['p'] AS pred, a['v'] AS v FROM (SELECT task, model, doc_id, "
        "arg_min(struct_pack(p := pred, v := v), struct_pack(r := r, i := run_id)) AS a "
        f"FROM ({answers.format('NOT')}) GROUP BY ALL)"
    )
    with bounded(store) as con:
        _want_table(con, wanted)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _multi AS SELECT model, task FROM samples JOIN _want "
            'USING (task) GROUP BY model, task HAVING count(DISTINCT run_id) > 1 OR max("repeat") '
            "> 0"
        )
        multi, single = con.execute(
            "SELECT count(*) > 0, (SELECT count(*) FROM (SELECT DISTINCT model, task FROM "
            "samples JOIN _want USING (task))) > count(*) FROM _multi"
        ).fetchall()[0]
        parts = [f"SELECT task, doc_id, pred, v FROM ({answers.format('')})"] if single else []
        parts += [first] if multi else []
        if not parts:
            return {}
        # a document's answers differ when their least and greatest differ: two values per
        # document held, not every distinct answer (NULL values left out, as count(DISTINCT v))
        rows = con.execute(
            "WITH docs AS (SELECT task, doc_id, (coalesce(min(v) <> max(v), FALSE) OR "
            f"min(pred) <> max(pred)) AS disputed FROM ({' UNION ALL '.join(parts)}) GROUP BY "
            "task, doc_id), sized AS (SELECT task, count(*) AS total, count(*) FILTER (WHERE "
            "disputed) AS n_disputed FROM docs GROUP BY task), ranked AS (SELECT task, doc_id, row_number() "
            "OVER (PARTITION BY task ORDER BY disputed DESC, doc_id) AS k FROM docs), wide AS "
            "(SELECT task, list(DISTINCT model ORDER BY model) AS models FROM samples JOIN _want "
            "USING (task) GROUP BY task HAVING count(DISTINCT model) >= 2) SELECT z.task, "
            "z.total, z.n_disputed, w.models, list(r.doc_id ORDER BY r.doc_id) FILTER (WHERE "
            "r.k <= ?) FROM sized z JOIN wide w USING (task) JOIN ranked r USING (task) "
            "GROUP BY ALL ORDER BY z.task",
            [int(max_docs)],
        ).fetchall()
    return {
        str(t): ([str(d) for d in docs or []], int(n), int(k), [str(m) for m in models])
        for t, n, k, models, docs in rows
    }


def valid_metrics(store, models: Sequence[str] | None = None) -> dict[str, list[str]]:
    """task -> the metrics with a value (not NULL, not NaN) on it (sorted), over ``models``."""
    params: list = []
    keep = _task_filter(None if models is None else list(models), "r.model", params)
    with bounded(store) as con:
        rows = con.execute(
            "SELECT r.task, list(DISTINCT m.metric ORDER BY m.metric) FROM sample_metrics m "
            "JOIN runs r USING (run_id) WHERE m.value IS NOT NULL AND NOT isnan(m.value) "
            f"AND {keep} GROUP BY r.task ORDER BY r.task",
            params,
        ).fetchall()
    return {str(t): [str(m) for m in ms] for t, ms in rows}


@dataclass(frozen=True)
class Cells:
    """Per (model, task, doc_id) cell: codes into ``models``, ``tasks`` and ``docs`` (the
    sorted (task, doc_id) pairs' doc_ids), the mean value and the lowest and highest value."""

    model: np.ndarray
    task: np.ndarray
    doc: np.ndarray
    value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    models: list[str]
    tasks: list[str]
    docs: list[str]


def sample_cells(store, wanted: dict[str, str], models: Sequence[str] | None = None) -> Cells:
    """The :class:`Cells` of each task's chosen metric (``wanted``: task -> metric), NULL and
    NaN values left out, repeats and runs averaged; models, tasks and (task, doc_id) numbered
    in sorted order. Only ``models`` when given."""
    params: list = []
    keep = _task_filter(None if models is None else list(models), "r.model", params)
    # (unbounded: the cells of 10^7 samples spilled at 256 MiB tripled rank samples' CPU time)
    with store.connect() as con:
        con.execute("SET preserve_insertion_order = false")
        _want_table(con, wanted)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _cells AS SELECT r.model, r.task, m.doc_id, avg(m.value) AS v, "
            "min(m.value) AS lo, max(m.value) AS hi FROM sample_metrics m JOIN runs r "
            "USING (run_id) JOIN _want w ON w.task = r.task AND w.metric = m.metric "
            f"WHERE m.value IS NOT NULL AND NOT isnan(m.value) AND {keep} GROUP BY ALL",
            params,
        )
        # codes from small numbered tables joined on (hash joins, no sort of every cell)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _m AS SELECT model, (row_number() OVER (ORDER BY "
            "model) - 1)::BIGINT AS mc FROM (SELECT DISTINCT model FROM _cells)"
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _t AS SELECT task, (row_number() OVER (ORDER BY "
            "task) - 1)::BIGINT AS tc FROM (SELECT DISTINCT task FROM _cells)"
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _d AS SELECT task, doc_id, (row_number() OVER "
            "(ORDER BY task, doc_id) - 1)::BIGINT AS dc FROM (SELECT DISTINCT task, doc_id "
            "FROM _cells)"
        )
        got = con.execute(
            "SELECT m.mc, t.tc, d.dc, c.v, c.lo, c.hi FROM _cells c JOIN _m m USING (model) "
            "JOIN _t t USING (task) JOIN _d d USING (task, doc_id)"
        ).fetchnumpy()

        def names(sql: str) -> list[str]:
            return [str(x) for (x,) in con.execute(sql).fetchall()]

        out = Cells(
            *(np.asarray(got[c], np.int64) for c in ("mc", "tc", "dc")),
            *(np.asarray(got[c], float) for c in ("v", "lo", "hi")),
            models=names("SELECT model FROM _m ORDER BY mc"),
            tasks=names("SELECT task FROM _t ORDER BY tc"),
            docs=names("SELECT doc_id FROM _d ORDER BY dc"),
        )
    return out
