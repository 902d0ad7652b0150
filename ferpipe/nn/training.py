"""Training: minibatch SGD with momentum, a learning-rate schedule, the best epoch chosen on val, a
checkpoint after every epoch so that a killed run resumes where it stopped.

`train` drives one of two training loops (`ferpipe.nn.loop.TrainingLoop`) over the same batches and
rates (`ferpipe.nn.schedule`): `train.loop` picks `ferpipe.nn.keras_loop.KerasLoop` (model.fit on the
Keras backend) or `ferpipe.nn.torch_loop.TorchLoop` (plain PyTorch for ResNet-50, which `auto` picks on
a CPU, docs/cpu.md). The precision follows the hardware where `train.mixed_precision` is `auto`.

Two-phase fine-tuning (`train.head_epochs` > 0): phase 1 trains only the new head at `lr`, phase 2
every layer at `lr` x `train.finetune_lr_factor`; pretrained BatchNorm layers stay frozen in both
when `train.pretrained_batchnorm` is `frozen`.

Import only after `ferpipe.nn.backend.select_backend` (this module imports keras, and torch through the
loops: `select_backend` loads torch for either backend anyway).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np

from ferpipe.core.errors import FerpipeError, require
from ferpipe.nn.backend import gpu_available, seed_everything, torch_sees_cuda, warn_if_gpu_left_unused
from ferpipe.nn.checkpoints import Checkpoints, fingerprint
from ferpipe.nn.keras_loop import KerasLoop
from ferpipe.nn.loop import TrainingLoop
from ferpipe.nn.precision import cpu_flags, resolve_loop, resolve_precision
from ferpipe.nn.schedule import epoch_batches
from ferpipe.nn.settings import TrainConfig
from ferpipe.nn.torch_loop import TorchLoop

EpochLogger = Callable[[dict], None]


@dataclass
class TrainResult:
    model: keras.Model
    history: list[dict]
    best_epoch: int  # 1-based
    best_val_accuracy: float
    best_val_loss: float
    precision: str  # the dtype policy used (`train.mixed_precision` resolved)
    loop: str  # keras | torch (`train.loop` resolved)
    images_per_s: float  # training throughput (the run's first epoch, which traces/compiles, excluded unless alone)
    seconds: float  # wall time of train(), model building and checkpoints included


def train(cfg: TrainConfig, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
          num_classes: int, checkpoint_dir: Path, log_epoch: EpochLogger = lambda entry: None,
          stop_after_seconds: float | None = None) -> TrainResult:
    """Train `cfg.arch` on uint8 crops (N, S, S); return the model of the best val epoch.

    The loop (`train.loop`) and the precision (`train.mixed_precision`) follow the hardware where
    they are `auto`. A checkpoint of the same configuration, data and code in `checkpoint_dir` is
    resumed; the folder is removed once training ends. `log_epoch` gets each epoch's metrics (also
    those replayed from a resumed checkpoint). `stop_after_seconds` ends training after the epoch
    that passes it.
    """
    check_crops(x_train, x_val)
    started = time.perf_counter()
    warn_if_gpu_left_unused()
    seed_everything(cfg.train.seed)
    precision = choose_precision(cfg)
    loop_name = resolve_loop(cfg.train.loop, cfg.arch, torch_sees_cuda())
    loop = open_loop(loop_name, cfg, precision, x_train, y_train, x_val, y_val, num_classes)
    checkpoints = Checkpoints(checkpoint_dir, fingerprint(cfg, [x_train, y_train, x_val, y_val]), loop.model_format)
    state = resume_or_start(loop, checkpoints)
    for entry in state["history"]:
        log_epoch(entry)

    first_epoch, timed_images, timed_seconds = state["epochs_done"], 0, 0.0
    for epoch in range(first_epoch, cfg.epochs):
        if cfg.train.head_epochs and epoch == cfg.train.head_epochs:
            loop.start_phase(epoch)  # phase 2 of two-phase fine-tuning
        batches = epoch_batches(len(x_train), cfg, epoch)
        epoch_start = time.perf_counter()
        logs = loop.fit_epoch(batches, desc=f"epoch {epoch + 1}/{cfg.epochs}")
        if epoch > first_epoch or cfg.epochs == first_epoch + 1:  # a run's first epoch traces/compiles: timed only if alone
            timed_seconds += time.perf_counter() - epoch_start
            timed_images += sum(len(b) for b in batches)
        if not np.isfinite(logs["loss"]):
            raise FerpipeError(f"training diverged at epoch {epoch + 1} (loss {logs['loss']}): lower lr (now {cfg.lr}) "
                               f"or train.momentum (now {cfg.train.momentum})")
        val = loop.evaluate()
        entry = {"epoch": epoch + 1, "train/loss": logs["loss"], "train/accuracy": logs["accuracy"],
                 "val/loss": val["loss"], "val/accuracy": val["accuracy"], "lr": loop.lr()}
        improved = add_epoch(state, entry)
        checkpoints.save(loop.checkpoint(), state, improved)
        log_epoch(entry)
        print(json.dumps(entry))
        if stop_after_seconds is not None and time.perf_counter() - started > stop_after_seconds:
            print(f"stopping after epoch {epoch + 1}: past {stop_after_seconds:.0f} s")
            break

    best = loop.final_model(checkpoints.best_model())
    checkpoints.remove()
    return TrainResult(model=best, history=state["history"], best_epoch=state["best_epoch"],
                       best_val_accuracy=state["best_val_accuracy"], best_val_loss=state["best_val_loss"],
                       precision=precision, loop=loop_name,
                       images_per_s=timed_images / timed_seconds if timed_seconds else 0.0,
                       seconds=time.perf_counter() - started)


def check_crops(x_train: np.ndarray, x_val: np.ndarray) -> None:
    require(x_train.ndim == 3 and x_train.shape[1] == x_train.shape[2], f"training crops must be square, got {x_train.shape}")
    require(x_val.shape[1:] == x_train.shape[1:], f"val crops {x_val.shape[1:]} differ from train crops {x_train.shape[1:]}")
    require(len(x_train) > 0 and len(x_val) > 0, "train and val splits must not be empty")


def choose_precision(cfg: TrainConfig) -> str:
    """The dtype policy to train under (`auto`: from the hardware), also set as Keras' global policy."""
    policy = resolve_precision(cfg.train.mixed_precision, gpu_available(), cpu_flags())
    keras.mixed_precision.set_global_policy(policy)
    return policy


def open_loop(name: str, cfg: TrainConfig, precision: str, x_train: np.ndarray, y_train: np.ndarray,
              x_val: np.ndarray, y_val: np.ndarray, num_classes: int) -> TrainingLoop:
    """The loop `name` (`train.loop` resolved) on these splits."""
    if name == "torch":
        return TorchLoop(cfg, precision, x_train, y_train, x_val, y_val, num_classes)
    return KerasLoop(cfg, x_train, y_train, x_val, y_val, num_classes)


def resume_or_start(loop: TrainingLoop, checkpoints: Checkpoints) -> dict:
    """The state of the interrupted run whose checkpoint `checkpoints` holds, `loop` resumed from it; or
    the empty state of a fresh run, `loop` started on its first phase."""
    state = checkpoints.load_state()
    if state is not None:
        loop.resume(checkpoints.last_model())
        print(f"resuming from the checkpoint of epoch {state['epochs_done']} in {checkpoints.folder}")
        return state
    loop.start()
    checkpoints.start_fresh()
    loop.start_phase(0)
    return {"epochs_done": 0, "history": [], "best_epoch": 0, "best_val_accuracy": -1.0, "best_val_loss": None}


def add_epoch(state: dict, entry: dict) -> bool:
    """Add the finished epoch's `entry` to `state`; whether its val accuracy is the best so far."""
    improved = entry["val/accuracy"] > state["best_val_accuracy"]
    if improved:
        state.update(best_epoch=entry["epoch"], best_val_accuracy=entry["val/accuracy"], best_val_loss=entry["val/loss"])
    state["epochs_done"] = entry["epoch"]
    state["history"].append(entry)
    return improved
