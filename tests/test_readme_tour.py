"""The README's quick tour and the scripts in examples/ run as written, in a copy of the checkout's
examples/ folder (the tour's working directory), on the bundled model."""

from __future__ import annotations

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
    """Run with the test command's extra packages hidden: the tour needs only the main command."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = _env(tmp_path / ".hide")
    for line in tour_lines():
        if line.startswith("assay serve"):
            _serve(line, tmp_path, env)
            continue
        done = subprocess.run(
            ["bash", "-c", line],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        assert done.returncode == 0, f"{line}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    for model in ("smollm2-135m-int8", "smollm2-135m-3shot", "tiny-a"):
        assert model in report
    assert (tmp_path / "fit.png").stat().st_size > 1000
    assert any((tmp_path / "out").rglob("*.parquet"))


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
                time.sleep(1)
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
