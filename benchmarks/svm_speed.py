"""How fast the `svm` stage's RBF SVM fits FER-2013-sized deep features (28,709 x 2,048): a benchmark, not a test.

Two steps:
  features: real ResNet-50 embeddings of FER-2013 (Kaggle folders at --src): a ResNet-50 at 48 px
            trained from scratch for a short time budget with the project's training code (Keras,
            float32 on the CPU), then its `features` layer (2,048-d) for Training, PublicTest and
            PrivateTest, saved to --cache. The network is weak (a few minutes of CPU training), so
            the classes overlap much and the SVM keeps many support vectors: a hard case for speed.
  run:      on those features, the variants side by side (plain scikit-learn SVC, scikit-learn-intelex's
            SVC, with or without PCA, the grid on a subset of train then a full refit); each fit in a
            child process with a time limit. Prints a table (fit seconds include scaling and PCA;
            accuracy on PrivateTest) for benchmarks/results/.

    python benchmarks/svm_speed.py features --src ../shared/datasets/fer2013 --budget-s 420
    python benchmarks/svm_speed.py run --limit-s 1500
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ferpipe.data.sources.fer2013 import CLASSES, load_folders
from ferpipe.features.extract import BATCH_SIZE
from ferpipe.features.files import SPLITS

CACHE = Path("/tmp/ferpipe_svm_bench/fer2013_resnet50_features.npz")


def features(args: argparse.Namespace) -> None:
    from ferpipe.nn.backend import select_backend

    select_backend("tensorflow")
    from ferpipe.nn.settings import train_config
    from ferpipe.nn.models import feature_model, predict_batched
    from ferpipe.nn.training import train

    records = load_folders(args.src)
    split = np.array([r.split for r in records])
    images = np.stack([r.image for r in records])
    labels = np.array([r.label for r in records], dtype=np.int64)
    parts = {s: (images[split == s], labels[split == s]) for s in SPLITS}
    params = {"arch": "resnet50", "backend": "tensorflow", "weights": "none", "lr": args.lr, "batch_size": 56,
              "epochs": args.epochs, "n_kerns": [20, 50], "pool_size": [2, 2],
              "train": {"input_size": 48, "head_epochs": 0, "dropout": 0.0, "momentum": 0.0, "nesterov": False,
                        "weight_decay": 0.0, "schedule": "cosine", "steps_per_epoch": args.steps_per_epoch,
                        "mixed_precision": "float32", "seed": 0}}
    result = train(train_config(params), *parts["train"], *parts["val"], len(CLASSES), Path(args.cache).parent / "ckpt",
                   stop_after_seconds=args.budget_s)
    features_of = feature_model(result.model)
    started = time.perf_counter()
    out = {}
    for s in SPLITS:
        out[f"{s}_features"] = predict_batched(features_of, parts[s][0], BATCH_SIZE, desc=f"embed {s}")
        out[f"{s}_labels"] = parts[s][1]
    embed_s = time.perf_counter() - started
    info = {"network": "keras.applications ResNet-50, from scratch, 48 px, SGD lr %g cosine, batch 56" % args.lr,
            "epochs_run": len(result.history), "steps_per_epoch": args.steps_per_epoch,
            "train_seconds": round(result.seconds), "train_images_per_s": round(result.images_per_s, 1),
            "best_epoch": result.best_epoch, "softmax_PublicTest_accuracy": round(result.best_val_accuracy, 4),
            "embed_seconds": round(embed_s), "embed_images_per_s": round(len(images) / embed_s, 1)}
    Path(args.cache).parent.mkdir(parents=True, exist_ok=True)
    with open(args.cache, "wb") as fh:
        np.savez(fh, info=json.dumps(info), **out)
    print("FEATURES " + json.dumps(info))


def load_features(path: Path) -> tuple[dict, dict[str, tuple[np.ndarray, np.ndarray]]]:
    with np.load(path) as d:
        return json.loads(str(d["info"])), {s: (d[f"{s}_features"], d[f"{s}_labels"]) for s in SPLITS}


def fit_one(args: argparse.Namespace) -> None:
    """One variant in this (child) process, with the svm stage's own code: the grid (when it has more
    than one point) on --grid-rows training rows, scored on val; the chosen point refitted on all of
    train and scored on test. Prints one `FIT {json}` line."""
    from ferpipe.svm.fit import best_point, fit_final, grid_rows, search_grid
    from ferpipe.svm.settings import SvmSettings
    from ferpipe.svm.model import final_svc

    _, parts = load_features(args.cache)
    settings = SvmSettings(C=tuple(args.C), gamma=tuple(args.gamma), pca=args.pca, class_weight=None,
                           refit_on="train", probability=False, grid_rows=args.grid_rows, backend=args.backend, seed=0)
    (x, y), (val_x, val_y), (test_x, test_y) = (parts[s] for s in SPLITS)
    out: dict = {}
    C, gamma = settings.C[0], settings.gamma[0]
    if len(settings.C) * len(settings.gamma) > 1:
        rows = grid_rows(y, settings)
        started, cpu = time.perf_counter(), time.process_time()
        points = search_grid(x[rows], y[rows], val_x, val_y, settings)
        best = best_point(points)
        C, gamma = best.C, best.gamma
        out.update(grid_s=round(time.perf_counter() - started, 1), grid_cpu_s=round(time.process_time() - cpu, 1),
                   grid_rows=len(rows),
                   grid={p.name: round(p.val_accuracy, 4) for p in points}, chosen=best.name)
    started, cpu = time.perf_counter(), time.process_time()
    model = fit_final(x, y, settings, C, gamma)
    out.update(fit_s=round(time.perf_counter() - started, 1), fit_cpu_s=round(time.process_time() - cpu, 1))
    started = time.perf_counter()
    out["val"] = float(np.mean(model.predict(val_x) == val_y))
    out["test"] = float(np.mean(model.predict(test_x) == test_y))
    out.update(predict_s=round(time.perf_counter() - started, 1), support_vectors=int(final_svc(model).n_support_.sum()))
    print("FIT " + json.dumps(out), flush=True)


def gamma_arg(text: str) -> float | str:
    return text if text in ("scale", "auto") else float(text)


def child(args: argparse.Namespace, *variant: str) -> dict:
    """Run `fit` with the variant's arguments in a child process, stopped after --limit-s."""
    import resource
    import subprocess
    import sys

    command = [sys.executable, __file__, "fit", "--cache", str(args.cache), *variant]
    started = time.perf_counter()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.limit_s)
    except subprocess.TimeoutExpired:  # subprocess.run kills and waits for it: its CPU time is counted
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {"stopped_s": round(time.perf_counter() - started),
                "stopped_cpu_s": round(cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime)}
    lines = [line for line in done.stdout.splitlines() if line.startswith("FIT ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"variant {variant} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][4:])


def row(name: str, r: dict) -> str:
    if "stopped_s" in r:
        return f"| {name} | | stopped unfinished after {r['stopped_s']} s ({r['stopped_cpu_s']} CPU s) | | | | |"
    grid = (f"{r['grid_s']:.0f} s ({r['grid_cpu_s']:.0f} CPU s), {len(r['grid'])} points on {r['grid_rows']} rows"
            if "grid_s" in r else "")
    return (f"| {name} | {grid} | {r['fit_s']:.1f} s ({r['fit_cpu_s']:.0f} CPU s) | {r['predict_s']:.1f} s | "
            f"{r['support_vectors']} | {100 * r['val']:.2f}% | {100 * r['test']:.2f}% |")


def run(args: argparse.Namespace) -> None:
    import os
    import platform

    info, parts = load_features(args.cache)
    grid = ["--C", *map(str, args.grid_C), "--gamma", *map(str, args.grid_gamma)]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    print(f"features: {info}")
    print("sizes: " + ", ".join(f"{s} {parts[s][0].shape}" for s in SPLITS))
    print("wall seconds on a shared machine; CPU seconds (all threads) of the same step beside them")
    print("| variant | grid (val) | final fit on all train rows | predict val+test | support vectors | "
          "val (PublicTest) | test (PrivateTest) |")
    print("|---|---|---|---|---|---|---|")
    subset = child(args, "--backend", "sklearnex", *grid, "--grid-rows", str(args.grid_rows))
    print(row("sklearnex, all dims, grid on a subset then refit", subset), flush=True)
    print(f"grid val accuracy (subset): {subset['grid']}; chosen {subset['chosen']}", flush=True)
    C, gamma = (part.split("=")[1] for part in subset["chosen"].split(", "))
    for backend in ("sklearnex", "sklearn"):
        for pca in (["--pca", str(args.pca)], []):
            name = f"{backend}, {'PCA ' + str(args.pca) if pca else 'all dims'}, {subset['chosen']}"
            print(row(name, child(args, "--backend", backend, *pca, "--C", C, "--gamma", gamma)), flush=True)
    full = child(args, "--backend", "sklearnex", *grid)
    print(row("sklearnex, all dims, grid on all train rows then refit", full), flush=True)
    if "grid" in full:
        print(f"grid val accuracy (all rows): {full['grid']}; chosen {full['chosen']}", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("features")
    f.add_argument("--src", type=Path, default=Path("../shared/datasets/fer2013"))
    f.add_argument("--cache", type=Path, default=CACHE)
    f.add_argument("--budget-s", type=float, default=420, help="stop training after the epoch that passes this")
    f.add_argument("--epochs", type=int, default=4)
    f.add_argument("--steps-per-epoch", type=int, default=100)
    f.add_argument("--lr", type=float, default=0.05)
    r = sub.add_parser("run")
    r.add_argument("--cache", type=Path, default=CACHE)
    r.add_argument("--grid-C", type=float, nargs="+", default=[1.0, 10.0, 100.0])
    r.add_argument("--grid-gamma", type=gamma_arg, nargs="+", default=["scale"])
    r.add_argument("--grid-rows", type=int, default=5000)
    r.add_argument("--pca", type=int, default=256)
    r.add_argument("--limit-s", type=float, default=900, help="stop a variant still running after this")
    one = sub.add_parser("fit", help="one variant (run by `run` in a child process)")
    one.add_argument("--cache", type=Path, default=CACHE)
    one.add_argument("--backend", choices=["sklearnex", "sklearn"], required=True)
    one.add_argument("--pca", type=int, default=None)
    one.add_argument("--C", type=float, nargs="+", default=[1.0])
    one.add_argument("--gamma", type=gamma_arg, nargs="+", default=["scale"])
    one.add_argument("--grid-rows", type=int, default=None, help="fit the grid on this many random training rows")
    args = parser.parse_args()
    if args.command == "features":
        features(args)
    elif args.command == "fit":
        fit_one(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
