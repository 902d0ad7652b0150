"""A plain PyTorch training loop, the yardstick for ferpipe's Keras loop (benchmarks only, not the pipeline).

torchvision's ResNet-50 (v1.5: the stride in the 3x3 convolution; Keras' is v1) with the head of
`ferpipe.nn.models.build_resnet50` (global pooling, dropout, a linear softmax layer), fed as the
Keras model is fed: uint8 grey crops resized to `input_size` (bilinear), repeated to three channels,
ImageNet's mean subtracted. The same batches (`epoch_batches`), learning rate and schedule, and the
same SGD step in Keras' form (`ferpipe.nn.keras_sgd`, over every weight): what differs from ferpipe's
loops is the loop and the network, which is what the benchmark measures. PyTorch's defaults elsewhere:
He-initialised convolutions, BatchNorm momentum 0.1 (Keras' ResNet-50 uses 0.99, i.e. 0.01 here).

As a fast PyTorch user would write it: crops on the device once, channels-last memory, bf16 autocast
(`mixed_bfloat16`), no host-device wait inside an epoch (loss and hits summed on the device,
the learning rate a Python number).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from tqdm import tqdm

from ferpipe.nn.keras_sgd import keras_sgd_step
from ferpipe.nn.models import IMAGENET_BGR_MEAN
from ferpipe.nn.settings import TrainConfig


@dataclass
class ReferenceResult:
    history: list[dict]  # per epoch: train/loss, train/accuracy, val/accuracy, lr
    best_epoch: int  # 1-based, chosen on val
    best_val_accuracy: float
    test_accuracy: float | None  # of the best epoch's weights
    images_per_s: float  # the first epoch (warm-up, cuDNN autotuning) excluded unless alone
    seconds: float


class PlainTorchResNet50:
    def __init__(self, cfg: TrainConfig, num_classes: int, device: str):
        if cfg.arch != "resnet50" or cfg.train.mixed_precision == "mixed_float16" and device != "cpu":
            raise ValueError("the plain PyTorch reference is ResNet-50 in float32 or bf16 (no float16 loss scaling)")
        torch.manual_seed(cfg.train.seed)
        self.cfg, self.device = cfg, torch.device(device)
        self.model = torchvision.models.resnet50(num_classes=num_classes)
        self.model.fc = torch.nn.Sequential(torch.nn.Dropout(cfg.train.dropout), self.model.fc)
        self.model.to(self.device, memory_format=torch.channels_last)
        self.params = [p for p in self.model.parameters()]
        self.velocity = [torch.zeros_like(p) for p in self.params]
        self.bf16 = cfg.train.mixed_precision == "mixed_bfloat16"
        self.mean = torch.tensor(IMAGENET_BGR_MEAN, device=self.device).view(1, 3, 1, 1)
        self.step = 0

    def inputs(self, crops: torch.Tensor) -> torch.Tensor:
        """uint8 (N, S, S) on the device -> the network's (N, 3, input, input) float input, channels-last."""
        x = crops[:, None].float()
        if x.shape[-1] != self.cfg.train.input_size:
            x = F.interpolate(x, size=(self.cfg.train.input_size,) * 2, mode="bilinear", align_corners=False)
        return (x.expand(-1, 3, -1, -1) - self.mean).contiguous(memory_format=torch.channels_last)

    def rate(self, total_steps: int) -> float:
        """keras.optimizers.schedules.CosineDecay (to 0 over the run) or constant, at this step."""
        if self.cfg.train.schedule != "cosine":
            return self.cfg.lr
        return self.cfg.lr * 0.5 * (1 + math.cos(math.pi * min(self.step, total_steps) / total_steps))

    def train_step(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            logits = self.model(self.inputs(x))
            loss = F.cross_entropy(logits.float(), y)
        for p in self.params:
            p.grad = None
        loss.backward()
        t = self.cfg.train
        keras_sgd_step(self.params, [p.grad for p in self.params], self.velocity, lr, t.momentum, t.nesterov,
                       t.weight_decay)
        self.step += 1
        return loss.detach() * len(y), (logits.argmax(1) == y).sum()

    @torch.no_grad()
    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        self.model.eval()
        hits = torch.zeros((), device=self.device)
        for i in range(0, len(x), self.cfg.batch_size):
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                hits += (self.model(self.inputs(x[i:i + self.cfg.batch_size])).argmax(1) == y[i:i + self.cfg.batch_size]).sum()
        self.model.train()
        return float(hits) / len(x)


def train_reference(cfg: TrainConfig, splits: dict[str, tuple[np.ndarray, np.ndarray]], num_classes: int,
                    device: str, epoch_batches) -> ReferenceResult:
    """Train on splits["train"] for cfg.epochs epochs of `epoch_batches(n, cfg, epoch)`; pick the epoch on
    splits["val"]; score its weights on splits["test"] when given."""
    started = time.perf_counter()
    net = PlainTorchResNet50(cfg, num_classes, device)
    data = {k: (torch.as_tensor(x, device=net.device), torch.as_tensor(y, device=net.device, dtype=torch.int64))
            for k, (x, y) in splits.items()}
    x, y = data["train"]
    schedule = [epoch_batches(len(x), cfg, e) for e in range(cfg.epochs)]
    total_steps = sum(len(b) for b in schedule)
    history, best, best_state = [], (0, -1.0), None
    timed_images, timed_seconds = 0, 0.0
    net.model.train()
    for epoch, batches in enumerate(schedule):
        epoch_start = time.perf_counter()
        order = torch.as_tensor(np.stack(batches), device=net.device)
        loss_sum, hits = torch.zeros((), device=net.device), torch.zeros((), device=net.device)
        for i in tqdm(range(len(batches)), desc=f"plain torch epoch {epoch + 1}/{cfg.epochs}", unit="batch"):
            lr = net.rate(total_steps)
            batch_loss, batch_hits = net.train_step(x[order[i]], y[order[i]], lr)
            loss_sum += batch_loss
            hits += batch_hits
        seen = sum(len(b) for b in batches)
        entry = {"epoch": epoch + 1, "train/loss": float(loss_sum) / seen, "train/accuracy": float(hits) / seen}
        if epoch > 0 or cfg.epochs == 1:
            timed_seconds += time.perf_counter() - epoch_start
            timed_images += seen
        entry.update({"val/accuracy": net.accuracy(*data["val"]), "lr": net.rate(total_steps)})
        history.append(entry)
        if entry["val/accuracy"] > best[1]:
            best, best_state = (epoch + 1, entry["val/accuracy"]), copy.deepcopy(net.model.state_dict())
    net.model.load_state_dict(best_state)
    test = net.accuracy(*data["test"]) if "test" in data else None
    return ReferenceResult(history=history, best_epoch=best[0], best_val_accuracy=best[1], test_accuracy=test,
                           images_per_s=timed_images / timed_seconds if timed_seconds else 0.0,
                           seconds=time.perf_counter() - started)
