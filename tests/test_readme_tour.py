"""The README's quick tour and the scripts in examples/ run as written, in a copy of the checkout's
examples/ folder (the tour's working directory), on the bundled model."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def tour_lines() -> list[str]:
    """The commands of the ``<!-- tour -->`` block, comments kept (bash drops them)."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- tour -->\s*```bash\n(.*?)```", text, re.S)
    assert block, "README.md has no <!-- tour --> bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


MAIN_EXTRAS = ("hf", "serve")  # what README's main command installs: pip install -e ".[hf,serve]"

_HIDE = """import sys
_HIDDEN = set({names!r})
class _Hide:
    def __init__(self, inner):
        self.inner = inner
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _HIDDEN:
            return None
        return self.inner.find_spec(name, path, target)
    def __getattr__(self, attr):
        return getattr(self.inner, attr)
sys.meta_path[:] = [_Hide(f) if getattr(f, "__name__", "") == "PathFinder" else f for f in sys.meta_path]
"""


def dev_only_packages() -> set[str]:
    """Import names of the packages only the test command installs (dev extra), not the main one."""
    with (ROOT / "pyproject.toml").open("rb") as fh:
        project = tomllib.load(fh)["project"]
    extras = project["optional-dependencies"]

    def names(reqs: list[str]) -> set[str]:
        return {re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].lower().replace("-", "_") for r in reqs}

    main = names(project["dependencies"]).union(*(names(extras[e]) for e in MAIN_EXTRAS))
    return names(extras["dev"]) - _installed_with(main)


def _installed_with(roots: set[str]) -> set[str]:
    """``roots`` and every package they pull in (e.g. torch needs sympy): what the main command
    installs, whatever the dev extra also lists."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in reqs:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name.lower().replace("-", "_"))
    return seen


def _env(hide_dir: Path | None = None) -> dict[str, str]:
    """The tour's environment; with ``hide_dir``, the dev-only packages are invisible to it, as in an
    environment built by README's main command alone."""
    env = {k: v for k, v in os.environ.items() if k != "ASSAY_STORE"}
    env["COLUMNS"] = "160"
    if hide_dir is not None:
        hide_dir.mkdir(exist_ok=True)
        (hide_dir / "sitecustomize.py").write_text(
            _HIDE.format(names=sorted(dev_only_packages())), encoding="utf-8"
        )
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hide_dir), env.get("PYTHONPATH")]))
    return env


def test_hidden_packages_are_hidden(tmp_path):
    hidden = dev_only_packages()
    assert {"lm_eval", "datasets", "pytest"} <= hidden and "zstandard" not in hidden
    code = "import importlib.util as u; print(u.find_spec('datasets') is None)"
    done = subprocess.run(
        [sys.executable, "-c", code], env=_env(tmp_path / "hide"), capture_output=True, text=True
    )
    assert done.stdout.strip() == "True", done.stderr


def test_tour_lines_are_commands():
    lines = tour_lines()
    assert len(lines) >= 25
    assert all(line.startswith("assay ") for line in lines)
    assert lines[0].split("#")[0].strip() == "assay eval"  # the main job comes first


@pytest.mark.real_model
def test_readme_tour_runs_as_written(tmp_path):
    """Run with the test command's extra packages hidden: the tour needs only the main command.

    The first line (the default job) runs through bash and the ``assay`` console script as
    written; every other line runs with the arguments bash gives it (:func:`bash_argv`) in a
    fresh process forked from one that has imported assay once (:class:`ForkedCli`): the same
    code, working directory and environment, without paying assay's imports 30 times over."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = _env(tmp_path / ".hide")
    lines = tour_lines()
    first = subprocess.run(
        ["bash", "-c", lines[0]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert first.returncode == 0, f"{lines[0]}\n{first.stdout[-2000:]}\n{first.stderr[-2000:]}"
    with ForkedCli(tmp_path, env) as cli:
        for line, argv in zip(lines[1:], bash_argv(lines[1:]), strict=True):
            if line.startswith("assay serve"):
                _serve(line, tmp_path, env)
                continue
            code, out, err = cli.run(argv)
            assert code == 0, f"{line}\n{out[-2000:]}\n{err[-2000:]}"
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    for model in ("smollm2-135m-int8", "smollm2-135m-3shot", "tiny-a"):
        assert model in report
    assert (tmp_path / "fit.png").stat().st_size > 1000
    assert any((tmp_path / "out").rglob("*.parquet"))


def bash_argv(lines: list[str]) -> list[list[str]]:
    """The arguments bash passes to ``assay`` for each of ``lines`` (quotes, comments and all),
    read by running the lines in one bash with ``assay`` a function that prints them."""
    script = "assay() { printf '%s\\0' \"$@\"; printf '\\036\\0'; }\n" + "\n".join(lines)
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    out, argv = [], []
    for word in done.stdout.split("\0")[:-1]:
        if word == "\x1e":
            out.append(argv)
            argv = []
        else:
            argv.append(word)
    assert len(out) == len(lines), done.stdout
    return out


#: A process that imports assay's commands (and torch, transformers) once, then forks a child for each command line it
#: reads (JSON: argv and the files for stdout/stderr) and answers with the child's exit code. A
#: child leaves through SystemExit as the console script does, so exit handlers run as usual.
_FORK_SERVER = """
import json, os, sys
from assay.cli import build_app, main
build_app()
import assay.forecast, assay.rank, assay.report, assay.runner, assay.serve, assay.stats
import torch, transformers  # imported only: no model is loaded and no thread started here
from transformers import AutoModelForCausalLM, AutoTokenizer
import gc
gc.freeze()  # out of every child's garbage collection: their memory pages stay shared
for request in sys.stdin:
    job = json.loads(request)
    pid = os.fork()
    if pid == 0:
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        sys.stdin = open(os.devnull)
        for fd, path in ((1, job["out"]), (2, job["err"])):
            os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
        sys.argv = ["assay", *job["argv"]]
        main()
        sys.exit(0)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


class ForkedCli:
    """``assay ARGV`` in a fresh forked process of :data:`_FORK_SERVER`, run in ``cwd`` with
    ``env`` (so hidden packages stay hidden: the server starts with the same sitecustomize)."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.logs = cwd / ".cli"  # each command's stdout and stderr, while it is checked
        self.logs.mkdir()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _FORK_SERVER],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.count = 0

    def run(self, argv: list[str]) -> tuple[int, str, str]:
        self.count += 1
        out, err = (self.logs / f"{self.count}.{k}" for k in ("out", "err"))
        job = {"argv": argv, "out": str(out), "err": str(err)}
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        assert answer, f"the fork server stopped (exit {self.proc.wait()})"
        texts = [p.read_text(encoding="utf-8", errors="replace") for p in (out, err)]
        for p in (out, err):
            p.unlink()
        return int(answer), texts[0], texts[1]

    def __enter__(self) -> ForkedCli:
        return self

    def __exit__(self, *exc) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _serve(line: str, cwd: Path, env: dict[str, str]) -> None:
    """Start ``assay serve`` as written, wait until its page answers, then stop it."""
    proc = subprocess.Popen(
        ["bash", "-c", f"exec {line.split('#')[0]}"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300  # generous: CI shares a busy machine
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx.get("http://127.0.0.1:8765/", timeout=10).status_code
                break
            except httpx.HTTPError:
                time.sleep(0.2)  # poll often: a second per poll was mostly waiting
        assert status == 200, f"assay serve did not answer: {proc.poll()}"
    finally:
        proc.terminate()
        out = proc.communicate(timeout=60)[0]
    assert "Traceback" not in out, out


def test_example_data_is_what_the_script_writes(tmp_path):
    """examples/data/ holds exactly what examples/make_example_data.py writes (lm-eval file names
    carry the export time, so that folder is compared by content under its task folders)."""
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "make_example_data.py"), "--out", str(tmp_path)],
        check=True, capture_output=True, env=_env(),
    )  # fmt: skip
    data = ROOT / "examples" / "data"
    for path in sorted(tmp_path.glob("*.*")):
        assert path.read_bytes() == (data / path.name).read_bytes(), path.name
    made = sorted(p.parent.relative_to(tmp_path) for p in (tmp_path / "lm-eval").rglob("*.json"))
    kept = sorted(p.parent.relative_to(data) for p in (data / "lm-eval").rglob("*.json"))
    assert made == kept


def test_forecast_example_runs(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "forecast_chinchilla.py"), "--out",
         str(tmp_path)],
        capture_output=True, text=True, env=_env(), timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "alpha" in done.stdout
    assert (tmp_path / "chinchilla_backtest.png").exists()
