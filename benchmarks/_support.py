"""Puts tests/support on ``sys.path``: the fixed-seed generators a benchmark shares with the
tests that pin its small version live there, one home each (``simulations``,
``lm_eval_tasks``). Import it before them: ``import _support  # noqa: F401``."""

from __future__ import annotations

import sys
from pathlib import Path

SUPPORT = Path(__file__).resolve().parents[1] / "tests" / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))
