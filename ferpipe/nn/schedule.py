"""The training schedule, free of any deep-learning framework: which batches each epoch trains, and the
learning rate of every step (a linear warm-up, then Keras' cosine decay or a constant rate, per phase of
two-phase fine-tuning). The driver (`ferpipe.nn.training`) and both training loops (`keras_loop`,
`torch_loop`) read it, so that they train the same batches at the same rates."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ferpipe.nn.settings import TrainConfig


def epoch_batches(n: int, cfg: TrainConfig, epoch: int) -> list[np.ndarray]:
    """Index batches of one epoch: a fresh seeded shuffle per epoch, full batches only.

    The order depends only on (seed, epoch), so a resumed run sees the batches it would have seen.
    `steps_per_epoch` caps the number of batches (each epoch then draws its own random sample).
    """
    order = np.random.default_rng([cfg.train.seed, epoch]).permutation(n)
    if n <= cfg.batch_size:
        return [order]
    steps = n // cfg.batch_size
    if cfg.train.steps_per_epoch is not None:
        steps = min(steps, cfg.train.steps_per_epoch)
    return [order[i * cfg.batch_size:(i + 1) * cfg.batch_size] for i in range(steps)]


@dataclass(frozen=True)
class PhasePlan:
    head_only: bool  # phase 1 of two-phase fine-tuning: only the new head trains
    lr: float  # the phase's rate, reached after the warm-up
    steps: int  # its batches, over which the cosine schedule decays (after the warm-up)
    warmup_steps: int  # its first batches, over which the rate rises linearly from 0


def phase_plan(cfg: TrainConfig, epoch: int, n_train: int) -> PhasePlan:
    """What trains from `epoch` (0-based) to the end of its phase, and at which rate. The warm-up
    (`train.warmup_epochs`) is the phase's that trains every layer: the first batches of its first epochs."""
    head_only = epoch < cfg.train.head_epochs
    lr = cfg.lr * (cfg.train.finetune_lr_factor if cfg.train.head_epochs and not head_only else 1.0)
    end = cfg.train.head_epochs if head_only else cfg.epochs
    steps = sum(len(epoch_batches(n_train, cfg, e)) for e in range(epoch, end))
    warmup = 0 if head_only else round(cfg.train.warmup_epochs * len(epoch_batches(n_train, cfg, epoch)))
    return PhasePlan(head_only, lr, steps, min(warmup, steps))


def learning_rate(plan: PhasePlan, schedule: str, step: int) -> float:
    """The rate at the phase's `step` (0-based) as Keras' CosineDecay (with its warm-up) computes it."""
    if step < plan.warmup_steps:
        return plan.lr * step / plan.warmup_steps
    if schedule != "cosine":
        return plan.lr
    decay_steps = max(plan.steps - plan.warmup_steps, 1)
    return plan.lr * 0.5 * (1 + math.cos(math.pi * min(step - plan.warmup_steps, decay_steps) / decay_steps))
