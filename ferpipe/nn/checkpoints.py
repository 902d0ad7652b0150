"""Per-epoch checkpoints of the training loop, so that a killed `train` resumes where it stopped,
but only a run of the very same configuration, data and code."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import keras
import numpy as np

from ferpipe.nn.config import TrainConfig


def fingerprint(cfg: TrainConfig, arrays: list[np.ndarray]) -> str:
    h = hashlib.sha256(json.dumps(cfg.as_dict(), sort_keys=True).encode())
    for a in arrays:
        h.update(repr((a.dtype.str, a.shape)).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


class Checkpoints:
    """`last.keras`, `best.keras` and `state.json` in one folder, each replaced atomically."""

    def __init__(self, folder: Path, fingerprint: str):
        self.folder, self.fingerprint = Path(folder), fingerprint
        self.state_file = self.folder / "state.json"

    def load_state(self) -> dict | None:
        """The saved state of an interrupted run of this very configuration and data, if any."""
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        if state.get("fingerprint") != self.fingerprint or not (self.folder / "last.keras").is_file():
            return None
        return state

    def start_fresh(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)

    def _save_model(self, model: keras.Model, name: str) -> None:
        tmp = self.folder / f".{name}.tmp.keras"
        model.save(tmp)
        os.replace(tmp, self.folder / name)

    def save(self, model: keras.Model, state: dict, improved: bool) -> None:
        self._save_model(model, "last.keras")
        if improved:
            self._save_model(model, "best.keras")
        tmp = self.folder / ".state.json.tmp"
        tmp.write_text(json.dumps({**state, "fingerprint": self.fingerprint}, indent=1))
        os.replace(tmp, self.state_file)

    def best_model(self) -> keras.Model:
        return keras.models.load_model(self.folder / "best.keras")

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
