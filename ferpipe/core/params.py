"""Reading params.yaml and checking each stage's parameters.

Each stage asks for exactly the keys it uses. `ParamBlock` gives typed, range-checked access to one
block (e.g. `faces:`) or to named top-level keys (`lr`): a missing key, or in a block an unknown one
(a typo such as `fator`), is an error naming it, so a parameter can never be silently ignored.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn, Sequence

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


def pick(params: dict[str, Any], *keys: str, source: str = "params.yaml") -> dict[str, Any]:
    """Return the named top-level keys; a missing one is an error naming it."""
    missing = [k for k in keys if k not in params]
    if missing:
        raise FerpipeError(f"{source}: missing parameter(s): {', '.join(missing)}")
    return {k: params[k] for k in keys}


class ParamBlock:
    """Typed, range-checked access to one block of parameters: `faces` or, dotted, a nested block such
    as `runtime.faces`; or with `top_level`, to named top-level keys. Every message names the params
    file (`source`) and the parameter (`train.momentum`)."""

    def __init__(self, params: dict[str, Any], name: str, keys: Sequence[str], source: str = "params.yaml"):
        block: Any = params
        for part in name.split("."):
            block = block.get(part) if isinstance(block, dict) else None
        if not isinstance(block, dict):
            raise FerpipeError(f"{source}: missing parameter block `{name}:`")
        self._take(block, keys, source, prefix=f"{name}.")
        unknown = sorted(set(block) - set(keys))
        if unknown:
            raise FerpipeError(f"{source}: unknown parameter(s): {', '.join(f'{name}.{k}' for k in unknown)}")

    @classmethod
    def top_level(cls, params: dict[str, Any], keys: Sequence[str], source: str = "params.yaml") -> ParamBlock:
        """The named top-level keys (the file's other top-level keys belong to other stages)."""
        checker = cls.__new__(cls)
        checker._take(params, keys, source, prefix="")
        return checker

    def _take(self, values: dict[str, Any], keys: Sequence[str], source: str, prefix: str) -> None:
        self.source, self.prefix = source, prefix
        missing = [k for k in keys if k not in values]
        if missing:
            raise FerpipeError(f"{source}: missing parameter(s): {', '.join(prefix + k for k in missing)}")
        self.values = {k: values[k] for k in keys}

    def fail(self, key: str, expected: str) -> NoReturn:
        raise FerpipeError(f"{self.source}: {self.prefix}{key} must be {expected}, got {self.values[key]!r}")

    def integer(self, key: str, minimum: int | None = None, maximum: int | None = None,
                nullable: bool = False) -> int | None:
        """An integer in [minimum, maximum]; with `nullable`, null (None) is accepted too."""
        value = self.values[key]
        if nullable and value is None:
            return None
        ok = isinstance(value, int) and not isinstance(value, bool)
        if not (ok and _in_range(value, minimum, maximum)):
            self.fail(key, ("null or " if nullable else "") + "an integer" + _range_text(minimum, maximum))
        return value

    def real(self, key: str, minimum: float | None = None, maximum: float | None = None,
             above: float | None = None, below: float | None = None) -> float:
        """A number in [minimum, maximum] and in (above, below) (the latter bounds excluded)."""
        value = self.values[key]
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (ok and _in_range(value, minimum, maximum, above, below)):
            self.fail(key, "a number" + _range_text(minimum, maximum, above, below))
        return float(value)

    def pair(self, key: str) -> tuple[int, int]:
        """Two positive integers; one integer n stands for [n, n]."""
        value = self.values[key]
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value, value]
        if not (isinstance(value, (list, tuple)) and len(value) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)):
            self.fail(key, "two positive integers, e.g. [2, 2]")
        return int(value[0]), int(value[1])

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


def _in_range(value: float, minimum: float | None, maximum: float | None,
              above: float | None = None, below: float | None = None) -> bool:
    return ((minimum is None or value >= minimum) and (maximum is None or value <= maximum)
            and (above is None or value > above) and (below is None or value < below))


def _range_text(minimum: float | None, maximum: float | None,
                above: float | None = None, below: float | None = None) -> str:
    low = f"[{minimum}" if minimum is not None else f"({above}" if above is not None else None
    high = f"{maximum}]" if maximum is not None else f"{below})" if below is not None else None
    if low and high:
        return f" in {low}, {high}"
    if low:
        return f" >= {minimum}" if minimum is not None else f" > {above}"
    if high:
        return f" <= {maximum}" if maximum is not None else f" < {below}"
    return ""
