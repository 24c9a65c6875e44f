"""The worked example of docs/rank.md (style control, sandwich intervals, fragility).

Writes a seeded arena of 3,000 battles among four models to FILE (default
/tmp/arena_example.jsonl): `verbose` is as strong as `steady` but writes answers three times
as long (lognormal lengths), and voters prefer longer answers (+0.5 logit per SD of the normalised length
difference). Each battle has `id`, `style_a` / `style_b` = {"tokens": ..., "bold": ...}.
Then prints what assay finds, beside the truth.

    python benchmarks/arena_example.py [FILE]
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
from scipy.special import expit

from assay.rank import fit_battles, fragility

MODELS = np.array(["steady", "verbose", "small", "tiny"])
STRENGTH = np.array([0.5, 0.5, 0.0, -0.5])  # logits
TOKENS = np.array([200, 600, 200, 150])
LENGTH_EFFECT = 0.5


def simulate(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, n)
    b = (a + rng.integers(1, 4, n)) % 4
    # lengths vary a lot within a model too: otherwise length and model cannot be told apart
    ta = np.round(rng.lognormal(np.log(TOKENS[a]), 0.8)).astype(int)
    tb = np.round(rng.lognormal(np.log(TOKENS[b]), 0.8)).astype(int)
    bold_a, bold_b = rng.poisson(1.0, n), rng.poisson(1.0, n)
    diff = (ta - tb) / (ta + tb + 1)
    z = (diff - diff.mean()) / diff.std()
    p = expit(STRENGTH[a] - STRENGTH[b] + LENGTH_EFFECT * z)
    winner = np.where(rng.random(n) < p, "model_a", "model_b")
    return pd.DataFrame(
        {
            "id": [f"b{i:04d}" for i in range(n)],
            "model_a": MODELS[a],
            "model_b": MODELS[b],
            "winner": winner,
            "style_a": [
                {"tokens": int(t), "bold": int(x)} for t, x in zip(ta, bold_a, strict=True)
            ],
            "style_b": [
                {"tokens": int(t), "bold": int(x)} for t, x in zip(tb, bold_b, strict=True)
            ],
        }
    )


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/arena_example.jsonl"
    df = simulate()
    with open(path, "w") as out:
        out.writelines(json.dumps(r) + "\n" for r in df.to_dict(orient="records"))
    print(f"wrote {len(df)} battles to {path}")
    raw = fit_battles(df, bootstrap=0)
    styled = fit_battles(df, style_control=True, bootstrap=0)
    print("raw      :", ", ".join(f"{m} {r:.0f}" for m, r in raw.rating.items()))
    print("controlled:", ", ".join(f"{m} {r:.0f}" for m, r in styled.rating.items()))
    truth = 400 / np.log(10) * (STRENGTH - STRENGTH.mean()) + 1000
    print("truth    :", ", ".join(f"{m} {r:.0f}" for m, r in zip(MODELS, truth, strict=True)))
    coef = styled.info["style_coefficients"]
    print(f"style coefficients {coef} (truth: tokens {LENGTH_EFFECT}, bold 0)")
    for label, style in (("style-controlled", True), ("plain Bradley-Terry", False)):
        found = fragility(df, vote_ids=df["id"].to_numpy(), style_control=style)
        print(
            f"fragility, {label}: {found.votes} of {len(df)} votes change the leader "
            f"{found.before} -> {found.after}"
        )


if __name__ == "__main__":
    main()
