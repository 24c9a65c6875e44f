"""The shared CLI options: a group written once (``with_options``) parses as the options of
every command that uses it, and the command gets the one object built from them."""

from __future__ import annotations

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
