"""Per-(model, task, metric) summaries computed in DuckDB, for stores too large to load.

:func:`metric_summary` returns n, mean, sd and stderr = sd / √n of each metric per model and
task, over documents (a document's repeats and runs averaged first, as :func:`assay.stats.compare`
does), without bringing the sample rows into Python. At 10⁷ sample-metric rows the ``scores``
view's three-column join (samples ⋈ sample_metrics) costs seconds; when every sample's
(run_id, model, task) is a row of ``runs`` (always, for runs written by ``assay eval`` and the
importers) the metrics join ``runs`` on ``run_id`` alone instead, ~10× faster; and when no
(model, task) has two runs or a repeat, the per-document step is skipped (each document then has
exactly one value per metric: the primary key). Both shortcuts are checked, never assumed.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ._matrices import _in
from ._store import Store

SUMMARY_COLUMNS = ["model", "task", "metric", "n", "mean", "sd", "stderr"]


def metric_summary(
    store: Store,
    *,
    task: str | Sequence[str] | None = None,
    metric: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """n, mean, sd, stderr per (model, task, metric) over documents, ordered by task, metric and
    mean (descending); NULL values are left out."""
    with store.connect() as con:
        orphans = con.execute(
            "SELECT count(*) FROM (SELECT DISTINCT run_id, model, task FROM samples) "
            "ANTI JOIN runs USING (run_id, model, task)"
        ).fetchall()[0][0]
        source = (
            "sample_metrics m JOIN runs r USING (run_id)"
            if orphans == 0
            else 'sample_metrics m JOIN samples r USING (run_id, doc_id, "repeat")'
        )
        single = con.execute(
            'SELECT coalesce((SELECT max("repeat") FROM samples), 0) = 0 AND NOT EXISTS '
            "(SELECT 1 FROM runs GROUP BY model, task HAVING count(*) > 1)"
        ).fetchall()[0][0]
        params: list = []
        where = (
            "m.value IS NOT NULL" + _in("r.task", task, params) + _in("m.metric", metric, params)
        )
        if single and orphans == 0:
            values = f"SELECT r.model, r.task, m.metric, m.value AS v FROM {source} WHERE {where}"
        else:
            values = (
                "SELECT r.model, r.task, m.metric, avg(m.value) AS v "
                f"FROM {source} WHERE {where} GROUP BY r.model, r.task, m.metric, m.doc_id"
            )
        return con.execute(
            f"SELECT model, task, metric, count(*) AS n, avg(v) AS mean, stddev_samp(v) AS sd, "
            f"stddev_samp(v) / sqrt(count(*)) AS stderr FROM ({values}) "
            "GROUP BY model, task, metric ORDER BY task, metric, mean DESC, model",
            params,
        ).df()
