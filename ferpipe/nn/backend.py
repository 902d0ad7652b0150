"""Keras backend glue: pick the backend before Keras is imported, seed it, find a GPU.

Keras reads KERAS_BACKEND once, at its first import, so `select_backend` must run before any
module that imports keras (ferpipe.nn.models, ferpipe.nn.training). This is the only module that talks
to TensorFlow or torch directly; the model code speaks Keras alone.
"""
from __future__ import annotations

import os
import sys

from ferpipe.core.errors import FerpipeError, require
from ferpipe.nn.config import BACKENDS


def backend_param(params: dict, source: str = "params.yaml") -> str:
    """The top-level `backend` key, checked (stages that only run a trained model read just this)."""
    require("backend" in params, f"{source}: missing parameter(s): backend")
    backend = params["backend"]
    require(backend in BACKENDS, f"{source}: backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    return backend


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
