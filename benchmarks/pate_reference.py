"""assay's PATE beside the reference implementation's (``pate`` 0.1.1 from PyPI) on the twelve
fixed series of tests/metrics/test_anomaly.py, continuous scores and binary predictions.

``pate`` pins numpy 1.24, pandas 2.0 and scikit-learn 1.3, so it lives in its own environment:

    python -m venv /tmp/pate-env && /tmp/pate-env/bin/pip install pate==0.1.1
    python benchmarks/pate_reference.py /tmp/pate-env/bin/python

prints one row per series: the reference, assay, and their difference (target: below 1e-12).
Without the interpreter argument it prints assay's values alone. Then how much point adjustment
flatters random scores (the example of docs/literature_metrics.md). Seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys

import _support  # noqa: F401  (tests/support on the path)
import numpy as np
from simulations import pate_cases

from assay.metrics import pate, point_adjusted_f1

CASES = pate_cases()  # the series of tests/metrics/test_anomaly.py
REFERENCE = """
import json, sys
import numpy as np
from pate.PATE_metric import PATE
out = []
for c in json.load(sys.stdin):
    y, s = np.array(c["y"]), np.array(c["s"])
    b = (s > np.quantile(s, 0.9)).astype(int)
    out.append([PATE(y, s, e_buffer=c["e"], d_buffer=c["d"]),
                PATE(y, b, e_buffer=c["e"], d_buffer=c["d"], binary_scores=True)])
print(json.dumps(out))
"""


def main() -> None:
    ours = []
    for y, s, e, d in CASES:
        binary = (s > np.quantile(s, 0.9)).astype(int)
        ours.append((pate(y, s, e, d), pate(y, binary, e, d, binary=True)))
    theirs = None
    if len(sys.argv) > 1:
        cases = [{"y": y.tolist(), "s": s.tolist(), "e": e, "d": d} for y, s, e, d in CASES]
        done = subprocess.run(
            [sys.argv[1], "-c", REFERENCE],
            input=json.dumps(cases),
            capture_output=True,
            text=True,
            check=True,
        )
        theirs = json.loads(done.stdout)
    print(
        "series  reference(cont)  assay(cont)      diff      reference(bin)   assay(bin)       diff"
    )
    worst = 0.0
    for i, (mine, bin_mine) in enumerate(ours):
        if theirs is None:
            print(f"{i:6d}  {'-':>15}  {mine:.13f}  {'-':>8}  {'-':>15}  {bin_mine:.13f}")
            continue
        ref, bin_ref = theirs[i]
        worst = max(worst, abs(ref - mine), abs(bin_ref - bin_mine))
        print(
            f"{i:6d}  {ref:.13f}  {mine:.13f}  {abs(ref - mine):.1e}  "
            f"{bin_ref:.13f}  {bin_mine:.13f}  {abs(bin_ref - bin_mine):.1e}"
        )
    if theirs is not None:
        print(f"largest difference {worst:.1e} (target < 1e-12)")
    # how much point adjustment flatters: random scores on five 80-point anomalies in 2,000
    rng = np.random.default_rng(3)
    y = np.zeros(2000, int)
    for start in range(100, 2000, 400):
        y[start : start + 80] = 1
    noise = rng.random(2000)
    print(
        f"random scores: point-adjusted F1 {point_adjusted_f1(y, noise):.3f}, "
        f"PATE {pate(y, noise, 20, 20):.3f} (prevalence {y.mean():.2f})"
    )
    good = y * 0.5 + rng.random(2000)
    print(
        f"informative scores: point-adjusted F1 {point_adjusted_f1(y, good):.3f}, "
        f"PATE {pate(y, good, 20, 20):.3f}"
    )


if __name__ == "__main__":
    main()
