"""`assay --help` lists every command from ``assay.cli._index`` without importing a command's
part: the listing says what the commands themselves say, prints what the full app prints, and
`--help` / `--version` import no pandas, numpy or DuckDB."""

from __future__ import annotations

import inspect
import subprocess
import sys

import click
import typer
from typer.testing import CliRunner

from assay.cli import _index, build_app, listing_app


def _summaries(app: typer.Typer) -> dict[str, str]:
    group = typer.main.get_command(app)
    ctx = click.Context(group)
    return {
        name: inspect.cleandoc(group.get_command(ctx, name).help or "").split("\n\n")[0]
        for name in group.list_commands(ctx)
    }


def test_the_listing_holds_every_command_and_its_summary():
    want = _summaries(build_app())
    assert list(want.items()) == list(_index.SUMMARIES.items()), f"paste into _index.py: {want!r}"


def test_the_listing_prints_the_help_of_the_whole_app():
    runner = CliRunner()
    for args in (["--help"], []):
        full = runner.invoke(build_app(), args, prog_name="assay", terminal_width=100)
        listed = runner.invoke(listing_app(), args, prog_name="assay", terminal_width=100)
        assert listed.output == full.output and listed.exit_code == full.exit_code
        assert "compare" in listed.output and "Scores with intervals" in listed.output


def test_help_and_version_import_nothing_heavy():
    for args in (["--help"], ["--version"]):
        code = (
            f"import sys; sys.argv = ['assay', *{args!r}]\n"
            "from assay.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "heavy = ('pandas', 'numpy', 'duckdb', 'pyarrow', 'scipy')\n"
            "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert done.stderr.strip().splitlines()[-1] == "[]", (args, done.stderr[-300:])
        assert done.stdout.strip()
