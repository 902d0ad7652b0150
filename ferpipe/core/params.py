"""Reading params.yaml (and other YAML files) into plain data; `ferpipe.core.settings` checks it.

A key given twice in one mapping is an error (YAML loaders keep the last silently), and nesting is
measured on the parser's events, which need no recursion, before the recursive composer builds the
document.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ferpipe.core.errors import FerpipeError
from ferpipe.core.records import nesting_depth
from ferpipe.core.textfile import read_text

MAX_DEPTH = 64
YAML_LIMIT = 16 << 20


class _StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} given twice",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def _depth(text: str) -> int:
    depth = deepest = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            deepest = max(deepest, depth)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return deepest


def parse_yaml(text: str, where: str) -> Any:
    """The YAML document `text`; bad YAML, a key given twice or nesting deeper than MAX_DEPTH is an
    error naming `where` (and the line). Deep flow collections are counted on the text first: PyYAML's
    scanner takes time quadratic in their depth."""
    try:
        if nesting_depth(text) > MAX_DEPTH or _depth(text) > MAX_DEPTH:
            raise FerpipeError(f"{where}: nested deeper than {MAX_DEPTH} levels")
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FerpipeError(f"{where}: not valid YAML{at}: {problem}") from exc


def read_yaml(path: str | Path, not_found: str) -> Any:
    """The YAML document at `path`; a missing file is the error `not_found`, bad YAML an error naming its line."""
    path = Path(path)
    if not path.exists():
        raise FerpipeError(not_found)
    return parse_yaml(read_text(path, YAML_LIMIT), str(path))


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    params = read_yaml(path, f"params file not found: {path}")
    if not isinstance(params, dict):
        raise FerpipeError(f"{path}: expected a mapping of parameters at the top level")
    return params
