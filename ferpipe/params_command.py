"""`python -m ferpipe params check|doc [--params FILE]`: the whole params file checked as every
stage checks it (plus unknown keys anywhere), or docs/parameters.md written from the models'
field descriptions and the file's values."""
from __future__ import annotations

import argparse
from typing import Any

from ferpipe.core.cli import run_stage
from ferpipe.core.outputs import generated_file, staged_outputs
from ferpipe.core.params import load_params
from ferpipe.core.settings import Settings, expected, nested_model, value_at
from ferpipe.registry import all_models, check_all

DOC_FILE = "docs/parameters.md"
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


def parameters_markdown(params: dict[str, Any]) -> str:
    """docs/parameters.md for `params`: blocks in the order params.yaml has them."""
    tables: dict[str, list[str]] = {}
    for model in all_models():
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


def _main(argv: list[str] | None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ferpipe params", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("check", "doc"))
    parser.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    parser.add_argument("--out", default=DOC_FILE, help=f"doc: where the reference goes (default: {DOC_FILE})")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    check_all(params, args.params)
    if args.action == "check":
        print(f"{args.params}: every parameter checked")
        return
    with staged_outputs(args.out, recognise=generated_file(DOC_MARK)) as (out,):
        out.write_text(parameters_markdown(params))
    print(f"wrote {args.out}")


def main(argv: list[str] | None = None) -> None:
    run_stage(_main, argv)
