"""The command line imports only the part of assay.cli its command needs: the table of parts
names every command each part registers, and a command's app holds that command."""

from __future__ import annotations

import typer

from assay.cli import COMMANDS, _parts, build_app


def _names(app: typer.Typer) -> set[str]:
    names = {c.name for c in app.registered_commands}
    return names | {g.name for g in app.registered_groups}


def test_parts_name_their_commands():
    every = set()
    for part, names in COMMANDS.items():
        got = _names(build_app((part,)))
        assert got == set(names) - ({"import"} if part == "rank" else set()), part
        every |= got
    assert _names(build_app()) == every


def test_a_command_line_picks_its_parts():
    assert _parts(["compare", "--store", "x.duckdb"]) == ("stats",)
    assert _parts(["--debug", "import", "battles", "f.jsonl"]) == ("store", "rank")
    assert _parts(["--version"]) == ()
    assert _parts([]) == _parts(["--help"]) == _parts(["comprae"]) == tuple(COMMANDS)
