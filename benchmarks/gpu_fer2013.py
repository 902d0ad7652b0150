"""Train ResNet-50 (or LeNet) on the real FER-2013 with the project's training code: a GPU check, not a test.

Two steps:
  pack: the Kaggle image-folder FER-2013 into one npz of the JPEG bytes as they are (raw pixels
        compress worse), optionally with a random subset of Training, small enough to travel to a
        GPU machine (all 35,887 images are ~58 MB; 22,000 Training + both test sets ~45 MiB);
  run:  train with `ferpipe.nn.training` (Keras; torch backend by default, the only one on the GPU
        machine; the dtype policy --precision when a GPU is present), epochs sized to --budget-s
        by a short throughput probe, the checkpoint chosen on PublicTest; prints PrivateTest
        accuracy and training images/s on a `RESULT {json}` line. No augmentation, weights none.

    python benchmarks/gpu_fer2013.py pack --train-subset 22000
    python benchmarks/gpu_fer2013.py run --budget-s 180 --batch-size 128 --lr 0.02 --precision mixed_bfloat16
    python benchmarks/gpu_fer2013.py run --limit 60 --input-size 32 --budget-s 20   # CPU dry run
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ferpipe.data.sources.fer2013 import CLASSES as FER_CLASSES
from ferpipe.data.sources.fer2013 import USAGE_TO_SPLIT as SPLIT_OF_PREFIX


def pack(src: Path, out: Path, train_subset: int | None, seed: int = 0) -> None:
    """Keep each image's JPEG bytes as they are (raw pixels compress worse than JPEG does)."""
    paths = sorted(src.glob("*/*/*.jpg"))
    if not paths:
        sys.exit(f"error: {src}: no */*/*.jpg images (expected the Kaggle image-folder layout)")
    splits = np.array([SPLIT_OF_PREFIX[p.name.split("_")[0]] for p in paths])
    keep = np.ones(len(paths), dtype=bool)
    train = np.flatnonzero(splits == "train")
    if train_subset is not None and train_subset < len(train):
        keep[train] = False
        keep[np.random.default_rng(seed).choice(train, train_subset, replace=False)] = True
    blobs = [paths[i].read_bytes() for i in np.flatnonzero(keep)]
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype(np.int64)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as fh:
        np.savez(fh, jpeg=np.frombuffer(b"".join(blobs), dtype=np.uint8), offsets=offsets,
                 y=np.array([FER_CLASSES.index(paths[i].parent.name) for i in np.flatnonzero(keep)]),
                 split=splits[keep], classes=np.array(FER_CLASSES))
    print(f"{out}: {len(blobs)} images ({dict(zip(*np.unique(splits[keep], return_counts=True)))}), "
          f"{out.stat().st_size / 2**20:.1f} MiB")


def unpack(path: Path) -> dict[str, np.ndarray]:
    import cv2

    with np.load(path) as d:
        jpeg, offsets = d["jpeg"], d["offsets"]
        x = np.stack([cv2.imdecode(jpeg[offsets[i]:offsets[i + 1]], cv2.IMREAD_GRAYSCALE)
                      for i in range(len(offsets) - 1)])
        return {"x": x, "y": d["y"], "split": d["split"], "classes": [str(c) for c in d["classes"]]}


def probe_images_per_s(cfg, x: np.ndarray, y: np.ndarray, num_classes: int, steps: int) -> float:
    """Training throughput of a throwaway model, to size the real run's epochs to the time budget."""
    import keras

    from ferpipe.nn.models import as_model_input, build_model
    from ferpipe.nn.training import compile_for_phase

    model = build_model(cfg, x.shape[1], num_classes)
    compile_for_phase(model, cfg, cfg.lr, steps)
    batch = as_model_input(x[:cfg.batch_size]), y[:cfg.batch_size]
    for _ in range(3):  # warm-up: tracing, cuDNN autotuning
        model.train_on_batch(*batch)
    start = time.perf_counter()
    for _ in range(steps):
        logs = model.train_on_batch(*batch, return_dict=True)
    float(logs["loss"])  # waits for the device
    ips = steps * cfg.batch_size / (time.perf_counter() - start)
    del model
    keras.backend.clear_session()
    return ips


def run(args: argparse.Namespace) -> None:
    from ferpipe.nn.backend import select_backend

    select_backend(args.backend)
    from ferpipe.eval.metrics import classification_metrics
    from ferpipe.nn.backend import gpu_available
    from ferpipe.nn.config import train_config
    from ferpipe.nn.models import predict_probabilities
    from ferpipe.nn.training import train
    from ferpipe.testing.train_params import train_params

    data = unpack(args.data)
    x, y, split, classes = data["x"], data["y"], data["split"], data["classes"]
    parts = {name: (x[split == name], y[split == name]) for name in ("train", "val", "test")}
    if args.limit:
        rng = np.random.default_rng(0)
        parts = {k: tuple(a[np.sort(rng.permutation(len(v[0]))[:args.limit])] for a in v) for k, v in parts.items()}
    print(f"gpu: {gpu_available()}; train {len(parts['train'][0])} / PublicTest {len(parts['val'][0])} / "
          f"PrivateTest {len(parts['test'][0])} images")
    params = train_params(arch=args.arch, backend=args.backend, lr=args.lr, batch_size=args.batch_size, epochs=1,
                          n_kerns=[20, 50], train_input_size=args.input_size, train_dropout=0.5,
                          train_momentum=args.momentum, train_weight_decay=args.weight_decay, train_schedule="cosine",
                          train_mixed_precision=args.precision)
    probe = probe_images_per_s(train_config(params), *parts["train"], len(classes), steps=args.probe_steps)
    epoch_s = len(parts["train"][0]) / probe * 1.15  # + val evaluation and checkpoint saving
    epochs = int(max(1, min(args.max_epochs, args.budget_s // epoch_s)))
    print(f"probe: {probe:.0f} img/s -> {epochs} epochs in a budget of {args.budget_s:.0f} s")
    cfg = train_config({**params, "epochs": epochs})
    result = train(cfg, *parts["train"], *parts["val"], len(classes), Path(args.checkpoints),
                   stop_after_seconds=args.budget_s * 1.3)
    probs = predict_probabilities(result.model, parts["test"][0])
    test = classification_metrics(parts["test"][1], probs.argmax(axis=1), classes)
    summary = {"device": args.device_name, "arch": cfg.arch, "backend": args.backend, "precision": result.precision,
               "input_size": cfg.input_size, "batch_size": cfg.batch_size, "lr": cfg.lr, "momentum": cfg.momentum,
               "weights": "none",
               "train_images": len(parts["train"][0]), "epochs_run": len(result.history),
               "train_images_per_s": round(result.images_per_s, 1), "probe_images_per_s": round(probe, 1),
               "seconds": round(result.seconds, 1), "best_epoch_on_PublicTest": result.best_epoch,
               "PublicTest_accuracy": round(result.best_val_accuracy, 4),
               "PrivateTest_accuracy": round(test["accuracy"], 4), "PrivateTest_macro_f1": round(test["macro_f1"], 4),
               "PrivateTest_per_class_recall": {k: round(v["recall"], 3) for k, v in test["per_class"].items()}}
    print("RESULT " + json.dumps(summary))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--src", type=Path, default=Path("../shared/datasets/fer2013"))
    p.add_argument("--out", type=Path, default=Path(".gpu/fer2013.npz"))
    p.add_argument("--train-subset", type=int, default=None, help="keep this many random training images")
    r = sub.add_parser("run")
    r.add_argument("--data", type=Path, default=Path(".gpu/fer2013.npz"))
    r.add_argument("--arch", default="resnet50", choices=["resnet50", "lenet"])
    r.add_argument("--backend", default="torch")
    r.add_argument("--precision", default="mixed_float16", help="Keras dtype policy used when a GPU is present")
    r.add_argument("--input-size", type=int, default=96)
    r.add_argument("--batch-size", type=int, default=56)
    r.add_argument("--lr", type=float, default=0.05)
    r.add_argument("--momentum", type=float, default=0.0)
    r.add_argument("--weight-decay", type=float, default=0.0)
    r.add_argument("--budget-s", type=float, default=240, help="training time to size the epochs to")
    r.add_argument("--max-epochs", type=int, default=30)
    r.add_argument("--probe-steps", type=int, default=20)
    r.add_argument("--limit", type=int, default=0, help="use only the first N images of each split (dry runs)")
    r.add_argument("--checkpoints", default="/tmp/ferpipe_gpu_checkpoints")
    r.add_argument("--device-name", default="")
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.src, args.out, args.train_subset)
    else:
        run(args)


if __name__ == "__main__":
    main()
