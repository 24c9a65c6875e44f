"""The one YAML file reader (task files, grid files): strict, each problem one line naming the file.

:func:`read_yaml` reads the file as UTF-8 (:func:`read_text`) and parses it with
:class:`YamlLoader`, PyYAML's safe loader (libyaml when available) that refuses a key written
twice in one mapping (plain PyYAML keeps the last one silently).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from assay.errors import InputError

from ._readers import read_text

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available
_MERGE = "tag:yaml.org,2002:merge"


class _DuplicateKey(yaml.constructor.ConstructorError):
    """A mapping that writes one key twice (``key``; ``problem_mark``: the second one)."""

    def __init__(self, key: Any, mark: Any) -> None:
        super().__init__(problem=f"key {key!r} appears twice", problem_mark=mark)
        self.key = key


class YamlLoader(_SafeLoader):  # type: ignore[misc, valid-type]
    """The safe loader whose mappings refuse a key written twice.
    Merge keys (``<<: *base``) may still be overridden. Subclass it to add tags."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                # a collection key is unhashable: the base class reports it
                if key_node.tag == _MERGE or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node)
                if key in seen:
                    raise _DuplicateKey(key, key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | Path, *, loader: type[YamlLoader] = YamlLoader) -> Any:
    """The parsed YAML file ``path``; every problem is one InputError naming it: unreadable,
    not UTF-8 (``FILE: line N: not valid UTF-8``), a repeated key (``FILE: line N: key 'k'
    appears twice``), not YAML (``FILE: not valid YAML, line N (...)``) or nested too deeply."""
    text = read_text(path)
    try:
        return yaml.load(text, Loader=loader)
    except _DuplicateKey as exc:
        raise InputError(f"{path}: line {exc.problem_mark.line + 1}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        detail = f" ({' '.join(str(problem).split())[:120]})" if problem else ""
        raise InputError(f"{path}: not valid YAML{line}{detail}") from None
    except RecursionError:
        raise InputError(f"{path}: YAML nested too deeply") from None
