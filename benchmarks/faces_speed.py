"""MTCNN face-crop speed and detection rate on the real FER-2013 (a benchmark, not a test).

Builds a canonical dataset from the Kaggle image folders (not timed), then times the `faces`
stage's crop_dataset over it and prints images/s and the detection report.

    python benchmarks/faces_speed.py                      # all 35,887 images, params.yaml's faces block
    python benchmarks/faces_speed.py --sample 3000 --set pad=0 --set upscale_to=96   # compare settings
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from ferpipe.core.params import load_params
from ferpipe.data.dataset import Dataset, ImageRecord, write_dataset
from ferpipe.data.sources import fer2013
from ferpipe.faces.crop import crop_dataset
from ferpipe.faces.detector import FaceDetector
from ferpipe.faces.summary import detection_report
from ferpipe.faces.settings import FaceRuntime, FaceSettings

REPO = Path(__file__).resolve().parents[1]


def fer_records(src: Path, sample: int | None, seed: int) -> list[ImageRecord]:
    """FER-2013 from the Kaggle image folders (read by the fetch stage's loader), or from the npz
    that `benchmarks/gpu_fer2013.py pack` writes (x, y, split: small enough to carry to a GPU machine)."""
    if src.suffix == ".npz":
        with np.load(src) as packed:
            images, labels, splits = packed["x"], packed["y"], packed["split"]
        records = [ImageRecord(str(splits[i]), int(labels[i]), "", f"{src.name}[{i}]", images[i]) for i in range(len(images))]
    else:
        records = fer2013.load_folders(src)
    if not sample:
        return records
    keep = sorted(np.random.default_rng(seed).choice(len(records), size=min(sample, len(records)), replace=False))
    return [records[i] for i in keep]


def cpu_time() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=REPO.parent / "shared/datasets/fer2013",
                        help="Kaggle FER-2013 folder, or an npz packed by benchmarks/gpu_fer2013.py")
    parser.add_argument("--params", default=str(REPO / "params.yaml"),
                        help="file holding the `faces:` and `runtime.faces:` blocks")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one faces or runtime.faces parameter (YAML value), e.g. pad=0.5 or workers=1")
    parser.add_argument("--sample", type=int, default=None, help="random subset of this many images (seed 0)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    params = load_params(args.params)
    block, runtime_block = dict(params["faces"]), dict(params["runtime"]["faces"])
    for item in args.set:
        key, _, value = item.partition("=")
        (runtime_block if key in runtime_block else block)[key] = yaml.safe_load(value)
    settings = FaceSettings.from_params({"faces": block})
    runtime = FaceRuntime.from_params({"runtime": {"faces": runtime_block}})
    with tempfile.TemporaryDirectory() as tmp:
        write_dataset(Path(tmp) / "fer", "fer2013", fer2013.CLASSES, fer_records(args.src, args.sample, seed=0))
        dataset = Dataset(Path(tmp) / "fer")
        detector = FaceDetector(settings, runtime)
        start, cpu_start = time.perf_counter(), cpu_time()
        splits = crop_dataset(dataset, settings, detector)
        seconds, cpu_seconds = time.perf_counter() - start, cpu_time() - cpu_start
    report = detection_report(splits)
    figures = {
        "images": len(dataset),
        "seconds": round(seconds, 1),
        "images_per_s": round(len(dataset) / seconds, 1),
        # CPU time of this process and its finished workers: less sensitive than wall time to other load.
        "cpu_seconds": round(cpu_seconds, 1),
        "device": detector.device,
        "torch_threads": torch.get_num_threads(),
        "load_avg_1min_at_end": round(os.getloadavg()[0], 2),
        "settings": {**block, **runtime_block},
        "report": report,
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
