"""The `train` stage's parameters, checked before any deep-learning framework is imported.

The paper's Table 2 names (`lr`, `batch_size`, `epochs`, `n_kerns`, `pool_size`) and the switches
`arch`, `backend`, `weights` live at the top level of params.yaml, so `dvc exp run -S lr=0.01`
works as typed; the rest sits in the `train:` block.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ferpipe.core.errors import require
from ferpipe.core.params import ParamBlock

ARCHS = ("resnet50", "lenet")
BACKENDS = ("tensorflow", "torch")
SCHEDULES = ("cosine", "constant")
PRECISIONS = ("mixed_float16", "mixed_bfloat16", "float32")
PRETRAINED_BATCHNORM = ("frozen", "train")
TOP_LEVEL_KEYS = ("arch", "backend", "weights", "lr", "batch_size", "epochs", "n_kerns", "pool_size")
BLOCK_KEYS = ("input_size", "head_epochs", "finetune_lr_factor", "pretrained_batchnorm", "dropout", "momentum",
              "nesterov", "weight_decay", "schedule", "steps_per_epoch", "mixed_precision", "seed")
RESNET50_MIN_INPUT = 32  # keras.applications.ResNet50 refuses smaller inputs without its top
LENET_KERNEL = 5


@dataclass(frozen=True)
class TrainConfig:
    arch: str
    backend: str
    weights: str | None  # "imagenet", a weights file path, or None (random initialisation)
    lr: float
    batch_size: int
    epochs: int
    n_kerns: tuple[int, int]
    pool_size: tuple[int, int]
    input_size: int
    head_epochs: int
    finetune_lr_factor: float  # phase 2 of two-phase fine-tuning runs at lr x this
    pretrained_batchnorm: str  # frozen | train: BatchNorm layers of pretrained weights while fine-tuning
    dropout: float
    momentum: float
    nesterov: bool
    weight_decay: float
    schedule: str
    steps_per_epoch: int | None
    mixed_precision: str
    seed: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def batchnorm_frozen(self) -> bool:
        """Pretrained BatchNorm layers keep their statistics, scale and offset (and run in inference
        mode) while the rest of the backbone trains; from scratch, BatchNorm always trains."""
        return self.weights is not None and self.pretrained_batchnorm == "frozen"


def _weights(top: ParamBlock, arch: str) -> str | None:
    value = top.values["weights"]
    if value is None or (isinstance(value, str) and value.lower() == "none"):
        return None
    if not isinstance(value, str) or value == "":
        top.fail("weights", "imagenet, none or the path of a weights file")
    if arch != "resnet50":
        top.fail("weights", f"none for arch={arch} (only resnet50 loads weights; {arch} trains from scratch)")
    if value != "imagenet" and not Path(value).is_file():
        top.fail("weights", "imagenet, none or the path of an existing weights file")
    return value


def train_config(params: dict[str, Any], source: str = "params.yaml") -> TrainConfig:
    """Check every training parameter; a bad one raises FerpipeError naming the file and the parameter."""
    top = ParamBlock.top_level(params, TOP_LEVEL_KEYS, source)
    block = ParamBlock(params, "train", BLOCK_KEYS, source)
    arch = top.choice("arch", ARCHS)
    epochs = top.integer("epochs", minimum=1)
    input_size = block.integer("input_size", minimum=1)
    if arch == "resnet50" and input_size < RESNET50_MIN_INPUT:
        block.fail("input_size", f"at least {RESNET50_MIN_INPUT} for ResNet-50")
    head_epochs = block.integer("head_epochs", minimum=0, maximum=epochs - 1)
    if arch != "resnet50" and head_epochs:
        block.fail("head_epochs", f"0 for arch={arch} (two-phase fine-tuning applies to arch=resnet50 only)")
    pool_size = top.pair("pool_size")
    if arch == "lenet":
        lenet_feature_sizes(input_size, pool_size, source)
    return TrainConfig(
        arch=arch, backend=top.choice("backend", BACKENDS), weights=_weights(top, arch), lr=top.real("lr", above=0),
        batch_size=top.integer("batch_size", minimum=1), epochs=epochs, n_kerns=top.pair("n_kerns"),
        pool_size=pool_size, input_size=input_size, head_epochs=head_epochs,
        finetune_lr_factor=block.real("finetune_lr_factor", above=0, maximum=1),
        pretrained_batchnorm=block.choice("pretrained_batchnorm", PRETRAINED_BATCHNORM),
        dropout=block.real("dropout", minimum=0, below=1), momentum=block.real("momentum", minimum=0, below=1),
        nesterov=block.flag("nesterov"), weight_decay=block.real("weight_decay", minimum=0),
        schedule=block.choice("schedule", SCHEDULES), steps_per_epoch=block.integer("steps_per_epoch", minimum=1, nullable=True),
        mixed_precision=block.choice("mixed_precision", PRECISIONS), seed=block.integer("seed"),
    )


def lenet_feature_sizes(input_size: int, pool_size: tuple[int, int], source: str = "params.yaml") -> list[tuple[int, int]]:
    """Feature-map sizes after each conv(5x5, valid) + max-pool of the paper's LeNet.

    Raises FerpipeError naming `source` and pool_size when a pool window is larger than the map it pools.
    """
    h = w = input_size
    sizes = []
    for layer in (1, 2):
        if layer == 2:
            require(h >= LENET_KERNEL and w >= LENET_KERNEL,
                    f"{source}: pool_size={list(pool_size)} leaves a {h}x{w} feature map after LeNet's pool 1, smaller than "
                    f"its second {LENET_KERNEL}x{LENET_KERNEL} convolution (input {input_size}x{input_size})")
        else:
            require(h >= LENET_KERNEL, f"{source}: train.input_size={input_size} is too small for LeNet's {LENET_KERNEL}x{LENET_KERNEL} convolutions")
        h, w = h - LENET_KERNEL + 1, w - LENET_KERNEL + 1
        require(pool_size[0] <= h and pool_size[1] <= w,
                f"{source}: pool_size={list(pool_size)} is larger than the {h}x{w} feature map after LeNet's conv {layer} "
                f"(input {input_size}x{input_size})")
        h, w = h // pool_size[0], w // pool_size[1]
        sizes.append((h, w))
    return sizes
