"""A rich progress bar with samples/s and ETA, on stderr (stdout stays clean for --json)."""

from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from assay.core import visible


class SpeedColumn(ProgressColumn):
    """Samples per second."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:.2f} samples/s", style="cyan")


class NameColumn(ProgressColumn):
    """The bar's description (model and task names) as text: no markup, and control characters
    (ESC, BEL, ...) as visible ``\\xNN`` escapes, as the CLI prints every user string."""

    def render(self, task) -> Text:
        return Text(visible(str(task.description)), style="bold")


class _Silent:
    def add_task(self, *args, **kwargs) -> int:
        return 0

    def update(self, *args, **kwargs) -> None:
        pass

    def advance(self, *args, **kwargs) -> None:
        pass


@contextmanager
def make_progress(enabled: bool = True):
    """A started rich Progress (or a silent stand-in when ``enabled`` is false). When the body
    fails, the bar is erased so the error is the only thing left on the terminal."""
    if not enabled:
        yield _Silent()
        return
    progress = Progress(
        NameColumn(),
        BarColumn(),
        MofNCompleteColumn(),
        SpeedColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=Console(stderr=True, markup=False, emoji=False),
        transient=False,
    )
    with progress:
        try:
            yield progress
        except Exception:
            progress.live.transient = True  # a terminal: erase the bar
            progress.console.quiet = not progress.console.is_interactive  # a file: no blank line
            raise
