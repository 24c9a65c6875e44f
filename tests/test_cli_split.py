"""One comma-list splitter for the command line (``cli/_options.split_list``)."""

from __future__ import annotations

import re
from pathlib import Path

from assay.cli._options import split_list

CLI = Path(__file__).resolve().parents[1] / "src" / "assay" / "cli"


def test_split_list():
    assert split_list(None) is None
    assert split_list(" , ,") is None
    assert split_list(" a, b,,c ") == ["a", "b", "c"]
    assert split_list(["a,b", "a", " c"]) == ["a", "b", "a", "c"]
    assert split_list(["a,b", "a", " c"], unique=True) == ["a", "b", "c"]


def test_no_other_comma_splitter_in_the_cli():
    """Lists of names split in ``_options.py`` only; ``--weights`` parses AXIS=NUMBER pairs and
    ``--gen-kwargs`` k=v pairs (an empty pair is an error there, not skipped)."""
    found = {
        path.name
        for path in CLI.glob("*.py")
        if re.search(r"""\.split\(\s*["'],["']\s*\)""", path.read_text(encoding="utf-8"))
    }
    assert found == {"_options.py", "robust.py", "_lm_eval_flags.py"}
    assert CLI.joinpath("robust.py").read_text(encoding="utf-8").count('split(",")') == 1
