"""Run the ``assay`` console entry point in-process, as a user's shell would."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator, Mapping, Sequence

__all__ = ["run_main"]


@contextlib.contextmanager
def _environ(env: Mapping[str, str | None]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    try:
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_main(
    args: Sequence[str], *, env: Mapping[str, str | None] | None = None
) -> tuple[int, str, str]:
    """``assay ARGS`` through :func:`assay.cli.main`: (exit code, stdout, stderr).

    sys.argv, sys.stdout and sys.stderr are replaced for the call (the CLI's rich consoles
    look up sys.stdout/sys.stderr on every write, so they are captured too). ``env`` sets
    (or, with None, removes) environment variables for the call; ASSAY_DEBUG is removed
    unless given, so a crash prints its one line rather than a traceback.
    """
    from assay.cli import main

    out, err = io.StringIO(), io.StringIO()
    variables = {"ASSAY_DEBUG": None, **(env or {})}
    old_argv = sys.argv
    sys.argv = ["assay", *map(str, args)]
    code = 0
    try:
        with _environ(variables), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                if exc.code is None:
                    code = 0
                elif isinstance(exc.code, int):
                    code = exc.code
                else:  # sys.exit("message"): Python prints it and exits 1
                    print(exc.code, file=sys.stderr)
                    code = 1
    finally:
        sys.argv = old_argv
    return code, out.getvalue(), err.getvalue()
