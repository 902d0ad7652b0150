"""What `ferpipe.nn.training.train` asks of a training loop, free of any deep-learning framework.

Two loops implement it over the same batches and schedule (`ferpipe.nn.schedule`):
`ferpipe.nn.keras_loop.KerasLoop` (model.fit on the Keras backend) and `ferpipe.nn.torch_loop.TorchLoop`
(plain PyTorch, ResNet-50). `train` picks one (`train.loop`), then drives it through the same calls:
start or resume, a phase, epochs of batches, the val split after each, a checkpoint after each, and the
Keras model of the best epoch at the end.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np


@dataclass(frozen=True)
class ModelFormat:
    """How a training loop writes and reads back what it resumes from."""
    suffix: str
    write: Callable[[Any, Path], None]
    read: Callable[[Path], Any]


class TrainingLoop(Protocol):
    model_format: ModelFormat  # of what `checkpoint` returns

    def start(self) -> None:
        """Build the network of a fresh run."""

    def resume(self, checkpoint: Any) -> None:
        """Continue from what `checkpoint` returned after the last finished epoch (its phase included)."""

    def start_phase(self, epoch: int) -> None:
        """Set what trains from `epoch` (0-based) to the end of its phase, and a fresh optimizer for it."""

    def fit_epoch(self, batches: list[np.ndarray], desc: str) -> dict[str, float]:
        """Train one step per batch (index arrays into the training crops); the epoch's mean `loss` and
        `accuracy`."""

    def evaluate(self) -> dict[str, float]:
        """`loss` and `accuracy` on the val split."""

    def lr(self) -> float:
        """The learning rate of the next step."""

    def checkpoint(self) -> Any:
        """What `model_format` writes: enough to resume after this epoch."""

    def final_model(self, best: Any) -> Any:
        """The Keras model of `best` (a checkpoint read back), which every later stage loads."""
