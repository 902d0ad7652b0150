"""Training throughput of ResNet-50 on this CPU, in one run: the project's two loops (each its own epoch
call) at float32 and bf16, the plain PyTorch loop of benchmarks/torch_reference.py at float32 and bf16
(channels-last, its best on a CPU), and the CPU's matmul rate at both precisions.

Every figure comes from a process of its own, so that no framework loaded for one measurement slows
another (TensorFlow loaded beside PyTorch slows PyTorch's CPU kernels several times): the Keras loop
runs on Keras' TensorFlow backend as the `train` stage's `train.loop: keras` does, the PyTorch loop
beside Keras' torch backend as `train.loop: torch` does. Same model size, input, batch and random
data for all. Prints images/s, the ratio to the best plain loop, and the fraction of the matmul rate
of the same precision that the loop reaches (FLOPs of a training step counted by PyTorch's
FlopCounterMode on the project's ResNet-50); writes them, with the CPU's model name and flags, to
benchmarks/results/train_speed_<date>.json. Run it on an otherwise idle machine: load reorders loops.

    .venv/bin/python benchmarks/train_speed.py                  # 48 px, batch 64, 25 timed steps each after 5
    .venv/bin/python benchmarks/train_speed.py --only torch-loop --only plain-torch --steps 3
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The checkout's ferpipe, the benchmarks' own modules and the tests' shared helpers (tests/support/, no part
# of the installed package).
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent), str(ROOT / "tests")]

LOOPS = ("keras-loop", "torch-loop", "plain-torch")
PRECISIONS = ("float32", "mixed_bfloat16")
MATMUL_SIDE = 4096


def config(size: int, batch: int, precision: str, loop: str):
    from ferpipe.nn.settings import train_config
    from support.train_params import train_params

    return train_config(train_params(arch="resnet50", batch_size=batch, lr=0.05, train_input_size=size,
                                     train_momentum=0.9, train_nesterov=True, train_weight_decay=0.0005,
                                     train_schedule="cosine", train_mixed_precision=precision, train_loop=loop))


def measure(runner: str, precision: str, size: int, batch: int, steps: int, warmup: int) -> dict:
    """Seconds per training step of one loop at one precision (this process runs nothing else)."""
    from ferpipe.nn.backend import select_backend

    select_backend("tensorflow" if runner == "keras-loop" else "torch")
    import keras
    import numpy as np
    import torch

    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (batch, size, size), dtype=np.uint8), rng.integers(0, 7, batch)
    one_batch = [np.arange(batch)]
    if runner == "plain-torch":
        from torch_reference import PlainTorchResNet50

        net = PlainTorchResNet50(config(size, batch, precision, "torch"), 7, "cpu")
        xt, yt = torch.as_tensor(x), torch.as_tensor(y)

        def run(n: int) -> None:
            for _ in range(n):
                net.train_step(xt, yt, 0.05)
    else:
        from ferpipe.nn.keras_loop import KerasLoop

        cfg = config(size, batch, precision, runner.split("-")[0])
        keras.utils.set_random_seed(0)
        if runner == "keras-loop":
            keras.mixed_precision.set_global_policy(precision)
            loop = KerasLoop(cfg, x, y, x, y, 7)
            loop.start()
        else:
            from ferpipe.nn.torch_loop import TorchLoop

            loop = TorchLoop(cfg, precision, x, y, x, y, 7)
        loop.start_phase(0)

        def run(n: int) -> None:
            loop.fit_epoch(one_batch * n, desc=runner)  # the loop's own epoch call
    start = time.perf_counter()
    run(warmup)  # the first step traces / creates the kernels
    warm = time.perf_counter() - start
    start = time.perf_counter()
    run(steps)
    step = (time.perf_counter() - start) / steps
    return {"warmup_s": round(warm, 2), "step_s": round(step, 4), "images_per_s": round(batch / step, 1)}


def matmul_rates(repeats: int = 5) -> dict[str, float]:
    """GFLOP/s of a 4096x4096 matmul in PyTorch, per precision."""
    import torch

    rates = {}
    for precision, dtype in (("float32", torch.float32), ("mixed_bfloat16", torch.bfloat16)):
        a, b = (torch.randn(MATMUL_SIDE, MATMUL_SIDE).to(dtype) for _ in range(2))
        a @ b
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        rates[precision] = round(2 * MATMUL_SIDE ** 3 * repeats / (time.perf_counter() - start) / 1e9, 1)
    return rates


def flop_per_image(size: int) -> float:
    """FLOPs of one training image through the project's ResNet-50 (forward and backward)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ferpipe.nn.torch_resnet50 import ResNet50

    net, batch = ResNet50(size, 7, 0.0), 4
    with FlopCounterMode(display=False) as counter:
        net(torch.zeros(batch, size, size, dtype=torch.uint8)).sum().backward()
    return counter.get_total_flops() / batch


def cpu_description() -> dict:
    from ferpipe.nn.precision import cpu_flags, native_bf16

    name = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")), platform.processor())
    flags = cpu_flags()
    shown = sorted(f for f in flags if f.startswith(("avx", "amx", "fma")) or f in ("bf16", "sve", "sve2"))
    return {"model": name, "cores": os.cpu_count(), "native_bf16": native_bf16(flags), "flags": shown}


def child(args) -> None:
    if args.child == "matmul":
        result = matmul_rates()
    elif args.child == "flops":
        result = {"flop_per_image": flop_per_image(args.size)}
    else:
        result = measure(args.child, args.precision, args.size, args.batch, args.steps, args.warmup)
    print("RESULT " + json.dumps(result))


def in_child(args, what: str, precision: str = "float32") -> dict | None:
    cmd = [sys.executable, __file__, "--child", what, "--precision", precision, "--size", str(args.size),
           "--batch", str(args.batch), "--steps", str(args.steps), "--warmup", str(args.warmup)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        print(f"{what} {precision}: failed (exit {out.returncode})\n{out.stderr[-2000:]}")
        return None
    return json.loads(lines[-1][len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=25,
                        help="timed steps (6 read the PyTorch loop at 0.81x the plain one, 25 at 1.00x: short runs are noise)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (the first ones trace and warm oneDNN up)")
    parser.add_argument("--only", choices=LOOPS, action="append", help="measure only this loop (repeatable)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results",
                        help="folder of the JSON record (train_speed_<UTC time>.json)")
    parser.add_argument("--child", choices=LOOPS + ("matmul", "flops"), help=argparse.SUPPRESS)
    parser.add_argument("--precision", choices=PRECISIONS, default="float32", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    cpu = cpu_description()
    print(f"{cpu['model']}, {cpu['cores']} cores, native bf16: {cpu['native_bf16']} ({' '.join(cpu['flags'])})")
    print(f"ResNet-50 training at {args.size} px, batch {args.batch}, {args.steps} timed steps after {args.warmup}")
    matmul = in_child(args, "matmul") or {}
    flop = (in_child(args, "flops") or {}).get("flop_per_image")
    rows = []
    for loop in args.only or LOOPS:
        for precision in PRECISIONS:
            result = in_child(args, loop, precision)
            if result is not None:
                rows.append({"loop": loop, "precision": precision, **result})
    plain = [r["images_per_s"] for r in rows if r["loop"] == "plain-torch"]
    best_plain = max(plain) if plain else None
    for row in rows:
        row["ratio_to_best_plain_loop"] = round(row["images_per_s"] / best_plain, 3) if best_plain else None
        gflops = row["images_per_s"] * flop / 1e9 if flop else None
        row["gflop_per_s"] = round(gflops, 1) if gflops else None
        rate = matmul.get(row["precision"])
        row["fraction_of_matmul_rate"] = round(gflops / rate, 3) if gflops and rate else None
    print(f"matmul {MATMUL_SIDE}x{MATMUL_SIDE}: " + ", ".join(f"{k} {v} GFLOP/s" for k, v in matmul.items()))
    print(f"training FLOPs per image: {flop / 1e9:.3f} GFLOP" if flop else "training FLOPs per image: not counted")
    print(f"{'loop':12s} {'precision':15s} {'img/s':>7s} {'x best plain':>12s} {'GFLOP/s':>8s} {'of matmul':>9s}")
    for r in rows:
        print(f"{r['loop']:12s} {r['precision']:15s} {r['images_per_s']:7.1f} {r['ratio_to_best_plain_loop'] or 0:12.2f} "
              f"{r['gflop_per_s'] or 0:8.1f} {r['fraction_of_matmul_rate'] or 0:9.2f}")
    when = datetime.now(timezone.utc)
    record = {"when": when.isoformat(timespec="seconds"), "cpu": cpu, "size": args.size, "batch": args.batch,
              "steps": args.steps, "warmup": args.warmup, "load_average": os.getloadavg(),
              "matmul_gflop_per_s": matmul, "train_flop_per_image": flop, "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"train_speed_{when:%Y%m%dT%H%M}.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    main()
