"""The whole FER-2013 pipeline on one GPU in one command, with its times, speeds and accuracies: a benchmark, not a test.

It runs the stage scripts' `main` in one process, not `dvc repro`, so that it needs neither dvc nor
dvclive: each with the arguments of its cmd in dvc.yaml, in the work folder (--work), the train stage
without its dvclive curves. Parameters: params.yaml with presets/fer2013_gpu.args applied,
the lines a user gives `dvc exp run`; where scikit-learn-intelex is missing (a GPU machine installed from
wheels may lack it), the svm stage runs on scikit-learn, after PCA 256. Beside the Keras loop, the
plain PyTorch loop of benchmarks/torch_reference.py trains on the same augmented crops for the same
epochs, timed in the same run.

    python benchmarks/gpu_fer2013.py pack                  # FER-2013's 35,887 JPEGs -> .gpu/fer2013.npz (43 MiB)
    python benchmarks/gpu_fer2013.py run                   # on a GPU machine: one table, log in benchmarks/results/
    python benchmarks/gpu_fer2013.py run --smoke           # the same code on the CPU, 10 images a class and split

On a GPU machine without the project's environment, keras, namex, optree, facenet-pytorch, skops,
prettytable and wcwidth can be installed from wheels downloaded beforehand (docs/gpu.md gives the
commands).

Epochs are sized to --budget-s by a short throughput probe of both loops (the preset's number is the
most); the probe also counts host-device synchronisations per step, with and without the shims of
ferpipe/nn/torch_cuda.py.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import re
import runpy
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from ferpipe.core.cli import stage_argv  # noqa: E402
from ferpipe.data.sources.fer2013 import USAGE_TO_SPLIT as SPLIT_OF_PREFIX  # noqa: E402

DVC_YAML = REPO / "dvc.yaml"
PRESET = REPO / "presets" / "fer2013_gpu.args"
SMOKE = {"batch_size": 8, "lr": 0.01, "epochs": 2, "train.steps_per_epoch": 2, "train.input_size": 32,
         "runtime.faces.batch_size": 32, "runtime.faces.workers": 1, "augment.factor": 2, "svm.backend": "sklearn",
         "train.loop": "keras", "train.mixed_precision": "float32"}  # the GPU's loop, at the CPU's own precision
SMOKE_IMAGES_PER_CLASS_AND_SPLIT = 10
# scikit-learn-intelex (daal + tbb: ~40 MB of wheels) does not fit beside the data in one call's 64 MiB:
# where it is missing, the svm stage runs scikit-learn's single-core SVC, after PCA to keep it short.
SVM_WITHOUT_SKLEARNEX = {"svm.backend": "sklearn", "svm.pca": 256}
AFTER_TRAINING_S = 180  # evaluate_softmax, embed, svm, compare on the GPU machine, kept free when sizing the epochs
EPOCH_OVERHEAD_S = 3.0  # a Keras epoch's val evaluation and checkpoint
TABLE_ROWS = ("data", "fetch", "faces", "augment", "probe", "train (keras)", "train (plain torch)",
              "evaluate_softmax", "embed", "svm", "compare", "training images/s", "keras / plain torch",
              "host-device syncs per step", "softmax PrivateTest", "plain torch PrivateTest", "SVM PrivateTest",
              "SVM - softmax", "peak GPU memory", "total")


def preset_overrides(path: Path = PRESET) -> dict[str, object]:
    """`-S key=value` lines (comments after #) -> {dotted key: YAML value}, as `dvc exp run -S` reads them."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.fullmatch(r"-S\s+([\w.]+)=(\S+)", line)
            if match is None:
                sys.exit(f"error: {path}: not a `-S key=value` line: {line!r}")
            out[match[1]] = yaml.safe_load(match[2])
    return out


def set_dotted(params: dict, overrides: dict[str, object]) -> dict:
    for dotted, value in overrides.items():
        *parents, key = dotted.split(".")
        block = params
        for name in parents:
            block = block[name]
        block[key] = value
    return params


# ---- data -------------------------------------------------------------------------------------------

def pack(src: Path, out: Path) -> None:
    """The Kaggle image folders into one npz: each JPEG's bytes as they are and its path (raw pixels
    compress worse); compressed, the JPEG headers they share shrink it from 54 to 43 MiB."""
    paths = sorted(src.glob("*/*/*.jpg"))
    if not paths:
        sys.exit(f"error: {src}: no */*/*.jpg images (expected the Kaggle image-folder layout)")
    blobs = [p.read_bytes() for p in paths]
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, jpeg=np.frombuffer(b"".join(blobs), dtype=np.uint8),
                        offsets=np.cumsum([0] + [len(b) for b in blobs]),
                        path=np.array([str(p.relative_to(src)) for p in paths]))
    print(f"{out}: {len(paths)} images, {out.stat().st_size / 2**20:.1f} MiB")


def unpack(data: Path, folder: Path, per_class_and_split: int | None) -> int:
    """Write the Kaggle folders back (all images, or the first N of each class and split) for `fetch`."""
    if data.is_dir():
        images = [(str(p.relative_to(data)), p.read_bytes) for p in sorted(data.glob("*/*/*.jpg"))]
    else:
        with np.load(data) as d:
            jpeg, offsets = d["jpeg"], d["offsets"]
            images = [(str(p), jpeg[offsets[i]:offsets[i + 1]].tobytes) for i, p in enumerate(d["path"])]
    if not images:
        sys.exit(f"error: {data}: no FER-2013 images")
    taken: dict[tuple[str, str], int] = {}
    for rel, read in images:
        group = (Path(rel).parent.name, SPLIT_OF_PREFIX[Path(rel).name.split("_")[0]])
        if per_class_and_split is not None and taken.get(group, 0) >= per_class_and_split:
            continue
        taken[group] = taken.get(group, 0) + 1
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(read())
    return sum(taken.values())


# ---- stages -----------------------------------------------------------------------------------------

def run_stage_script(name: str, **options):
    """Stage `name` as dvc.yaml's cmd runs it (its paths relative to the current folder, the work folder)."""
    main = runpy.run_path(str(REPO / "stages" / f"{name}.py"), run_name=f"stage_{name}")["main"]
    return main(stage_argv(DVC_YAML, name), **options)


def stage_path(name: str, option: str) -> Path:
    """The path that stage `name`'s cmd in dvc.yaml gives its `--option`."""
    argv = stage_argv(DVC_YAML, name)
    return Path(argv[argv.index(f"--{option}") + 1])


# ---- probe ------------------------------------------------------------------------------------------

def syncs_per_step(step, steps: int = 3) -> float | None:
    """Host-device synchronisations that `step` makes, per call (None on the CPU)."""
    import torch

    if not torch.cuda.is_available():
        return None
    step()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            for _ in range(steps):
                step()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught) / steps


def timed_steps(step, steps: int) -> float:
    """Seconds a step takes, after warm-up steps (three on a GPU: cuDNN autotuning), the device drained
    before and after."""
    import torch

    drain = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for _ in range(3 if torch.cuda.is_available() else 1):
        step()
    drain()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    drain()
    return (time.perf_counter() - start) / steps


def step_speed(step, images: int, steps: int) -> dict:
    return {"images_per_s": images / timed_steps(step, steps), "syncs": syncs_per_step(step)}


def keras_step_speed(cfg, x: np.ndarray, y: np.ndarray, num_classes: int, steps: int) -> dict:
    """The Keras training step of a fresh model on one batch, as `fit` runs it."""
    import keras

    from ferpipe.nn.models import build_model, to_model_input
    from ferpipe.nn.schedule import PhasePlan
    from ferpipe.nn.keras_loop import compile_for_phase

    model = build_model(cfg, x.shape[1], num_classes)
    compile_for_phase(model, cfg, PhasePlan(head_only=False, lr=cfg.lr, steps=10_000, warmup_steps=0))
    batch = (to_model_input(keras.ops.convert_to_tensor(x[:cfg.batch_size])), keras.ops.convert_to_tensor(y[:cfg.batch_size]))
    model.train_on_batch(*batch)  # builds the train function
    speed = step_speed(lambda: model.train_function([batch]), cfg.batch_size, steps)
    keras.backend.clear_session()
    return speed


def plain_step_speed(cfg, x: np.ndarray, y: np.ndarray, num_classes: int, steps: int) -> dict:
    import torch
    from torch_reference import PlainTorchResNet50

    net = PlainTorchResNet50(cfg, num_classes, "cuda" if torch.cuda.is_available() else "cpu")
    xt, yt = (torch.as_tensor(a[:cfg.batch_size], device=net.device) for a in (x, y))
    return step_speed(lambda: net.train_step(xt, yt, cfg.lr), cfg.batch_size, steps)


def probe(cfg, x: np.ndarray, y: np.ndarray, num_classes: int, steps: int) -> dict:
    """Images/s and syncs per step of the Keras step (without, then with the CUDA shims) and of the plain loop."""
    import torch

    from ferpipe.nn.backend import seed_everything
    from ferpipe.nn.torch_cuda import remove_shims, speed_up_keras_on_cuda

    seed_everything(cfg.train.seed)  # deterministic kernels, as in the training runs
    out = {}
    if torch.cuda.is_available():  # on the CPU there are no shims to leave out
        out["keras_no_shims"] = keras_step_speed(cfg, x, y, num_classes, steps)
    out["shims"] = speed_up_keras_on_cuda()
    try:
        out["keras"] = keras_step_speed(cfg, x, y, num_classes, steps)
    except Exception as exc:  # noqa: BLE001  (one GPU call: measure the rest without the shims rather than stop)
        if "keras_no_shims" not in out:  # no CUDA, so no shims: a plain error
            raise
        remove_shims()
        print(f"warning: the CUDA shims failed ({type(exc).__name__}: {exc}); training without them", file=sys.stderr)
        out["shims"], out["keras"] = [f"failed: {type(exc).__name__}"], out["keras_no_shims"]
    out.setdefault("keras_no_shims", out["keras"])
    out["plain"] = plain_step_speed(cfg, x, y, num_classes, steps)
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return out


def epochs_in_budget(cfg, n_train: int, seconds_left: float, speeds: dict) -> int:
    """Epochs of both loops that fit in `seconds_left` (at most the preset's)."""
    from ferpipe.nn.schedule import epoch_batches

    images = sum(len(b) for b in epoch_batches(n_train, cfg, 0))
    per_epoch = images / speeds["keras"]["images_per_s"] + EPOCH_OVERHEAD_S + images / speeds["plain"]["images_per_s"]
    return int(max(1, min(cfg.epochs, seconds_left // per_epoch)))


# ---- the run ----------------------------------------------------------------------------------------

class Report:
    """Rows of the final table, each stage's seconds and peak GPU memory, and the log file."""

    def __init__(self, log: Path):
        self.rows: list[tuple[str, str]] = []
        self.log, self.started = log, time.perf_counter()
        self.peak_gib = {"allocated": 0.0, "reserved": 0.0}  # over the whole run
        log.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(log, "w")

    def say(self, text: str) -> None:
        print(text, flush=True)
        self.file.write(text + "\n")
        self.file.flush()

    def stage(self, name: str, fn, note=lambda result, seconds: ""):
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
        peak = "   n/a (cpu)"
        if torch.cuda.is_available():
            stage_peak = {"allocated": torch.cuda.max_memory_allocated() / 2**30, "reserved": torch.cuda.max_memory_reserved() / 2**30}
            self.peak_gib = {k: max(v, stage_peak[k]) for k, v in self.peak_gib.items()}
            peak = f"{stage_peak['allocated']:6.1f} GiB"
        self.add(name, f"{seconds:7.1f} s  {peak}  {note(result, seconds)}")
        self.say(f"[{name}] {seconds:.1f} s {note(result, seconds)}")
        return result

    def add(self, name: str, value: str) -> None:
        self.rows.append((name, value))

    def table(self) -> None:
        self.add("total", f"{time.perf_counter() - self.started:7.1f} s")
        self.say("\n" + "\n".join(f"{name:28s} {value}" for name, value in self.rows))
        self.file.close()


def run(args: argparse.Namespace) -> None:
    from ferpipe.core.params import load_params
    from ferpipe.nn.backend import select_backend

    params = set_dotted(load_params(REPO / "params.yaml"), preset_overrides())
    work, data = args.work.resolve(), args.data.resolve()
    shutil.rmtree(work, ignore_errors=True)
    params["sources"]["fer2013"] = str(work / "fer2013")
    if args.smoke:
        set_dotted(params, SMOKE)  # the svm stage on scikit-learn, as on the GPU machine
    elif importlib.util.find_spec("sklearnex") is None:
        set_dotted(params, SVM_WITHOUT_SKLEARNEX)
    select_backend(params["backend"])
    import keras
    import torch

    from ferpipe.data.arrays import load_split
    from ferpipe.nn.settings import train_config
    from ferpipe.nn.schedule import epoch_batches
    from torch_reference import train_reference

    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none (CPU)"
    report = Report(args.log.resolve())
    report.say(f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, GPU: {gpu}, {os.cpu_count()} CPU cores, "
               f"Python {platform.python_version()}, torch {torch.__version__}, keras {keras.__version__}"
               f"{', SMOKE (CPU-sized)' if args.smoke else ''}")
    report.say(f"# preset {PRESET.relative_to(REPO)}{' + ' + json.dumps(SMOKE) if args.smoke else ''}; "
               f"svm: {json.dumps(params['svm'])}")
    work.mkdir(parents=True)
    os.chdir(work)  # dvc.yaml's paths are relative: the stages read and write in the work folder
    params_file = stage_path("train", "params")
    params_file.write_text(yaml.safe_dump(params))
    limit = SMOKE_IMAGES_PER_CLASS_AND_SPLIT if args.smoke else None

    report.stage("data", lambda: unpack(data, work / "fer2013", limit), lambda n, s: f"{n} images unpacked")
    report.stage("fetch", lambda: run_stage_script("fetch"))
    report.stage("faces", lambda: run_stage_script("faces") or json.loads(stage_path("faces", "metrics").read_text())["all"],
                 lambda r, s: f"MTCNN {r['images'] / s:.0f} img/s ({r['images']} images; CPU reference: 112 img/s on 2 cores), "
                              f"face found in {r['detection_rate']:.1%}")
    report.stage("augment", lambda: run_stage_script("augment"))
    crops = {"train": stage_path("train", "train"), "val": stage_path("train", "val"), "test": stage_path("evaluate_softmax", "test")}
    splits = {s: load_split(path) for s, path in crops.items()}
    classes = [str(c) for c in splits["train"]["classes"]]
    parts = {s: (d["images"], d["labels"]) for s, d in splits.items()}
    cfg = train_config(params)
    speeds = report.stage("probe", lambda: probe(cfg, *parts["train"], len(classes), steps=1 if args.smoke else args.probe_steps),
                          lambda s, _: f"keras {s['keras']['images_per_s']:.0f} img/s (no shims {s['keras_no_shims']['images_per_s']:.0f}), "
                                    f"plain torch {s['plain']['images_per_s']:.0f} img/s")
    if not args.smoke:
        left = args.budget_s - (time.perf_counter() - report.started) - AFTER_TRAINING_S
        epochs = epochs_in_budget(cfg, len(parts["train"][0]), left, speeds)
        if epochs < cfg.epochs:
            report.say(f"epochs: {epochs} of the preset's {cfg.epochs} fit in the {args.budget_s:.0f} s budget")
            params["epochs"] = epochs
            params_file.write_text(yaml.safe_dump(params))  # what the train stage reads
            cfg = train_config(params)
    report.say(f"training: {cfg.epochs} epochs x {cfg.train.steps_per_epoch or 'all'} batches of {cfg.batch_size}, "
               f"input {cfg.train.input_size} px, {cfg.train.mixed_precision}")
    result = report.stage("train (keras)", lambda: run_stage_script("train", curves=False),
                          lambda r, _: f"{r.images_per_s:.0f} img/s, best PublicTest {r.best_val_accuracy:.4f} at epoch {r.best_epoch}")
    reference = report.stage("train (plain torch)", lambda: train_reference(
        cfg, parts, len(classes), "cuda" if torch.cuda.is_available() else "cpu", epoch_batches),
        lambda r, _: f"{r.images_per_s:.0f} img/s, best PublicTest {r.best_val_accuracy:.4f} at epoch {r.best_epoch}")
    report.stage("evaluate_softmax", lambda: run_stage_script("evaluate_softmax"))
    report.stage("embed", lambda: run_stage_script("embed"))
    svm = report.stage("svm", lambda: run_stage_script("svm") or json.loads(stage_path("svm", "metrics").read_text()),
                       lambda m, _: f"{m['backend']}, PCA {m['pca']}, {m['grid_points']} grid points on {m['grid_rows']} rows, "
                                    f"final fit on {m['fit_rows']} rows, {os.cpu_count()} cores")
    report.stage("compare", lambda: run_stage_script("compare"))
    softmax, compared = (json.loads(stage_path(name, "metrics").read_text()) for name in ("evaluate_softmax", "compare"))

    def syncs(key: str) -> str:
        return "n/a (cpu)" if speeds[key]["syncs"] is None else f"{speeds[key]['syncs']:.1f}"

    cuda = torch.cuda.is_available()
    no_shims = f"{speeds['keras_no_shims']['images_per_s'] / speeds['plain']['images_per_s']:.2f}" if cuda else "n/a (cpu)"
    rows = [
        ("training images/s", f"keras {result.images_per_s:.0f}, plain torch {reference.images_per_s:.0f} "
                              f"(probe: {speeds['keras']['images_per_s']:.0f}, {speeds['plain']['images_per_s']:.0f})"),
        ("keras / plain torch", f"{result.images_per_s / reference.images_per_s:.2f} "
                                f"(probe {speeds['keras']['images_per_s'] / speeds['plain']['images_per_s']:.2f}; "
                                f"Keras without the CUDA shims {no_shims})"),
        ("host-device syncs per step", f"keras {syncs('keras')}, without shims {syncs('keras_no_shims')}, plain torch "
                                       f"{syncs('plain')}; shims: {', '.join(speeds['shims']) or 'none'}"),
        ("softmax PrivateTest", f"{softmax['accuracy']:.4f} (macro-F1 {softmax['macro_f1']:.4f}; epoch {result.best_epoch} "
                                f"of {len(result.history)} chosen on PublicTest, {result.best_val_accuracy:.4f})"),
        ("plain torch PrivateTest", f"{reference.test_accuracy:.4f} (epoch {reference.best_epoch} chosen on PublicTest, "
                                    f"{reference.best_val_accuracy:.4f}; keras - plain on PublicTest "
                                    f"{100 * (result.best_val_accuracy - reference.best_val_accuracy):+.1f} points)"),
        ("SVM PrivateTest", f"{svm['accuracy']:.4f} (macro-F1 {svm['macro_f1']:.4f}; C={svm['C']:g}, gamma={svm['gamma']} "
                            f"chosen on PublicTest, {svm['val_accuracy']:.4f})"),
        ("SVM - softmax", f"{compared['accuracy_difference']:+.4f} (95% bootstrap {compared['bootstrap_ci95_low']:+.4f} .. "
                          f"{compared['bootstrap_ci95_high']:+.4f}, McNemar p={compared['mcnemar_p_value']:.3g})"),
        ("peak GPU memory", f"{report.peak_gib['allocated']:.1f} GiB allocated, {report.peak_gib['reserved']:.1f} GiB "
                            f"reserved by PyTorch (the largest stage)" if cuda else "n/a (cpu)"),
    ]
    for name, value in rows:
        report.add(name, value)
    report.table()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--src", type=Path, default=REPO.parent / "shared" / "datasets" / "fer2013")
    p.add_argument("--out", type=Path, default=REPO / ".gpu" / "fer2013.npz")
    r = sub.add_parser("run")
    r.add_argument("--data", type=Path, default=REPO / ".gpu" / "fer2013.npz", help="pack's npz, or the Kaggle folders")
    r.add_argument("--smoke", action="store_true", help="CPU-sized: a few hundred images, tiny epochs")
    r.add_argument("--budget-s", type=float, default=520, help="seconds from start to the table: sizes the epochs")
    r.add_argument("--probe-steps", type=int, default=10)
    r.add_argument("--work", type=Path, default=Path("/tmp/ferpipe_gpu_fer2013"))
    r.add_argument("--log", type=Path, default=REPO / "benchmarks" / "results" /
                   f"gpu_fer2013_{datetime.datetime.now(datetime.timezone.utc):%Y%m%d_%H%M}.txt")
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.src, args.out)
    else:
        run(args)


if __name__ == "__main__":
    main()
