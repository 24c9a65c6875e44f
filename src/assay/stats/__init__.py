"""Statistics for evaluations: error bars, paired comparisons, power, variance, bias, flips,
items and small anchor subsets. Inputs are the store's tidy frames (``Store.scores()``,
``Store.samples()``) or plain arrays; results are dataclasses with ``.to_dict()``."""

from ._anchors import (
    AnchorEstimate,
    AnchorPoints,
    ItemReport,
    anchor_points,
    estimate_from_anchors,
    item_report,
)
from ._bias import PositionBias, position_bias
from ._compare import Comparison, compare
from ._estimators import (
    BootstrapResult,
    MeanEstimate,
    bootstrap_ci,
    clustered_se,
    mean_ci,
    wilson_ci,
)
from ._flips import FlipResult, flips
from ._items import (
    IRT2PL,
    ItemAnalysis,
    fit_irt_2pl,
    item_analysis,
    response_matrix,
)
from ._paired import PairedResult, adjust_pvalues, paired_test
from ._power import (
    PowerResult,
    VarianceComponents,
    estimate_components,
    minimum_detectable_effect,
    power,
    power_analysis,
    power_from_scores,
    sample_size,
)
from ._variance import (
    MonotonicityResult,
    VarianceResult,
    monotonicity,
    variance_decomposition,
)

__all__ = [
    "IRT2PL",
    "AnchorEstimate",
    "AnchorPoints",
    "BootstrapResult",
    "Comparison",
    "FlipResult",
    "ItemAnalysis",
    "ItemReport",
    "MeanEstimate",
    "MonotonicityResult",
    "PairedResult",
    "PositionBias",
    "PowerResult",
    "VarianceComponents",
    "VarianceResult",
    "adjust_pvalues",
    "anchor_points",
    "bootstrap_ci",
    "clustered_se",
    "compare",
    "estimate_components",
    "estimate_from_anchors",
    "fit_irt_2pl",
    "flips",
    "item_analysis",
    "item_report",
    "mean_ci",
    "minimum_detectable_effect",
    "monotonicity",
    "paired_test",
    "position_bias",
    "power",
    "power_analysis",
    "power_from_scores",
    "response_matrix",
    "sample_size",
    "variance_decomposition",
    "wilson_ci",
]
