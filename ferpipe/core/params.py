"""Reading params.yaml and checking each stage's parameters.

Each stage asks for exactly the keys it uses. `ParamBlock` gives typed, range-checked access to one
block (e.g. `faces:`): a missing key or an unknown one (a typo such as `fator`) is an error naming
it, so a parameter can never be silently ignored.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn, Sequence

import yaml

from ferpipe.core.errors import FerpipeError


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FerpipeError(f"params file not found: {path}")
    try:
        params = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FerpipeError(f"{path}: not valid YAML{where}: {problem}") from exc
    if not isinstance(params, dict):
        raise FerpipeError(f"{path}: expected a mapping of parameters at the top level")
    return params


def pick(params: dict[str, Any], *keys: str, source: str = "params.yaml") -> dict[str, Any]:
    """Return the named top-level keys; a missing one is an error naming it."""
    missing = [k for k in keys if k not in params]
    if missing:
        raise FerpipeError(f"{source}: missing parameter(s): {', '.join(missing)}")
    return {k: params[k] for k in keys}


class ParamBlock:
    """One block of parameters, e.g. `faces` or, dotted, a nested block such as `runtime.faces`.

    `source` is the params file the block comes from; every message names it."""

    def __init__(self, params: dict[str, Any], name: str, keys: Sequence[str], source: str = "params.yaml"):
        self.name, self.source = name, source
        block: Any = params
        for part in name.split("."):
            block = block.get(part) if isinstance(block, dict) else None
        if not isinstance(block, dict):
            raise FerpipeError(f"{source}: missing parameter block `{name}:`")
        missing = [k for k in keys if k not in block]
        unknown = sorted(set(block) - set(keys))
        if missing:
            raise FerpipeError(f"{source}: missing parameter(s): {', '.join(f'{name}.{k}' for k in missing)}")
        if unknown:
            raise FerpipeError(f"{source}: unknown parameter(s): {', '.join(f'{name}.{k}' for k in unknown)}")
        self.values = block

    def fail(self, key: str, expected: str) -> NoReturn:
        raise FerpipeError(f"{self.source}: {self.name}.{key} must be {expected}, got {self.values[key]!r}")

    def integer(self, key: str, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.values[key]
        ok = isinstance(value, int) and not isinstance(value, bool)
        ok = ok and (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
        if not ok:
            self.fail(key, "an integer" + _range_text(minimum, maximum))
        return value

    def real(self, key: str, minimum: float | None = None, maximum: float | None = None) -> float:
        value = self.values[key]
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = ok and (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
        if not ok:
            self.fail(key, "a number" + _range_text(minimum, maximum))
        return float(value)

    def choice(self, key: str, options: Sequence[Any]) -> Any:
        value = self.values[key]
        if isinstance(value, bool) or value not in options:
            self.fail(key, "one of " + ", ".join(str(o) for o in options))
        return value

    def flag(self, key: str) -> bool:
        value = self.values[key]
        if not isinstance(value, bool):
            self.fail(key, "true or false")
        return value


def _range_text(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""
