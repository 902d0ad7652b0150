"""Stage `fetch`: read the dataset chosen by `dataset` and write the canonical dataset folder."""
from pathlib import Path

from ferpipe.core.cli import run_stage, stage_parser
from ferpipe.core.params import load_params, pick
from ferpipe.data.fetch import run_fetch


def main(argv=None):
    parser = stage_parser(__doc__)
    parser.add_argument("--out", default="data/dataset")
    parser.add_argument("--metrics", default="metrics/data.json")
    args = parser.parse_args(argv)
    params = pick(load_params(args.params), "dataset", "sources", "fetch")
    metrics = run_fetch(params, Path(args.out), Path(args.metrics))
    counts = ", ".join(f"{s} {c['total']}" for s, c in metrics["counts"].items())
    print(f"fetch: {metrics['dataset']}: {counts}; {metrics['train_copies_dropped']} train copies of val/test images dropped")


if __name__ == "__main__":
    run_stage(main)
