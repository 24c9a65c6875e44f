"""Label-free metrics of a model's answer distributions over a set of prompts: Matrix
Nuclear-Norm and Matrix Entropy.

The matrix. For n multiple-choice samples of one run, A ∈ ℝ^{n×C} holds in row i the model's
distribution over the answer *positions* as shown (A, B, C, ...): a_i = softmax(ℓ_i) of the
per-choice log-likelihoods ℓ_i the runner stores (``choice_logprobs``); a sample with fewer
than C choices has zeros in the missing columns. No label is used. D = min(n, C).

**Matrix Nuclear-Norm** (Li, Xia, Chang & Wu, "Large Language Model Evaluation via Matrix
Nuclear-Norm", 2024, after Cui et al.'s batch nuclear-norm, CVPR 2020 / TPAMI 2021). The
nuclear norm ‖A‖_* = Σ_k σ_k(A) is large when the predictions are both confident
(discriminable) and spread over the positions (diverse). Li et al. replace the SVD by the
L1,2-norm approximation Σ_{j ∈ top D} ‖A_{:,j}‖₂ (the D largest column norms; O(nC), no SVD).
assay reports both on one scale, divided by √(n·D), the largest value a row-stochastic matrix
can reach (‖A‖_* ≤ √D‖A‖_F ≤ √(nD)): in (0, 1], 1 for confident answers spread evenly over the
positions, 1/√C for confident answers all at one position; uniform distributions give 1/C
exactly but 1/√C in the L1,2 form, which is tight only when the columns are near orthogonal
(near one-hot rows: confident answers). (Li et al. apply it to centred, row-normalised hidden
states divided by the number of tokens, where lower means better compression; on answer
distributions, as in batch nuclear-norm maximisation, higher is more discriminable and diverse.)

**Matrix Entropy** (Wei et al., "Large Language Model Evaluation via Matrix Entropy", 2024):
the von Neumann entropy of K = AᵀA / tr(AᵀA), H = −Σ λ_k log λ_k / log D over the eigenvalues
λ of K (divided by log D here, so in [0, 1]: 0 for rank one, 1 for an even spread over D
directions).

Per-sample pseudo-values. Each metric is a smooth function θ = g(M) of a mean over samples,
M = (1/n) Σ_i x_i (x_i = a_i ⊙ a_i for the L1,2 form, a_i a_iᵀ otherwise), so each sample gets
v_i = g(M) + ⟨∇g(M), x_i − M⟩: mean(v) = θ exactly and the standard error of mean(v) is the
delta-method one (the top-D columns and the null space held fixed). Stored as ordinary
per-sample metrics, they give θ clustered intervals and paired tests like any other metric.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assay.errors import InputError

__all__ = [
    "choice_matrix",
    "label_free_values",
    "matrix_entropy",
    "matrix_nuclear_norm",
]

_TINY = 1e-12


def choice_matrix(logprobs: Sequence[Sequence[float]]) -> np.ndarray:
    """A (n × C) row-stochastic matrix: softmax of each sample's per-choice log-likelihoods,
    zero-padded to the most choices of any sample."""
    rows = [np.asarray(r, dtype=float) for r in logprobs]
    if not rows or any(r.ndim != 1 or r.size == 0 or not np.isfinite(r).all() for r in rows):
        raise InputError("choice log-likelihoods: a non-empty list of finite numbers per sample")
    width = max(r.size for r in rows)
    ll = np.full((len(rows), width), -np.inf)
    for i, r in enumerate(rows):  # ragged input: one copy per sample
        ll[i, : r.size] = r
    ll -= ll.max(axis=1, keepdims=True)
    p = np.exp(ll)
    return p / p.sum(axis=1, keepdims=True)


def _check(a) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    if a.ndim != 2 or 0 in a.shape or not np.isfinite(a).all():
        raise InputError("expected a non-empty 2-d matrix of finite numbers")
    return a


def matrix_nuclear_norm(a, *, exact: bool = False) -> float:
    """‖A‖_* / √(nD) (``exact``: the sum of singular values) or, by default, its L1,2
    approximation Σ_{top D} ‖A_{:,j}‖₂ / √(nD) (module docstring)."""
    a = _check(a)
    n, c = a.shape
    d = min(n, c)
    if exact:
        return float(np.linalg.svd(a, compute_uv=False).sum() / np.sqrt(n * d))
    norms = np.sqrt((a * a).sum(axis=0))
    return float(np.sort(norms)[::-1][:d].sum() / np.sqrt(n * d))


def _eig(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, vectors = np.linalg.eigh((m + m.T) / 2)
    return np.clip(values, 0.0, None), vectors


def matrix_entropy(a) -> float:
    """−Σ λ log λ / log D over the eigenvalues of AᵀA / tr(AᵀA) (module docstring); 0 when
    D = 1."""
    a = _check(a)
    d = min(a.shape)
    if d < 2:
        return 0.0
    lam, _ = _eig(a.T @ a)
    lam = lam / lam.sum()
    lam = lam[lam > _TINY]
    return float(-(lam * np.log(lam)).sum() / np.log(d))


def label_free_values(a, metric: str) -> np.ndarray:
    """Per-row pseudo-values v_i whose mean is ``metric`` of ``a`` (``matrix_nuclear_norm``:
    the L1,2 form; ``matrix_nuclear_norm_exact``; ``matrix_entropy``) and whose standard error
    is the delta-method one (module docstring)."""
    a = _check(a)
    n, c = a.shape
    d = min(n, c)
    if metric == "matrix_nuclear_norm":
        x = a * a
        m = x.mean(axis=0)
        top = np.argsort(-m, kind="stable")[:d]
        theta = np.sqrt(m[top]).sum() / np.sqrt(d)
        grad = np.zeros(c)
        live = top[m[top] > _TINY]
        grad[live] = 0.5 / np.sqrt(m[live] * d)
        return theta + (x - m) @ grad
    lam, vec = _eig(a.T @ a / n)  # M = (1/n) Σ a_i a_iᵀ
    live = lam > _TINY * max(lam.max(), _TINY)
    proj = a @ vec[:, live]  # a_i in M's eigenbasis
    if metric == "matrix_nuclear_norm_exact":
        root = np.sqrt(lam[live])
        theta = root.sum() / np.sqrt(d)
        # d tr(M^½) = ½ tr(M^-½ dM): v_i = θ + (a_iᵀ M^-½ a_i − tr M^½) / (2√D)
        return theta + ((proj**2) @ (1 / root) - root.sum()) / (2 * np.sqrt(d))
    if metric == "matrix_entropy":
        if d < 2:
            return np.zeros(n)
        t = lam.sum()
        k = lam[live] / t
        log_d = np.log(d)
        h = -(k * np.log(k)).sum() / log_d
        # dH = −[tr(log K dM) + H log D tr(dM)] / (t log D), dM = a_i a_iᵀ − M
        quad = (proj**2) @ np.log(k) - (lam[live] * np.log(k)).sum()
        norm2 = (a * a).sum(axis=1) - t
        return h - (quad + h * log_d * norm2) / (t * log_d)
    raise InputError(f"unknown label-free metric {metric!r}")
