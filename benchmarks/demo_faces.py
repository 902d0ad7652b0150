"""Demo dataset figures: generation speed, MTCNN detection rate, and how learnable the classes are.

Run from the repo root: `.venv/bin/python benchmarks/demo_faces.py [--seed 0] [--per-class 120]`.
Learnability: HOG features of the MTCNN face crop (grey, 48x48), logistic regression trained on the
demo's train identities and scored on its val and test identities (the split `fetch` makes;
chance = 1/7). `--sheet out.png` also saves a contact sheet (a row per class) of the first size.
"""
import argparse
import time

import cv2
import numpy as np
import torch  # noqa: F401  (before anything that might pull in tensorflow)
from facenet_pytorch import MTCNN
from skimage.feature import hog
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from ferpipe.data.sources import demo
from ferpipe.data.sources.demo_faces import DEMO_CLASSES, generate_demo


def detect(images: list[np.ndarray]) -> list[np.ndarray | None]:
    """Most confident MTCNN box per image (x1, y1, x2, y2), or None where no face was found."""
    boxes, probs = MTCNN(keep_all=True, device="cpu").detect(images)
    return [None if b is None else np.asarray(b, dtype=float)[int(np.argmax(np.asarray(p, dtype=float)))]
            for b, p in zip(boxes, probs)]


def crop_features(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    x1, y1, x2, y2 = np.clip(np.round(box), 0, [w, h, w, h]).astype(int)
    grey = cv2.cvtColor(image[y1:max(y2, y1 + 2), x1:max(x2, x1 + 2)], cv2.COLOR_RGB2GRAY)
    face = cv2.resize(grey, (48, 48), interpolation=cv2.INTER_AREA)
    return hog(face, orientations=9, pixels_per_cell=(6, 6), cells_per_block=(2, 2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-class", type=int, default=120)
    ap.add_argument("--val-fraction", type=float, default=0.1)
    ap.add_argument("--test-fraction", type=float, default=0.1)
    ap.add_argument("--sizes", type=int, nargs="+", default=[96, 64])
    ap.add_argument("--sheet", help="save a contact sheet PNG of the first size here")
    args = ap.parse_args()
    # One thread: on a shared 2-core CPU, OpenMP/BLAS spin-waiting made 2 threads several times slower.
    torch.set_num_threads(1)
    with threadpool_limits(1):
        for size in args.sizes:
            measure(args.seed, args.per_class, size, args.val_fraction, args.test_fraction)
            if args.sheet and size == args.sizes[0]:
                save_sheet(args.sheet, generate_demo(args.seed, min(args.per_class, 10), size))


def save_sheet(path: str, data: list) -> None:
    rows = [np.concatenate([img for img, label, _ in data if label == k], axis=1) for k in range(len(DEMO_CLASSES))]
    cv2.imwrite(path, cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))


def measure(seed: int, per_class: int, size: int, val_fraction: float, test_fraction: float) -> None:
    start = time.perf_counter()
    _, records = demo.load(per_class, size, val_fraction, test_fraction, seed)
    gen_s = time.perf_counter() - start
    images = [r.image for r in records]
    labels = np.array([r.label for r in records])
    splits = np.array([r.split for r in records])
    start = time.perf_counter()
    boxes = detect(images)
    det_s = time.perf_counter() - start
    found = np.array([b is not None for b in boxes])
    by_class = ", ".join(f"{c} {found[labels == k].mean():.0%}" for k, c in enumerate(DEMO_CLASSES))
    print(f"size {size}: {len(records)} images generated in {gen_s:.2f} s; MTCNN found a face in "
          f"{found.sum()}/{len(records)} = {found.mean():.1%} ({det_s:.1f} s) [{by_class}]")

    keep = np.flatnonzero(found)
    feats = np.stack([crop_features(images[i], boxes[i]) for i in keep])
    labels, splits = labels[keep], splits[keep]
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.05))
    clf.fit(feats[splits == "train"], labels[splits == "train"])
    scores = ", ".join(f"{split} {clf.score(feats[splits == split], labels[splits == split]):.1%} "
                       f"({(splits == split).sum()} images)" for split in ("val", "test"))
    print(f"size {size}: HOG + logistic regression on MTCNN crops, trained on the train identities: "
          f"{scores} (chance {1 / len(DEMO_CLASSES):.1%})")


if __name__ == "__main__":
    main()
