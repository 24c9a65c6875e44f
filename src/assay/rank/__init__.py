"""Leaderboards with honest intervals from battles, judges and incomplete per-sample results.

Bradley–Terry / Davidson / online Elo on pairwise battles (Chatbot Arena), Plackett–Luce, HELM
mean win rate and plain means over per-sample results where each model saw its own subset
(ONEBench), judge tournaments (Varco Arena), and ranking stability (Kendall τ, subsampling).
"""

from ._arena import arena_ratings, battle_counts
from ._battles import (
    PairCounts,
    aggregate_battles,
    battle_ids,
    import_battles,
    read_battles,
    store_battles,
)
from ._elo import online_elo
from ._pairwise import ELO_PER_LOGIT, fit_battles, fit_counts
from ._ratings import Ratings, rank_distribution, rank_intervals
from ._samples import rank_samples
from ._stability import KendallTau, kendall_tau, subsample_curve
from ._tournament import Judge, ModelJudge, TournamentResult, read_outputs, run_tournament

__all__ = [
    "ELO_PER_LOGIT",
    "Judge",
    "KendallTau",
    "ModelJudge",
    "PairCounts",
    "Ratings",
    "TournamentResult",
    "aggregate_battles",
    "arena_ratings",
    "battle_counts",
    "battle_ids",
    "fit_battles",
    "fit_counts",
    "import_battles",
    "kendall_tau",
    "online_elo",
    "rank_distribution",
    "rank_intervals",
    "rank_samples",
    "read_battles",
    "read_outputs",
    "run_tournament",
    "store_battles",
    "subsample_curve",
]
