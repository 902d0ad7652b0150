"""Augmentation speed (a benchmark, not a test): images/s that `augment` produces from 48x48 faces.

Uses real FER-2013 training images when ../shared/datasets/fer2013 exists, else smooth noise.
Target: at least 2,000 images/s on a 2-core CPU (recorded runs: docs/benchmarks.md).

    python benchmarks/augment_speed.py               # 5,000 training images x factor 12
    python benchmarks/augment_speed.py --n 28709     # the whole FER-2013 training split
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import cv2
import numpy as np
import yaml

from ferpipe.augment.folder import eval_copies
from ferpipe.augment.settings import AugmentSettings
from ferpipe.augment.transforms import augment

REPO = Path(__file__).resolve().parents[1]
DEFAULTS = {"seed": 0, "factor": 12, "flip": 0.5, "brightness": 0.2, "contrast": 0.2, "crop": 0.85, "shift": 0.05,
            "rotation": 10}


def training_faces(src: Path, n: int) -> tuple[np.ndarray, str]:
    paths = sorted(src.glob("train/*/*.jpg"))[:n]
    if paths:
        return np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths]), f"FER-2013 train ({src})"
    coarse = np.random.default_rng(0).integers(0, 256, (n, 12, 12), dtype=np.uint8)
    return np.stack([cv2.resize(c, (48, 48), interpolation=cv2.INTER_CUBIC) for c in coarse]), "smooth noise"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=REPO.parent / "shared/datasets/fer2013")
    parser.add_argument("--n", type=int, default=5000, help="training images to augment")
    parser.add_argument("--params", type=Path, default=REPO / "params.yaml",
                        help="file with an `augment:` block (the issue's defaults where it has none)")
    args = parser.parse_args()

    params = yaml.safe_load(args.params.read_text()) if args.params.is_file() else {}
    settings = AugmentSettings.from_params({"augment": params.get("augment", DEFAULTS)})
    images, origin = training_faces(args.src, args.n)
    start, cpu_start = time.perf_counter(), time.process_time()
    out, _, _ = augment(images, settings)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    start = time.perf_counter()
    eval_copies(out, images[:1000])
    audit_seconds = time.perf_counter() - start
    print(json.dumps({
        "input": origin,
        "train_in": len(images),
        "train_out": len(out),
        "seconds": round(seconds, 2),
        "images_per_s": round(len(out) / seconds),
        "cpu_seconds": round(cpu_seconds, 2),
        "leak_audit_seconds": round(audit_seconds, 2),
        "load_avg_1min_at_end": round(os.getloadavg()[0], 2),
    }, indent=2))


if __name__ == "__main__":
    main()
