"""Keras backend glue: pick the backend before Keras is imported, seed it, find a GPU.

Keras reads KERAS_BACKEND once, at its first import, so `select_backend` must run before any
module that imports keras (ferpipe.models, ferpipe.training). This is the only module that talks
to TensorFlow or torch directly; the model code speaks Keras alone.
"""
from __future__ import annotations

import os
import sys

from ferpipe.errors import FerpipeError


def select_backend(name: str) -> None:
    """Make Keras use `name` ('tensorflow' or 'torch'); fail if Keras already runs on another."""
    if "keras" in sys.modules:
        import keras

        if keras.config.backend() != name:
            raise FerpipeError(f"backend={name!r}: Keras was already imported with backend {keras.config.backend()!r}")
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up banners drown the stage's output
    if name == "tensorflow":
        # torchvision (pulled in by torch users in the same process) segfaults when TF loaded first.
        import torch  # noqa: F401
    os.environ["KERAS_BACKEND"] = name


def gpu_available() -> bool:
    import keras

    if keras.config.backend() == "torch":
        import torch

        return torch.cuda.is_available()
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the backend, and ask the backend for deterministic kernels."""
    import keras

    keras.utils.set_random_seed(seed)
    if keras.config.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    else:
        import torch

        torch.use_deterministic_algorithms(True, warn_only=True)
