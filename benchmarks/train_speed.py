"""Training throughput of ResNet-50 (images/s) on this machine: Keras on each backend vs plain PyTorch.

Each measurement runs in its own process (Keras picks its backend at import). The Keras model is
the project's own (`ferpipe.nn.models.build_model`, random weights, SGD with momentum) trained by the
training loop's own epoch call (`ferpipe.nn.training.fit_epoch`); the reference is the plain PyTorch
loop of benchmarks/torch_reference.py (torchvision's ResNet-50, same input size, batch and optimizer).
On the CPU, float32. Not a test: it prints figures.

    .venv/bin/python benchmarks/train_speed.py                 # 48 px, batch 56, all three
    .venv/bin/python benchmarks/train_speed.py --only torch --steps 5
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

RUNNERS = ("tensorflow", "torch", "plain-torch")


def measure_keras(backend: str, size: int, batch: int, steps: int, warmup: int) -> dict:
    from ferpipe.nn.backend import select_backend

    select_backend(backend)
    import keras
    import numpy as np

    from ferpipe.nn.backend import seed_everything
    from ferpipe.nn.models import build_model
    from ferpipe.nn.training import compile_for_phase, fit_epoch

    cfg = config(backend, size, batch)
    seed_everything(cfg.train.seed)
    model = build_model(cfg, size, 7)
    compile_for_phase(model, cfg, cfg.lr, warmup + steps)
    rng = np.random.default_rng(0)
    x = keras.ops.convert_to_tensor(rng.integers(0, 256, (batch, size, size), dtype=np.uint8))
    y = keras.ops.convert_to_tensor(rng.integers(0, 7, batch))
    one_batch = np.arange(batch)
    start = time.perf_counter()
    fit_epoch(model, x, y, [one_batch] * warmup, desc="warm-up")  # the first step traces
    first = time.perf_counter() - start
    start = time.perf_counter()
    fit_epoch(model, x, y, [one_batch] * steps, desc="timed")  # the training loop's own epoch call
    step = (time.perf_counter() - start) / steps
    return {"warmup_s": round(first, 2), "step_s": round(step, 3), "images_per_s": round(batch / step, 1)}


def measure_plain_torch(size: int, batch: int, steps: int, warmup: int) -> dict:
    import numpy as np
    import torch
    from torch_reference import PlainTorchResNet50

    cfg = config("torch", size, batch)
    net = PlainTorchResNet50(cfg, 7, "cpu")
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.integers(0, 256, (batch, size, size), dtype=np.uint8))
    y = torch.as_tensor(rng.integers(0, 7, batch))
    start = time.perf_counter()
    for _ in range(warmup):
        net.train_step(x, y, cfg.lr)
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        net.train_step(x, y, cfg.lr)
    seconds = (time.perf_counter() - start) / steps
    return {"warmup_s": round(first, 2), "step_s": round(seconds, 3), "images_per_s": round(batch / seconds, 1)}


def config(backend: str, size: int, batch: int):
    from ferpipe.nn.config import train_config
    from ferpipe.testing.train_params import train_params

    return train_config(train_params(arch="resnet50", backend=backend, batch_size=batch, train_input_size=size,
                                     train_dropout=0.5, train_momentum=0.9, train_schedule="cosine",
                                     train_mixed_precision="float32"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--batch", type=int, default=56)
    parser.add_argument("--steps", type=int, default=8, help="timed steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (the first one traces)")
    parser.add_argument("--only", choices=RUNNERS, action="append", help="measure only this one (repeatable)")
    parser.add_argument("--child", choices=RUNNERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child == "plain-torch":
            result = measure_plain_torch(args.size, args.batch, args.steps, args.warmup)
        else:
            result = measure_keras(args.child, args.size, args.batch, args.steps, args.warmup)
        print("RESULT " + json.dumps(result))
        return

    import torch

    print(f"ResNet-50 training, {args.size}x{args.size} px, batch {args.batch}, {args.steps} timed steps, "
          f"{torch.get_num_threads()} torch threads")
    results = {}
    for runner in args.only or RUNNERS:
        cmd = [sys.executable, __file__, "--child", runner, "--size", str(args.size), "--batch", str(args.batch),
               "--steps", str(args.steps), "--warmup", str(args.warmup)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
        if out.returncode != 0 or not lines:
            print(f"{runner}: failed (exit {out.returncode})\n{out.stderr[-2000:]}")
            continue
        results[runner] = json.loads(lines[-1][len("RESULT "):])
        label = runner if runner == "plain-torch" else f"keras/{runner}"
        r = results[runner]
        print(f"{label:18s} {r['images_per_s']:7.1f} img/s  ({r['step_s']:.2f} s/step, {args.warmup} warm-up steps {r['warmup_s']:.1f} s)")
    keras_runs = {k: v for k, v in results.items() if k != "plain-torch"}
    if keras_runs and "plain-torch" in results:
        fastest = max(keras_runs, key=lambda k: keras_runs[k]["images_per_s"])
        ratio = keras_runs[fastest]["images_per_s"] / results["plain-torch"]["images_per_s"]
        print(f"faster Keras backend: {fastest} ({ratio:.2f}x the plain PyTorch loop); pick it with "
              f"`dvc exp run -S backend={fastest}`")


if __name__ == "__main__":
    main()
