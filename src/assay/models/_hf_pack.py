"""Packed scoring of continuations that share a context: one forward per group of choices.

A group is one context with k continuations. Its continuations are merged into a prefix tree
(choices that start with the same tokens share those tokens: " 1234" and " 1243" share " 1",
"2"), and the group is packed into one sequence ``context + trie nodes`` with a tree attention
mask: context tokens attend causally; a trie node attends to the whole context and to its own
ancestors; its position id is ``len(context) + depth``. Every continuation token therefore sees
exactly the inputs it would see in its own ``context + continuation`` sequence, but each
distinct prefix is computed once — the unique-prefix lower bound (up to padding). ``lm_head``
runs only at the positions that predict a continuation token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np


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


def score_groups(
    model, groups: Sequence[PackedGroup], pad_id: int
) -> list[list[tuple[float, bool]]]:
    """(sum log-prob, is_greedy) for every continuation of every group, in one forward pass.

    All groups go into one padded batch; the caller chooses the batch.
    """
    import torch

    layouts = [_layout(g) for g in groups]
    length = max(len(t) for t, *_ in layouts)
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
        picked = hidden[torch.from_numpy(rows_t).to(device), torch.from_numpy(cols_t).to(device)]
        logits = model.get_output_embeddings()(picked).float()
        logprobs = torch.log_softmax(logits, dim=-1)
        target_t = torch.from_numpy(target).to(device)
        token_lp = logprobs.gather(1, target_t[:, None])[:, 0].double().cpu().numpy()
        greedy = (logits.argmax(dim=-1) == target_t).cpu().numpy()
    n_conts = len(owners)
    sums = np.bincount(owner, weights=token_lp, minlength=n_conts)
    all_greedy = np.bincount(owner, weights=~greedy, minlength=n_conts) == 0
    out, k = [], 0
    for g in groups:
        m = len(g.continuations)
        out.append([(float(sums[k + i]), bool(all_greedy[k + i])) for i in range(m)])
        k += m
    return out
