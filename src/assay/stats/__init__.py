"""Statistics for evaluations: error bars, paired comparisons, power, variance, bias, flips,
items and small anchor subsets. Inputs are the store's tidy frames (``Store.scores()``,
``Store.samples()``) or plain arrays; results are dataclasses with ``.to_dict()``."""

from ._anchors import AnchorEstimate, AnchorPoints, anchor_points, estimate_from_anchors, kmeans
from ._bias import PositionBias, position_bias
from ._compare import Comparison, compact_letters, compare
from ._estimators import (
    BootstrapResult,
    MeanEstimate,
    bootstrap_ci,
    clustered_se,
    doc_means,
    mean_ci,
    wilson_ci,
)
from ._flips import FlipResult, flips
from ._items import (
    IRT2PL,
    ItemAnalysis,
    estimate_ability,
    fit_irt_2pl,
    item_analysis,
    response_matrix,
)
from ._paired import PairedResult, adjust_pvalues, benjamini_hochberg, holm, paired_test
from ._power import (
    PowerResult,
    VarianceComponents,
    estimate_components,
    minimum_detectable_effect,
    power,
    power_analysis,
    sample_size,
)
from ._variance import (
    MonotonicityResult,
    VarianceResult,
    kendall_tau_b,
    monotonicity,
    two_way_anova,
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
    "MeanEstimate",
    "MonotonicityResult",
    "PairedResult",
    "PositionBias",
    "PowerResult",
    "VarianceComponents",
    "VarianceResult",
    "adjust_pvalues",
    "anchor_points",
    "benjamini_hochberg",
    "bootstrap_ci",
    "clustered_se",
    "compact_letters",
    "compare",
    "doc_means",
    "estimate_ability",
    "estimate_components",
    "estimate_from_anchors",
    "fit_irt_2pl",
    "flips",
    "holm",
    "item_analysis",
    "kendall_tau_b",
    "kmeans",
    "mean_ci",
    "minimum_detectable_effect",
    "monotonicity",
    "paired_test",
    "position_bias",
    "power",
    "power_analysis",
    "response_matrix",
    "sample_size",
    "two_way_anova",
    "variance_decomposition",
    "wilson_ci",
]
