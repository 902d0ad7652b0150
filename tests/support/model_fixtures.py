"""A tiny trained model for the predict and generalize tests: the paper's LeNet trained for a few
seconds on demo faces through the real `fetch`, `faces`, `augment` and `train` stage scripts; and an SVM
fitted on made-up features of the right width, which is structurally what the svm stage saves."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import yaml
from support import REPO
from support.stage_runs import run_in_process
from support.svm_fixtures import SVM_PARAMS, blobs
from support.train_params import train_params

from ferpipe.data.sources.demo_faces import DEMO_CLASSES
from ferpipe.svm.fit import fit_final
from ferpipe.svm.settings import SvmSettings
from ferpipe.svm.model import save_svm

LENET_FEATURES = 500  # the LeNet's hidden layer
EXPORT_ARGS = ("--model", "model", "--svm", "svm.skops", "--test", "augmented/test.npz", "--data-metrics", "data.json",
               "--softmax-metrics", "softmax.json", "--svm-metrics", "svm.json", "--out", "export")


def base_params(**blocks) -> dict:
    """params.yaml's defaults, one in-process MTCNN worker, the tiny LeNet, and `blocks` on top."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["runtime"]["faces"]["workers"] = 1
    params.update(train_params(epochs=10, n_kerns=[20, 50]))
    params.update(blocks)
    return params


def run_stage(name: str, folder: Path, *args) -> subprocess.CompletedProcess:
    """stages/<name>.py with folder/params.yaml, run in `folder` (in this process)."""
    return run_in_process(name, ["--params", folder / "params.yaml", *args], folder)


def train_demo_lenet(folder: Path) -> Path:
    """folder/model: a LeNet trained in float32 on 7 x 20 demo faces (MTCNN crops, x6 augmented);
    folder/params.yaml stays."""
    folder.mkdir(parents=True, exist_ok=True)
    params = base_params()
    params["fetch"]["demo"] = {"per_class": 20, "size": 96}
    params["augment"]["factor"] = 6
    # float32 on every CPU: the export's parity with the Keras engine is checked to 1e-4, which a bf16
    # network (mixed_bfloat16, `auto` on a CPU with native bf16) misses; its export: test_export.py.
    params["train"]["mixed_precision"] = "float32"
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    steps = [("fetch", "--out", "dataset", "--metrics", "data.json"),
             ("faces", "--dataset", "dataset", "--out", "faces", "--metrics", "faces.json", "--plot", "faces.png"),
             ("augment", "--faces", "faces", "--out", "augmented", "--metrics", "augment.json", "--plot", "augment.png"),
             ("train", "--train", "augmented/train.npz", "--val", "augmented/val.npz", "--model", "model",
              "--live", "live", "--metrics", "train.json", "--checkpoints", "ckpt")]
    for name, *args in steps:
        done = run_stage(name, folder, *args)
        assert done.returncode == 0, f"{name}: {done.stderr[-3000:]}"
    return folder / "model"


def write_svm(path: Path, probability: bool, classes: int = len(DEMO_CLASSES), features: int = LENET_FEATURES) -> Path:
    """An SVM pipeline over LeNet-wide features and the 7 demo classes (Platt-calibrated or not), or
    over `features`-wide features and `classes` classes."""
    x, y = blobs(20 * classes, classes, features, seed=0)
    settings = SvmSettings(**{**SVM_PARAMS, "C": (1.0,), "gamma": ("scale",), "probability": probability,
                              "backend": "sklearn"})
    path.parent.mkdir(parents=True, exist_ok=True)
    save_svm(fit_final(x, y, settings, 1.0, "scale"), path)
    return path


def astronaut_photos(folder: Path) -> tuple[Path, Path]:
    """astronaut.jpg (one face) and two_faces.png (two crops of it side by side, one mirrored)."""
    from PIL import Image
    from skimage.data import astronaut

    folder.mkdir(parents=True, exist_ok=True)
    photo = astronaut()
    Image.fromarray(photo).save(folder / "astronaut.jpg", quality=92)
    head = photo[10:230, 110:310]
    Image.fromarray(np.concatenate([head, head[:, ::-1]], axis=1)).save(folder / "two_faces.png")
    return folder / "astronaut.jpg", folder / "two_faces.png"


def export_demo_lenet(trained: Path, folder: Path) -> Path:
    """folder/export: the export stage (Keras on TensorFlow, in this process) of the `train_demo_lenet`
    model in `trained`, after the real evaluate_softmax, embed and svm stages; their outputs stay in
    `folder` (softmax.npz, embeddings/, svm.skops, svm.npz) for the parity checks."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "params.yaml").write_text((trained / "params.yaml").read_text())
    for name in ("model", "faces", "augmented", "data.json"):
        (folder / name).symlink_to(trained / name)
    steps = [("evaluate_softmax", "--model", "model", "--test", "augmented/test.npz", "--metrics", "softmax.json",
              "--confusion", "confusion.json", "--predictions", "softmax.npz"),
             ("embed", "--model", "model", "--faces", "faces", "--augmented-train", "augmented/train.npz",
              "--out", "embeddings", "--plot", "embeddings.png"),
             ("svm", "--embeddings", "embeddings", "--model", "svm.skops", "--metrics", "svm.json", "--grid",
              "grid.json", "--confusion", "svm_confusion.json", "--predictions", "svm.npz"),
             ("export", *EXPORT_ARGS)]
    for name, *args in steps:
        done = run_stage(name, folder, *args)
        assert done.returncode == 0, f"{name}: {done.stderr[-3000:]}"
    return folder / "export"
