"""The progress bar of long CLI work (report, forecast fits and backtests, judging, tournaments,
imports, merges): a Rich bar on stderr when stderr is a terminal, nothing when it is piped.

The analysis functions take an optional ``progress(done, total)`` callback; the commands wire
it to :func:`progress_bar`. stdout stays clean for tables and ``--json``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from ._common import TextConsole

__all__ = ["Update", "progress_bar"]

Update = Callable[..., None]
"""``update(done, total=None)``: how far the work is (``total`` may change as it goes)."""


class _Count(ProgressColumn):
    """``n/N`` when the bar counts items (a bar of fractions shows only its percentage)."""

    def render(self, task) -> Text:
        if task.total is None or not task.fields.get("counts", True):
            return Text("")
        return Text(f"{int(task.completed)}/{int(task.total)}", style="green")


def progress_console() -> Console:
    """The console progress goes to: stderr (looked up now, so a redirected stderr counts)."""
    return TextConsole(stderr=True)


@contextmanager
def progress_bar(
    label: str, *, total: float | None = None, enabled: bool = True, counts: bool = True
) -> Iterator[Update | None]:
    """A started bar labelled ``label`` (text, never markup) yielding ``update(done, total)``;
    None (no bar, nothing printed) when not ``enabled`` or stderr is not a terminal. ``counts``
    false: the bar takes fractions of 1 and shows only its percentage. The bar is erased when
    the work ends, so the terminal keeps only the command's output."""
    console = progress_console()
    if not enabled or not console.is_terminal or console.is_dumb_terminal:
        yield None
        return
    bar = Progress(
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        TaskProgressColumn(),
        _Count(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with bar:
        task = bar.add_task(label, total=total if counts else 1.0, counts=counts)

        def update(done: float, total: float | None = None) -> None:
            if total is not None and counts:
                bar.update(task, completed=done, total=total)
            else:
                bar.update(task, completed=done)

        yield update
