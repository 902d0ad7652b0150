"""Keras backend glue: pick the backend before Keras is imported, seed it, find a GPU.

Keras reads KERAS_BACKEND once, at its first import, so `select_backend` must run before any
module that imports keras (ferpipe.nn.models, ferpipe.nn.training). This is the only module that talks
to TensorFlow or torch directly; the model code speaks Keras alone.
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from ferpipe.core.errors import FerpipeError
from ferpipe.nn.settings import Backend

NVIDIA_DRIVER_FILE = Path("/proc/driver/nvidia/version")  # present where an NVIDIA driver is loaded
GPU_LEFT_UNUSED = ("warning: this machine has an NVIDIA GPU but TensorFlow sees none (tensorflow-cpu is installed), "
                   "so training runs on the CPU; the torch backend's wheel brings CUDA: dvc exp run -S backend=torch")


def backend_param(params: dict, params_file: str = "params.yaml") -> str:
    """The top-level `backend` key, checked (stages that only run a trained model read just this)."""
    return Backend.from_params(params, params_file).backend


def select_backend(name: str) -> None:
    """Make Keras use `name` ('tensorflow' or 'torch'); fail if Keras already runs on another."""
    if "keras" in sys.modules:
        import keras

        if keras.config.backend() != name:
            raise FerpipeError(f"backend={name!r}: Keras was already imported with backend {keras.config.backend()!r}")
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up banners drown the stage's output
    if name == "tensorflow":
        load_torch_before_tensorflow()
    # cuBLAS is deterministic (as seed_everything asks) only with this set before CUDA starts.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    os.environ["KERAS_BACKEND"] = name


def load_torch_before_tensorflow() -> None:
    """Load torch and its triton, for a process that also runs TensorFlow: triton (which torchvision and
    torch._dynamo import, MTCNN among their users) segfaults when it loads after TensorFlow."""
    import torch  # noqa: F401

    with contextlib.suppress(ImportError):  # torch wheels without triton (macOS, CPU-only builds)
        import triton  # noqa: F401


def gpu_available() -> bool:
    import keras

    if keras.config.backend() == "torch":
        return torch_sees_cuda()
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def torch_sees_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def gpu_left_unused() -> bool:
    """Keras runs on a TensorFlow without GPU support (tensorflow-cpu) on a machine with an NVIDIA GPU."""
    import keras

    if keras.config.backend() != "tensorflow" or gpu_available():
        return False
    return torch_sees_cuda() or NVIDIA_DRIVER_FILE.exists()


def warn_if_gpu_left_unused() -> None:
    """One line on stderr, so that a GPU-sized job never runs on the CPU silently."""
    if gpu_left_unused():
        print(GPU_LEFT_UNUSED, file=sys.stderr)


def backend_version() -> str:
    import keras

    if keras.config.backend() == "torch":
        import torch

        return f"torch {torch.__version__}"
    import tensorflow as tf

    return f"tensorflow {tf.__version__}"


@contextlib.contextmanager
def tensorflow_hidden():
    """`import tensorflow` fails inside: TensorFlow loaded beside PyTorch slows PyTorch's CPU kernels
    several times (docs/benchmarks.md), so a torch-backend process must not load it in passing."""
    sys.modules["tensorflow"] = None
    try:
        yield
    finally:
        del sys.modules["tensorflow"]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the backend, and ask the backend for deterministic kernels."""
    import keras

    if keras.config.backend() == "torch" and "tensorflow" not in sys.modules:
        with tensorflow_hidden():  # keras also seeds TensorFlow where it can import it
            keras.utils.set_random_seed(seed)
    else:
        keras.utils.set_random_seed(seed)
    if keras.config.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    else:
        import torch

        torch.use_deterministic_algorithms(True, warn_only=True)
