"""The shared CLI options: a group written once (``with_options``) parses as the options of
every command that uses it, and the command gets the one object built from them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from assay.cli import app
from assay.cli._options import SeedOption, with_options

runner = CliRunner()


@dataclass
class Point:
    name: str
    x: int
    seed: int


def point(
    name: Annotated[str, typer.Argument()],
    x: Annotated[int, typer.Option("--x")] = 1,
    seed: SeedOption = 0,
) -> Point:
    return Point(name, x, seed)


def test_a_group_becomes_the_commands_options():
    demo = typer.Typer()
    seen = []

    @demo.command()
    @with_options(where=point)
    def show(where: Point, loud: Annotated[bool, typer.Option("--loud")] = False) -> None:
        seen.append((where, loud))

    result = runner.invoke(demo, ["here", "--x", "5", "--loud", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert seen == [(Point("here", 5, 3), True)]
    assert runner.invoke(demo, ["here"]).exit_code == 0 and seen[-1] == (Point("here", 1, 0), False)
    bad = runner.invoke(demo, ["here", "--seed", "-1"])  # the shared option keeps its check
    assert bad.exit_code == 1 and "--seed -1: must be >= 0" in str(bad.exception)


def test_a_clash_is_refused_when_the_command_is_defined():
    with pytest.raises(TypeError, match="clash"):

        @with_options(where=point)
        def twice(where: Point, x: int = 0) -> None: ...

    with pytest.raises(TypeError, match="clash"):

        @with_options(elsewhere=point)
        def missing(where: Point) -> None: ...


@pytest.mark.parametrize("command", ["fit", "predict", "backtest"])
def test_every_law_command_has_the_shared_options(command):
    text = runner.invoke(app, ["forecast", command, "--help"], env={"COLUMNS": "200"}).output
    for option in ("--law", "--x", "--y", "--bootstrap", "--seed", "--store", "--task",
                   "--metric", "--params-col", "--tokens-col", "--flops-col", "--loss-col",
                   "--json"):  # fmt: skip
        assert option in text, (command, option)


TASKS_COMMANDS = [["compare"], ["flips"], ["variance"], ["report"], ["eval"]]
ONE_TASK_COMMANDS = [["bias"], ["items"], ["power"]] + [
    ["forecast", c] for c in ("fit", "predict", "backtest", "downstream", "density", "trend")
]


@pytest.mark.parametrize("command", TASKS_COMMANDS + ONE_TASK_COMMANDS, ids=" ".join)
def test_every_command_with_tasks_takes_short_t(command):
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert re.search(r"--task\s+-t\s", result.output), command


@pytest.mark.parametrize("command", TASKS_COMMANDS[:-1] + ONE_TASK_COMMANDS, ids=" ".join)
def test_the_task_option_is_the_shared_one(command):
    """One definition: several tasks split on commas, one-task commands check the count."""
    from assay.cli._options import one_name, split_names

    click_command = typer.main.get_command(app)
    for name in command:
        click_command = click_command.commands[name]
    (option,) = [p for p in click_command.params if "--task" in p.opts]
    assert option.multiple and "-t" in option.opts
    want = one_name if command in ONE_TASK_COMMANDS else split_names
    assert option.callback.__wrapped__ is want, command
