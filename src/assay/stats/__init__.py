"""Statistics for evaluations: error bars, paired comparisons, a job's variants against the
first, power, variance, bias, flips, items, small anchor subsets, anytime-valid confidence
sequences (stop a comparison when decided) and adaptive testing. Inputs are the store's
tidy frames (``Store.evidence().scores``, ``Store.samples()``) or plain arrays, with the store's
metric definitions as ``metrics=`` (``Store.evidence().metrics``; without them, the built-in
registry); results are dataclasses
with ``.to_dict()``."""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what each name is; imported at run time when first asked for
    from ._adaptive import AdaptiveResult, adaptive_test
    from ._anchors import (
        AnchorEstimate,
        AnchorPoints,
        ItemReport,
        anchor_points,
        estimate_from_anchors,
        item_report,
    )
    from ._bias import PositionBias, position_bias
    from ._breakdown import BreakdownResult, breakdown, document_groups, read_groups
    from ._calibration import (
        CalibrationComparison,
        CalibrationResult,
        calibration,
        calibration_points,
        calibration_scores,
        compare_calibration,
    )
    from ._chance import chance_levels, chance_test, chance_tests, headline_chance
    from ._checkpoints import OrderStability, checkpoint_scores, order_stability
    from ._compare import AdjustmentFamily, Comparison, compare
    from ._efficiency import EfficiencyResult, check_prices, efficiency, read_prices
    from ._estimators import (
        BootstrapResult,
        MeanEstimate,
        bootstrap_ci,
        clustered_se,
        mean_ci,
        wilson_ci,
    )
    from ._fairness import Fairness, fairness
    from ._flips import FlipResult, flips
    from ._groups import pooled_mean
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
    from ._reliability import ReliabilityResult, reliability
    from ._robustness import Robustness, robustness
    from ._sequential import (
        DECISIONS,
        ConfidenceSequence,
        SequentialResult,
        confidence_sequence,
        sequential_test,
    )
    from ._variance import (
        MonotonicityResult,
        VarianceResult,
        monotonicity,
        variance_decomposition,
    )
    from ._variants import VariantDifferences, variant_differences
    from ._verdict import PairVerdict, Verdict, one_change_pairs, verdict

#: private module -> the names it gives this package. A name is imported when first used
#: (PEP 562), so ``from assay.stats import compare`` loads compare's modules only, not SciPy's
#: distributions and optimisers the other analyses import (a second of a command's start-up).
_EXPORTS = {
    "_adaptive": ("AdaptiveResult", "adaptive_test"),
    "_anchors": (
        "AnchorEstimate",
        "AnchorPoints",
        "ItemReport",
        "anchor_points",
        "estimate_from_anchors",
        "item_report",
    ),
    "_bias": ("PositionBias", "position_bias"),
    "_breakdown": ("BreakdownResult", "breakdown", "document_groups", "read_groups"),
    "_calibration": (
        "CalibrationComparison",
        "CalibrationResult",
        "calibration",
        "calibration_points",
        "calibration_scores",
        "compare_calibration",
    ),
    "_chance": ("chance_levels", "chance_test", "chance_tests", "headline_chance"),
    "_checkpoints": ("OrderStability", "checkpoint_scores", "order_stability"),
    "_compare": ("AdjustmentFamily", "Comparison", "compare"),
    "_efficiency": ("EfficiencyResult", "check_prices", "efficiency", "read_prices"),
    "_estimators": (
        "BootstrapResult",
        "MeanEstimate",
        "bootstrap_ci",
        "clustered_se",
        "mean_ci",
        "wilson_ci",
    ),
    "_fairness": ("Fairness", "fairness"),
    "_flips": ("FlipResult", "flips"),
    "_groups": ("pooled_mean",),
    "_items": ("IRT2PL", "ItemAnalysis", "fit_irt_2pl", "item_analysis", "response_matrix"),
    "_paired": ("PairedResult", "adjust_pvalues", "paired_test"),
    "_power": (
        "PowerResult",
        "VarianceComponents",
        "estimate_components",
        "minimum_detectable_effect",
        "power",
        "power_analysis",
        "power_from_scores",
        "sample_size",
    ),
    "_reliability": ("ReliabilityResult", "reliability"),
    "_robustness": ("Robustness", "robustness"),
    "_sequential": (
        "DECISIONS",
        "ConfidenceSequence",
        "SequentialResult",
        "confidence_sequence",
        "sequential_test",
    ),
    "_variance": ("MonotonicityResult", "VarianceResult", "monotonicity", "variance_decomposition"),
    "_variants": ("VariantDifferences", "variant_differences"),
    "_verdict": ("PairVerdict", "Verdict", "one_change_pairs", "verdict"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


__all__ = [
    "AdaptiveResult",
    "DECISIONS",
    "IRT2PL",
    "AdjustmentFamily",
    "AnchorEstimate",
    "AnchorPoints",
    "BootstrapResult",
    "BreakdownResult",
    "CalibrationComparison",
    "CalibrationResult",
    "Comparison",
    "ConfidenceSequence",
    "EfficiencyResult",
    "Fairness",
    "FlipResult",
    "ItemAnalysis",
    "ItemReport",
    "MeanEstimate",
    "MonotonicityResult",
    "OrderStability",
    "PairVerdict",
    "PairedResult",
    "PositionBias",
    "PowerResult",
    "ReliabilityResult",
    "Robustness",
    "SequentialResult",
    "VarianceComponents",
    "VarianceResult",
    "VariantDifferences",
    "Verdict",
    "adaptive_test",
    "adjust_pvalues",
    "anchor_points",
    "bootstrap_ci",
    "breakdown",
    "calibration",
    "chance_levels",
    "chance_test",
    "chance_tests",
    "calibration_points",
    "calibration_scores",
    "check_prices",
    "checkpoint_scores",
    "clustered_se",
    "compare",
    "compare_calibration",
    "confidence_sequence",
    "document_groups",
    "efficiency",
    "estimate_components",
    "estimate_from_anchors",
    "fairness",
    "fit_irt_2pl",
    "headline_chance",
    "flips",
    "item_analysis",
    "item_report",
    "mean_ci",
    "pooled_mean",
    "minimum_detectable_effect",
    "monotonicity",
    "one_change_pairs",
    "order_stability",
    "paired_test",
    "position_bias",
    "power",
    "power_analysis",
    "power_from_scores",
    "read_groups",
    "read_prices",
    "reliability",
    "response_matrix",
    "robustness",
    "sample_size",
    "sequential_test",
    "variance_decomposition",
    "variant_differences",
    "verdict",
    "wilson_ci",
]
