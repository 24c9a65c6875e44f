"""Leaderboards with honest intervals from battles, judges and incomplete per-sample results.

Bradley–Terry / Davidson / online Elo on pairwise battles (Chatbot Arena), Plackett–Luce, HELM
mean win rate and plain means over per-sample results where each model saw its own subset
(ONEBench), judge tournaments (Varco Arena), and ranking stability (Kendall τ, subsampling).
"""

from ._arena import arena_groups, arena_ratings, battle_counts
from ._battle_stream import CompactBattles
from ._battles import (
    EXTRA_FIELDS,
    PairCounts,
    aggregate_battles,
    battle_blocks,
    battle_ids,
    import_battles,
    read_battles,
    store_battles,
)
from ._elo import online_elo
from ._fragility import Fragility, fragility
from ._judge import (
    ModelRater,
    Rater,
    judge_name,
    judge_pairs,
    judged_battles,
    judged_from_battles,
    rate_outputs,
    rating_battles,
    store_judged,
)
from ._judge_agreement import Kappa, SelfPreference, cohen_kappa, judge_agreement, self_preference
from ._judge_stats import (
    LengthControlled,
    PositionConsistency,
    RatingSummary,
    lc_win_rate,
    mean_ratings,
    position_consistency,
)
from ._pairwise import (
    ARENA_BOOTSTRAP,
    CI_METHODS,
    ELO_BOOTSTRAP,
    ELO_PER_LOGIT,
    fit_battles,
    fit_counts,
)
from ._ratings import Ratings, rank_distribution, rank_intervals
from ._samples import rank_sample_groups, rank_samples, sample_groups
from ._stability import KendallTau, kendall_tau, subsample_curve
from ._style import StyleFit, fit_style, style_design, text_style
from ._style_compare import StyleComparison, style_comparison, styled_battles
from ._styled import fit_style_battles
from ._tournament import Judge, ModelJudge, TournamentResult, read_outputs, run_tournament

__all__ = [
    "ARENA_BOOTSTRAP",
    "CI_METHODS",
    "EXTRA_FIELDS",
    "Fragility",
    "StyleComparison",
    "StyleFit",
    "fit_style",
    "fit_style_battles",
    "fragility",
    "style_comparison",
    "style_design",
    "styled_battles",
    "text_style",
    "ELO_BOOTSTRAP",
    "ELO_PER_LOGIT",
    "Judge",
    "Kappa",
    "KendallTau",
    "LengthControlled",
    "ModelJudge",
    "ModelRater",
    "PairCounts",
    "PositionConsistency",
    "Rater",
    "RatingSummary",
    "Ratings",
    "SelfPreference",
    "TournamentResult",
    "aggregate_battles",
    "arena_groups",
    "arena_ratings",
    "battle_counts",
    "battle_ids",
    "cohen_kappa",
    "fit_battles",
    "fit_counts",
    "import_battles",
    "battle_blocks",
    "CompactBattles",
    "judge_agreement",
    "judge_name",
    "judge_pairs",
    "judged_battles",
    "judged_from_battles",
    "kendall_tau",
    "lc_win_rate",
    "online_elo",
    "mean_ratings",
    "position_consistency",
    "rank_distribution",
    "rank_intervals",
    "rank_sample_groups",
    "rank_samples",
    "rate_outputs",
    "rating_battles",
    "read_battles",
    "read_outputs",
    "run_tournament",
    "sample_groups",
    "self_preference",
    "store_battles",
    "store_judged",
    "subsample_curve",
]
