"""Stage `check_params`: the whole params file checked as `python -m ferpipe params check` checks it.

Its dependency is params.yaml as a file, so any change to it (a typo such as `lrr:` that no stage
declares included) runs this check first in a plain `dvc repro`. Its output never changes, so the
stages after it (fetch depends on it) rerun only for their own reasons.
"""
from __future__ import annotations

from ferpipe.core.cli import run_stage, stage_parser
from ferpipe.core.outputs import staged_outputs
from ferpipe.core.params import load_params
from ferpipe.registry import check_all

CHECKED = "every parameter checked\n"


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__.splitlines()[0], __file__)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    with staged_outputs(args.out) as (out,):
        check_all(load_params(args.params), args.params)
        out.write_text(CHECKED)
    print(f"check_params: {args.params}: {CHECKED.strip()}")


if __name__ == "__main__":
    run_stage(main)
