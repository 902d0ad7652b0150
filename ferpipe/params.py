"""Reading params.yaml. Each stage asks for exactly the keys it uses."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ferpipe.errors import FerpipeError


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FerpipeError(f"params file not found: {path}")
    try:
        params = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise FerpipeError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(params, dict):
        raise FerpipeError(f"{path}: expected a mapping of parameters at the top level")
    return params


def pick(params: dict[str, Any], *keys: str, source: str = "params.yaml") -> dict[str, Any]:
    """Return the named top-level keys; a missing one is an error naming it."""
    missing = [k for k in keys if k not in params]
    if missing:
        raise FerpipeError(f"{source}: missing parameter(s): {', '.join(missing)}")
    return {k: params[k] for k in keys}
