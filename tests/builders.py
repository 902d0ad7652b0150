"""Small on-disk datasets in each published layout, generated for the loader tests."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

from ferpipe.data.sources import ckplus, fer2013


def face_like(rng: np.random.Generator, size: int = 48, channels: int = 1) -> np.ndarray:
    shape = (size, size) if channels == 1 else (size, size, channels)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def write_fer_csv(path: Path, per_class: dict[str, int], seed: int = 0) -> list[tuple[int, str, np.ndarray]]:
    """fer2013.csv with `per_class[usage]` rows per class and usage; returns the rows written."""
    rng = np.random.default_rng(seed)
    rows = []
    for usage, n in per_class.items():
        for label in range(len(fer2013.CLASSES)):
            rows += [(label, usage, face_like(rng)) for _ in range(n)]
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["emotion", "pixels", "Usage"])
        for label, usage, img in rows:
            writer.writerow([label, " ".join(map(str, img.reshape(-1))), usage])
    return rows


def write_fer_folders(root: Path, train: int = 3, public: int = 2, private: int = 2, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    n = 0
    for cls in fer2013.CLASSES:
        for part, prefix, count in (("train", "Training", train), ("test", "PublicTest", public), ("test", "PrivateTest", private)):
            folder = root / part / cls
            folder.mkdir(parents=True, exist_ok=True)
            for _ in range(count):
                n += 1
                Image.fromarray(face_like(rng)).save(folder / f"{prefix}_{n}.jpg", quality=95)
    return root


def write_ckplus(root: Path, per_class: dict[str, int], subjects: int = 10, seed: int = 0) -> Path:
    """CK+48 layout; frames are spread over `subjects` subjects, 3 frames per sequence."""
    rng = np.random.default_rng(seed)
    for cls, count in per_class.items():
        folder = root / cls
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            subject, sequence, frame = i % subjects + 1, ckplus.CLASSES.index(cls) + 1, i // subjects + 1
            Image.fromarray(face_like(rng)).save(folder / f"S{subject:03d}_{sequence:03d}_{frame:08d}.png")
    return root


def write_genki(root: Path, n: int = 20, seed: int = 0, extra_label_lines: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    (root / "files").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(1, n + 1):
        h, w = int(rng.integers(60, 90)), int(rng.integers(60, 90))
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / "files" / f"file{i:04d}.jpg")
        lines.append(f"{i % 2} {rng.normal():.6f} {rng.normal():.6f} {rng.normal():.6f}")
    lines += ["1 0.0 0.0 0.0"] * extra_label_lines
    (root / "labels.txt").write_text("\n".join(lines) + "\n")
    return root


def run_array_stage(stage: str, params: dict, tmp_path: Path, source_flag: str, source: Path, out_name: str):
    """Run stages/<stage>.py (faces or augment) as a subprocess writing into tmp_path.

    Returns the finished process and its three outputs: array folder, metrics json, plot png.
    """
    import subprocess
    import sys

    import yaml

    repo = Path(__file__).resolve().parents[1]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    outs = [tmp_path / out_name, tmp_path / f"{stage}.json", tmp_path / f"{stage}.png"]
    cmd = [sys.executable, str(repo / "stages" / f"{stage}.py"), "--params", str(tmp_path / "params.yaml"),
           source_flag, str(source), "--out", str(outs[0]), "--metrics", str(outs[1]), "--plot", str(outs[2])]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=repo, timeout=300), outs
