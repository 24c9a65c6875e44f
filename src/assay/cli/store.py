"""`assay store ...`: what is in the store."""

from __future__ import annotations

import typer

from ._common import JsonOption, StoreOption, console, get_store, print_json, print_table

store_app = typer.Typer(help="Inspect the result store.", no_args_is_help=True)
import_app = typer.Typer(
    help="Bring results from other harnesses into the store.", no_args_is_help=True
)


@store_app.command("info")
def info(store: StoreOption = None, json_out: JsonOption = False) -> None:
    """Show models, tasks, runs and sample counts in the store."""
    result = get_store(store, must_exist=True).info()
    if json_out:
        print_json(result)
        return
    console.print(f"[bold]{result['path']}[/] (schema v{result['schema_version']})")
    print_table([result["counts"]], title="rows")
    if result["tasks"]:
        print_table(result["tasks"], title="samples by model and task")


def register(app: typer.Typer) -> None:
    """Add this part's commands to the main app."""
    app.add_typer(store_app, name="store")
    app.add_typer(import_app, name="import")
