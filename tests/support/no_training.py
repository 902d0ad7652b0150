"""The fast loop (`make test-fast`, `-m "not slow"`) trains no network: while a test not marked `slow` is set up
and runs, the step that every training takes fails the test.

That step is a gradient step of the framework, not a ferpipe function, so that no loop escapes it: torch's
`backward` (the PyTorch loop, Keras on torch) and the `train_step` of Keras' TensorFlow and torch trainers
(`fit`, `train_on_batch`). Keras is patched when it is imported, not before: importing it here would fix its
backend before a test chooses one. A step refused inside code that catches the error still fails the test
(conftest.py checks `refused` afterwards). Stages run in a child process (`run_in_child`, dvc) are outside it.
"""
from __future__ import annotations

import contextlib
import functools
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Iterator
from types import ModuleType

MESSAGE = ("a fast test trains a network ({step}): mark it slow (`pytestmark = pytest.mark.slow` for a file, "
           "`@pytest.mark.slow` for a test) or give it a saved model (support.tiny_model)")
# Keras' trainers, by the module that defines each (Keras 3).
KERAS_TRAINERS = {"keras.src.backend.tensorflow.trainer": "TensorFlowTrainer",
                  "keras.src.backend.torch.trainer": "TorchTrainer"}

_refused: list[str] | None = None  # the steps refused while a fast test runs; None: training allowed


class TrainingInFastTest(AssertionError):
    pass


def training_is_refused() -> bool:
    return _refused is not None


@contextlib.contextmanager
def training_refused() -> Iterator[list[str]]:
    """Within: every training step raises TrainingInFastTest; yields the steps refused (those caught too)."""
    global _refused
    outer, _refused = _refused, []
    try:
        yield _refused
    finally:
        _refused = outer


def _refusing(step: str, original: Callable) -> Callable:
    @functools.wraps(original)
    def guarded(*args, **kwargs):
        if _refused is not None:
            _refused.append(step)
            raise TrainingInFastTest(MESSAGE.format(step=step))
        return original(*args, **kwargs)

    guarded.refuses_training = True
    return guarded


def _patch_trainer(module: ModuleType) -> None:
    cls = getattr(module, KERAS_TRAINERS[module.__name__])
    if not getattr(cls.train_step, "refuses_training", False):
        cls.train_step = _refusing(f"Keras {cls.__name__}.train_step", cls.train_step)


class _PatchTrainersOnImport(importlib.abc.MetaPathFinder):
    """Finds Keras' trainer modules as the other finders would, and patches each once it has run."""

    def find_spec(self, name, path, target=None):
        if name not in KERAS_TRAINERS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            run = spec.loader.exec_module

            def run_and_patch(module: ModuleType) -> None:
                run(module)
                _patch_trainer(module)

            spec.loader.exec_module = run_and_patch  # this module's own loader object
        return spec


def install() -> None:
    """Put the guards in place (they refuse only within `training_refused`); torch must be imported."""
    import torch.autograd

    if not getattr(torch.autograd.backward, "refuses_training", False):
        torch.autograd.backward = _refusing("torch backward", torch.autograd.backward)  # Tensor.backward calls it
    for name in KERAS_TRAINERS:
        if name in sys.modules:
            _patch_trainer(sys.modules[name])
    if not any(isinstance(finder, _PatchTrainersOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchTrainersOnImport())
