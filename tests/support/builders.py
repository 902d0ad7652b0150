"""Small on-disk datasets in each published layout, generated for the loader tests."""
from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import numpy as np
import yaml
from PIL import Image
from support.stage_runs import run_in_child, run_in_process

from ferpipe.core.outputs import record_written, temp_path
from ferpipe.data.sources import ckplus, fer2013

STALE_TAG = "0badc0de"


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


def write_ckplus_sequences(root: Path, sequences: dict[str, int], subjects: int, frames: int = 3, seed: int = 0
                           ) -> Path:
    """CK+48 layout as CK+ spreads it: each class's sequences come from distinct subjects drawn at
    random out of `subjects`, `frames` frames each (CK+48: 123 subjects, contempt in only 18 of them)."""
    rng = np.random.default_rng(seed)
    for cls, count in sequences.items():
        folder = root / cls
        folder.mkdir(parents=True, exist_ok=True)
        sequence = ckplus.CLASSES.index(cls) + 1
        for subject in rng.choice(np.arange(1, subjects + 1), size=count, replace=False):
            for frame in range(1, frames + 1):
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


def run_script(stage: str, params: dict | str, tmp_path: Path, *args, params_file: str = "params.yaml",
               in_child: bool = False) -> subprocess.CompletedProcess:
    """Run stages/<stage>.py in tmp_path (in this process, or in a child process with `in_child`) with
    `params` (a dict, or the file's text as is) written to tmp_path/`params_file` and the given arguments."""
    path = tmp_path / params_file
    path.write_text(params if isinstance(params, str) else yaml.safe_dump(params))
    run = run_in_child if in_child else run_in_process
    return run(stage, ["--params", path, *args], tmp_path)


def array_stage_outputs(stage: str, tmp_path: Path, out_name: str) -> list[Path]:
    """Where run_array_stage has the stage write: array folder, metrics json, plot png."""
    return [tmp_path / out_name, tmp_path / f"{stage}.json", tmp_path / f"{stage}.png"]


def run_array_stage(stage: str, params: dict, tmp_path: Path, source_flag: str, source: Path, out_name: str):
    """Run stages/<stage>.py (faces or augment) writing into tmp_path.

    Returns the finished process and its three outputs (array_stage_outputs).
    """
    outs = array_stage_outputs(stage, tmp_path, out_name)
    proc = run_script(stage, params, tmp_path, source_flag, source, "--out", outs[0], "--metrics", outs[1],
                      "--plot", outs[2])
    return proc, outs


def plant_stale(outputs: list[Path]) -> None:
    """Leave what earlier runs may leave: each output (named in its folder's manifest, as a run that
    finished leaves it), and its temporary copy from a killed run."""
    for out in outputs:
        for path in (out, temp_path(out, STALE_TAG)):
            path.parent.mkdir(parents=True, exist_ok=True)
            if out.suffix:
                path.write_text("stale")
            else:  # a folder output
                path.mkdir(exist_ok=True)
                (path / "stale.npz").write_text("stale")
        record_written(out.parent, [out.name])


def leftovers(outputs: list[Path]) -> list[Path]:
    """The outputs that exist, and any temporary copy of them (of this run or a killed one)."""
    return [p for out in outputs for p in (out, *out.parent.glob(temp_path(out, "[0-9a-f]" * 8).name)) if p.exists()]


def assert_failed_cleanly(proc: subprocess.CompletedProcess, message: str, outputs: list[Path]) -> None:
    """A stage run on bad input: exit 1, one `error:` line holding `message` and ending the output, no
    traceback, and none of its outputs left, neither stale ones nor temporary ones."""
    assert proc.returncode == 1, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error:") and message in lines[-1], proc.stderr[-3000:]
    assert sum(line.startswith("error:") for line in lines) == 1 and "Traceback" not in proc.stderr
    assert not leftovers(outputs)
