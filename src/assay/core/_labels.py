"""Data strings as plot labels: text, never markup."""

from __future__ import annotations


def plot_label(text: object) -> str:
    """``text`` as a literal matplotlib label: every ``$`` escaped, so a name like ``$x$``
    is shown as typed instead of being parsed as mathtext (which can raise on bad input)."""
    return str(text).replace("$", r"\$")
