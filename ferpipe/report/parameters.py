"""The parameters reference (docs/parameters.md), a document generated as REPORT.md is: written from the
settings models' field descriptions and the values of a params file (`python -m ferpipe params doc`)."""
from __future__ import annotations

from typing import Any

from ferpipe.core.settings import Settings, expected, nested_model, value_at

DOC_HEADER = """# Parameters

Every key of params.yaml, one table per block: what it takes, its value in params.yaml, what it does.
Generated from the settings models (each field's description) by `python -m ferpipe params doc`;
edit the descriptions in the code, not this file. Unknown keys are errors, and so are missing ones.
"""
DOC_MARK = DOC_HEADER.splitlines()[2]  # what `params doc` recognises as a reference it wrote, and so replaces


def _text(value: Any) -> str:
    """A value as params.yaml writes it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _tables(model: type[Settings], block: str, values: Any, tables: dict[str, list[str]]) -> None:
    """Rows of `model`'s fields into the table of `block` ("" for the top level), nested models as tables of their
    own, each under its model's one-line docstring."""
    if block and block not in tables:
        tables[block] = [(model.__doc__ or "").strip().splitlines()[0], ""]
    for name, field in model.model_fields.items():
        sub = nested_model(field.annotation)
        key = f"{block}.{name}" if block else name
        value = values.get(name) if isinstance(values, dict) else None
        if sub is not None:
            if not sub.partial:
                _tables(sub, key, value, tables)
            continue
        rows = tables.setdefault(block, ["The keys of the top level that belong to no block.", ""])
        row = f"| `{name}` | {_cell(expected(field))} | `{_cell(_text(value))}` | {_cell(field.description or '')} |"
        if field.description and not any(r.startswith(f"| `{name}` |") for r in rows):
            rows.append(row)


def parameters_markdown(params: dict[str, Any], models: list[type[Settings]]) -> str:
    """docs/parameters.md for `params`, one table per block of `models` (the registry's): blocks in the order
    params.yaml has them."""
    tables: dict[str, list[str]] = {}
    for model in models:
        if model.key:
            _tables(model, model.key, value_at(params, model.key), tables)
        else:
            _tables(model, "", params, tables)
    order = {key: i for i, key in enumerate(params)}
    out = [DOC_HEADER]
    for block in sorted(tables, key=lambda b: (b != "", order.get(b.split(".")[0], len(order)), b)):
        intro, rows = tables[block][:2], tables[block][2:]
        out += [f"## {'Top level' if not block else f'`{block}:`'}", "", *intro,
                "| key | takes | params.yaml | what it does |", "|---|---|---|---|", *rows, ""]
    return "\n".join(out)
