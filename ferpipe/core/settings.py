"""Typed parameter models: each params block declared once, its fields' descriptions the one
documentation of each parameter (docs/parameters.md is generated from them).

A model validates strictly (no bool or string taken for a number; an int is a fine float),
refuses unknown keys and fills no defaults: params.yaml is the one place values live. Whatever is
wrong becomes one `FerpipeError` line naming the params file and the dotted key, e.g.
`params.yaml: svm.C must be a list of numbers > 0 or scale or auto, got [-1]` or
`params.yaml: unknown parameter fetch.sha256.fer2031 (did you mean fetch.sha256.fer2013?)`.

`key` says where a model's values sit in params.yaml: a block (`faces`, `runtime.faces`), or ""
for a model whose fields are top-level keys (a stage's share of the top level, such as the train
stage's `lr`). A partial model (`subset`) checks only the keys it names, for a stage that reads a
few keys of another stage's block (`fetch.sha256.genki4k`).
"""
from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from typing import Any, Annotated, ClassVar, Literal

import annotated_types as at
from pydantic import BaseModel, BeforeValidator, ConfigDict, PrivateAttr, ValidationError, create_model
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from ferpipe.core.errors import FerpipeError, shown


@dataclass(frozen=True)
class Expect:
    """What a field takes, in words, where its type and range do not say it (`two positive integers`)."""
    text: str


def _tuple_from_list(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def listed(item: Any, expect: str) -> Any:
    """A YAML list read as a tuple of `item` (strict: a list or tuple only)."""
    return Annotated[tuple[item, ...], BeforeValidator(_tuple_from_list), Expect(expect)]


MAX_SEED = 2**32 - 1  # numpy's legacy seeding and Keras' set_random_seed take 32-bit seeds


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
    key: ClassVar[str | None] = None  # where the values sit in params.yaml; None: only nested in another model
    partial: ClassVar[bool] = False
    _params_file: str = PrivateAttr(default="params.yaml")

    @property
    def params_file(self) -> str:
        """The params file the values came from, for messages about them."""
        return self._params_file

    @classmethod
    def from_params(cls, params: dict[str, Any], params_file: str = "params.yaml") -> Any:
        """This model's values of `params`, checked; anything wrong is one FerpipeError line."""
        return validate(cls, params, params_file)


class PartialSettings(Settings):
    """A model that checks only the keys it names of its block (the rest belong to another stage)."""
    partial: ClassVar[bool] = True


def invalid(key: str, text: str) -> PydanticCustomError:
    """An error for a validator to raise: `key` (dotted, relative to the model; "" for the field
    being validated) followed by `text`, e.g. invalid("fold", "must be in 0..2, got 3")."""
    return PydanticCustomError("ferpipe", "{key} {text}", {"key": key, "text": text})


def subset(model: type[Settings], *names: str, **nested: type[Settings]) -> type[Settings]:
    """A partial model of `model`: only the fields `names` as declared there, and the fields
    `nested` as the given partial models (`subset(FetchBlock, sha256=subset(Sha256, "genki4k"))`)."""
    fields: dict[str, Any] = {n: (model.model_fields[n].annotation, model.model_fields[n]) for n in names}
    fields.update({n: (sub, FieldInfo(description=getattr(model.model_fields.get(n), "description", None)))
                   for n, sub in nested.items()})
    suffix = "_".join([*names, *nested])
    return create_model(f"{model.__name__}_{suffix}", __base__=PartialSettings, **fields)


def params_keys(model: type[Settings]) -> list[str]:
    """The params keys `model` reads, written as dvc.yaml's `params:` writes them (`sources.genki4k`)."""
    if model.key:
        return [model.key]
    return _keys(model, "")


def _keys(model: type[Settings], prefix: str) -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        sub = nested_model(field.annotation)
        if sub is not None and sub.partial:
            keys += _keys(sub, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


def nested_model(annotation: Any) -> type[Settings] | None:
    """The Settings model a field holds (alone or beside null), if any."""
    for arg in (annotation, *typing.get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, Settings):
            return arg
    return None


def _selected(model: type[Settings], values: Any) -> Any:
    """Of a mapping, the keys a partial model (or a top-level one) reads; a full model's block as is."""
    if not isinstance(values, dict):
        return values
    out = {}
    for name, field in model.model_fields.items():
        if name in values:
            sub = nested_model(field.annotation)
            out[name] = _selected(sub, values[name]) if sub is not None and sub.partial else values[name]
    return out


def value_at(params: dict[str, Any], key: str) -> Any:
    """The value at dotted `key` (`runtime.faces`) of nested mappings; None where there is none."""
    value: Any = params
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def block_of(params: dict[str, Any], key: str, params_file: str) -> dict[str, Any]:
    """The mapping at dotted `key` of params.yaml (`runtime.faces`); a missing one is an error naming it."""
    block = value_at(params, key)
    if not isinstance(block, dict):
        raise FerpipeError(f"{params_file}: missing parameter block `{key}:`")
    return block


def validate(model: type[Settings], params: dict[str, Any], params_file: str = "params.yaml") -> Any:
    """`model` checked against its values in `params` (the whole file: the model's `key` says where)."""
    values = _selected(model, params) if not model.key else block_of(params, model.key, params_file)
    prefix = f"{model.key}." if model.key else ""
    try:
        settings = model.model_validate(values)
    except ValidationError as exc:
        # An unknown key first: it is often the typo behind a missing one (`fator` for `factor`).
        first = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        raise FerpipeError(f"{params_file}: {error_line(model, values, first, prefix)}") from None
    settings._params_file = params_file
    return settings


def error_line(model: type[Settings], values: Any, error: dict, prefix: str = "") -> str:
    """One pydantic error as a sentence about the dotted parameter at fault."""
    path, field, value, parent = _locate(model, values, error["loc"])
    key = prefix + ".".join(path)
    inside_a_value = len(error["loc"]) > len(path)  # e.g. the second item of a list
    if error["type"] == "ferpipe":
        named = ".".join(p for p in (key, error["ctx"]["key"]) if p)
        return f"{named} {error['ctx']['text']}" if named else error["ctx"]["text"]
    if error["type"] == "missing" and not inside_a_value:
        return f"missing parameter {key}"
    if error["type"] == "extra_forbidden" and not inside_a_value:
        near = difflib.get_close_matches(path[-1], list(parent.model_fields), n=1)
        base = key.rsplit(".", 1)[0] + "." if "." in key else ""
        return f"unknown parameter {key}" + (f" (did you mean {base}{near[0]}?)" if near else "")
    if field is None:
        return f"{key or 'the top level'} must be a mapping of parameters, got {shown(value)}"
    return f"{key} must be {expected(field)}, got {shown(value)}"


def _locate(model: type[Settings], values: Any, loc: tuple) -> tuple[list[str], FieldInfo | None, Any, type[Settings]]:
    """Walk an error's location down the nested models: the path of field names, the deepest field,
    its value in `values`, and the model that holds it. Locations inside a field (list items) stop
    at the field, so a message speaks of `svm.C`, not of its third item."""
    path: list[str] = []
    field, parent, current = None, model, model
    for part in loc:
        if current is None or not isinstance(part, str):
            break
        if part not in current.model_fields:  # an unknown key
            path.append(part)
            parent, field = current, None
            values = values.get(part) if isinstance(values, dict) else None
            break
        parent, field = current, current.model_fields[part]
        path.append(part)
        values = values.get(part) if isinstance(values, dict) else None
        current = nested_model(field.annotation)
    return path, field, values, parent


def expected(field: FieldInfo) -> str:
    """What the field takes, in words: `an integer >= 0`, `one of pca, tsne`, `null or a number > 0`."""
    for meta in field.metadata:
        if isinstance(meta, Expect):
            return meta.text
    return _expected_type(field.annotation, field.metadata)


def _expected_type(annotation: Any, metadata: list) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        inner = [m for m in args[1:] if isinstance(m, Expect)]
        return inner[0].text if inner else _expected_type(args[0], [*metadata, *args[1:]])
    if origin in (typing.Union, types.UnionType):
        others = [a for a in args if a is not type(None)]
        text = " or ".join(_expected_type(a, metadata) for a in others)
        return f"null or {text}" if len(others) < len(args) else text
    if origin is Literal:
        return str(args[0]) if len(args) == 1 else "one of " + ", ".join(str(a) for a in args)
    if annotation is bool:
        return "true or false"
    if isinstance(annotation, type) and issubclass(annotation, Settings):
        return "a mapping of " + ", ".join(annotation.model_fields)
    name = {int: "an integer", float: "a number", str: "a string"}.get(annotation, str(annotation))
    return name + _range_text(metadata)


def _range_text(metadata: list) -> str:
    bounds = {}
    for meta in metadata:
        for attr in ("ge", "gt", "le", "lt"):
            if isinstance(meta, (at.Ge, at.Gt, at.Le, at.Lt, at.Interval)) and getattr(meta, attr, None) is not None:
                bounds[attr] = getattr(meta, attr)
    low = f"[{bounds['ge']}" if "ge" in bounds else f"({bounds['gt']}" if "gt" in bounds else None
    high = f"{bounds['le']}]" if "le" in bounds else f"{bounds['lt']})" if "lt" in bounds else None
    if low and high:
        return f" in {low}, {high}"
    if low:
        return f" >= {bounds['ge']}" if "ge" in bounds else f" > {bounds['gt']}"
    if high:
        return f" <= {bounds['le']}" if "le" in bounds else f" < {bounds['lt']}"
    return ""
