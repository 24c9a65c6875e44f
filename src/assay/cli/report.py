"""`assay report` (one self-contained HTML file) and `assay serve` (the live app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assay.store import default_store_path

from ._common import JsonOption, StoreOption, console, fail, print_json


def report(
    store: StoreOption = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write.")] = Path(
        "report.html"
    ),
    task: Annotated[
        list[str] | None, typer.Option("--task", "-t", help="Only these tasks (repeatable).")
    ] = None,
    alpha: Annotated[float, typer.Option(help="Significance level for groups and colours.")] = 0.05,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap rounds for arena ratings.")] = 100,
    scaling_bootstrap: Annotated[
        int, typer.Option(help="Bootstrap refits for the scaling forecast band.")
    ] = 30,
    max_docs: Annotated[
        int, typer.Option(help="Documents per task embedded for the side-by-side view.")
    ] = 300,
    seed: Annotated[int, typer.Option(help="Seed for every bootstrap.")] = 0,
    json_out: JsonOption = False,
) -> None:
    """Write one self-contained HTML report (leaderboard, pairwise tests, plots, arena,
    scaling forecast, answers side by side) and print its path."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from assay.report import write_report

    path = store or default_store_path()
    if not Path(path).exists():
        fail(f"no store at {path} (run `assay eval` or `assay import` first, or pass --store)")
    if not 0 < alpha < 1:
        fail(f"--alpha must be between 0 and 1, got {alpha}")
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=console, transient=True, disable=json_out,
    ) as progress:  # fmt: skip
        progress.add_task(f"building the report from {path}", total=None)
        written, data = write_report(
            path,
            output,
            tasks=task or None,
            alpha=alpha,
            bootstrap=bootstrap,
            seed=seed,
            max_docs=max_docs,
            scaling_bootstrap=scaling_bootstrap,
        )
    if json_out:
        print_json({"path": str(written), **data.to_dict()})
        return
    for sentence in data.summary[:3]:
        console.print(sentence, highlight=False)
    typer.echo(str(written))


def serve(
    store: StoreOption = None,
    host: Annotated[
        str, typer.Option(help="Interface to bind (keep 127.0.0.1 unless you mean it).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.", min=1, max=65535)] = 8765,
    token: Annotated[
        str | None,
        typer.Option(envvar="ASSAY_TOKEN", help="Require this token for votes and other writes."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for arena draws and bootstraps.")] = 0,
) -> None:
    """Serve the report live, a JSON API (/docs) and an arena voting page (/arena)."""
    try:
        from assay.serve import run
    except ImportError as exc:
        fail(f"`assay serve` needs the serve extra: pip install 'assay[serve]' ({exc})")
    path = Path(store or default_store_path())
    if not path.exists():
        fail(f"no store at {path} (run `assay eval` or `assay import` first, or pass --store)")
    if host not in ("127.0.0.1", "localhost", "::1") and not token:
        console.print(
            f"[yellow]warning:[/] binding {host} without --token: anyone who can reach it can vote"
        )
    console.print(f"serving {path} on http://{host}:{port}/ (arena: /arena, API docs: /docs)")
    run(path, host=host, port=port, token=token, seed=seed)


def register(app: typer.Typer) -> None:
    """Add this part's commands to the main app."""
    app.command("report")(report)
    app.command("serve")(serve)
