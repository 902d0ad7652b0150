"""`python -m ferpipe params check|doc [--params FILE]`: the whole params file checked as every
stage checks it (plus unknown keys anywhere), or docs/parameters.md written from the models'
field descriptions and the file's values."""
from __future__ import annotations

import argparse

from ferpipe.core.cli import run_stage
from ferpipe.core.outputs import generated_file, staged_outputs
from ferpipe.core.params import load_params
from ferpipe.registry import all_models, check_all
from ferpipe.report.parameters import DOC_MARK, parameters_markdown
from ferpipe.commands import help_description

DOC_FILE = "docs/parameters.md"


def _main(argv: list[str] | None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ferpipe params", description=help_description(__doc__))
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
        out.write_text(parameters_markdown(params, all_models()))
    print(f"wrote {args.out}")


def main(argv: list[str] | None = None) -> None:
    run_stage(_main, argv)
