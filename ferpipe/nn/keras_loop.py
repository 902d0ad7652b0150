"""The Keras loop (`train.loop: keras`, and `auto` for the LeNet and on a GPU): each epoch one
`model.fit` call on the Keras backend.

It keeps an accelerator busy: the uint8 training crops go to the backend's device once and each batch
is gathered and converted to float there; each epoch is one `model.fit` call over those batches, so
the step runs as Keras builds it for the backend and the loss and accuracy add up on the device, read
once per epoch (reading them every step, as `train_on_batch` does, makes the host wait for the device
at every step). On the torch backend with a CUDA device, `ferpipe.nn.torch_cuda` also removes the
waits and layout copies that Keras itself puts into every step. The batches, their order and the
arithmetic are those of a per-batch loop: on the CPU the metrics are the same.

Import only after `ferpipe.nn.backend.select_backend` (this module imports keras).
"""
from __future__ import annotations

import keras
import numpy as np
from tqdm import tqdm

from ferpipe.core.errors import FerpipeError
from ferpipe.nn.backend import gpu_available
from ferpipe.nn.loop import ModelFormat
from ferpipe.nn.models import as_model_input, build_model, set_backbone_trainable, to_model_input
from ferpipe.nn.schedule import PhasePlan, phase_plan
from ferpipe.nn.settings import TORCH_LOOP_ONLY, TrainConfig
from ferpipe.nn.torch_cuda import speed_up_keras_on_cuda

KERAS_FORMAT = ModelFormat(".keras", lambda model, path: model.save(path), keras.models.load_model)


class KerasLoop:
    """`ferpipe.nn.loop.TrainingLoop` on the Keras backend: the checkpoint is the compiled model itself."""
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


def start_phase(model: keras.Model, cfg: TrainConfig, epoch: int, n_train: int) -> None:
    """Set what trains from `epoch` (0-based) to the end of its phase, at which rate, and compile."""
    plan = phase_plan(cfg, epoch, n_train)
    set_backbone_trainable(model, not plan.head_only, cfg.batchnorm_frozen)
    compile_for_phase(model, cfg, plan)


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


def fit_epoch(model: keras.Model, x, y, batches: list[np.ndarray], desc: str) -> dict[str, float]:
    """Train one epoch of `batches` (index arrays into `x`, `y`: uint8 crops and labels already on the
    device) with one `model.fit` call; its mean loss and accuracy, read once at the end."""
    order = keras.ops.convert_to_tensor(np.stack(batches))  # one copy to the device per epoch, not per step

    def feed():
        for i in tqdm(range(len(batches)), desc=desc, unit="batch"):
            yield to_model_input(keras.ops.take(x, order[i], axis=0)), keras.ops.take(y, order[i], axis=0)

    history = model.fit(feed(), epochs=1, steps_per_epoch=len(batches), verbose=0, shuffle=False)
    return {key: float(values[-1]) for key, values in history.history.items()}
