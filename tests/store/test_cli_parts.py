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


def test_frames_become_json_column_by_column():
    import numpy as np
    import pandas as pd

    from assay.core import to_jsonable

    frame = pd.DataFrame(
        {
            "f": [1.5, np.nan, np.inf, -0.0],
            "i": np.arange(4),
            "b": [True, False, True, False],
            "s": ["a", None, "c", "d"],
            "o": [1, None, "x", 2.5],
            "n": pd.array([1, None, 3, 4], dtype="Int64"),
            "t": pd.to_datetime(["2024-01-01", None, "2024-01-03", "2024-01-04"]),
        }
    )
    old = [to_jsonable(dict(r)) for r in frame.to_dict(orient="records")]
    assert to_jsonable(frame) == old
    assert to_jsonable(frame)[1]["f"] is None and to_jsonable(frame)[2]["f"] is None


def test_large_json_is_one_line_with_the_same_values(capsys):
    import json

    from assay.cli._common import COMPACT_JSON_ROWS, print_json

    small = {"rows": [{"x": k, "y": 0.1 * k} for k in range(3)]}
    print_json(small)
    text = capsys.readouterr().out
    assert text.startswith('{\n  "rows"') and json.loads(text) == small
    large = {"rows": [{"x": k, "y": 0.1 * k} for k in range(COMPACT_JSON_ROWS + 1)]}
    print_json(large)
    text = capsys.readouterr().out
    assert text.count("\n") == 1 and json.loads(text) == large


def test_json_of_numpy_nan_and_frames_is_unchanged(capsys):
    import json

    import numpy as np
    import pandas as pd

    from assay.cli._common import print_json
    from assay.core import to_jsonable

    data = {
        "a": [1.5, float("nan"), np.float64(2.0), np.int64(3)],
        "frame": pd.DataFrame({"x": [1.0, np.nan], "t": ["u", "v"]}),
        "when": pd.Timestamp("2024-01-02"),
        1: {"nested": np.array([1, 2])},
    }
    print_json(data)
    text = capsys.readouterr().out
    assert text == json.dumps(to_jsonable(data), indent=2, default=str) + "\n"
    plain = {"rows": [{"x": 1, "y": 0.25, "s": "t"}], "n": np.int64(4)}
    print_json(plain)
    text = capsys.readouterr().out
    assert text == json.dumps(to_jsonable(plain), indent=2, default=str) + "\n"
