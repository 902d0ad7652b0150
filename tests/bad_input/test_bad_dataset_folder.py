"""A damaged canonical dataset folder (what `fetch` writes) given to the `faces` stage: one `error:` line
naming the file, exit 1, no output; the folder is checked before any face is detected."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import yaml
from support.builders import face_like
from support.stage_runs import expect_error, stage_result

from ferpipe.data.dataset import ImageRecord, write_dataset

REPO = Path(__file__).resolve().parents[2]


def dataset(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    records = [ImageRecord(split, label, "", f"img{i}", face_like(rng, 48))
               for i, (split, label) in enumerate([(s, k) for s in ("train", "val", "test") for k in (0, 1)])]
    write_dataset(folder, "demo", ["happy", "sad"], records)
    return folder


def faces_outputs(tmp: Path) -> list[Path]:
    return [tmp / "faces", tmp / "faces.json", tmp / "faces.png"]


def run_faces(tmp: Path, folder: Path) -> tuple[int, list[str]]:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["runtime"]["faces"].update(workers=1, device="cpu")
    (tmp / "params.yaml").write_text(yaml.safe_dump(params))
    out, metrics, plot = faces_outputs(tmp)
    return stage_result("faces", "--params", tmp / "params.yaml", "--dataset", folder, "--out", out, "--metrics", metrics,
                    "--plot", plot)


def rewrite(name: str, edit: Callable[[str], str], encoding: str = "utf-8") -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_bytes(edit((folder / name).read_text()).encode(encoding))


def cut_images(folder: Path) -> None:
    path = folder / "images.npy"
    path.write_bytes(path.read_bytes()[:-2000])


DATASET_CASES = [
    ("meta.json in UTF-16", rewrite("meta.json", str, "utf-16"), "meta.json: the file is UTF-16-encoded"),
    ("meta.json not JSON", rewrite("meta.json", lambda t: t[:-5]), "meta.json: not valid JSON"),
    ("meta.json without classes", rewrite("meta.json", lambda t: '{"dataset": "demo"}'),
     "meta.json: missing field classes; rerun the fetch stage"),
    ("meta.json a class named twice", rewrite("meta.json", lambda t: t.replace('"sad"', '"happy"')),
     "meta.json: classes: class names must be unique, 'happy' given twice"),
    ("meta.json counting other images", rewrite("meta.json", lambda t: t.replace('"num_images": 6', '"num_images": 7')),
     "index.csv: 6 rows, but meta.json counts 7 images; rerun the fetch stage"),
    ("meta.json an unknown field", rewrite("meta.json", lambda t: t.replace("{", '{"note": 1,', 1)),
     "meta.json: unknown field note"),
    ("index.csv in UTF-16", rewrite("index.csv", str, "utf-16"), "index.csv: the file is UTF-16-encoded"),
    ("index.csv in Latin-1", rewrite("index.csv", lambda t: t.replace("img3", "imgé"), "latin-1"),
     "index.csv: not UTF-8 text"),
    ("index.csv row cut", rewrite("index.csv", lambda t: t.rstrip("\n")[:-12] + "\n"),
     "index.csv:7: label, offset, height, width and channels must be integers"),
    ("index.csv without a column", rewrite("index.csv", lambda t: t.replace(",channels", ",chans", 1)),
     "index.csv: missing column(s) channels"),
    ("index.csv label outside the classes", rewrite("index.csv", lambda t: t.replace(",train,1,sad,", ",train,5,sad,")),
     "index.csv:3: label 5 is outside the class range 0..1"),
    ("images.npy cut short", cut_images, "images.npy: not a readable .npy pixel buffer (mmap length is greater"),
    ("images.npy of zero bytes", lambda f: (f / "images.npy").write_bytes(b""), "images.npy: not a readable .npy pixel buffer"),
    ("index.csv row past images.npy", rewrite("index.csv", lambda t: t.replace(",11520,48,48,1", ",11521,48,48,1")),
     "index.csv:7: image 48x48x1 at offset 11521 does not fit images.npy (13824 bytes)"),
    ("index.csv a folder", lambda f: ((f / "index.csv").unlink(), (f / "index.csv").mkdir()),
     "not a ferpipe dataset (missing index.csv); run the fetch stage"),
]


@pytest.mark.parametrize("damage, message", [c[1:] for c in DATASET_CASES], ids=[c[0] for c in DATASET_CASES])
def test_damaged_dataset_folder(tmp_path, damage, message):
    folder = dataset(tmp_path / "dataset")
    damage(folder)
    expect_error(run_faces(tmp_path, folder), message, faces_outputs(tmp_path))
