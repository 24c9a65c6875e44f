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

#: each public name -> the private module that defines it. A name is imported when first
#: used (PEP 562), so ``from assay.stats import compare`` loads compare's modules only, not
#: SciPy's distributions and optimisers the other analyses import (a second of a command's
#: start-up).
_WHERE = {
    "AdaptiveResult": "_adaptive",
    "adaptive_test": "_adaptive",
    "AnchorEstimate": "_anchors",
    "AnchorPoints": "_anchors",
    "ItemReport": "_anchors",
    "anchor_points": "_anchors",
    "estimate_from_anchors": "_anchors",
    "item_report": "_anchors",
    "PositionBias": "_bias",
    "position_bias": "_bias",
    "BreakdownResult": "_breakdown",
    "breakdown": "_breakdown",
    "document_groups": "_breakdown",
    "read_groups": "_breakdown",
    "CalibrationComparison": "_calibration",
    "CalibrationResult": "_calibration",
    "calibration": "_calibration",
    "calibration_points": "_calibration",
    "calibration_scores": "_calibration",
    "compare_calibration": "_calibration",
    "chance_levels": "_chance",
    "chance_test": "_chance",
    "chance_tests": "_chance",
    "headline_chance": "_chance",
    "OrderStability": "_checkpoints",
    "checkpoint_scores": "_checkpoints",
    "order_stability": "_checkpoints",
    "AdjustmentFamily": "_compare",
    "Comparison": "_compare",
    "compare": "_compare",
    "EfficiencyResult": "_efficiency",
    "check_prices": "_efficiency",
    "efficiency": "_efficiency",
    "read_prices": "_efficiency",
    "BootstrapResult": "_estimators",
    "MeanEstimate": "_estimators",
    "bootstrap_ci": "_estimators",
    "clustered_se": "_estimators",
    "mean_ci": "_estimators",
    "wilson_ci": "_estimators",
    "Fairness": "_fairness",
    "fairness": "_fairness",
    "FlipResult": "_flips",
    "flips": "_flips",
    "pooled_mean": "_groups",
    "IRT2PL": "_items",
    "ItemAnalysis": "_items",
    "fit_irt_2pl": "_items",
    "item_analysis": "_items",
    "response_matrix": "_items",
    "PairedResult": "_paired",
    "adjust_pvalues": "_paired",
    "paired_test": "_paired",
    "PowerResult": "_power",
    "VarianceComponents": "_power",
    "estimate_components": "_power",
    "minimum_detectable_effect": "_power",
    "power": "_power",
    "power_analysis": "_power",
    "power_from_scores": "_power",
    "sample_size": "_power",
    "ReliabilityResult": "_reliability",
    "reliability": "_reliability",
    "Robustness": "_robustness",
    "robustness": "_robustness",
    "DECISIONS": "_sequential",
    "ConfidenceSequence": "_sequential",
    "SequentialResult": "_sequential",
    "confidence_sequence": "_sequential",
    "sequential_test": "_sequential",
    "MonotonicityResult": "_variance",
    "VarianceResult": "_variance",
    "monotonicity": "_variance",
    "variance_decomposition": "_variance",
    "VariantDifferences": "_variants",
    "variant_differences": "_variants",
    "PairVerdict": "_verdict",
    "Verdict": "_verdict",
    "one_change_pairs": "_verdict",
    "verdict": "_verdict",
}


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
