"""Printing the verdict (``assay.stats.verdict``): what ``assay eval`` prints first when it
finishes and what ``assay compare`` prints without ``--task``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _common

if TYPE_CHECKING:
    from assay.stats import Comparison, Verdict
    from assay.store import Store


def store_verdict(comp: Comparison, store: Store | None, baseline: str | None = None) -> Verdict:
    """The verdict of ``comp`` with the store's model metadata (parents, specs) and runs
    (few-shot settings) telling which pairs differ by one change."""
    from assay.stats import verdict

    models = store.models() if store is not None else None
    runs = store.runs() if store is not None else None
    return verdict(comp, models=models, runs=runs, baseline=baseline)


def print_verdict(v: Verdict) -> None:
    """One line per compared pair (better / worse / no detectable difference, with sizes and
    intervals), then the caveat; nothing with ``--format csv|tsv`` (tables only)."""
    if _common.plain_tables():
        return
    _common.console.print("Verdict", style="bold", highlight=False)
    for sentence in v.sentences:
        _common.console.print(sentence, highlight=False, markup=False, soft_wrap=True)
    if v.caveat:
        _common.console.print(f"Caveat: {v.caveat}", highlight=False, markup=False, soft_wrap=True)
    _common.console.print()
