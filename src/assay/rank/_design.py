"""Which sparse-ranking method the data's design supports (``rank_samples(method="auto")``).

The Rasch fit (``irt``) uses every sample, even one a single model saw, but only through a
prior on its difficulty: b_s ~ N(μ_task, τ²). That prior is right when, within a task, which
model saw which sample is unrelated to the sample's difficulty — each model a random share of
the task (ONEBench's random subsampling), or all of it. When models saw different *slices*
of a task (a model run on the hard half, another on the easy half), a slice's difficulty is
confounded with who saw it, and shrinking its samples toward the task's mean difficulty
pulls the abilities of the models that saw the hard slice down. Plackett–Luce by rank
breaking (``pl``) compares models only on samples both saw — on 0/1 scores it is the pairwise
conditional likelihood of the same Rasch model, in which difficulties cancel — so it needs no
assumption about who saw what, at the price of dropping samples one model saw.

The check: within each task (the prior's group), for every pair of models that both have
samples of it, the number of samples both saw, O_ij, against its expectation when each model's
samples are a random subset of the task's, E_ij = n_i n_j / S, with the hypergeometric variance
V_ij = n_i n_j (S − n_i)(S − n_j) / (S² (S − 1)). The dispersion D = mean (O − E)² / V over
pairs is about 1 under random subsets and above it when models saw different slices. Its null
distribution comes from the data: each model's samples of each task redrawn at random
(``_PERMUTATIONS`` times, seeded; the counts per model and task kept). ``auto`` picks ``irt``
when every score is in [0, 1] and D ≤ the null mean + max(4 null sd, 0.05), else ``pl``.
"""

from __future__ import annotations

import numpy as np

__all__: list[str] = []


_PERMUTATIONS = 10


def overlap_dispersion(present: np.ndarray, groups: np.ndarray) -> tuple[float, int]:
    """(D, P): the mean (O − E)²/V over the P model pairs (within each group of columns) with
    V > 0; NaN and 0 when no pair has any freedom (every model saw all of each group)."""
    total, pairs = 0.0, 0
    for g in np.unique(groups):
        cols = present[:, groups == g].astype(np.float32)
        s = cols.shape[1]
        n = cols.sum(axis=1)
        cols, n = cols[n > 0], n[n > 0]
        if s < 2 or len(n) < 2:
            continue
        both = cols @ cols.T
        iu, ju = np.triu_indices(len(n), 1)
        ni, nj = n[iu], n[ju]
        expect = ni * nj / s
        var = ni * nj * (s - ni) * (s - nj) / (s * s * (s - 1))
        ok = var > 1e-12
        total += float(np.sum((both[iu, ju][ok] - expect[ok]) ** 2 / var[ok]))
        pairs += int(ok.sum())
    return (total / pairs if pairs else float("nan")), pairs


def choose_method(values: np.ndarray, groups: np.ndarray) -> tuple[str, dict]:
    """("irt" or "pl", the evidence): see the module docstring."""
    present = ~np.isnan(values)
    x = values[present]
    if x.size and (x.min() < 0 or x.max() > 1):
        return "pl", {"reason": "scores outside [0, 1]: the Rasch model does not apply"}
    d, pairs = overlap_dispersion(present, groups)
    limit = float("nan")
    if pairs:
        rng = np.random.default_rng(0)
        null = np.empty(_PERMUTATIONS)
        for r in range(_PERMUTATIONS):  # each model's samples of each task redrawn at random
            shuffled = present.copy()
            for g in np.unique(groups):
                cols = groups == g
                shuffled[:, cols] = rng.permuted(present[:, cols], axis=1)
            null[r] = overlap_dispersion(shuffled, groups)[0]
        limit = float(null.mean() + max(4 * null.std(ddof=1), 0.05))
    evidence = {
        "overlap_dispersion": None if np.isnan(d) else round(d, 3),
        "dispersion_limit": None if np.isnan(limit) else round(limit, 3),
        "model_pairs": pairs,
    }
    if np.isfinite(d) and d > limit:
        reason = (
            f"within tasks, models saw different slices (overlap dispersion {d:.1f} > "
            f"{limit:.2f}): difficulty may be confounded with who saw what"
        )
        return "pl", {"reason": reason, **evidence}
    reason = "within tasks, each model's samples look like a random share (or all) of the task"
    return "irt", {"reason": reason, **evidence}
