"""Per-epoch checkpoints of the training loop, so that a killed `train` resumes where it stopped,
but only a run of the very same configuration, data and code."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import keras
import numpy as np

from ferpipe.core.errors import FerpipeError
from ferpipe.core.records import FileName, Record, read_record
from ferpipe.nn.backend import backend_version
from ferpipe.nn.loop import ModelFormat
from ferpipe.nn.settings import TrainConfig
from ferpipe.nn.pretrained import weights_sha256


class SavedFiles(Record):
    last: FileName
    best: FileName


class SavedState(Record):
    """state.json."""
    fingerprint: str
    files: SavedFiles
    state: dict[str, Any]


CODE_FOLDER = Path(__file__).parent  # ferpipe/nn: the code that builds and trains the model


def code_version() -> dict[str, str]:
    """What builds and trains the model: the Keras and backend versions and a hash of each source file."""
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(CODE_FOLDER.glob("*.py"))}
    return {"keras": keras.__version__, "backend": backend_version(), **files}


def fingerprint(cfg: TrainConfig, arrays: list[np.ndarray]) -> str:
    """A hash of the configuration, the code, the starting weights' content and the data (arrays hashed
    in place, not copied)."""
    h = hashlib.sha256(json.dumps({"config": cfg.as_dict(), "code": code_version(),
                                   "weights": weights_sha256(cfg.weights)}, sort_keys=True).encode())
    for a in arrays:
        h.update(repr((a.dtype.str, a.shape)).encode())
        h.update(np.ascontiguousarray(a).data)  # the array's own buffer when it is contiguous (as loaded)
    return h.hexdigest()


class Checkpoints:
    """One model file per saved epoch and `state.json`, which names the last and the best of them.

    state.json is replaced (atomically) only once the files it names exist, and files it no longer
    names are removed after it, so a kill at any moment leaves a state and the very models it names.
    """

    def __init__(self, folder: Path, fingerprint: str, model_format: ModelFormat):
        self.folder, self.fingerprint, self.format = Path(folder), fingerprint, model_format
        self.state_file = self.folder / "state.json"
        self.files: dict[str, str] = {}  # "last" / "best" -> file name in the folder

    def load_state(self) -> dict | None:
        """The saved state of an interrupted run of this very configuration, data and code, if any."""
        try:
            saved = read_record(self.state_file, SavedState, allow_nan=True)  # a diverged run's losses
        except FerpipeError:  # none, or not one this code wrote: start afresh
            return None
        files = saved.files.model_dump()
        if saved.fingerprint != self.fingerprint or not all((self.folder / name).is_file() for name in files.values()):
            return None
        self.files = files
        return saved.state

    def start_fresh(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.files = {}

    def save(self, model, state: dict, improved: bool) -> None:
        """Save the model after epoch `state["epochs_done"]`; `improved`: it is the new best."""
        suffix = self.format.suffix
        name = f"epoch{state['epochs_done']}{suffix}"
        tmp = self.folder / f".{name}.tmp{suffix}"
        self.format.write(model, tmp)
        os.replace(tmp, self.folder / name)
        self.files = {"last": name, "best": name if improved else self.files["best"]}
        tmp = self.folder / ".state.json.tmp"
        tmp.write_text(json.dumps({"fingerprint": self.fingerprint, "files": self.files, "state": state}, indent=1))
        os.replace(tmp, self.state_file)
        for path in self.folder.glob(f"*{suffix}"):
            if path.name not in self.files.values():
                path.unlink()

    def last_model(self):
        return self.format.read(self.folder / self.files["last"])

    def best_model(self):
        return self.format.read(self.folder / self.files["best"])

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
