"""The PyTorch loop of ResNet-50 (`train.loop: torch`, and `auto` on a CPU): the Keras model's network,
optimizer, schedule and batches, trained in plain PyTorch.

Keras builds and initialises the model (ImageNet or a weights file included); `torch_resnet50` copies
it into a PyTorch module, which trains in channels-last memory, under bf16 autocast where the
precision is `mixed_bfloat16` (float32 weights, loss and softmax); the best epoch's weights go back
into the Keras model, which every later stage loads. SGD as Keras computes it (`keras_sgd`) over every
trainable weight, with Keras' cosine decay per step; two-phase fine-tuning and frozen pretrained
BatchNorm as in the Keras loop. Loss and hits add up on the device and are read once per epoch.
Measured against Keras' own loop in docs/benchmarks.md.
"""
from __future__ import annotations

import keras
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ferpipe.core.errors import FerpipeError
from ferpipe.nn.keras_sgd import keras_sgd_step
from ferpipe.nn.loop import ModelFormat
from ferpipe.nn.models import build_model
from ferpipe.nn.schedule import learning_rate, phase_plan
from ferpipe.nn.settings import TrainConfig
from ferpipe.nn.torch_resnet50 import from_keras, into_keras

TORCH_FORMAT = ModelFormat(".pt", lambda checkpoint, path: torch.save(checkpoint, path),
                           lambda path: torch.load(path, weights_only=True))
PRECISIONS = ("float32", "mixed_bfloat16")
EVAL_BATCH = 256


class TorchLoop:
    """`ferpipe.nn.loop.TrainingLoop` in plain PyTorch: the checkpoint is the module's weights, the
    velocity and the step in the phase."""
    model_format = TORCH_FORMAT

    def __init__(self, cfg: TrainConfig, precision: str, x_train, y_train, x_val, y_val, num_classes: int):
        if precision not in PRECISIONS:
            raise FerpipeError(f"train.mixed_precision={precision} does not fit train.loop=torch, which trains in "
                               f"{' or '.join(PRECISIONS)} (mixed_float16 needs loss scaling: use train.loop=keras)")
        self.cfg, self.n_train = cfg, len(x_train)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.bf16 = precision == "mixed_bfloat16"
        torch.manual_seed(cfg.train.seed)  # dropout
        self.x, self.y = torch.from_numpy(x_train).to(self.device), torch.from_numpy(y_train.astype(np.int64)).to(self.device)
        self.x_val = torch.from_numpy(x_val).to(self.device)
        self.y_val = torch.from_numpy(y_val.astype(np.int64)).to(self.device)
        keras.mixed_precision.set_global_policy("float32")  # the weights cross over in float32
        self.keras_model = build_model(cfg, x_train.shape[1], num_classes)
        self.net = from_keras(self.keras_model, cfg.train.input_size, num_classes, cfg.train.dropout)
        self.net.to(self.device, memory_format=torch.channels_last)
        self.phase_epoch, self.step, self.velocity = 0, 0, []
        self.params: list[torch.nn.Parameter] = []
        self.frozen_batchnorm: list[torch.nn.Module] = []

    def start(self) -> None:
        """The network is built in __init__."""

    def resume(self, checkpoint: dict) -> None:
        self.net.load_state_dict(checkpoint["net"])
        self._set_phase(int(checkpoint["phase_epoch"]))
        self.velocity = [v.to(self.device) for v in checkpoint["velocity"]]
        self.step = int(checkpoint["step"])

    def start_phase(self, epoch: int) -> None:
        """A new optimizer for the phase that starts at `epoch`, as Keras' compile makes one."""
        self._set_phase(epoch)
        self.velocity = [torch.zeros_like(p) for p in self.params]
        self.step = 0

    def _set_phase(self, epoch: int) -> None:
        plan = phase_plan(self.cfg, epoch, self.n_train)
        self.phase_epoch, self.plan = epoch, plan
        batchnorm = [m for m, _ in self.net.backbone_modules() if isinstance(m, torch.nn.BatchNorm2d)]
        backbone = [p for m, _ in self.net.backbone_modules() for p in m.parameters()]
        if plan.head_only:
            trainable, self.frozen_batchnorm = list(self.net.head.parameters()), batchnorm
        elif self.cfg.batchnorm_frozen:
            frozen = {id(p) for m in batchnorm for p in m.parameters()}
            trainable, self.frozen_batchnorm = [p for p in self.net.parameters() if id(p) not in frozen], batchnorm
        else:
            trainable, self.frozen_batchnorm = list(self.net.parameters()), []
        keep = {id(p) for p in trainable}
        for p in backbone + list(self.net.head.parameters()):
            p.requires_grad_(id(p) in keep)
        self.params = trainable

    def lr(self) -> float:
        """The phase's rate at this step, as Keras' CosineDecay (or a constant rate) with its warm-up gives it."""
        return learning_rate(self.plan, self.cfg.train.schedule, self.step)

    def _logits(self, crops: torch.Tensor) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            return self.net(crops).float()

    def _logits_of_inputs(self, inputs: torch.Tensor) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            return self.net.logits_of_inputs(inputs).float()

    def _mixup_draw(self, n: int) -> tuple[float, torch.Tensor]:
        """The blend weight ~ Beta(a, a) and the partner of each image, drawn from (seed, step) alone,
        so a resumed run draws what it would have drawn."""
        rng = np.random.default_rng([self.cfg.train.seed, self.phase_epoch, self.step])
        alpha = self.cfg.train.mixup
        return float(rng.beta(alpha, alpha)), torch.from_numpy(rng.permutation(n)).to(self.device)

    def fit_epoch(self, batches: list[np.ndarray], desc: str) -> dict[str, float]:
        self.net.train()
        for module in self.frozen_batchnorm:  # Keras runs a frozen BatchNorm layer in inference mode
            module.eval()
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        hits = torch.zeros((), dtype=torch.int64, device=self.device)
        smoothing = self.cfg.train.label_smoothing
        for batch in tqdm(batches, desc=desc, unit="batch"):
            index = torch.from_numpy(batch).to(self.device)
            y = self.y[index]
            if self.cfg.train.mixup:
                weight, partner = self._mixup_draw(len(batch))
                inputs = self.net.inputs(self.x[index])
                logits = self._logits_of_inputs(weight * inputs + (1 - weight) * inputs[partner])
                loss = (weight * F.cross_entropy(logits, y, label_smoothing=smoothing)
                        + (1 - weight) * F.cross_entropy(logits, y[partner], label_smoothing=smoothing))
            else:
                logits = self._logits(self.x[index])
                loss = F.cross_entropy(logits, y, label_smoothing=smoothing)
            for p in self.params:
                p.grad = None
            loss.backward()
            t = self.cfg.train
            keras_sgd_step(self.params, [p.grad for p in self.params], self.velocity, self.lr(), t.momentum,
                           t.nesterov, t.weight_decay)
            self.step += 1
            loss_sum += loss.detach() * len(batch)
            hits += (logits.detach().argmax(1) == y).sum()
        seen = sum(len(b) for b in batches)
        return {"loss": float(loss_sum) / seen, "accuracy": float(hits) / seen}

    def evaluate(self) -> dict[str, float]:
        self.net.eval()
        loss_sum, hits = 0.0, 0
        with torch.no_grad():
            for start in range(0, len(self.x_val), EVAL_BATCH):
                y = self.y_val[start:start + EVAL_BATCH]
                logits = self._logits(self.x_val[start:start + EVAL_BATCH])
                loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
                hits += int((logits.argmax(1) == y).sum())
        return {"loss": loss_sum / len(self.x_val), "accuracy": hits / len(self.x_val)}

    def checkpoint(self) -> dict:
        return {"net": self.net.state_dict(), "velocity": self.velocity, "step": self.step,
                "phase_epoch": self.phase_epoch}

    def final_model(self, best: dict) -> keras.Model:
        """The Keras model with the weights and BatchNorm statistics of the best epoch."""
        self.net.load_state_dict(best["net"])
        into_keras(self.net.cpu(), self.keras_model)
        return self.keras_model
