"""Packed scoring of continuations that share a context: one forward per group of choices.

A group is one context with k continuations. Its continuations are merged into a prefix tree
(choices that start with the same tokens share those tokens: " 1234" and " 1243" share " 1",
"2"), and the group is packed into one sequence ``context + trie nodes`` with a tree attention
mask: context tokens attend causally; a trie node attends to the whole context and to its own
ancestors; its position id is ``len(context) + depth``. Every continuation token therefore sees
exactly the inputs it would see in its own ``context + continuation`` sequence, but each
distinct prefix is computed once — the unique-prefix lower bound (up to padding). ``lm_head``
and its log-normaliser run once per distinct position that predicts a continuation token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

ROW_ALIGN = 16
"""Padded width multiple: CPU GEMMs round rows of a partial 16-row block differently."""


@dataclass(frozen=True)
class PackedGroup:
    """One context (token ids) and the continuations (token ids) scored against it."""

    context: tuple[int, ...]
    continuations: tuple[tuple[int, ...], ...]

    @cached_property
    def length(self) -> int:
        """Packed length: the context plus the distinct continuation prefixes."""
        prefixes = {c[:k] for c in self.continuations for k in range(1, len(c) + 1)}
        return len(self.context) + len(prefixes)


def _layout(group: PackedGroup):
    """Token ids, position ids and the allowed-attention matrix of a packed group, and for
    each continuation the packed indices of the hidden states predicting its tokens."""
    ctx_len = len(group.context)
    nodes: dict[tuple[int, ...], int] = {}  # continuation prefix -> packed index
    parents: list[int] = []
    for cont in group.continuations:
        for k in range(1, len(cont) + 1):
            if cont[:k] not in nodes:
                nodes[cont[:k]] = ctx_len + len(parents)
                parents.append(nodes[cont[: k - 1]] if k > 1 else -1)
    n = ctx_len + len(parents)
    tokens = np.array([*group.context, *(p[-1] for p in nodes)], dtype=np.int64)
    depth = np.array([len(p) - 1 for p in nodes], dtype=np.int64)
    positions = np.concatenate([np.arange(ctx_len), ctx_len + depth])
    allowed = np.zeros((n, n), bool)
    allowed[:, :ctx_len] = np.tri(n, ctx_len, dtype=bool)  # context: causal, seen by all nodes
    for i, parent in enumerate(parents):  # a node sees itself and its parent's ancestors
        row = ctx_len + i
        allowed[row, row] = True
        if parent >= 0:
            allowed[row, ctx_len:] |= allowed[parent, ctx_len:]
    predictors = [
        np.array([ctx_len - 1] + [nodes[c[:k]] for k in range(1, len(c))], dtype=np.int64)
        for c in group.continuations
    ]
    return tokens, positions, allowed, predictors


def _block_mask(allowed: np.ndarray, length: int) -> np.ndarray:
    """bool (length, length): query q may attend key k. Padding rows attend to themselves."""
    n = len(allowed)
    mask = np.zeros((length, length), bool)
    mask[:n, :n] = allowed
    pad = np.arange(n, length)
    mask[pad, pad] = True
    return mask


def _aligned_rows(where: np.ndarray, inverse: np.ndarray, length: int, batch: int):
    """Each group's distinct predicting positions padded (repeating its last) to a multiple of
    ROW_ALIGN, so lm_head's GEMM rounds a group's rows the same whatever shares its batch;
    returns the padded positions and ``inverse`` remapped into them."""
    group = where // length
    counts = np.bincount(group, minlength=batch)
    padded = -(-counts // ROW_ALIGN) * ROW_ALIGN
    old_start = np.cumsum(counts) - counts
    new_start = np.cumsum(padded) - padded
    moved = np.arange(len(where)) - old_start[group] + new_start[group]
    out = np.repeat(where[np.maximum(old_start + counts - 1, 0)], padded)
    out[moved] = where
    return out, moved[inverse]


def score_groups(
    model, groups: Sequence[PackedGroup], pad_id: int
) -> list[list[tuple[float, bool]]]:
    """(sum log-prob, is_greedy) for every continuation of every group, in one forward pass.

    All groups go into one padded batch; the caller chooses the batch.
    """
    import torch

    layouts = [_layout(g) for g in groups]
    # Width rounded up to ROW_ALIGN: every group's rows start on a GEMM row block, so its
    # numbers do not depend on the batch it shares (measured: exact on CPU float32).
    length = -(-max(len(t) for t, *_ in layouts) // ROW_ALIGN) * ROW_ALIGN
    batch = len(groups)
    ids = np.full((batch, length), pad_id, np.int64)
    pos = np.zeros((batch, length), np.int64)
    mask = np.zeros((batch, 1, length, length), bool)
    rows, cols, targets, owners = [], [], [], []
    for b, (tokens, positions, allowed, predictors) in enumerate(layouts):
        n = len(tokens)
        ids[b, :n] = tokens
        pos[b, :n] = positions
        pos[b, n:] = positions[-1] + 1 + np.arange(length - n)
        mask[b, 0] = _block_mask(allowed, length)
        group = groups[b]
        for i, pred in enumerate(predictors):
            rows.append(np.full(len(pred), b))
            cols.append(pred)
            targets.append(np.asarray(group.continuations[i], np.int64))
            owners.append(np.full(len(pred), len(owners)))
    rows_t, cols_t = np.concatenate(rows), np.concatenate(cols)
    target = np.concatenate(targets)
    owner = np.concatenate(owners)

    device = next(model.parameters()).device
    attn = torch.from_numpy(mask).to(device)
    if getattr(model.config, "_attn_implementation", "sdpa") not in ("sdpa", "flash_attention_2"):
        dtype = next(model.parameters()).dtype
        attn = torch.zeros(mask.shape, dtype=dtype, device=device).masked_fill_(
            ~attn, torch.finfo(dtype).min
        )
    with torch.inference_mode():
        hidden = model.base_model(
            input_ids=torch.from_numpy(ids).to(device),
            attention_mask=attn,
            position_ids=torch.from_numpy(pos).to(device),
            use_cache=False,
        ).last_hidden_state
        # lm_head and log_softmax once per distinct predicting position: choices that share
        # a prefix (all of them share the context's last position) share these rows
        where, inverse = np.unique(rows_t * length + cols_t, return_inverse=True)
        where, inverse = _aligned_rows(where, inverse.reshape(-1), length, batch)
        picked = hidden.reshape(batch * length, -1)[torch.from_numpy(where).to(device)]
        logits = model.get_output_embeddings()(picked).float()
        logprobs = torch.log_softmax(logits, dim=-1)  # not logits - logsumexp: ~1e-5 off
        best = logits.argmax(dim=-1)
        inverse_t = torch.from_numpy(inverse.reshape(-1)).to(device)
        target_t = torch.from_numpy(target).to(device)
        token_lp = logprobs[inverse_t, target_t].double().cpu().numpy()
        greedy = (best[inverse_t] == target_t).cpu().numpy()
    n_conts = len(owners)
    sums = np.bincount(owner, weights=token_lp, minlength=n_conts)
    all_greedy = np.bincount(owner, weights=~greedy, minlength=n_conts) == 0
    out, k = [], 0
    for g in groups:
        m = len(g.continuations)
        out.append([(float(sums[k + i]), bool(all_greedy[k + i])) for i in range(m)])
        k += m
    return out
