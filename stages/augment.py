"""Stage `augment`: multiply the training faces by `factor`; val and test pass through untouched.

Reads data/faces/{train,val,test}.npz, writes data/augmented/{train,val,test}.npz, the counts
metrics/augment.json and plots/augment_examples.png. Reads only the `augment:` params block.
"""
from __future__ import annotations

import json
from pathlib import Path

from ferpipe.augment.folder import augment_folder, plot_example
from ferpipe.augment.settings import AugmentSettings
from ferpipe.core.cli import run_stage, stage_parser
from ferpipe.core.outputs import staged_outputs
from ferpipe.core.params import load_params


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__.splitlines()[0], __file__)
    parser.add_argument("--faces", help="folder of the faces stage's split files")
    parser.add_argument("--out")
    parser.add_argument("--metrics")
    parser.add_argument("--plot")
    args = parser.parse_args(argv)
    with staged_outputs(args.out, args.metrics, args.plot) as (out, metrics, plot):
        settings = AugmentSettings.from_params(load_params(args.params), params_file=args.params)
        report, images, variants = augment_folder(Path(args.faces), Path(out), settings)
        metrics.write_text(json.dumps(report, indent=2) + "\n")
        plot_example(plot, images, variants, report["train_in"])
        print(f"augment: {report['train_in']} -> {report['train_out']} training images")


if __name__ == "__main__":
    run_stage(main)
