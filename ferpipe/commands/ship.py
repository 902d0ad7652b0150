"""`python -m ferpipe ship --out DIR --recipe FILE`: a network-only copy of an export with int8 weights, checked on
the test crops (ferpipe.export.ship says how it is made)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ferpipe.core.errors import require
from ferpipe.core.outputs import staged_outputs
from ferpipe.export import ship as shipping
from ferpipe.export.ship import checkout_commit, describe, read_recipe, ship, shipped_folder
from ferpipe.commands import help_description


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ferpipe ship", description=help_description(shipping.__doc__))
    parser.add_argument("--export", default="data/export", help="the export stage's folder (its network is shipped)")
    parser.add_argument("--test", default="data/augmented/test.npz", help="the test crops the export was scored on")
    parser.add_argument("--out", required=True, help="the shipped model's folder, e.g. models/fer2013-resnet50")
    parser.add_argument("--recipe", required=True, help="the training settings, as given to the pipeline (a file "
                                                        "such as presets/fer2013_cpu.args, recorded by its text)")
    parser.add_argument("--commit", help="the commit of the code that trained the network (default: this checkout's)")
    parser.add_argument("--max-drop", type=float, default=0.01,
                        help="the test accuracy the int8 copy may lose against its source (default 0.01: one point)")
    args = parser.parse_args(argv)
    recipe = read_recipe(Path(args.recipe))
    commit = args.commit or checkout_commit()
    require(bool(commit), "--commit: not given, and this folder is no git checkout to read it from")
    with staged_outputs(args.out, recognise=shipped_folder) as (out,):
        card = ship(Path(args.export), Path(args.test), out, commit, recipe, args.max_drop)
    print(describe(card, Path(args.out)))
