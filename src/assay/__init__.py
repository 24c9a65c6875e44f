"""assay: evaluate language models with honest error bars.

Run benchmarks (``assay.runner``), store every scored sample (``assay.store``), compare models
(``assay.stats``), rank them (``assay.rank``), forecast larger ones (``assay.forecast``) and
report (``assay.report``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.store import Store, open_store

__version__ = "0.1.0"
__all__ = ["Store", "__version__", "open_store"]


def __getattr__(name: str) -> Any:
    """``Store`` and ``open_store`` from :mod:`assay.store`, imported when first used (so
    ``assay --version`` and commands that need no store start without pandas and DuckDB)."""
    if name in ("Store", "open_store"):
        from assay import store

        return getattr(store, name)
    raise AttributeError(f"module 'assay' has no attribute {name!r}")
