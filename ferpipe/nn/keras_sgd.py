"""SGD as Keras applies it, for the steps that run on PyTorch tensors: the PyTorch loop's
(`ferpipe.nn.torch_loop`), Keras' own on torch with a CUDA device (`ferpipe.nn.torch_cuda`) and the plain
PyTorch reference of the speed benchmark (benchmarks/torch_reference.py).

Keras' form, not PyTorch's (torch.optim.SGD keeps v = momentum x v + g and scales it by the rate):
weight decay first (w -= lr x decay x w), then v = momentum x v - lr x g and w += v, or with Nesterov
w += momentum x v - lr x g; without momentum w -= lr x g. One fused call per formula over every weight.
"""
from __future__ import annotations

import torch


@torch.no_grad()
def keras_sgd_step(weights: list[torch.Tensor], grads: list[torch.Tensor], velocity: list[torch.Tensor],
                   lr: float | torch.Tensor, momentum: float, nesterov: bool, weight_decay: float = 0.0) -> None:
    """Update `weights` and `velocity` (one buffer per weight; unused without momentum) in place.

    `lr` is a Python number or a one-element tensor on the device (what Keras' schedule gives). `alpha=`
    takes only a number, and reading the tensor back would make the host wait for the device, so a
    tensor rate multiplies the gradients first (`lr x g` then rounds apart from its addition).
    """
    if weight_decay:
        torch._foreach_mul_(weights, 1 - lr * weight_decay)
    if isinstance(lr, torch.Tensor):
        step, alpha = torch._foreach_mul(grads, -lr), 1.0
    else:
        step, alpha = grads, -lr
    if not momentum:
        torch._foreach_add_(weights, step, alpha=alpha)
        return
    torch._foreach_mul_(velocity, momentum)
    torch._foreach_add_(velocity, step, alpha=alpha)
    if nesterov:
        torch._foreach_add_(weights, velocity, alpha=momentum)
        torch._foreach_add_(weights, step, alpha=alpha)
    else:
        torch._foreach_add_(weights, velocity)
