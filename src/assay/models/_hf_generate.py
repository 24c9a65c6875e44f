"""Batched greedy decoding with a KV cache, incremental stop strings and early exit of rows.

One batch of left-padded prompts is prefilled once (``lm_head`` only at the last position),
then decoded one token per step from the cache. After every step each live row's newest
tokens are decoded (only the tail that can hold a stop string) and checked for its stop
strings; a row that produced a stop string, an end-of-sequence token or its token budget
leaves the batch at once — its rows are dropped from the cache, the attention mask and the
positions, so later steps cost only the live rows. Greedy choice is ``argmax`` of the last
logits, as in transformers' ``generate(do_sample=False)`` and lm-eval's ``generate_until``;
the text is then cut at the first stop string exactly as lm-eval does.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any


class StopStrings:
    """Per-row stop strings, checked on the decoded tail of a row's newest tokens.

    A stop string of ``c`` characters that ends in the newest token spans at most ``c``
    tokens, so decoding the last ``c + 4`` tokens finds it; a tail hit is confirmed on the
    row's full text (tail decoding can lose a leading space with some tokenizers).
    """

    def __init__(self, tokenizer: Any, stops: Sequence[Sequence[str]]):
        self.tokenizer = tokenizer
        self.stops = [tuple(s for s in row if s) for row in stops]
        self.window = [max((len(s) for s in row), default=0) + 4 for row in self.stops]

    def hit(self, row: int, tokens: list[int]) -> bool:
        """Whether row ``row``'s generated ``tokens`` now contain one of its stop strings."""
        stops = self.stops[row]
        if not stops:
            return False
        tail = self.tokenizer.decode(tokens[-self.window[row] :], skip_special_tokens=True)
        if not any(s in tail for s in stops):
            return False
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        return any(s in text for s in stops)


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the first occurrence of any stop string (lm-eval's ``split(term)[0]``)."""
    cut = min((text.index(s) for s in stops if s and s in text), default=None)
    return (text, False) if cut is None else (text[:cut], True)


def greedy_decode(
    model: Any,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    pad_id: int,
    eos_ids: Collection[int],
    stopper: StopStrings | None = None,
) -> tuple[list[list[int]], int]:
    """Greedy continuations (token ids, without the end token) of one batch of prompts.

    Returns the continuations and the number of decoding steps (forward passes after the
    prefill). Every row sees exactly its own prompt: left padding is masked, position ids
    count only real tokens (``cumsum(mask) - 1``), as transformers' ``generate`` does.
    """
    import torch
    from transformers import DynamicCache

    device = next(model.parameters()).device
    batch, width = len(prompts), max(len(p) for p in prompts)
    ids = torch.full((batch, width), pad_id, dtype=torch.long)
    mask = torch.zeros((batch, width), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p) :] = torch.tensor(list(p), dtype=torch.long)
        mask[i, width - len(p) :] = 1
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    ids, mask, positions = ids.to(device), mask.to(device), positions.to(device)
    eos = set(eos_ids)
    generated: list[list[int]] = [[] for _ in range(batch)]
    alive = list(range(batch))  # original row of each live batch row
    cache = DynamicCache()
    steps = 0
    with torch.inference_mode():
        logits = model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        ).logits[:, -1]
        next_pos = positions[:, -1:] + 1
        for step in range(max_new_tokens):
            tokens = logits.argmax(dim=-1)
            keep = []
            for j, (row, token) in enumerate(zip(alive, tokens.tolist(), strict=True)):
                if token in eos:
                    continue
                generated[row].append(token)
                if stopper is None or not stopper.hit(row, generated[row]):
                    keep.append(j)
            if not keep or step == max_new_tokens - 1:
                break
            if len(keep) < len(alive):  # early exit: finished rows leave cache and batch
                index = torch.tensor(keep, device=device)
                cache.batch_select_indices(index)
                mask, next_pos, tokens = mask[index], next_pos[index], tokens[index]
                alive = [alive[j] for j in keep]
            mask = torch.cat([mask, mask.new_ones((len(alive), 1))], dim=1)
            logits = model(
                input_ids=tokens[:, None],
                attention_mask=mask,
                position_ids=next_pos,
                cache=cache,
                use_cache=True,
            ).logits[:, -1]
            next_pos = next_pos + 1
            steps += 1
    return generated, steps
