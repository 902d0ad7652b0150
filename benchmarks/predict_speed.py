"""How fast `python -m ferpipe predict` runs on photos: a benchmark, not a test.

Writes --n photos of 640x480 (scikit-image scenes as backgrounds, the astronaut's head pasted at a
random place and size, one face a photo; not timed), then runs predict's own `Predictor` over
them in one process: the detector and the model are loaded once (start-up), then each photo is
read, searched by MTCNN and classified by the network. Prints photos/s and the share of the time
in MTCNN and in the network, plus the CLI end to end on the same folder.

    python benchmarks/predict_speed.py                    # data/model (run `dvc repro` first), 100 photos
    python benchmarks/predict_speed.py --model path/to/model --n 20
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 640, 480


def write_photos(folder: Path, n: int, seed: int) -> list[Path]:
    import cv2
    from PIL import Image
    from skimage import data

    rng = np.random.default_rng(seed)
    scenes = [cv2.resize(img, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
              for img in (data.coffee(), data.chelsea(), data.rocket(), data.hubble_deep_field())]
    head = data.astronaut()[0:250, 120:320]
    paths = []
    for i in range(n):
        photo = scenes[i % len(scenes)].copy()
        h = int(rng.integers(110, 300))
        w = round(h * head.shape[1] / head.shape[0])
        top, left = int(rng.integers(0, HEIGHT - h + 1)), int(rng.integers(0, WIDTH - w + 1))
        photo[top:top + h, left:left + w] = cv2.resize(head, (w, h), interpolation=cv2.INTER_AREA)
        paths.append(folder / f"photo{i:03d}.jpg")
        Image.fromarray(photo).save(paths[-1], quality=90)
    return paths


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def in_process(args: argparse.Namespace, photos: list[Path]) -> None:
    started = time.perf_counter()
    from ferpipe.core.params import load_params
    from ferpipe.faces.detector import FaceDetector  # torch before TensorFlow
    from ferpipe.faces.settings import FaceRuntime, FaceSettings
    from ferpipe.nn.backend import backend_param, select_backend

    params = load_params(args.params)
    settings = FaceSettings.from_params(params, args.params)
    detector = FaceDetector(settings, FaceRuntime.from_params(params, args.params))
    select_backend(backend_param(params, args.params))
    from ferpipe.apply.heads import Heads
    from ferpipe.apply.predict import Predictor

    heads = Heads(args.model)
    predictor = Predictor(detector, heads, "softmax")
    startup = time.perf_counter() - started
    results = []
    started = time.perf_counter()
    for path in photos:
        results.append(predictor.run(path))
    total = time.perf_counter() - started
    steps = {step: sum(r.seconds[step] for r in results) for step in ("read", "detect", "classify")}
    first = sum(results[0].seconds.values())
    rest = (total - first) / max(1, len(results) - 1)
    print(f"model {args.model}: {heads.model.name}, {len(heads.classes)} classes, {heads.info.crop_size} px crops")
    print(f"start-up (imports, MTCNN, backend, model load, once per run): {startup:.1f} s")
    print(f"{len(photos)} photos of {WIDTH}x{HEIGHT}: {total:.1f} s, {len(photos) / total:.2f} photos/s "
          f"(first photo {first:.2f} s with the network's tracing; the others {rest:.3f} s each)")
    print(f"faces found: {sum(len(r.faces) for r in results)} ({sum(len(r.faces) == 1 for r in results)} photos with exactly one)")
    print("share of the per-photo time: " + ", ".join(
        f"{name} {steps[step] / total:.1%} ({steps[step] / len(photos) * 1000:.0f} ms a photo)"
        for name, step in (("MTCNN", "detect"), ("network", "classify"), ("reading the JPEG", "read"))))


def cli(args: argparse.Namespace, folder: Path) -> None:
    cmd = [sys.executable, "-m", "ferpipe", "predict", "--model", args.model, "--params", args.params, str(folder)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    seconds = time.perf_counter() - started
    rows = len(done.stdout.strip().splitlines()) - 1
    print(f"CLI end to end (python -m ferpipe predict FOLDER, start-up included): {seconds:.1f} s for "
          f"{len(list(folder.iterdir()))} photos, {rows} CSV rows, exit {done.returncode}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "data" / "model"))
    parser.add_argument("--params", default=str(REPO / "params.yaml"))
    parser.add_argument("--n", type=int, default=100, help="photos")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-cli", action="store_true", help="skip the end-to-end CLI run")
    args = parser.parse_args()
    print(f"$ python benchmarks/predict_speed.py {' '.join(sys.argv[1:])}")
    print(f"machine: {machine()}; {load()} at the start")
    with tempfile.TemporaryDirectory(prefix="ferpipe-predict-speed-") as tmp:
        photos = write_photos(Path(tmp), args.n, args.seed)
        in_process(args, photos)
        if not args.no_cli:
            cli(args, Path(tmp))
    print(f"{load()} at the end")


if __name__ == "__main__":
    main()
