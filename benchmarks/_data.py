"""Where the public data sets are: ``$ASSAY_DATA``, else the first ``shared/data`` folder found
walking up from the repository — from a git worktree also from the main checkout it belongs to
(its ``.git`` file names ``<main>/.git/worktrees/<name>``).

Shared by the benchmarks that read ``chinchilla_points.csv``, ``obsscaling/`` and ``epoch/``.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _roots() -> list[Path]:
    """The repository root, then (in a git worktree) the main checkout's root."""
    roots = [REPO]
    git = REPO / ".git"
    if git.is_file():  # a worktree: "gitdir: <main>/.git/worktrees/<name>"
        text = git.read_text(encoding="utf-8").strip()
        if text.startswith("gitdir:"):
            gitdir = Path(text.removeprefix("gitdir:").strip())
            if gitdir.parent.name == "worktrees":
                roots.append(gitdir.parent.parent.parent)
    return roots


def shared_data() -> Path:
    """``$ASSAY_DATA``, else the nearest ``shared/data`` above the repository (or above the main
    checkout of this worktree), else ``../shared/data`` next to the repository (named in the
    error when a file is missing)."""
    if os.environ.get("ASSAY_DATA"):
        return Path(os.environ["ASSAY_DATA"])
    for root in _roots():
        for folder in (root, *root.parents):
            candidate = folder / "shared" / "data"
            if candidate.is_dir():
                return candidate
    return REPO.parent / "shared" / "data"
