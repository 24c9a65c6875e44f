"""The package's shape (docs/design.md): parts depend downwards only, no import cycle, no part
imports another part's private module, every part declares ``__all__``, no file past 500 lines.

The import graph is read from the source (every ``import`` statement, also inside functions),
so a lazy import that closes a cycle counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: part -> the parts it may import (besides itself). Bottom first.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "requests": set(),
    "core": {"errors"},
    "metrics": {"core", "errors"},
    "tasks": {"core", "errors", "requests", "metrics"},
    "models": {"core", "errors", "requests"},
    "store": {"core", "errors", "metrics"},
    "runner": {"core", "errors", "requests", "tasks", "models", "store"},
    "stats": {"core", "errors", "store"},
    "rank": {"core", "errors", "requests", "store", "stats"},
    "forecast": {"core", "errors", "store", "stats"},
    "report": {"core", "errors", "store", "stats", "rank", "forecast", "tasks"},
    "serve": {"core", "errors", "store", "stats", "rank", "forecast", "report"},
}


def _modules(src: Path = SRC) -> dict[str, Path]:
    out = {}
    for path in (src / "assay").rglob("*.py"):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imported(module: str, path: Path, modules: dict[str, Path] = MODULES) -> set[str]:
    """The assay modules ``module`` imports (a name imported from a package that is itself a
    module counts as that module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package[: len(package) - (node.level - 1)]
                base = ".".join([*up, *([node.module] if node.module else [])])
            names = [f"{base}.{a.name}" for a in node.names]
            if not all(n in modules for n in names):  # names from base itself, not submodules
                names.append(base)
        for name in names:
            if not name.startswith("assay"):
                continue
            while name not in modules and "." in name:
                name = name.rsplit(".", 1)[0]
            if name in modules and name != module:
                found.add(name)
    return found


GRAPH = {module: _imported(module, path) for module, path in MODULES.items()}


def _part(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def _may_import(source: str, target: str) -> bool:
    a, b = _part(source), _part(target)
    if a not in ALLOWED or a == b:
        return True
    if b == "":  # the package root (``__version__``) re-exports the store only
        return "store" in ALLOWED[a]
    return b in ALLOWED[a]


def test_parts_depend_downwards_only():
    wrong = sorted(
        f"{a} -> {b}" for a, targets in GRAPH.items() for b in targets if not _may_import(a, b)
    )
    assert wrong == []


def test_the_package_root_imports_only_the_store():
    assert {_part(m) for m in GRAPH["assay"]} <= {"store"}


def test_no_part_imports_another_parts_private_module():
    wrong = sorted(
        f"{a} -> {b}"
        for a, targets in GRAPH.items()
        for b in targets
        if _part(a) != _part(b) and any(p.startswith("_") for p in b.split(".")[2:])
    )
    assert wrong == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph``: its strongly connected components of two or more
    modules (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycle():
    assert _cycles(GRAPH) == []


def _private(module: str) -> bool:
    name = module.rsplit(".", 1)[-1]
    return name.startswith("_") and not name.startswith("__")  # __main__ runs the package


def test_private_modules_import_private_modules_not_their_package():
    """Inside a part, ``_x`` imports ``._y``, never the part's ``__init__`` (which imports
    every private module, so that import would close a cycle, lazily or not)."""
    wrong = sorted(
        f"{a} -> {b}"
        for a, targets in GRAPH.items()
        for b in targets
        if _private(a) and b == a.rsplit(".", 1)[0]
    )
    assert wrong == []


@pytest.mark.parametrize(
    "lazy", ["from assay.tasks import Task", "from . import Task", "import assay.tasks"]
)
def test_an_intra_part_cycle_is_found(tmp_path, lazy):
    """The checks above on a made-up part whose private module reaches back to the package
    (inside a function, as a lazy import would): the cycle and the import are both caught."""
    part = tmp_path / "assay" / "tasks"
    part.mkdir(parents=True)
    (tmp_path / "assay" / "__init__.py").write_text("")
    (part / "__init__.py").write_text("from ._registry import load\nfrom ._task import Task\n")
    (part / "_task.py").write_text("class Task: ...\n")
    (part / "_registry.py").write_text(f"def load():\n    {lazy}\n")
    modules = _modules(tmp_path)
    graph = {m: _imported(m, p, modules) for m, p in modules.items()}
    assert _cycles(graph) == [["assay.tasks", "assay.tasks._registry"]]
    (part / "_registry.py").write_text("def load():\n    from ._task import Task\n")
    graph["assay.tasks._registry"] = _imported(
        "assay.tasks._registry", part / "_registry.py", modules
    )
    assert _cycles(graph) == []


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_each_part_declares_its_public_names(part):
    path = SRC / "assay" / part
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    declared = [
        node
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(getattr(t, "id", "") == "__all__" for t in node.targets)
    ]
    assert declared, f"{path} has no __all__"


def test_no_file_holds_two_responsibilities():
    long = {
        str(path.relative_to(SRC)): n
        for path in MODULES.values()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert long == {}
