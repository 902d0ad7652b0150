"""Training loop: minibatch SGD with momentum, a learning-rate schedule, the best epoch chosen on
val, a checkpoint after every epoch so that a killed run resumes where it stopped.

`train` runs one of two loops over the same batches (`train.loop`): `KerasLoop` here, and
`ferpipe.nn.torch_training.TorchLoop`, plain PyTorch for ResNet-50, which `auto` picks on a CPU
(docs/cpu.md). The precision follows the hardware where `train.mixed_precision` is `auto`.

The Keras loop keeps an accelerator busy: the uint8 training crops go to the backend's device once and
each batch is gathered and converted to float there; each epoch is one `model.fit` call over those
batches, so the step runs as Keras builds it for the backend and the loss and accuracy add up on
the device, read once per epoch (reading them every step, as `train_on_batch` does, makes the host
wait for the device at every step). On the torch backend with a CUDA device, `ferpipe.nn.torch_cuda`
also removes the waits and layout copies that Keras itself puts into every step. The batches, their
order and the arithmetic are those of a per-batch loop: on the CPU the metrics are the same.

Two-phase fine-tuning (`train.head_epochs` > 0): phase 1 trains only the new head at `lr`, phase 2
every layer at `lr` x `train.finetune_lr_factor`; pretrained BatchNorm layers stay frozen in both
when `train.pretrained_batchnorm` is `frozen`.

Import only after `ferpipe.nn.backend.select_backend` (this module imports keras).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np
from tqdm import tqdm

from ferpipe.core.errors import FerpipeError, require
from ferpipe.nn.backend import gpu_available, seed_everything, torch_sees_cuda, warn_if_gpu_left_unused
from ferpipe.nn.checkpoints import KERAS_FORMAT, Checkpoints, fingerprint
from ferpipe.nn.config import TORCH_LOOP_ONLY, TrainConfig
from ferpipe.nn.models import as_model_input, build_model, set_backbone_trainable, to_model_input
from ferpipe.nn.precision import cpu_flags, resolve_loop, resolve_precision
from ferpipe.nn.schedule import PhasePlan, epoch_batches, phase_plan
from ferpipe.nn.torch_cuda import speed_up_keras_on_cuda

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


def fit_epoch(model: keras.Model, x, y, batches: list[np.ndarray], desc: str) -> dict[str, float]:
    """Train one epoch of `batches` (index arrays into `x`, `y`: uint8 crops and labels already on the
    device) with one `model.fit` call; its mean loss and accuracy, read once at the end."""
    order = keras.ops.convert_to_tensor(np.stack(batches))  # one copy to the device per epoch, not per step

    def feed():
        for i in tqdm(range(len(batches)), desc=desc, unit="batch"):
            yield to_model_input(keras.ops.take(x, order[i], axis=0)), keras.ops.take(y, order[i], axis=0)

    history = model.fit(feed(), epochs=1, steps_per_epoch=len(batches), verbose=0, shuffle=False)
    return {key: float(values[-1]) for key, values in history.history.items()}


def compile_for_phase(model: keras.Model, cfg: TrainConfig, plan: PhasePlan) -> None:
    """SGD at the phase's rate: a linear warm-up from 0 over its first `plan.warmup_steps` batches, then
    constant or decaying to 0 over the rest with the cosine schedule."""
    lr = plan.lr
    decay_steps = max(plan.steps - plan.warmup_steps, 1)
    if plan.warmup_steps:  # alpha 1: a cosine "decay" to the rate itself is the constant schedule
        lr = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=decay_steps, warmup_target=plan.lr,
                                                    warmup_steps=plan.warmup_steps,
                                                    alpha=0.0 if cfg.train.schedule == "cosine" else 1.0)
    elif cfg.train.schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=decay_steps)
    # named: Keras numbers each unnamed optimizer of a process (sgd, sgd_1 after a second phase or a second
    # run), and the name is saved with the model, whose bytes would then depend on what ran before
    optimizer = keras.optimizers.SGD(learning_rate=lr, momentum=cfg.train.momentum, nesterov=cfg.train.nesterov,
                                     weight_decay=cfg.train.weight_decay or None, name="sgd")
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def start_phase(model: keras.Model, cfg: TrainConfig, epoch: int, n_train: int) -> None:
    """Set what trains from `epoch` (0-based) to the end of its phase, at which rate, and compile."""
    plan = phase_plan(cfg, epoch, n_train)
    set_backbone_trainable(model, not plan.head_only, cfg.batchnorm_frozen)
    compile_for_phase(model, cfg, plan)


def choose_precision(cfg: TrainConfig) -> str:
    """The dtype policy to train under (`auto`: from the hardware), also set as Keras' global policy."""
    policy = resolve_precision(cfg.train.mixed_precision, gpu_available(), cpu_flags())
    keras.mixed_precision.set_global_policy(policy)
    return policy


class KerasLoop:
    """Each epoch one `model.fit` call on the Keras backend (the LeNet's loop, and every GPU run's)."""
    model_format = KERAS_FORMAT

    def __init__(self, cfg: TrainConfig, x_train, y_train, x_val, y_val, num_classes: int):
        for key in TORCH_LOOP_ONLY:
            value = getattr(cfg.train, key)
            if value:
                raise FerpipeError(f"train.{key}={value} needs the PyTorch loop (train.loop: torch or auto, resnet50 "
                                   f"on a CPU); this run resolved to the Keras loop: set train.{key}: 0")
        self.cfg, self.num_classes, self.crop_size, self.n_train = cfg, num_classes, x_train.shape[1], len(x_train)
        self.x_val, self.y_val = as_model_input(x_val), y_val
        self.x, self.y = keras.ops.convert_to_tensor(x_train), keras.ops.convert_to_tensor(y_train)
        self.model: keras.Model | None = None

    def start(self) -> None:
        self.model = build_model(self.cfg, self.crop_size, self.num_classes)
        self._on_device()

    def resume(self, model: keras.Model) -> None:
        self.model = model  # compiled, with its optimizer state and its phase's trainable layers
        self._on_device()

    def _on_device(self) -> None:
        if keras.config.backend() == "torch" and gpu_available():
            speed_up_keras_on_cuda()

    def start_phase(self, epoch: int) -> None:
        start_phase(self.model, self.cfg, epoch, self.n_train)

    def fit_epoch(self, batches: list[np.ndarray], desc: str) -> dict[str, float]:
        return fit_epoch(self.model, self.x, self.y, batches, desc)

    def evaluate(self) -> dict[str, float]:
        val = self.model.evaluate(self.x_val, self.y_val, batch_size=self.cfg.batch_size, verbose=0, return_dict=True)
        return {"loss": float(val["loss"]), "accuracy": float(val["accuracy"])}

    def lr(self) -> float:
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def checkpoint(self) -> keras.Model:
        return self.model

    def final_model(self, best: keras.Model) -> keras.Model:
        return best


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
    require(x_train.ndim == 3 and x_train.shape[1] == x_train.shape[2], f"training crops must be square, got {x_train.shape}")
    require(x_val.shape[1:] == x_train.shape[1:], f"val crops {x_val.shape[1:]} differ from train crops {x_train.shape[1:]}")
    require(len(x_train) > 0 and len(x_val) > 0, "train and val splits must not be empty")
    started = time.perf_counter()
    warn_if_gpu_left_unused()
    seed_everything(cfg.train.seed)
    precision = choose_precision(cfg)
    loop_name = resolve_loop(cfg.train.loop, cfg.arch, torch_sees_cuda())
    if loop_name == "torch":
        from ferpipe.nn.torch_training import TorchLoop

        loop = TorchLoop(cfg, precision, x_train, y_train, x_val, y_val, num_classes)
    else:
        loop = KerasLoop(cfg, x_train, y_train, x_val, y_val, num_classes)
    checkpoints = Checkpoints(checkpoint_dir, fingerprint(cfg, [x_train, y_train, x_val, y_val]), loop.model_format)
    state = checkpoints.load_state()
    if state is not None:
        loop.resume(checkpoints.last_model())
        print(f"resuming from the checkpoint of epoch {state['epochs_done']} in {checkpoints.folder}")
    else:
        loop.start()
        checkpoints.start_fresh()
        state = {"epochs_done": 0, "history": [], "best_epoch": 0, "best_val_accuracy": -1.0, "best_val_loss": None}
        loop.start_phase(0)
    for entry in state["history"]:
        log_epoch(entry)

    first_epoch, timed_images, timed_seconds = state["epochs_done"], 0, 0.0
    for epoch in range(first_epoch, cfg.epochs):
        if cfg.train.head_epochs and epoch == cfg.train.head_epochs:
            loop.start_phase(epoch)
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
        improved = entry["val/accuracy"] > state["best_val_accuracy"]
        if improved:
            state.update(best_epoch=epoch + 1, best_val_accuracy=entry["val/accuracy"], best_val_loss=entry["val/loss"])
        state["epochs_done"] = epoch + 1
        state["history"].append(entry)
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
