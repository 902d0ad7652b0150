"""How fast `python -m ferpipe predict` runs, its two engines side by side: a benchmark, not a test.

Writes --n photos of 640x480 (scikit-image scenes as backgrounds, the astronaut's head pasted at a
random place and size, one face a photo) and a 640x480 video of a moving face (--video-seconds at
25 frames/s), not timed. Then runs the command as a user does, a child process per engine and input,
`--verbose`: keras (Keras on params.yaml's backend, data/model) and onnx (ONNX Runtime, data/export).
Start-up: from launching the process to its `start-up:` line (interpreter, imports, MTCNN, model).
Photos/s: photos over the time after start-up; the per-photo split into MTCNN and the network comes
from the per-photo lines. Video: frames sampled at 5 a second (predict's default), frames/s.

    python benchmarks/predict_speed.py                    # data/model and data/export (dvc repro first), 100 photos
    python benchmarks/predict_speed.py --model path/to/model --export path/to/export --n 20
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# The tests' shared helpers (tests/support/) are no part of the installed package: reached from this checkout.
sys.path.insert(0, str(REPO / "tests"))

from support.face_video import write_face_video  # noqa: E402

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


STEP = re.compile(r"(read|detect|classify) ([0-9.]+) s")


def timed_child(args: list[str], out: Path) -> tuple[float, float, list[str], int]:
    """`python -m ferpipe predict args --verbose` (stdout to `out`): seconds to its start-up line and to
    its end, its stderr lines, its exit status."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    started = time.perf_counter()
    with open(out, "w") as stdout:
        child = subprocess.Popen([sys.executable, "-m", "ferpipe", "predict", *args, "--verbose"], stdout=stdout,
                                 stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
        startup, lines = None, []
        for line in child.stderr:
            if line.startswith("start-up:") and startup is None:
                startup = time.perf_counter() - started
            lines.append(line.rstrip("\n"))
        code = child.wait()
    return startup, time.perf_counter() - started, lines, code


def engine_args(args: argparse.Namespace, engine: str) -> list[str]:
    where = ["--export", args.export] if engine == "onnx" else ["--model", args.model]
    return ["--engine", engine, *where, "--params", args.params]


def photos_run(args: argparse.Namespace, engine: str, folder: Path, out: Path) -> dict:
    startup, total, lines, code = timed_child([str(folder), *engine_args(args, engine)], out)
    steps = {"read": 0.0, "detect": 0.0, "classify": 0.0}
    for line in lines:
        for step, seconds in STEP.findall(line):
            steps[step] += float(seconds)
    n = len(list(folder.iterdir()))
    rows = len(out.read_text().strip().splitlines()) - 1
    print(f"{engine}: start-up {startup:.1f} s; {n} photos in {total - startup:.1f} s after it: "
          f"{n / (total - startup):.2f} photos/s; per photo MTCNN {steps['detect'] / n * 1000:.0f} ms, the network "
          f"{steps['classify'] / n * 1000:.0f} ms, reading {steps['read'] / n * 1000:.0f} ms; {rows} CSV rows, exit {code}")
    return {"startup": startup, "rate": n / (total - startup)}


def video_run(args: argparse.Namespace, engine: str, video: Path, out: Path) -> None:
    startup, total, lines, code = timed_child([str(video), *engine_args(args, engine)], out)
    done = next((line for line in lines if "frames/s" in line), "no frames line")
    print(f"{engine}, video: start-up {startup:.1f} s; {done.split(': ', 1)[-1]}; exit {code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "data" / "model"))
    parser.add_argument("--export", default=str(REPO / "data" / "export"))
    parser.add_argument("--video-seconds", type=float, default=10.0)
    parser.add_argument("--params", default=str(REPO / "params.yaml"))
    parser.add_argument("--n", type=int, default=100, help="photos")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"$ python benchmarks/predict_speed.py {' '.join(sys.argv[1:])}")
    print(f"machine: {machine()}; {load()} at the start")
    with tempfile.TemporaryDirectory(prefix="ferpipe-predict-speed-") as tmp:
        folder, video = Path(tmp) / "photos", Path(tmp) / "clip.mp4"
        folder.mkdir()
        write_photos(folder, args.n, args.seed)
        write_face_video(video, round(args.video_seconds * 25), 25, WIDTH, HEIGHT)
        figures = {engine: photos_run(args, engine, folder, Path(tmp) / f"{engine}.csv") for engine in ("keras", "onnx")}
        keras, onnx = figures["keras"], figures["onnx"]
        print(f"onnx against keras: start-up {onnx['startup']:.1f} s against {keras['startup']:.1f} s, "
              f"{onnx['rate'] / keras['rate']:.2f}x the photos/s")
        for engine in ("keras", "onnx"):
            video_run(args, engine, video, Path(tmp) / f"{engine}_video.csv")
    print(f"{load()} at the end")


if __name__ == "__main__":
    main()
