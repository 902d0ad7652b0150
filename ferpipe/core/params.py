"""Reading params.yaml (and other YAML files) into plain data; `ferpipe.core.settings` checks it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ferpipe.core.errors import FerpipeError
from ferpipe.core.textfile import read_text


def read_yaml(path: str | Path, not_found: str) -> Any:
    """The YAML document at `path`; a missing file is the error `not_found`, bad YAML an error naming its line."""
    path = Path(path)
    if not path.exists():
        raise FerpipeError(not_found)
    try:
        return yaml.safe_load(read_text(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FerpipeError(f"{path}: not valid YAML{where}: {problem}") from exc


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    params = read_yaml(path, f"params file not found: {path}")
    if not isinstance(params, dict):
        raise FerpipeError(f"{path}: expected a mapping of parameters at the top level")
    return params
