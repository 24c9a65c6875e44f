"""`assay --help` shows the commands in groups (Rich help panels), and every command's help
ends with an example a newcomer can copy."""

from __future__ import annotations

import re

import typer
from typer.testing import CliRunner

from assay.cli import app
from assay.cli._help import EXAMPLES, PANELS

runner = CliRunner()


def _leaves(command, path=()):
    """(path, click command) of every command and group under ``command``."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _leaves(sub, (*path, name))


def _panels(text: str) -> list[str]:
    return re.findall(r"╭─ (.+?) ─", text)


def test_top_level_help_shows_at_least_four_command_groups():
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    panels = [p for p in _panels(result.output) if p != "Options"]
    assert panels == ["Run", "Compare", "Diagnose", "Rank", "Forecast", "Data", "Report & serve"]
    assert "Commands" not in panels  # no command left in the flat default list
    # each command is listed under its own panel
    for panel in ("Run", "Compare", "Forecast"):
        block = result.output.split(f"╭─ {panel} ")[1].split("╰")[0]
        names = {n for n, p in PANELS.items() if p == panel}
        listed = set(re.findall(r"│ ([a-z][a-z-]+) ", block))
        assert listed == names


def test_every_command_is_in_a_panel():
    root = typer.main.get_command(app)
    assert set(root.commands) == set(PANELS)
    assert {c.rich_help_panel for c in root.commands.values()} >= {
        "Run",
        "Compare",
        "Rank",
        "Forecast",
        "Data",
    }


def test_every_commands_help_has_an_example():
    root = typer.main.get_command(app)
    paths = [path for path, _ in _leaves(root)]
    assert len(paths) > 50
    for path, command in _leaves(root):
        assert command.epilog and command.epilog.startswith("Example: assay "), path
        # the example runs this very command
        assert EXAMPLES[" ".join(path)].startswith(" ".join(("assay", *path)).strip()), path


def test_the_example_is_printed_by_help():
    for args in (["compare"], ["forecast", "fit"], ["tasks", "show"], ["import"], []):
        result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert f"Example: {EXAMPLES[' '.join(args)]}" in result.output


def test_every_example_names_only_options_its_command_has():
    root = typer.main.get_command(app)
    for path, command in _leaves(root):
        if getattr(command, "commands", None):
            continue
        opts = {o for p in command.params for o in getattr(p, "opts", [])}
        for flag in re.findall(r"\s(--?[a-z][a-z-]*)", EXAMPLES[" ".join(path)]):
            assert flag in opts, (path, flag)
