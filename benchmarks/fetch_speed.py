"""How long `fetch` takes on the full FER-2013 image folder (target: under 60 s on 2 cores).

Usage: python benchmarks/fetch_speed.py [path/to/fer2013]   (default: ../shared/datasets/fer2013)
"""
import copy
import sys
import tempfile
import time
from pathlib import Path

import yaml

from ferpipe.data.fetch import run_fetch
from ferpipe.data.settings import FetchSettings

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "datasets" / "fer2013"
    params = copy.deepcopy(yaml.safe_load((REPO / "params.yaml").read_text()))
    params["dataset"], params["sources"]["fer2013"] = "fer2013", str(source)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        metrics = run_fetch(FetchSettings.from_params(params), Path(tmp) / "dataset", Path(tmp) / "data.json")
        seconds = time.perf_counter() - start
    n = sum(c["total"] for c in metrics["counts"].values()) + metrics["train_copies_dropped"]
    print(f"fetch fer2013 ({source}): {n} images in {seconds:.1f} s ({n / seconds:.0f} images/s)")


if __name__ == "__main__":
    main()
