"""assay: evaluate language models with honest error bars.

Run benchmarks (``assay.runner``), store every scored sample (``assay.store``), compare models
(``assay.stats``), rank them (``assay.rank``), forecast larger ones (``assay.forecast``) and
report (``assay.report``).
"""

from assay.store import Store, open_store

__version__ = "0.1.0"
__all__ = ["Store", "__version__", "open_store"]
