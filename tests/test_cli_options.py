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


LEVEL_NAMES = {"--alpha", "--level", "--confidence", "--ci-level", "--confidence-level"}
KEPT = {("power", "--alpha")}  # a planned test's significance level, not an interval's level


def _commands():
    """Every leaf command of the app, with its path of names."""

    def walk(command, path):
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                yield from walk(sub, [*path, name])
        else:
            yield " ".join(path), command

    return list(walk(typer.main.get_command(app), []))


def _level_options(command) -> list:
    return [
        p for p in command.params if p.param_type_name == "option" and LEVEL_NAMES & set(p.opts)
    ]


def test_every_level_option_is_confidence_and_aliases_say_deprecated():
    with_level = {}
    for name, command in _commands():
        options = [p for p in _level_options(command) if not any((name, o) in KEPT for o in p.opts)]
        if not options:
            continue
        live = [p for p in options if "deprecated" not in (p.help or "").lower()]
        assert [p.opts for p in live] == [["--confidence"]], name  # one live option, so named
        for p in options:
            assert not p.hidden, (name, p.opts)
            if p.opts != ["--confidence"]:
                assert p.help.lower().startswith("deprecated: use --confidence"), (name, p.opts)
        with_level[name] = sorted(o for p in options for o in p.opts)
    assert with_level["report"] == ["--alpha", "--confidence", "--level"]
    assert with_level["forecast predict"] == ["--confidence", "--level"]
    aliased = ["compare", "flips", "bias", "calibration", "efficiency", "breakdown"]
    aliased += ["reliability", "robustness", "fairness", "forecast trend", "rank battles"]
    for name in aliased:
        assert with_level[name] == ["--alpha", "--confidence"], name
    power = dict(_commands())["power"]
    assert [p.opts for p in _level_options(power)] == [["--alpha"]]


def test_deprecated_aliases_show_in_help():
    text = runner.invoke(app, ["compare", "--help"], env={"COLUMNS": "200"}).output
    assert "--confidence" in text and re.search(r"--alpha\b.*Deprecated", text)
    text = runner.invoke(app, ["forecast", "predict", "--help"], env={"COLUMNS": "200"}).output
    assert re.search(r"--level\b.*Deprecated", text)


def test_an_alias_gives_the_same_level_and_two_values_are_one_error():
    from assay.cli._options import confidence_option, forecast_confidence

    demo = typer.Typer()
    seen = []

    @demo.command("a")
    @with_options(confidence=confidence_option)
    def first(confidence: float = 0.95) -> None:
        seen.append(confidence)

    @demo.command("b")
    @with_options(level=forecast_confidence)
    def second(level: float = 0.9) -> None:
        seen.append(level)

    cases = [
        (["a"], 0.95),
        (["a", "--alpha", "0.01"], 0.99),
        (["a", "--confidence", "0.8"], 0.8),
        (["a", "--confidence", "0.99", "--alpha", "0.01"], 0.99),
        (["b"], 0.9),
        (["b", "--level", "0.8"], 0.8),
        (["b", "--confidence", "0.5"], 0.5),
    ]
    for args, want in cases:
        result = runner.invoke(demo, args)
        assert result.exit_code == 0, (args, result.output)
        assert seen[-1] == pytest.approx(want), args
    bad = runner.invoke(demo, ["a", "--confidence", "0.9", "--alpha", "0.05"])
    assert bad.exit_code == 1
    assert str(bad.exception) == (
        "--confidence 0.9 and --alpha 0.05 disagree (confidence 0.9 vs 0.95): give only "
        "--confidence"
    )
    bad = runner.invoke(demo, ["b", "--confidence", "1.5"])
    assert bad.exit_code == 1 and "--confidence 1.5: must be in (0, 1)" in str(bad.exception)
