"""The result store: per-sample records, runs, models and battles in one DuckDB file."""

from ._records import Battle, ModelInfo, RunInfo, SampleRecord, make_run_id, stable_hash
from ._schema import SCHEMA_VERSION
from ._store import Store, default_store_path, open_store

__all__ = [
    "SCHEMA_VERSION",
    "Battle",
    "ModelInfo",
    "RunInfo",
    "SampleRecord",
    "Store",
    "default_store_path",
    "make_run_id",
    "open_store",
    "stable_hash",
]
