"""The bottom layer: primitives every part shares, each defined once.

Hashing (:func:`stable_hash`), JSON-ready values (:func:`to_jsonable`) and named attributes as
a dict (:func:`attributes`), strict text readers (:func:`read_text`, :func:`decode_text`,
:func:`iter_jsonl`, :func:`read_csv_rows`; YAML files: :func:`read_yaml`; :func:`arrow_may_read`:
what pyarrow may parse) and column checks (:func:`require_columns`),
numbers as text (:func:`format_number`) and user strings as terminal-safe text (:func:`visible`), the confidence level and resamples (:class:`Settings`),
resource limits (:func:`limit`, :class:`ReadBudget`), the style features of arena answers
(:func:`style_values`, :func:`text_style`, :func:`style_json`), and the metric registry
(:func:`metric_info`, :func:`headline_metric`, :func:`resolve_metrics`,
:func:`with_corpus_metrics`; pure: a store's declarations are passed in, never kept). It
imports nothing from the other parts of assay.
"""

from ._arrow_guard import arrow_may_read
from ._columns import require_columns
from ._cost import CostFit, fit_cost
from ._discovery import (
    discovery_acceleration,
    discovery_metrics,
    discovery_pseudo_values,
    with_discovery_metrics,
)
from ._format import fixed, format_number, visible
from ._hashing import stable_hash
from ._json import attributes, to_jsonable
from ._json_stream import Elements, TopLevel
from ._labels import plot_label
from ._limits import LIMITS, ReadBudget, limit, limit_message
from ._metrics import (
    BUILTIN_METRICS,
    CORPUS_METRICS,
    DISCOVERY_METRICS,
    METRIC_FAMILIES,
    MetricInfo,
    MetricMap,
    declared_metrics,
    headline_metric,
    lower_is_better,
    metric_info,
    metric_spec,
    parse_metric_spec,
    resolve_metrics,
    with_corpus_metrics,
)
from ._quantile import (
    central_levels,
    interval_coverage,
    isotonic_quantiles,
    pinball_loss,
    sort_quantiles,
    weighted_interval_score,
)
from ._readers import (
    csv_chunks,
    decode_text,
    iter_jsonl,
    json_row,
    jsonl_block,
    jsonl_chunks,
    parse_json,
    read_csv_rows,
    read_text,
)
from ._retrieval import ndcg, pad_lists, ranked_relevance, recall_at_k, reciprocal_rank
from ._settings import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    Settings,
    accepts_confidence,
    level_label,
    resolve_confidence,
)
from ._style import STYLE_FIELDS, TEXT_FEATURES, style_json, style_values, text_style
from ._yaml import YamlLoader, read_yaml

__all__ = [
    "Elements",
    "TopLevel",
    "STYLE_FIELDS",
    "TEXT_FEATURES",
    "style_json",
    "style_values",
    "text_style",
    "BUILTIN_METRICS",
    "CORPUS_METRICS",
    "CostFit",
    "DEFAULT_CONFIDENCE",
    "DEFAULT_RESAMPLES",
    "LIMITS",
    "ReadBudget",
    "Settings",
    "accepts_confidence",
    "MetricInfo",
    "MetricMap",
    "attributes",
    "declared_metrics",
    "decode_text",
    "fit_cost",
    "fixed",
    "format_number",
    "headline_metric",
    "arrow_may_read",
    "csv_chunks",
    "iter_jsonl",
    "json_row",
    "level_label",
    "jsonl_block",
    "jsonl_chunks",
    "limit",
    "limit_message",
    "parse_json",
    "lower_is_better",
    "metric_info",
    "metric_spec",
    "parse_metric_spec",
    "plot_label",
    "read_csv_rows",
    "read_text",
    "read_yaml",
    "YamlLoader",
    "resolve_metrics",
    "require_columns",
    "resolve_confidence",
    "stable_hash",
    "to_jsonable",
    "visible",
    "with_corpus_metrics",
    "DISCOVERY_METRICS",
    # metrics from the wider literature (docs/metrics.md)
    "METRIC_FAMILIES",
    "central_levels",
    "interval_coverage",
    "isotonic_quantiles",
    "pinball_loss",
    "sort_quantiles",
    "weighted_interval_score",
    "ndcg",
    "pad_lists",
    "ranked_relevance",
    "recall_at_k",
    "reciprocal_rank",
    "discovery_acceleration",
    "discovery_metrics",
    "discovery_pseudo_values",
    "with_discovery_metrics",
]
