"""Keras 3 on PyTorch with a CUDA device: three shims that take out of every training step the
waits for the GPU and the layout copies that Keras' torch backend puts into it.

1. Host data (a Python number, a tuple of them, a NumPy array, a CPU tensor; up to 16 MiB) that
   Keras turns into a device tensor goes through pinned memory with a non-blocking copy. Keras does
   this for loss and metric weights, the learning-rate schedule and layer constants, about ten times
   a step; PyTorch's plain host-to-device copy waits until the GPU has run everything queued before it.
2. Keras' SGD passes the learning rate (a device tensor) as a Python number (`alpha=`), which reads it
   back from the GPU every step; the shim multiplies by the tensor instead.
3. Before each convolution and pooling, Keras copies its channels-last activations into PyTorch's
   channels-first layout and then back to channels-last memory; the shim passes the permuted view,
   which is already channels-last memory: the convolution sees the same layout and data, one read
   and one write of every activation fewer.

Each is applied only where Keras runs on torch with a CUDA device (`speed_up_keras_on_cuda`), and only
where the patched Keras functions exist as this module knows them (Keras 3.15); the CPU path stays
Keras' own. Shim 2 is the step of `ferpipe.nn.keras_sgd`: it rounds `lr x gradient` separately from
its addition (the fused form may use a fused multiply-add), and with Nesterov momentum adds
`momentum x v` before `-lr x g` where Keras adds it after: float noise.
"""
from __future__ import annotations

import sys
from typing import Callable

import torch

from ferpipe.nn.keras_sgd import keras_sgd_step

APPLIED: list[str] = []  # the names of the shims applied in this process
_ORIGINALS: list[tuple[object, str, object]] = []  # (module or class, attribute, Keras' own value)
_REMOVED: list[bool] = []  # not empty once remove_shims ran
PINNED_COPY_MAX_BYTES = 2**24  # larger host data is copied as Keras copies it, waiting (pinned memory is kept)


def speed_up_keras_on_cuda(force: bool = False) -> list[str]:
    """Apply the shims once per process (`force`: also without CUDA, for the tests); return those applied."""
    if APPLIED or _REMOVED or not (force or torch.cuda.is_available()):
        return APPLIED
    from keras.src.backend.torch import core, nn
    from keras.src.backend.torch.optimizers import torch_sgd

    if hasattr(core, "convert_to_tensor") and hasattr(core, "device_scope"):
        original = core.convert_to_tensor
        shim = _without_blocking_copies(original, core)
        for module in list(sys.modules.values()):  # Keras' modules import it by name: rebind it in each
            if getattr(module, "__name__", "").startswith("keras") and getattr(module, "convert_to_tensor", None) is original:
                _replace(module, "convert_to_tensor", shim)
        APPLIED.append("host data copied without waiting")
    if hasattr(torch_sgd.SGD, "_parallel_update_step"):
        _replace(torch_sgd.SGD, "_parallel_update_step", _sgd_step_with_tensor_rate)
        APPLIED.append("SGD rate kept on the device")
    if hasattr(nn, "_transpose_spatial_inputs"):
        _replace(nn, "_transpose_spatial_inputs", _channels_first_view(nn._transpose_spatial_inputs))
        APPLIED.append("no channels-first copy before convolutions")
    return APPLIED


def remove_shims() -> None:
    """Put Keras' own functions back, for the rest of the process (a shim that fails on some GPU stack)."""
    while _ORIGINALS:
        owner, name, original = _ORIGINALS.pop()
        setattr(owner, name, original)
    APPLIED.clear()
    _REMOVED.append(True)


def _replace(owner, name: str, replacement) -> None:
    _ORIGINALS.append((owner, name, getattr(owner, name)))
    setattr(owner, name, replacement)


def _nbytes(x) -> int:
    if isinstance(x, torch.Tensor):
        return x.element_size() * x.nelement()
    return int(getattr(x, "nbytes", 0))


def _without_blocking_copies(original: Callable, core) -> Callable:
    def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
        target = torch.device(core.get_device())
        on_device = isinstance(x, core.Variable) or (isinstance(x, torch.Tensor) and x.device.type != "cpu")
        large = _nbytes(x) > PINNED_COPY_MAX_BYTES  # a one-off bulk copy (the training set) may wait
        if target.type != "cuda" or on_device or large:
            return original(x, dtype, sparse, ragged)
        with core.device_scope("cpu"):
            host = original(x, dtype, sparse, ragged)
        # Pinned memory makes the copy asynchronous; PyTorch keeps the block until the copy has run.
        return host.pin_memory().to(target, non_blocking=True)

    return convert_to_tensor


def _sgd_step_with_tensor_rate(self, grads, variables, learning_rate) -> None:
    """keras.src.backend.torch.optimizers.torch_sgd.SGD._parallel_update_step, with the rate a tensor
    (Keras applies the weight decay before it, apart)."""
    momentum_of = [self.momentums[self._get_variable_index(v)].value for v in variables] if self.momentum else []
    rate = getattr(learning_rate, "value", learning_rate)  # a schedule's tensor, or a Keras variable's
    keras_sgd_step([v.value for v in variables], grads, momentum_of, rate, self.momentum, self.nesterov)


def _channels_first_view(original: Callable) -> Callable:
    def transpose_spatial_inputs(inputs):
        if inputs.ndim == 4:
            view = torch.permute(inputs, (0, 3, 1, 2))
            if view.is_contiguous(memory_format=torch.channels_last):
                return view
        return original(inputs)

    return transpose_spatial_inputs
