"""Stage `fetch`: read the dataset chosen by `dataset` and write the canonical dataset folder.

Writes data/dataset/ and metrics/data.json (counts per split and class, content hash, audit).
Reads only the top-level `dataset` and `sources` keys and the `fetch:` block.
"""
from __future__ import annotations

from pathlib import Path

from ferpipe.core.cli import run_stage, stage_parser
from ferpipe.core.outputs import staged_outputs
from ferpipe.core.params import load_params
from ferpipe.data.fetch import run_fetch
from ferpipe.data.settings import FetchSettings


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__.splitlines()[0], __file__)
    parser.add_argument("--out")
    parser.add_argument("--metrics")
    args = parser.parse_args(argv)
    with staged_outputs(args.out, args.metrics) as (out, metrics_path):
        settings = FetchSettings.from_params(load_params(args.params), params_file=args.params)
        metrics = run_fetch(settings, Path(out), metrics_path)
    counts = ", ".join(f"{s} {c['total']}" for s, c in metrics["counts"].items())
    print(f"fetch: {metrics['dataset']}: {counts}; {metrics['train_copies_dropped']} train copies of val/test images dropped")


if __name__ == "__main__":
    run_stage(main)
