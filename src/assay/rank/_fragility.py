"""How fragile is the leader: the fewest votes whose removal changes who is ranked first.

Broderick, Giordano & Meager's approximate maximum influence perturbation (AMIP), applied to
Bradley–Terry: removing one vote of pair (i, j) with outcome o moves the log-strengths by
about −H⁺ x s, where x = e_i − e_j, s = ∂ log P(o) / ∂(θ_i − θ_j) (1 − p, −p or ½ − p, ties
as half wins) and H⁺ the pseudo-inverse of the Hessian at the fit. Votes of one
(pair, outcome) cell share that influence, so for every contrast "a top model u stays above an
outsider v" the most damaging votes are whole cells, taken in order of influence until the
predicted margin θ_u − θ_v turns negative; the contrast needing the fewest votes wins.

The prediction is only linear, so every set is **confirmed by refitting without it**: when
the refit has not changed the top, the influence is recomputed at the refit and more votes are
taken; once it has, the smallest prefix of the removal order that still changes the top is
found by bisection, and single votes are dropped while the change survives (fewer votes). A
vote-by-vote greedy run (re-linearised after each removal) is tried as well when the answer is
small, and the smaller confirmed set is kept. A removal that splits the models into groups
never compared is not counted as a change (such a file cannot be ranked as one).

With style control the same search runs on the style-controlled fit: each battle is its own
unit (its covariates make its influence its own), x = (e_a − e_b, z) and H⁺ the covariance of
(θ, β).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

from assay.errors import InputError

from ._battles import battle_cells, battle_outcomes
from ._fit import fit_pairs
from ._style import fit_style, standardise, style_differences

__all__ = ["Fragility", "fragility"]

#: Re-linearisations before giving up, and the size up to which the vote-by-vote greedy runs.
_ROUNDS, _GREEDY_UP_TO = 60, 40
#: Contrasts whose per-unit effects are held at once (units can be millions of battles).
_CONTRASTS = 8
#: A change of the top must beat this margin (logits) so that the file's refit agrees.
_MARGIN = 1e-6


@dataclass
class Fragility:
    """``votes`` removed (None: no set found), their ``vote_ids`` (a row's id repeats when a
    count-table row gives several votes), the top ``top`` models before and after, and the
    first influence estimate of the votes needed."""

    top: int
    votes: int | None
    vote_ids: list[str]
    before: list[str]
    after: list[str]
    estimate: int | None
    n_votes: int

    def to_dict(self) -> dict:
        key = "flip_rank1_votes" if self.top == 1 else f"flip_top{self.top}_votes"
        return {
            key: self.votes,
            "vote_ids": self.vote_ids,
            "top": self.top,
            "before": self.before,
            "after": self.after,
            "influence_estimate": self.estimate,
            "n_votes": self.n_votes,
        }


class _Arena:
    """Cell counts (P, 3) of the compared pairs, with refits and the top after removals."""

    def __init__(self, pi, pj, counts, k, models, top):
        self.pi, self.pj, self.counts, self.k, self.models, self.top = (
            pi,
            pj,
            counts,
            k,
            models,
            top,
        )
        self.fit = fit_pairs(pi, pj, counts, k)
        self.theta0 = self.fit.theta[0]
        self.best = self._top(self.theta0)

    def _top(self, theta):
        order = np.lexsort((np.asarray(self.models), -theta))  # rating, then name (as shown)
        return order[: self.top]

    def refit(self, removed):
        return fit_pairs(self.pi, self.pj, self.counts - removed, self.k, start=self.fit)

    def changed(self, removed, fit=None) -> bool:
        fit = fit or self.refit(removed)
        theta = fit.theta[0]
        kth = np.sort(theta)[-self.top]
        if not (theta[self.best] < kth - _MARGIN).any():
            return False
        left = (self.counts - removed).sum(axis=1) > 0
        graph = sp.coo_matrix(
            (np.ones(left.sum()), (self.pi[left], self.pj[left])), shape=(self.k, self.k)
        )
        return connected_components(graph, directed=False)[0] == 1

    def effects(self, fit):
        """A function (u, outsiders) -> (V, units): the predicted change of θ_u − θ_v when one
        vote of each unit (a (pair, outcome) cell) is removed."""
        theta, cov = fit.theta[0], fit.covariance[: self.k, : self.k]
        d = theta[self.pi] - theta[self.pj]
        p = 1.0 / (1.0 + np.exp(-d))
        score = np.stack([1.0 - p, -p, 0.5 - p], axis=1)  # (P, 3)
        g = cov[:, self.pi] - cov[:, self.pj]  # (K, P): −Δθ per unit of score

        def of(u, outside):
            eff = -(g[u][None, :] - g[outside])[:, :, None] * score[None]  # (V, P, 3)
            return eff.reshape(len(outside), -1)

        return of

    def plan(self, fit, removed):
        """The units (flat indices, one entry per vote) of the cheapest contrast, most
        influential first; empty when no contrast can be reversed."""
        theta = fit.theta[0]
        effects = self.effects(fit)
        inside = self.best
        outside = np.setdiff1d(np.arange(self.k), inside)
        avail = (self.counts - removed).ravel()
        best_votes, best_cells = np.inf, None
        for u in inside:  # contrasts: top K x rest (few), each vectorised over the units
            margins = theta[u] - theta[outside]
            for first in range(0, len(outside), _CONTRASTS):  # blocks bound the memory
                block = outside[first : first + _CONTRASTS]
                effect = effects(u, block)
                for row in range(len(block)):
                    eff = effect[row]
                    order = np.argsort(eff, kind="stable")
                    order = order[(eff[order] < 0) & (avail[order] > 0)]
                    cum = np.cumsum(avail[order] * eff[order])
                    margin = margins[first + row]
                    hit = np.flatnonzero(cum <= -margin)
                    if not len(hit):
                        continue
                    c = hit[0]
                    before = cum[c - 1] if c else 0.0
                    last = max(int(np.ceil((margin + before) / -eff[order[c]])), 1)
                    votes = int(avail[order[:c]].sum()) + last
                    if votes < best_votes:
                        take = np.append(avail[order[:c]], last).astype(np.int64)
                        best_votes, best_cells = votes, np.repeat(order[: c + 1], take)
        return best_cells if best_cells is not None else np.empty(0, dtype=np.int64)

    def removal(self, cells):
        return np.bincount(cells, minlength=self.counts.size).reshape(self.counts.shape)


class _StyleArena(_Arena):
    """Style control: the units are the battles (rows), each with its own covariates, and the
    refits are :func:`fit_style` with the removed votes' weights taken off."""

    def __init__(self, a, b, y, diff, w, models, top):
        self.a, self.b, self.y, self.diff = a, b, y, diff
        self.pi, self.pj, self.counts = a, b, w[:, None].astype(float)
        self.k, self.models, self.top = len(models), models, top
        self.fit = self._fit(self.counts[:, 0])
        self.theta0 = self.fit.theta[0]
        self.best = self._top(self.theta0)

    def _fit(self, w, start=None):
        """Fit with the covariates standardised over the battles left (as a reduced file's
        ranking standardises them)."""
        z = standardise(self.diff, w)
        f = fit_style(self.a, self.b, self.y, z, self.k, weights=w, start=start)
        return SimpleNamespace(theta=f.theta[None], covariance=f.covariance, raw=f, z=z)

    def refit(self, removed):
        return self._fit((self.counts - removed)[:, 0], start=self.fit.raw)

    def effects(self, fit):
        theta, beta, cov, k, z = fit.raw.theta, fit.raw.beta, fit.covariance, self.k, fit.z
        score = self.y - expit(theta[self.a] - theta[self.b] + z @ beta)

        def of(u, outside):
            rows = np.concatenate([[u], outside])
            m = cov[rows][:, self.a] - cov[rows][:, self.b] + cov[rows, k:] @ z.T
            return -(m[0][None, :] - m[1:]) * score[None, :]  # (V, N)

        return of


def _search(arena: _Arena, step_all: bool) -> tuple[np.ndarray | None, int | None]:
    """Votes (cells, in removal order) that change the top, confirmed by refit; the first
    influence estimate. ``step_all``: take the whole planned set each round, else one vote."""
    taken = np.empty(0, dtype=np.int64)
    fit, estimate = arena.fit, None
    for _ in range(_ROUNDS if step_all else _GREEDY_UP_TO):
        cells = arena.plan(fit, arena.removal(taken))
        if not len(cells):
            return None, estimate
        estimate = len(cells) if estimate is None else estimate
        taken = np.concatenate([taken, cells if step_all else cells[:1]])
        fit = arena.refit(arena.removal(taken))
        if arena.changed(arena.removal(taken), fit):
            return taken, estimate
    return None, estimate


def _fewer(arena: _Arena, taken: np.ndarray) -> np.ndarray:
    """The shortest prefix that still changes the top (bisection), then single votes dropped
    while the change survives."""
    lo, hi = 0, len(taken)  # prefix lo does not change the top (lo = 0), prefix hi does
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if arena.changed(arena.removal(taken[:mid])):
            hi = mid
        else:
            lo = mid
    taken = taken[:hi]
    if len(taken) <= _GREEDY_UP_TO:
        i = 0
        while i < len(taken) and len(taken) > 1:
            fewer = np.delete(taken, i)
            if arena.changed(arena.removal(fewer)):
                taken = fewer
            else:
                i += 1
    return taken


def fragility(
    battles: pd.DataFrame,
    *,
    top: int = 1,
    vote_ids: np.ndarray | None = None,
    style_control: bool = False,
) -> Fragility:
    """The fewest votes whose removal changes the top ``top`` models of the Bradley–Terry
    ranking (by rating; ``top=1``: who is ranked first); see the module docstring.
    ``vote_ids``: one id per row (default: the 1-based row number). ``style_control``: of
    the style-controlled ranking (:func:`assay.rank.fit_style`; each battle its own unit)."""
    a, b, outcome, w, models = battle_outcomes(battles)
    k = len(models)
    if not 1 <= top < k:
        raise InputError(f"--fragility {top}: must be between 1 and {k - 1} (the models - 1)")
    row_cell = battle_cells(a, b, outcome, k)
    full = np.bincount(row_cell, weights=w, minlength=k * k * 3).reshape(k * k, 3)
    pair = np.flatnonzero(full.sum(axis=1))
    if style_control:
        diff = style_differences(battles).to_numpy(float)
        y = np.choose(outcome, [1.0, 0.0, 0.5])
        arena = _StyleArena(a, b, y, diff, w.astype(float), models, top)
    else:
        arena = _Arena(pair // k, pair % k, full[pair], k, models, top)
    before = [models[i] for i in arena.best]
    found, estimate = _search(arena, step_all=True)
    if found is not None:
        found = _fewer(arena, found)
    if found is None or len(found) <= _GREEDY_UP_TO:
        greedy, _ = _search(arena, step_all=False)
        if greedy is not None:
            greedy = _fewer(arena, greedy)
            if found is None or len(greedy) < len(found):
                found = greedy
    ids = np.arange(1, len(battles) + 1).astype(str) if vote_ids is None else np.asarray(vote_ids)
    if found is None:
        return Fragility(top, None, [], before, [], estimate, int(w.sum()))
    fit = arena.refit(arena.removal(found))
    after = [models[i] for i in arena._top(fit.theta[0])]
    if style_control:  # units are rows: a row once per vote taken from it
        rows = [str(ids[r]) for r in np.sort(found)]
    else:
        rows = _rows_of(found, pair, row_cell, w, ids)
    return Fragility(top, len(found), rows, before, after, estimate, int(w.sum()))


def _rows_of(cells, pair, row_cell, w, ids) -> list[str]:
    """Ids of the first rows (file order) of each removed cell, a row once per vote it holds."""
    per_cell = np.bincount(cells)
    wanted = np.flatnonzero(per_cell)
    # flat (P, 3) index -> the (K·K, 3) cell code the rows carry
    codes = pair[wanted // 3] * 3 + wanted % 3
    order = np.argsort(row_cell, kind="stable")  # rows grouped by cell, in file order
    starts = np.searchsorted(row_cell[order], codes)
    out: list[str] = []
    for start, need in zip(starts, per_cell[wanted], strict=True):  # the removed cells: few
        rows = order[start : start + need]  # a count row may hold all the votes needed
        take = np.repeat(rows, w[rows].astype(np.int64))[:need]
        out.extend(str(ids[r]) for r in take)
    return out
