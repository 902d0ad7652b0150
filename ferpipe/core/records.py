"""The project's own JSON files read back (model.json, meta.json, the model card, metrics files), each
against one typed model: unknown keys refused, types strict, and whatever is wrong one FerpipeError line
naming the file and the field.

The text is checked before `json.loads` sees it: nesting deeper than MAX_DEPTH (which would exhaust
Python's recursion), a key given twice and NaN or Infinity (not JSON) are refused. `parse_json` alone
serves the metrics files, whose fields differ from stage to stage.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, TypeVar

from annotated_types import Gt, Len
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, TypeAdapter, ValidationError

from ferpipe.core.errors import FerpipeError
from ferpipe.core.textfile import read_text

MAX_DEPTH = 64
RECORD_LIMIT = 16 << 20
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\']|\'\')*\'', re.DOTALL)  # JSON's, and YAML's single-quoted
_BRACKET = re.compile(r"[\[\]{}]")


class Record(BaseModel):
    """A JSON file of the project's own format: fields as declared, nothing else."""
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _doubled(items: list[str]) -> list[str]:
    return sorted(item for item, n in Counter(items).items() if n > 1)


def _unique(names: list[str]) -> list[str]:
    doubled = _doubled(names)
    if doubled:
        raise ValueError(f"class names must be unique, {', '.join(map(repr, doubled))} given twice")
    return names


def _file_name(name: str) -> str:
    """A record names the files beside it by bare name, so that only files of its own folder are loaded."""
    if name in (".", "..") or any(c in name for c in "/\\\0"):
        raise ValueError("must be the bare name of a file in the folder")
    return name


PositiveInt = Annotated[int, Gt(0)]
Name = Annotated[str, StringConstraints(min_length=1)]
ClassNames = Annotated[list[Name], Len(min_length=2), AfterValidator(_unique)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
FileName = Annotated[str, StringConstraints(min_length=1), AfterValidator(_file_name)]


def nesting_depth(text: str) -> int:
    """How deeply the arrays and objects of JSON `text` (or YAML's flow collections) nest, brackets inside
    strings not counted."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doubled = _doubled([k for k, _ in pairs])
    if doubled:
        raise ValueError(f"key {doubled[0]!r} given twice in one object")
    return dict(pairs)


def _not_a_number(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(text: str, where: str, allow_nan: bool = False) -> Any:
    """The JSON value of `text`, checked as the module docstring says; `where` names it in errors. With
    `allow_nan`, NaN and Infinity are read as Python writes them (a metrics file of a diverged run)."""
    if nesting_depth(text) > MAX_DEPTH:
        raise FerpipeError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=None if allow_nan else _not_a_number)
    except ValueError as exc:
        raise FerpipeError(f"{where}: not valid JSON ({exc})") from exc


R = TypeVar("R")


def validated(schema: type[R], value: Any, where: str, remedy: str = "") -> R:
    """`value` as the Record `schema`; the first problem is one FerpipeError line naming `where` and the field."""
    try:
        return TypeAdapter(schema).validate_python(value)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"])
        got = repr(error["input"])[:80]
        text = error["msg"].removeprefix("Value error, ")
        if error["type"] in ("model_type", "model_attributes_type", "dict_type"):
            problem = f"{field + ': ' if field else ''}expected a JSON object, got {got}"
        elif not field:
            problem = text
        elif error["type"] == "missing":
            problem = f"missing field {field}"
        elif error["type"] == "extra_forbidden":
            problem = f"unknown field {field}"
        else:
            problem = f"{field}: {text[0].lower() + text[1:]}, got {got}"
        raise FerpipeError(f"{where}: {problem}{'; ' + remedy if remedy else ''}") from None


def read_record(path: str | Path, schema: type[R], remedy: str = "", allow_nan: bool = False) -> R:
    """The JSON file `path` read as `schema`; `remedy` says what makes a good one ("rerun the train stage")."""
    text = read_text(path, RECORD_LIMIT)
    return validated(schema, parse_json(text, str(path), allow_nan), str(path), remedy)
