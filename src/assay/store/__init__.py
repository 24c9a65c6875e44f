"""The result store: per-sample records, runs, models and battles in one DuckDB file (or, to
read, a folder of Parquet files an export wrote)."""

from ._aggregates import metric_summary
from ._battle_import import BattleWriter, battle_writer
from ._battles import battle_chunks, battle_id, battle_ids
from ._evidence import Evidence
from ._export import export_samples
from ._files import read_model_meta, set_model_meta
from ._import_runs import ImportSummary
from ._inspect import import_inspect, read_inspect
from ._label_free import add_label_free_metrics
from ._lighteval import import_lighteval, read_lighteval
from ._lm_eval import import_lm_eval, read_lm_eval
from ._lm_eval_export import export_lm_eval
from ._merge import merge_stores
from ._parquet import ParquetStore, existing_store, open_store
from ._records import WINNERS, Battle, ModelInfo, RunInfo, SampleRecord, make_run_id, stable_hash
from ._sample_import import import_samples
from ._schema import SCHEMA_VERSION
from ._sources import import_path, scratch_store
from ._sql_reads import FEATURES as SCORE_FEATURES
from ._sql_reads import (
    Cells,
    ScoreFacts,
    bounded_sql,
    drill_docs,
    sample_cells,
    score_facts,
    valid_metrics,
)
from ._store import Store, default_store_path
from ._tables import read_table

__all__ = [
    "add_label_free_metrics",
    "SCHEMA_VERSION",
    "SCORE_FEATURES",
    "WINNERS",
    "Battle",
    "Cells",
    "Evidence",
    "ImportSummary",
    "ModelInfo",
    "ParquetStore",
    "RunInfo",
    "ScoreFacts",
    "SampleRecord",
    "Store",
    "BattleWriter",
    "battle_chunks",
    "battle_writer",
    "battle_id",
    "battle_ids",
    "bounded_sql",
    "default_store_path",
    "drill_docs",
    "existing_store",
    "export_lm_eval",
    "export_samples",
    "import_inspect",
    "import_lighteval",
    "import_lm_eval",
    "import_path",
    "import_samples",
    "make_run_id",
    "merge_stores",
    "metric_summary",
    "open_store",
    "read_inspect",
    "read_lighteval",
    "read_lm_eval",
    "read_model_meta",
    "read_table",
    "sample_cells",
    "score_facts",
    "scratch_store",
    "set_model_meta",
    "stable_hash",
    "valid_metrics",
]
